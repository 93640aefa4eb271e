package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// manageEnv is a server with a fakeStore and a client for each tenant.
type manageEnv struct {
	st       *fakeStore
	eng      *fakeEngine
	url      string
	c, other v1Client // tenants 101 and 202
}

func newManageEnv(t *testing.T) manageEnv {
	t.Helper()
	st, eng := newFakeStore(), newFakeEngine()
	s := NewServer(Config{Engine: eng, Agents: st, Tenants: testTenants, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return manageEnv{st: st, eng: eng, url: srv.URL, c: v1Client{t, srv.URL, "101", "tok101"}, other: v1Client{t, srv.URL, "202", "tok202"}}
}

// want does a request and checks its status (and, for an error, its
// code, when code is not empty); it returns the body.
func (c v1Client) want(method, path, body string, status int, code string) []byte {
	c.t.Helper()
	resp, b := c.do(method, path, body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, resp.StatusCode, b, status)
	}
	if code != "" {
		if got := v1Code(c.t, b); got != code {
			c.t.Fatalf("%s %s %s: code %s (%s), want %s", method, path, body, got, b, code)
		}
	}
	return b
}

func decodeAs[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

type agentJSON struct {
	engine.Agent
	ActiveCalls int        `json:"active_calls"`
	WrapUpUntil *time.Time `json:"wrap_up_until"`
	LastCallEnd *time.Time `json:"last_call_end"`
	CallsTaken  int64      `json:"calls_taken"`
	Status      string     `json:"status"`
}

func TestAgentCRUD(t *testing.T) {
	e := newManageEnv(t)
	resp, b := e.c.do("POST", "/v1/agents", `{"id":"alice","name":"Alice","numbers":["9812345678","sip:alice@pbx.example"],"cli":"+911234567890","web_login":true,"max_calls":2,"wrap_up_seconds":30}`)
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/v1/agents/alice" {
		t.Fatalf("create: %d %s %q", resp.StatusCode, b, resp.Header.Get("Location"))
	}
	a := decodeAs[agentJSON](t, b)
	if a.ID != "alice" || a.Tenant != "101" || a.Name != "Alice" || len(a.Numbers) != 2 || a.CLI != "+911234567890" || !a.WebLogin ||
		a.CallLogin || a.MaxCalls != 2 || a.WrapUpSeconds != 30 || a.Status != StatusAvailable || a.CreatedAt.IsZero() {
		t.Fatalf("created %+v", a)
	}
	if got := decodeAs[agentJSON](t, e.c.want("GET", "/v1/agents/alice", "", 200, "")); got.Name != "Alice" || got.Status != StatusAvailable {
		t.Fatalf("get %+v", got)
	}
	e.c.want("POST", "/v1/agents", `{"id":"alice","numbers":["9812345678"]}`, 409, "exists")

	// A generated id.
	gen := decodeAs[agentJSON](t, e.c.want("POST", "/v1/agents", `{"numbers":["9812345679"]}`, 201, ""))
	if !validID(gen.ID) || gen.Status != StatusLoggedOut {
		t.Fatalf("generated %+v", gen)
	}

	list := decodeAs[struct{ Agents []agentJSON }](t, e.c.want("GET", "/v1/agents", "", 200, ""))
	if len(list.Agents) != 2 || list.Agents[0].ID > list.Agents[1].ID {
		t.Fatalf("list %+v", list)
	}

	// PATCH changes only what it names: the login and pause state.
	p := decodeAs[agentJSON](t, e.c.want("PATCH", "/v1/agents/alice", `{"web_login":false,"call_login":true,"paused":true}`, 200, ""))
	if p.WebLogin || !p.CallLogin || !p.Paused || p.Name != "Alice" || p.MaxCalls != 2 || p.Status != StatusPaused || !p.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("patched %+v", p)
	}

	// PUT replaces: what is absent takes its zero value; created_at stays.
	r := decodeAs[agentJSON](t, e.c.want("PUT", "/v1/agents/alice", `{"id":"alice","numbers":["9812345670"]}`, 200, ""))
	if r.Name != "" || r.CLI != "" || r.Paused || r.MaxCalls != 0 || len(r.Numbers) != 1 || !r.CreatedAt.Equal(a.CreatedAt) || r.UpdatedAt.Before(a.UpdatedAt) {
		t.Fatalf("replaced %+v", r)
	}
	e.c.want("PUT", "/v1/agents/alice", `{"id":"bob","numbers":["9812345670"]}`, 400, "invalid_value")
	e.c.want("PUT", "/v1/agents/nosuch", `{"numbers":["9812345670"]}`, 404, "not_found")
	e.c.want("PATCH", "/v1/agents/nosuch", `{"paused":false}`, 404, "not_found")

	e.c.want("DELETE", "/v1/agents/alice", "", 204, "")
	e.c.want("GET", "/v1/agents/alice", "", 404, "not_found")
	e.c.want("DELETE", "/v1/agents/alice", "", 404, "not_found")
	e.c.want("GET", "/v1/agents/bad%20id", "", 404, "not_found")
}

