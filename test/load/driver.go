package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"
)

// client talks to one engine's HTTP API as one tenant.
type client struct {
	base          string
	tenant, token string
	http          *http.Client
}

func newClient(base, tenant, token string) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     90 * time.Second,
		// Uncompressed scrapes: a gzip writer of the engine's is about
		// 1 MiB of heap while a scrape runs or sits in its pool, noise in
		// the live heap the harness measures.
		DisableCompression: true,
	}
	return &client{base: base, tenant: tenant, token: token, http: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// attempt is what the driver saw of one click-to-call request.
type attempt struct {
	sent    time.Time
	lag     time.Duration // how late after its scheduled time it was sent
	latency time.Duration // request to full response
	callID  string
	status  int    // HTTP status, 0 on a transport error
	failure string // why the request failed, "" when it was accepted
}

// fire sends the step's requests open-loop: request i leaves at
// start + i/rate whatever happened to the earlier ones (each in its own
// goroutine), so a slow engine shows as lost throughput and latency, not
// as a lower offered rate. It returns when the last request has been sent
// and the step's time is up; wait then waits for the answers.
func (c *client) fire(ctx context.Context, rate float64, d time.Duration, params func() url.Values) (attempts []attempt, firing time.Duration, wait func()) {
	n := int(rate*d.Seconds() + 0.5)
	attempts = make([]attempt, n)
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sent := 0
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if delay := time.Until(at); delay > 0 {
			timer.Reset(delay)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		a := &attempts[i]
		a.sent = time.Now()
		a.lag = a.sent.Sub(at)
		p := params()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.originate(ctx, a, p)
		}()
		sent++
	}
	attempts = attempts[:sent]
	if rest := time.Until(start.Add(d)); rest > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(rest):
		}
	}
	return attempts, time.Since(start), wg.Wait
}

// originate places one click-to-call through POST /v2/clickToCall/para.
func (c *client) originate(ctx context.Context, a *attempt, p url.Values) {
	p.Set("user_id", c.tenant)
	p.Set("token", c.token)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v2/clickToCall/para?"+p.Encode(), nil)
	if err != nil {
		a.failure = err.Error()
		return
	}
	t0 := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		a.latency = time.Since(t0)
		a.failure = "http: " + shortErr(err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.latency = time.Since(t0)
	a.status = resp.StatusCode
	if err != nil {
		a.failure = "http: reading the answer: " + shortErr(err)
		return
	}
	var ans struct {
		CallID  string `json:"callid"`
		Status  string `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || resp.StatusCode != http.StatusOK || ans.Status != "success" || ans.CallID == "" {
		a.failure = fmt.Sprintf("HTTP %d code %s", resp.StatusCode, ans.Code)
		return
	}
	a.callID = ans.CallID
}

func shortErr(err error) string {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// record is the part of a call record the harness reads.
type record struct {
	CallID    string      `json:"callid"`
	State     string      `json:"state"`
	Direction string      `json:"direction"`
	Outcome   string      `json:"outcome"`
	HangupBy  string      `json:"hangup_by"`
	Reason    string      `json:"reason"`
	CreatedAt time.Time   `json:"created_at"`
	BridgedAt *time.Time  `json:"bridged_at"`
	Legs      []recordLeg `json:"legs"`
}

// recordLeg is one leg attempt of a record.
type recordLeg struct {
	Side        string     `json:"side"`
	Number      string     `json:"number"`
	Disposition string     `json:"disposition"`
	SIPCode     int        `json:"sip_code"`
	Reason      string     `json:"reason"`
	CreatedAt   time.Time  `json:"created_at"`
	AnsweredAt  *time.Time `json:"answered_at"`
	Media       *struct {
		PacketsIn  uint64 `json:"packets_in"`
		PacketsOut uint64 `json:"packets_out"`
	} `json:"media"`
}

// get fetches one call's record.
func (c *client) get(ctx context.Context, id string) (record, error) {
	var r record
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/calls/"+url.PathEscape(id), nil)
	if err != nil {
		return r, err
	}
	req.SetBasicAuth(c.tenant, c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("GET /v1/calls/%s: HTTP %d", id, resp.StatusCode)
	}
	return r, json.NewDecoder(resp.Body).Decode(&r)
}

// fetchRecords gets the records of ids with a few workers.
func (c *client) fetchRecords(ctx context.Context, ids []string) ([]record, []error) {
	recs := make([]record, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				recs[i], errs[i] = c.get(ctx, ids[i])
			}
		}()
	}
	for i := range ids {
		select {
		case next <- i:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	close(next)
	wg.Wait()
	return recs, errs
}

// anyLive reports whether the tenant has a call not yet ended, from the
// listing (one small page).
func (c *client) anyLive(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/calls?state=live&limit=1", nil)
	if err != nil {
		return false, err
	}
	req.SetBasicAuth(c.tenant, c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET /v1/calls?state=live: HTTP %d", resp.StatusCode)
	}
	var page struct {
		Calls []json.RawMessage `json:"calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return false, err
	}
	return len(page.Calls) > 0, nil
}

// scrape reads /metrics; ok is false when the engine has none.
func (c *client) scrape(ctx context.Context) (metrics, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return metrics{}, false
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return metrics{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return metrics{}, false
	}
	m := parseMetrics(resp.Body)
	return m, len(m.samples) > 0
}

// numbers makes the from and to values of successive calls: every call
// dials numbers of its own, routed to the far ends by their first digit.
type numbers struct {
	mu  sync.Mutex
	seq int
}

func (n *numbers) next() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	return n.seq
}

func num(prefix string, seq int, last string) string {
	return prefix + strconv.Itoa(100000000 + seq%100000000)[1:] + last
}

// sortedDurations returns ds sorted.
func sortedDurations(ds []time.Duration) []time.Duration {
	out := append([]time.Duration(nil), ds...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
