package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/webhook"
)

// backend is what the tests use of a store: the writes that append a
// call's events to its node's stream, the call records, the event log.
type backend interface {
	engine.EventLog
	CreateCall(ctx context.Context, c *engine.Call, events ...engine.Event) error
	SaveCall(ctx context.Context, c *engine.Call, legs []*engine.Leg, events ...engine.Event) error
	EndCall(ctx context.Context, c *engine.Call, retention time.Duration, events ...engine.Event) error
	GetCall(ctx context.Context, id string) (*engine.Call, error)
}

const (
	tenant = "7"
	// waitLimit bounds every wait of these tests; none asserts a timing.
	waitLimit = 60 * time.Second
)

var secret = webhook.NewSecret()

func testLogger() *slog.Logger {
	if os.Getenv("WEBHOOK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receiver is a webhook receiver on loopback. It verifies every request
// it gets and records the events it accepted, in the order they came.
type receiver struct {
	t    *testing.T
	addr string
	URL  string

	mu  sync.Mutex
	srv *httptest.Server
	// answer decides the status of a request (nil: 200); n counts the
	// requests so far, this one included.
	answer func(n int, r *http.Request) int
	// location, when set, redirects requests to /hook there with status
	// redirect.
	location string
	redirect int
	requests int
	got      []got
	bad      []string // what failed verification
}

type got struct {
	Path    string
	Payload webhook.Payload
	Header  http.Header
}

func newReceiver(t *testing.T) *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, addr: ln.Addr().String()}
	r.URL = "http://" + r.addr + "/hook"
	r.serve(ln)
	t.Cleanup(r.down)
	return r
}

func (r *receiver) serve(ln net.Listener) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.handle))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
}

// down closes the receiver's socket: deliveries meet connection refused.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// up listens again on the same address.
func (r *receiver) up() {
	var ln net.Listener
	var err error
	waitFor(r.t, "the receiver's port to be free again", func() bool {
		ln, err = net.Listen("tcp", r.addr)
		return err == nil
	})
	r.serve(ln)
}

// redirectTo answers requests to /hook with a redirect.
func (r *receiver) redirectTo(location string, status int) {
	r.mu.Lock()
	r.location, r.redirect = location, status
	r.mu.Unlock()
}

func (r *receiver) setAnswer(f func(n int, req *http.Request) int) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	n, answer := r.requests, r.answer
	r.mu.Unlock()
	status := http.StatusOK
	if answer != nil {
		status = answer(n, req)
	}
	r.mu.Lock()
	location, redirect := r.location, r.redirect
	r.mu.Unlock()
	if location != "" && req.URL.Path == "/hook" {
		w.Header().Set("Location", location)
		w.WriteHeader(redirect)
		return
	}
	var p webhook.Payload
	problem := ""
	switch {
	case req.Method != http.MethodPost:
		problem = "method " + req.Method
	case req.Header.Get("Content-Type") != "application/json":
		problem = "content type " + req.Header.Get("Content-Type")
	case req.Header.Get("User-Agent") != "Switchboard":
		problem = "user agent " + req.Header.Get("User-Agent")
	case webhook.Verify(secret, req.Header, body, 0) != nil:
		problem = "signature: " + webhook.Verify(secret, req.Header, body, 0).Error()
	case json.Unmarshal(body, &p) != nil:
		problem = "body " + string(body)
	case req.Header.Get(webhook.HeaderID) != p.ID:
		problem = "webhook-id " + req.Header.Get(webhook.HeaderID) + " is not the event id " + p.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if problem != "" {
		r.bad = append(r.bad, problem)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if status >= 200 && status < 300 {
		r.got = append(r.got, got{Path: req.URL.Path, Payload: p, Header: req.Header.Clone()})
	}
	w.WriteHeader(status)
}

// received returns the events accepted so far.
func (r *receiver) received() []got {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// distinct counts the distinct event ids accepted.
func (r *receiver) distinct() int {
	seen := map[string]bool{}
	for _, g := range r.received() {
		seen[g.Payload.ID] = true
	}
	return len(seen)
}

// check fails the test when a request failed verification or a call's
// events came out of order, and returns how many events were accepted
// more than once.
func (r *receiver) check(t *testing.T) (duplicates int) {
	t.Helper()
	r.mu.Lock()
	bad := slices.Clone(r.bad)
	r.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("%s: requests that failed verification: %v", r.URL, bad)
	}
	last := map[string]int{}
	seen := map[string]bool{}
	for _, g := range r.received() {
		p := g.Payload
		if seen[p.ID] {
			duplicates++
			continue
		}
		seen[p.ID] = true
		if p.Seq != last[p.CallID]+1 {
			t.Fatalf("%s: call %s: event %d came after event %d", r.URL, p.CallID, p.Seq, last[p.CallID])
		}
		last[p.CallID] = p.Seq
	}
	return duplicates
}

// calls writes calls through the store, as the engine does: each has a
// call.created, two legs (dialing, ended) and a call.ended, six events.
type calls struct {
	t    *testing.T
	st   backend
	n    int
	tag  string
	node string
}

const eventsPerCall = 6

func newCalls(t *testing.T, st backend, node string) *calls {
	return &calls{t: t, st: st, node: node, tag: fmt.Sprintf("c%x", time.Now().UnixNano()&0xffffff)}
}

// write writes one call whose statusCallback is callback, and returns its id.
func (w *calls) write(callback string) string {
	t, ctx := w.t, context.Background()
	w.n++
	id := fmt.Sprintf("%s%s%d", w.tag, w.node, w.n)
	now := time.Now().UTC()
	c := &engine.Call{
		ID: id, Tenant: tenant, Node: w.node, State: engine.StateDialingFrom, CreatedAt: now,
		Request: engine.CallRequest{
			From:           engine.SideRequest{Type: engine.TargetNumber, Values: []string{"9000000001"}},
			To:             engine.SideRequest{Type: engine.TargetNumber, Values: []string{"9000000002"}},
			StatusCallback: callback,
		},
	}
	ev := func(typ engine.EventType) engine.Event {
		c.EventSeq++
		return engine.Event{ID: fmt.Sprintf("%s-e%d", id, c.EventSeq), Seq: c.EventSeq, Type: typ, CallID: id, Tenant: tenant, Time: time.Now().UTC()}
	}
	created := ev(engine.EventCallCreated)
	created.Call = c.Clone()
	if err := w.st.CreateCall(ctx, c, created); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		l := &engine.Leg{ID: fmt.Sprintf("%s-%d", id, i), CallID: id, Seq: i, Side: engine.SideFrom,
			TargetType: engine.TargetNumber, Target: "9000000001", Number: "9000000001", State: engine.LegDialing, CreatedAt: time.Now().UTC()}
		dialing := ev(engine.EventLegDialing)
		dialing.Leg = l.Clone()
		end := time.Now().UTC()
		l.State, l.Disposition, l.EndedAt = engine.LegEnded, engine.DispBusy, &end
		ended := ev(engine.EventLegEnded)
		ended.Leg = l.Clone()
		c.Legs = append(c.Legs, l)
		if err := w.st.SaveCall(ctx, c, []*engine.Leg{l}, dialing, ended); err != nil {
			t.Fatal(err)
		}
	}
	end := time.Now().UTC()
	c.State, c.Outcome, c.EndedAt = engine.StateEnded, engine.OutcomeFromUnanswered, &end
	ended := ev(engine.EventCallEnded)
	ended.Call = c.Clone()
	if err := w.st.EndCall(ctx, c, time.Hour, ended); err != nil {
		t.Fatal(err)
	}
	return id
}