func TestAgentValidation(t *testing.T) {
	e := newManageEnv(t)
	long := func(n int) string { return strings.Repeat("x", n) }
	ok := []string{
		`{"id":"` + long(50) + `","numbers":["911"]}`,
		`{"id":"A-z_0.9","name":"` + strings.Repeat("é", 100) + `","numbers":["+919812345678","sips:bob@10.0.0.1:5061;transport=tls","SIP:100"]}`,
		`{"numbers":["9812345678","9812345679","9812345670","9812345671","9812345672","9812345673","9812345674","9812345675","9812345676","9812345677"]}`,
		`{"numbers":["sip:` + long(196) + `"]}`,
		`{"numbers":["9812345678"],"max_calls":100,"wrap_up_seconds":3600,"cli":"","name":null}`,
	}
	for _, body := range ok {
		e.c.want("POST", "/v1/agents", body, 201, "")
	}
	bad := []struct{ name, body, code string }{
		{"id empty", `{"id":"","numbers":["911"]}`, "invalid_value"},
		{"id of 51", `{"id":"` + long(51) + `","numbers":["911"]}`, "invalid_value"},
		{"id with a comma", `{"id":"a,b","numbers":["911"]}`, "invalid_value"},
		{"id with a space", `{"id":"a b","numbers":["911"]}`, "invalid_value"},
		{"name of 101", `{"name":"` + long(101) + `","numbers":["911"]}`, "invalid_value"},
		{"no numbers", `{"id":"x"}`, "invalid_value"},
		{"empty numbers", `{"numbers":[]}`, "invalid_value"},
		{"11 numbers", `{"numbers":["9812345678","9812345679","9812345670","9812345671","9812345672","9812345673","9812345674","9812345675","9812345676","9812345677","9812345660"]}`, "invalid_value"},
		{"invalid number", `{"numbers":["98-12"]}`, "invalid_value"},
		{"repeated number", `{"numbers":["911","911"]}`, "invalid_value"},
		{"SIP URI too long", `{"numbers":["sip:` + long(197) + `"]}`, "invalid_value"},
		{"SIP URI empty", `{"numbers":["sip:"]}`, "invalid_value"},
		{"SIP URI with a space", `{"numbers":["sip:a b@host"]}`, "invalid_value"},
		{"other scheme", `{"numbers":["tel:911"]}`, "invalid_value"},
		{"invalid cli", `{"numbers":["911"],"cli":"abc"}`, "invalid_value"},
		{"max_calls negative", `{"numbers":["911"],"max_calls":-1}`, "invalid_value"},
		{"max_calls 101", `{"numbers":["911"],"max_calls":101}`, "invalid_value"},
		{"wrap_up_seconds 3601", `{"numbers":["911"],"wrap_up_seconds":3601}`, "invalid_value"},
		{"wrap_up_seconds negative", `{"numbers":["911"],"wrap_up_seconds":-5}`, "invalid_value"},
		{"max_calls a string", `{"numbers":["911"],"max_calls":"2"}`, "invalid_value"},
		{"max_calls a fraction", `{"numbers":["911"],"max_calls":1.5}`, "invalid_value"},
		{"numbers a string", `{"numbers":"911"}`, "invalid_value"},
		{"paused a string", `{"numbers":["911"],"paused":"yes"}`, "invalid_value"},
		{"unknown key", `{"numbers":["911"],"colour":"red"}`, "unknown_parameter"},
		{"key in another case", `{"Numbers":["911"]}`, "unknown_parameter"},
		{"read-only key", `{"numbers":["911"],"status":"available"}`, "read_only"},
		{"tenant", `{"numbers":["911"],"user_id":"202"}`, "read_only"},
		{"repeated key", `{"numbers":["911"],"numbers":["912"]}`, "malformed_json"},
		{"not an object", `["911"]`, "malformed_json"},
		{"empty body", ``, "malformed_json"},
		{"truncated", `{"numbers":["911"]`, "malformed_json"},
		{"trailing data", `{"numbers":["911"]} x`, "malformed_json"},
	}
	for _, tc := range bad {
		resp, b := e.c.do("POST", "/v1/agents", tc.body)
		if resp.StatusCode != 400 || v1Code(t, b) != tc.code {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
	resp, b := e.c.do("POST", "/v1/agents", `{"name":"`+long(70<<10)+`","numbers":["911"]}`)
	if resp.StatusCode != 413 || v1Code(t, b) != "body_too_large" {
		t.Errorf("huge body: %d %s", resp.StatusCode, b)
	}
	// PATCH validates the merged record.
	e.c.want("POST", "/v1/agents", `{"id":"p","numbers":["911"]}`, 201, "")
	e.c.want("PATCH", "/v1/agents/p", `{"numbers":[]}`, 400, "invalid_value")
	e.c.want("PATCH", "/v1/agents/p", `{"max_calls":1000}`, 400, "invalid_value")
	e.c.want("PATCH", "/v1/agents/p", `{"id":"q"}`, 400, "invalid_value")
	if a := decodeAs[agentJSON](t, e.c.want("GET", "/v1/agents/p", "", 200, "")); a.MaxCalls != 0 || len(a.Numbers) != 1 {
		t.Fatalf("a refused PATCH changed the agent: %+v", a)
	}
}

func TestAgentStatus(t *testing.T) {
	e := newManageEnv(t)
	now := time.Now()
	for _, body := range []string{
		`{"id":"idle","numbers":["911"],"web_login":true}`,
		`{"id":"out","numbers":["911"]}`,
		`{"id":"paused","numbers":["911"],"call_login":true,"paused":true}`,
		`{"id":"wrap","numbers":["911"],"web_login":true}`,
		`{"id":"busy","numbers":["911"],"web_login":true,"paused":true}`,
		`{"id":"two","numbers":["911"],"web_login":true,"max_calls":2}`,
	} {
		e.c.want("POST", "/v1/agents", body, 201, "")
	}
	e.st.setState("101", "idle", engine.AgentState{CallsTaken: 7, LastCallEnd: now.Add(-time.Hour),
		Calls: map[string]time.Time{"old": now.Add(-time.Minute)}, WrapUpUntil: now.Add(-time.Minute)})
	e.st.setState("101", "wrap", engine.AgentState{WrapUpUntil: now.Add(time.Hour)})
	e.st.setState("101", "busy", engine.AgentState{Calls: map[string]time.Time{"c1": now.Add(time.Hour)}})
	e.st.setState("101", "two", engine.AgentState{Calls: map[string]time.Time{"c1": now.Add(time.Hour)}})
	for id, want := range map[string]string{
		"idle": StatusAvailable, "out": StatusLoggedOut, "paused": StatusPaused,
		"wrap": StatusWrapUp, "busy": StatusBusy, "two": StatusAvailable,
	} {
		a := decodeAs[agentJSON](t, e.c.want("GET", "/v1/agents/"+id, "", 200, ""))
		if a.Status != want {
			t.Errorf("%s: status %s, want %s", id, a.Status, want)
		}
	}
	idle := decodeAs[agentJSON](t, e.c.want("GET", "/v1/agents/idle", "", 200, ""))
	if idle.ActiveCalls != 0 || idle.CallsTaken != 7 || idle.LastCallEnd == nil || idle.WrapUpUntil == nil {
		t.Errorf("idle: %+v", idle)
	}
	busy := decodeAs[agentJSON](t, e.c.want("GET", "/v1/agents/busy", "", 200, ""))
	if busy.ActiveCalls != 1 || busy.LastCallEnd != nil {
		t.Errorf("busy: %+v", busy)
	}
	b := e.c.want("GET", "/v1/agents/out", "", 200, "")
	if regexp.MustCompile(`"(wrap_up_until|last_call_end)"`).Match(b) {
		t.Errorf("zero times are shown: %s", b)
	}
}

func TestManagementTenantIsolation(t *testing.T) {
	e := newManageEnv(t)
	e.c.want("POST", "/v1/agents", `{"id":"a1","numbers":["911"]}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"g1","members":[{"agent_id":"a1"}]}`, 201, "")
	e.c.want("POST", "/v1/dnd", `{"numbers":["9000000001"]}`, 204, "")
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/agents/a1", ""},
		{"PUT", "/v1/agents/a1", `{"numbers":["912"]}`},
		{"PATCH", "/v1/agents/a1", `{"paused":true}`},
		{"DELETE", "/v1/agents/a1", ""},
		{"GET", "/v1/groups/g1", ""},
		{"PUT", "/v1/groups/g1", `{}`},
		{"PATCH", "/v1/groups/g1", `{"ring_time":5}`},
		{"DELETE", "/v1/groups/g1", ""},
		{"GET", "/v1/groups/g1/members", ""},
		{"POST", "/v1/groups/g1/members", `{"agent_id":"a1"}`},
		{"DELETE", "/v1/groups/g1/members/a1", ""},
		{"DELETE", "/v1/dnd/9000000001", ""},
	} {
		e.other.want(r.method, r.path, r.body, 404, "not_found")
	}
	if b := e.other.want("GET", "/v1/agents", "", 200, ""); strings.TrimSpace(string(b)) != `{"agents":[]}` {
		t.Errorf("agents of 202: %s", b)
	}
	if b := e.other.want("GET", "/v1/groups", "", 200, ""); strings.TrimSpace(string(b)) != `{"groups":[]}` {
		t.Errorf("groups of 202: %s", b)
	}
	if b := e.other.want("GET", "/v1/dnd/9000000001", "", 200, ""); !strings.Contains(string(b), `"dnd":false`) {
		t.Errorf("DND of 202: %s", b)
	}
	// Tenant 202 may use the same ids for its own records.
	e.other.want("POST", "/v1/agents", `{"id":"a1","numbers":["912"]}`, 201, "")
	if a := decodeAs[agentJSON](t, e.c.want("GET", "/v1/agents/a1", "", 200, "")); a.Numbers[0] != "911" {
		t.Fatalf("101's agent changed: %+v", a)
	}
}

func TestManagementAuthAndConfig(t *testing.T) {
	e := newManageEnv(t)
	anon := v1Client{t, e.url, "", ""}
	for _, path := range []string{"/v1/agents", "/v1/groups", "/v1/dnd", "/v1/agents/a1", "/v1/groups/g1/members"} {
		resp, b := anon.do("GET", path, "")
		if resp.StatusCode != 401 || v1Code(t, b) != "unauthorized" {
			t.Errorf("%s without credentials: %d %s", path, resp.StatusCode, b)
		}
	}

	// No agent store: 501, and click-to-call knows no agents.
	s := NewServer(Config{Engine: newFakeEngine(), Tenants: testTenants, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, isNone := s.dir.(NoDirectory); !isNone {
		t.Fatalf("directory without a store: %T", s.dir)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := v1Client{t, srv.URL, "101", "tok101"}
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/agents"}, {"POST", "/v1/agents"}, {"PATCH", "/v1/agents/a1"}, {"DELETE", "/v1/groups/g1"},
		{"POST", "/v1/groups/g1/members"}, {"GET", "/v1/dnd"}, {"GET", "/v1/dnd/911"},
	} {
		c.want(r.method, r.path, `{}`, http.StatusNotImplemented, "not_configured")
	}
	if _, isStore := NewServer(Config{Engine: newFakeEngine(), Agents: newFakeStore()}).dir.(StoreDirectory); !isStore {
		t.Fatal("a server with a store does not default to StoreDirectory")
	}
	if _, isTest := NewServer(Config{Engine: newFakeEngine(), Agents: newFakeStore(), Directory: testDir{}}).dir.(testDir); !isTest {
		t.Fatal("Config.Directory is not used")
	}
}

func TestManagementStoreDown(t *testing.T) {
	e := newManageEnv(t)
	e.c.want("POST", "/v1/agents", `{"id":"a1","numbers":["911"]}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"g1","members":[{"agent_id":"a1"}]}`, 201, "")
	e.st.setFailAll(true)
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/agents", `{"id":"a2","numbers":["911"]}`},
		{"GET", "/v1/agents", ""},
		{"GET", "/v1/agents/a1", ""},
		{"PUT", "/v1/agents/a1", `{"numbers":["912"]}`},
		{"PATCH", "/v1/agents/a1", `{"paused":true}`},
		{"DELETE", "/v1/agents/a1", ""},
		{"POST", "/v1/groups", `{"id":"g2"}`},
		{"GET", "/v1/groups", ""},
		{"GET", "/v1/groups/g1", ""},
		{"PUT", "/v1/groups/g1", `{}`},
		{"PATCH", "/v1/groups/g1", `{"sticky":true}`},
		{"DELETE", "/v1/groups/g1", ""},
		{"GET", "/v1/groups/g1/members", ""},
		{"POST", "/v1/groups/g1/members", `{"agent_id":"a1"}`},
		{"DELETE", "/v1/groups/g1/members/a1", ""},
		{"GET", "/v1/dnd", ""},
		{"POST", "/v1/dnd", `{"numbers":["911"]}`},
		{"GET", "/v1/dnd/911", ""},
		{"DELETE", "/v1/dnd/911", ""},
	} {
		resp, b := e.c.do(r.method, r.path, r.body)
		if resp.StatusCode != 503 || v1Code(t, b) != "1501" || resp.Header.Get("Retry-After") == "" || strings.Contains(string(b), "refused") {
			t.Errorf("%s %s: %d %s", r.method, r.path, resp.StatusCode, b)
		}
	}
	// A write that fails half-way (the agent's groups are updated, the
	// delete is not) is finished by repeating it.
	e.st.setFailAll(false)
	e.st.fail("DeleteAgent")
	e.c.want("DELETE", "/v1/agents/a1", "", 503, "1501")
	e.st.mu.Lock()
	e.st.failOn = map[string]bool{}
	e.st.mu.Unlock()
	e.c.want("DELETE", "/v1/agents/a1", "", 204, "")

	// A write that succeeded is not reported as failed because the live
	// state could not be read afterwards.
	e.st.fail("AgentStates")
	a := decodeAs[agentJSON](t, e.c.want("POST", "/v1/agents", `{"id":"a3","numbers":["911"]}`, 201, ""))
	if a.ID != "a3" || a.Status != StatusUnknown {
		t.Fatalf("created without state: %+v", a)
	}
	e.c.want("PATCH", "/v1/agents/a3", `{"paused":true}`, 200, "")
	e.c.want("GET", "/v1/agents/a3", "", 503, "1501")
}
