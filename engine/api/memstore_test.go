package api

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

// TestWithMemoryStore runs the management API and the click-to-call
// checks that read it against the embedded store Switchboard serves with,
// not only the fake: not-found answers, copies and reservations as the
// real store has them.
func TestWithMemoryStore(t *testing.T) {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { _ = st.Close() })
	eng := newFakeEngine()
	srv := httptest.NewServer(NewServer(Config{Engine: eng, Agents: st, Tenants: testTenants,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	t.Cleanup(srv.Close)
	e := manageEnv{eng: eng, url: srv.URL, c: v1Client{t, srv.URL, "101", "tok101"}, other: v1Client{t, srv.URL, "202", "tok202"}}

	e.c.want("POST", "/v1/agents", `{"id":"a1","numbers":["9811111111"],"cli":"9122222222"}`, 201, "")
	e.c.want("POST", "/v1/agents", `{"id":"a2","numbers":["sip:a2@pbx.example"],"web_login":true}`, 201, "")
	e.c.want("POST", "/v1/agents", `{"id":"a1","numbers":["9811111111"]}`, 409, "exists")
	e.other.want("GET", "/v1/agents/a1", "", 404, "not_found")
	e.c.want("POST", "/v1/groups", `{"id":"g1","distribution":"RR","members":[{"agent_id":"a1","priority":3}]}`, 201, "")
	if m := decodeAs[engine.Member](t, e.c.want("POST", "/v1/groups/g1/members", `{"agent_id":"a2"}`, 201, "")); m.Priority != 4 {
		t.Fatalf("default priority %d", m.Priority)
	}

	e.wantC2C(t, 400, "1536", "fromType=Agent", "from=a1", "fromWebLogin=yes")
	e.c.want("PATCH", "/v1/agents/a1", `{"web_login":true}`, 200, "")
	e.wantC2C(t, 200, "200", "fromType=Agent", "from=a1", "fromWebLogin=yes", "fromCLI=AGENT_CLI")
	e.wantC2C(t, 400, "1582", "fromType=Agent", "from=a2", "fromCLI=AGENT_CLI")
	e.wantC2C(t, 200, "200", "toType=Group", "to=g1", "toWebLogin=yes")

	if err := st.Reserve(context.Background(), "101", "a1", "c-other", time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	e.wantC2C(t, 400, "1579", "toType=Agent", "to=a1")
	if a := decodeAs[agentJSON](t, e.c.want("GET", "/v1/agents/a1", "", 200, "")); a.Status != StatusBusy || a.ActiveCalls != 1 {
		t.Fatalf("reserved agent: %+v", a)
	}

	e.c.want("POST", "/v1/dnd", `{"numbers":["9000000001"]}`, 204, "")
	e.wantC2C(t, 400, "1574", "to=9000000001", "dndFilter=to")

	e.c.want("DELETE", "/v1/agents/a1", "", 204, "")
	ms := decodeAs[membersJSON](t, e.c.want("GET", "/v1/groups/g1/members", "", 200, ""))
	if len(ms.Members) != 1 || ms.Members[0].AgentID != "a2" || ms.MaxPriority != 4 {
		t.Fatalf("members after deleting a1: %+v", ms)
	}
	e.c.want("DELETE", "/v1/groups/g1", "", 204, "")
	e.c.want("GET", "/v1/groups/g1", "", 404, "not_found")
}