// counter is the dispatcher's Observer.
type counter struct {
	delivered, failed, dead atomic.Int64
}

func (c *counter) Delivered(webhook.Kind)     { c.delivered.Add(1) }
func (c *counter) AttemptFailed(webhook.Kind) { c.failed.Add(1) }
func (c *counter) DeadLettered(webhook.Kind)  { c.dead.Add(1) }

// running is a dispatcher started by start.
type running struct {
	*webhook.Dispatcher
	obs  *counter
	stop func()
}

// start runs a dispatcher for node on log, delivering tenant's events to
// endpoints (signed with secret), with waits short enough for tests.
func start(t *testing.T, st backend, node string, endpoints []string, tune func(*webhook.Options)) *running {
	t.Helper()
	obs := &counter{}
	eps := make([]webhook.Endpoint, len(endpoints))
	for i, u := range endpoints {
		eps[i] = webhook.Endpoint{URL: u, Secret: secret}
	}
	opt := webhook.Options{
		Log:  st,
		Node: node,
		Endpoints: func(tn string) []webhook.Endpoint {
			if tn == tenant {
				return eps
			}
			return nil
		},
		Secret:      func(string) string { return secret },
		Calls:       st,
		Timeout:     5 * time.Second,
		MinBackoff:  5 * time.Millisecond,
		MaxBackoff:  100 * time.Millisecond,
		LeaseTTL:    600 * time.Millisecond,
		RetryWindow: time.Hour,
		Logger:      testLogger().With("node", node),
		Observer:    obs,
	}
	if tune != nil {
		tune(&opt)
	}
	d, err := webhook.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &running{Dispatcher: d, obs: obs, stop: stop}
}

// unread returns the entries of node's stream not acknowledged yet.
func unread(t *testing.T, log engine.EventLog, node string) []engine.LoggedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Take the lease first, as a reader would; the dispatchers are stopped.
	if _, err := log.LeaseStream(ctx, node, "inspector", time.Second); err != nil {
		t.Fatal(err)
	}
	defer log.ReleaseStream(ctx, node, "inspector")
	es, err := log.ReadEvents(ctx, node, "", 1000, 10*time.Millisecond)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		t.Fatal(err)
	}
	return es
}

// allDeadLetters lists every dead letter of tenant, page by page.
func allDeadLetters(t *testing.T, log engine.EventLog) []*engine.DeadLetter {
	t.Helper()
	var all []*engine.DeadLetter
	cursor := ""
	for {
		page, next, err := log.ListDeadLetters(context.Background(), tenant, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}
