package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

type v1Client struct {
	t    *testing.T
	base string
	user string
	pass string
}

func (c v1Client) do(method, path, body string) (*http.Response, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func v1Code(t *testing.T, b []byte) string {
	t.Helper()
	var e v1ErrorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a /v1 error body: %s", b)
	}
	return e.Error.Code
}

func TestV1Auth(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	for _, c := range []v1Client{
		{t, srv.URL, "", ""},
		{t, srv.URL, "101", "wrong"},
		{t, srv.URL, "101", ""},
		{t, srv.URL, "999", "tok101"},
		{t, srv.URL, "202", "tok101"},
	} {
		for _, path := range []string{"/v1/calls", "/v1/calls/x", "/v1/calls/x/events"} {
			resp, b := c.do("GET", path, "")
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") || v1Code(t, b) != "unauthorized" {
				t.Errorf("%s:%s %s: %d %s", c.user, c.pass, path, resp.StatusCode, b)
			}
		}
		resp, _ := c.do("POST", "/v1/calls", `{"from":"9876543210","to":"9123456789"}`)
		if resp.StatusCode != 401 {
			t.Errorf("POST without credentials: %d", resp.StatusCode)
		}
	}
	if eng.originateCount() != 0 {
		t.Fatal("Originate called")
	}
}

func TestV1CreateCall(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	c := v1Client{t, srv.URL, "101", "tok101"}

	cases := []struct {
		name, body string
		from, to   []string
	}{
		{"strings", `{"from":"9876543210","to":"9123456789"}`, []string{"9876543210"}, []string{"9123456789"}},
		{"comma string", `{"from":"9876543210, 9876543211","to":"9123456789"}`, []string{"9876543210", "9876543211"}, []string{"9123456789"}},
		{"arrays", `{"from":["9876543210","9876543211"],"to":[9123456789]}`, []string{"9876543210", "9876543211"}, []string{"9123456789"}},
		{"numbers", `{"from":9876543210,"to":9123456789,"fromRingTime":30,"timeLimit":600,"timeLimitHangup":false,"fromType":null}`, []string{"9876543210"}, []string{"9123456789"}},
	}
	for i, tc := range cases {
		resp, b := c.do("POST", "/v1/calls", tc.body)
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
		var call engine.Call
		if err := json.Unmarshal(b, &call); err != nil || call.ID == "" || call.Tenant != "101" {
			t.Fatalf("%s: %s", tc.name, b)
		}
		if resp.Header.Get("Location") != "/v1/calls/"+call.ID {
			t.Errorf("%s: Location %q", tc.name, resp.Header.Get("Location"))
		}
		got := eng.requests()[i]
		if fmt.Sprint(got.From.Values) != fmt.Sprint(tc.from) || fmt.Sprint(got.To.Values) != fmt.Sprint(tc.to) {
			t.Errorf("%s: from %v to %v", tc.name, got.From.Values, got.To.Values)
		}
	}
	last := eng.requests()[3]
	if last.From.RingTime != 30 || last.TimeLimit != 600 || last.TimeLimitHangup || last.To.RingTime != 20 {
		t.Errorf("numbers: %+v", last)
	}
}

