package aritest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"golang.org/x/net/websocket"
)

// wait bounds every wait in these tests; generous, never a timing assertion.
const wait = 10 * time.Second

// event is one received event: its decoded JSON and ari/v5's decoding.
type event struct {
	Type string
	JSON map[string]any
	Raw  []byte
}

func (e event) channelID() string {
	for _, k := range []string{"channel", "peer"} {
		if c, ok := e.JSON[k].(map[string]any); ok {
			id, _ := c["id"].(string)
			return id
		}
	}
	return ""
}

func (e event) str(path ...string) string {
	var v any = e.JSON
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

// events is a test client of the event WebSocket that checks every event
// against ari/v5's decoder and the fields every event must have.
type events struct {
	t    testing.TB
	ws   *websocket.Conn
	ch   chan event
	done chan struct{}
	mu   sync.Mutex
	errs []string
}

func wsURL(s *Server, app string, auth bool) string {
	u := "ws" + strings.TrimPrefix(s.URL(), "http") + "/events?app=" + url.QueryEscape(app)
	if auth {
		u += "&api_key=switchboard:secret"
	}
	return u
}

func connect(t testing.TB, s *Server, app string) *events {
	t.Helper()
	ws, err := websocket.Dial(wsURL(s, app, true), "", "http://localhost/")
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	e := &events{t: t, ws: ws, ch: make(chan event, 4096), done: make(chan struct{})}
	go e.read()
	t.Cleanup(func() {
		_ = ws.Close()
		<-e.done
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, msg := range e.errs {
			t.Error(msg)
		}
	})
	return e
}

func (e *events) fail(format string, a ...any) {
	e.mu.Lock()
	e.errs = append(e.errs, fmt.Sprintf(format, a...))
	e.mu.Unlock()
}

func (e *events) read() {
	defer close(e.done)
	defer close(e.ch)
	for {
		var b []byte
		if err := websocket.Message.Receive(e.ws, &b); err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			e.fail("event is not JSON: %v: %s", err, b)
			continue
		}
		if _, err := ari.DecodeEvent(b); err != nil {
			e.fail("ari.DecodeEvent: %v: %s", err, b)
		}
		for _, k := range []string{"type", "timestamp", "application", "asterisk_id"} {
			if _, ok := m[k].(string); !ok {
				e.fail("event lacks %q: %s", k, b)
			}
		}
		if ts, _ := m["timestamp"].(string); ts != "" {
			if _, err := time.Parse("2006-01-02T15:04:05.000-0700", ts); err != nil {
				e.fail("timestamp %q: %v", ts, err)
			}
		}
		typ, _ := m["type"].(string)
		e.ch <- event{Type: typ, JSON: m, Raw: b}
	}
}

// next returns the next event for which keep is true.
func (e *events) next(keep func(event) bool) event {
	e.t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				e.t.Fatalf("event socket closed")
			}
			if keep == nil || keep(ev) {
				return ev
			}
		case <-timer.C:
			e.t.Fatalf("no event within %v", wait)
		}
	}
}

// about keeps events about one channel, leaving out ChannelVarset (whose
// number depends on media statistics) unless varsets is set.
func about(id string) func(event) bool {
	return func(ev event) bool { return ev.channelID() == id && ev.Type != "ChannelVarset" }
}

func ofType(types ...string) func(event) bool {
	return func(ev event) bool {
		for _, t := range types {
			if ev.Type == t {
				return true
			}
		}
		return false
	}
}

// expect reads the events about a channel until the sequence is complete
// and checks their types in order.
func (e *events) expect(keep func(event) bool, types ...string) []event {
	e.t.Helper()
	var got []event
	for range types {
		got = append(got, e.next(keep))
	}
	for i, ev := range got {
		if ev.Type != types[i] {
			names := make([]string, len(got))
			for j, g := range got {
				names[j] = g.Type
			}
			e.t.Fatalf("events %v, want %v", names, types)
		}
	}
	return got
}

// rest is a small ARI REST client.
type rest struct {
	t    testing.TB
	base string
}

func newRest(t testing.TB, s *Server) *rest { return &rest{t: t, base: s.URL()} }

// do sends a request with HTTP Basic auth and returns status and body.
func (r *rest) do(method, path string, q url.Values, body any) (int, []byte) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth("switchboard", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must sends a request and checks its status; it decodes a JSON object.
func (r *rest) must(want int, method, path string, q url.Values, body any) map[string]any {
	r.t.Helper()
	st, b := r.do(method, path, q, body)
	if st != want {
		r.t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	var m map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return m
}

// errorBody checks an ARI error: status and {"message": msg}.
func (r *rest) errorBody(want int, msg, method, path string, q url.Values) {
	r.t.Helper()
	m := r.must(want, method, path, q, nil)
	if got, _ := m["message"].(string); got != msg {
		r.t.Fatalf("%s %s: message %q, want %q", method, path, got, msg)
	}
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// eventually polls a condition on the server's state.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