func TestV1CreateCallRefused(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	c := v1Client{t, srv.URL, "101", "tok101"}
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"validation", `{"to":"9123456789"}`, 400, "1506"},
		{"validation of arrays", `{"from":["9876543210","9876543210"],"to":"9123456789"}`, 400, "1510"},
		{"number as float", `{"from":9876543210,"to":"9123456789","fromRingTime":2.5}`, 400, "1524"},
		{"malformed", `{"from":`, 400, "malformed_json"},
		{"empty body", ``, 400, "malformed_json"},
		{"not an object", `["from"]`, 400, "malformed_json"},
		{"trailing data", `{"from":"9876543210","to":"9123456789"} {}`, 400, "malformed_json"},
		{"repeated key", `{"from":"9876543210","from":"9876543211","to":"9123456789"}`, 400, "malformed_json"},
		{"unknown key", `{"from":"9876543210","to":"9123456789","colour":"red"}`, 400, "unknown_parameter"},
		{"credentials in the body", `{"from":"9876543210","to":"9123456789","user_id":"202"}`, 400, "unknown_parameter"},
		{"nested object", `{"from":{"n":"9876543210"},"to":"9123456789"}`, 400, "invalid_value"},
		{"array where one value", `{"from":"9876543210","to":"9123456789","mode":["live"]}`, 400, "invalid_value"},
		{"comma inside an array element", `{"from":["9876543210,9876543211"],"to":"9123456789"}`, 400, "invalid_value"},
		{"huge body", `{"from":"` + strings.Repeat("9", 70<<10) + `","to":"9123456789"}`, 413, "body_too_large"},
	}
	for _, tc := range cases {
		resp, b := c.do("POST", "/v1/calls", tc.body)
		if resp.StatusCode != tc.status || v1Code(t, b) != tc.code {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
	if eng.originateCount() != 0 {
		t.Fatal("Originate called for a refused request")
	}

	resp, b := c.do("POST", "/v1/calls", `{"from":"9876543210","to":"9123456789","mode":"developer"}`)
	var dev map[string]any
	_ = json.Unmarshal(b, &dev)
	if resp.StatusCode != 200 || dev["mode"] != "developer" || dev["valid"] != true || eng.originateCount() != 0 {
		t.Fatalf("developer: %d %s", resp.StatusCode, b)
	}

	eng.OriginateFn = func(context.Context, string, engine.CallRequest) (*engine.Call, error) {
		return nil, engine.ErrDraining
	}
	resp, b = c.do("POST", "/v1/calls", `{"from":"9876543210","to":"9123456789"}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || v1Code(t, b) != "1501" {
		t.Fatalf("draining: %d %s", resp.StatusCode, b)
	}
}

func TestV1GetAndHangup(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	mine := v1Client{t, srv.URL, "101", "tok101"}
	theirs := v1Client{t, srv.URL, "202", "tok202"}
	eng.put(&engine.Call{ID: "c101", Tenant: "101", State: engine.StateBridged})

	resp, b := mine.do("GET", "/v1/calls/c101", "")
	var call engine.Call
	if err := json.Unmarshal(b, &call); resp.StatusCode != 200 || err != nil || call.ID != "c101" {
		t.Fatalf("get: %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/v1/calls/c101", "/v1/calls/nosuch", "/v1/calls/" + strings.Repeat("x", 200)} {
		resp, b = theirs.do("GET", path, "")
		if resp.StatusCode != 404 || v1Code(t, b) != "not_found" {
			t.Errorf("GET %s by another tenant: %d %s", path[:20], resp.StatusCode, b)
		}
	}
	resp, b = theirs.do("DELETE", "/v1/calls/c101", "")
	if resp.StatusCode != 404 || v1Code(t, b) != "not_found" {
		t.Errorf("DELETE by another tenant: %d %s", resp.StatusCode, b)
	}
	resp, b = theirs.do("GET", "/v1/calls/c101/events", "")
	if resp.StatusCode != 404 || v1Code(t, b) != "not_found" {
		t.Errorf("events by another tenant: %d %s", resp.StatusCode, b)
	}

	resp, b = mine.do("DELETE", "/v1/calls/c101", "")
	if resp.StatusCode != 202 {
		t.Fatalf("hangup: %d %s", resp.StatusCode, b)
	}
	for _, tc := range []struct {
		err  error
		code int
		want string
	}{
		{engine.ErrCallEnded, 409, "call_ended"},
		{engine.ErrNotOwner, 409, "not_owner"},
		{engine.ErrNotFound, 404, "not_found"},
		{fmt.Errorf("store: %w", context.DeadlineExceeded), 503, "1501"},
	} {
		eng.HangupFn = func(context.Context, string, string) error { return tc.err }
		resp, b = mine.do("DELETE", "/v1/calls/c101", "")
		if resp.StatusCode != tc.code || v1Code(t, b) != tc.want {
			t.Errorf("hangup with %v: %d %s", tc.err, resp.StatusCode, b)
		}
	}
}

func TestV1List(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	c := v1Client{t, srv.URL, "202", "tok202"}

	resp, b := c.do("GET", "/v1/calls", "")
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"calls":[]}` {
		t.Fatalf("empty list: %d %s", resp.StatusCode, b)
	}
	resp, b = c.do("GET", "/v1/calls?state=live&since=2025-01-02T15:04:05Z&until=2025-01-03T00:00:00%2B05:30&limit=10&cursor=abc", "")
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	eng.mu.Lock()
	q := eng.queries[len(eng.queries)-1]
	eng.mu.Unlock()
	since, _ := time.Parse(time.RFC3339, "2025-01-02T15:04:05Z")
	until, _ := time.Parse(time.RFC3339, "2025-01-03T00:00:00+05:30")
	if q.Tenant != "202" || q.State != "live" || !q.Since.Equal(since) || !q.Until.Equal(until) || q.Limit != 10 || q.Cursor != "abc" {
		t.Fatalf("query %+v", q)
	}

	eng.ListFn = func(_ context.Context, q engine.CallQuery) (engine.CallPage, error) {
		return engine.CallPage{Calls: []*engine.Call{{ID: "c1", Tenant: q.Tenant}}, NextCursor: "next"}, nil
	}
	resp, b = c.do("GET", "/v1/calls?limit=1", "")
	var page engine.CallPage
	if err := json.Unmarshal(b, &page); err != nil || resp.StatusCode != 200 || len(page.Calls) != 1 || page.NextCursor != "next" {
		t.Fatalf("page: %d %s", resp.StatusCode, b)
	}

	for _, bad := range []string{"state=ringing", "since=yesterday", "until=2025-13-01T00:00:00Z", "limit=-1", "limit=501", "limit=ten",
		"since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "cursor=" + strings.Repeat("c", 300)} {
		resp, b := c.do("GET", "/v1/calls?"+bad, "")
		if resp.StatusCode != 400 || v1Code(t, b) != "invalid_value" {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, b)
		}
	}
}

// TestV1ListBadCursor checks that a cursor the store did not issue is the
// client's mistake, 400 invalid_value, and a store that fails is 503.
func TestV1ListBadCursor(t *testing.T) {
	eng := newFakeEngine()
	srv := newTestServer(t, eng)
	c := v1Client{t, srv.URL, "101", "tok101"}

	wantBadCursor := func(what string) {
		t.Helper()
		resp, b := c.do("GET", "/v1/calls?cursor=bm90LW91cnM", "")
		var e v1ErrorBody
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != 400 || v1Code(t, b) != "invalid_value" || resp.Header.Get("Retry-After") != "" ||
			!strings.Contains(e.Error.Message, "cursor") {
			t.Fatalf("%s: %d Retry-After %q %s", what, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	eng.ListFn = func(context.Context, engine.CallQuery) (engine.CallPage, error) {
		return engine.CallPage{}, fmt.Errorf("store: list calls: %w (check failed)", engine.ErrBadCursor)
	}
	wantBadCursor("ErrBadCursor")

	// The memory store's own answer to a cursor it did not issue.
	st := memory.New(memory.Options{})
	t.Cleanup(func() { _ = st.Close() })
	eng.ListFn = st.ListCalls
	wantBadCursor("memory store")

	eng.ListFn = func(context.Context, engine.CallQuery) (engine.CallPage, error) {
		return engine.CallPage{}, fmt.Errorf("store: %w", context.DeadlineExceeded)
	}
	resp, b := c.do("GET", "/v1/calls?cursor=bm90LW91cnM", "")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || v1Code(t, b) != "1501" {
		t.Fatalf("store failure: %d %s", resp.StatusCode, b)
	}
}
