package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// c2c posts a click-to-call request of tenant 101 and returns its HTTP
// status and code ("200" on success).
func (e manageEnv) c2c(t *testing.T, mods ...string) (int, string) {
	t.Helper()
	resp := postForm(t, e.url+"/v2/clickToCall/para", params(mods...))
	return resp.StatusCode, decodeSpec(t, resp)["code"]
}

func (e manageEnv) wantC2C(t *testing.T, status int, code string, mods ...string) {
	t.Helper()
	if gotStatus, got := e.c2c(t, mods...); gotStatus != status || got != code {
		t.Errorf("%v: %d %s, want %d %s", mods, gotStatus, got, status, code)
	}
}

// TestClickToCallSeesManagement drives the click-to-call checks that read
// agents, groups and the DND list through StoreDirectory, with the records
// written by the management API.
func TestClickToCallSeesManagement(t *testing.T) {
	e := newManageEnv(t)
	e.c.want("POST", "/v1/agents", `{"id":"web","numbers":["9811111111"],"web_login":true,"cli":"9122222222"}`, 201, "")
	e.c.want("POST", "/v1/agents", `{"id":"call","numbers":["9811111112"],"call_login":true}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"gw","members":[{"agent_id":"call"}]}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"gc","members":[{"agent_id":"web"}]}`, 201, "")

	loginCases := []struct {
		code string
		mods []string
	}{
		{"1536", []string{"fromType=Agent", "from=call", "fromWebLogin=yes"}},
		{"1537", []string{"fromType=Group", "from=gw", "fromWebLogin=yes"}},
		{"1538", []string{"fromType=Agent", "from=web", "fromCallLogin=yes"}},
		{"1540", []string{"fromType=Group", "from=gc", "fromCallLogin=yes"}},
		{"1541", []string{"toType=Agent", "to=call", "toWebLogin=yes"}},
		{"1542", []string{"toType=Group", "to=gw", "toWebLogin=yes"}},
		{"1543", []string{"toType=Agent", "to=web", "toCallLogin=yes"}},
		{"1544", []string{"toType=Group", "to=gc", "toCallLogin=yes"}},
	}
	for _, tc := range loginCases {
		e.wantC2C(t, 400, tc.code, tc.mods...)
	}
	// The agents log in through PATCH: the same requests pass.
	e.c.want("PATCH", "/v1/agents/call", `{"web_login":true}`, 200, "")
	e.c.want("PATCH", "/v1/agents/web", `{"call_login":true}`, 200, "")
	for _, tc := range loginCases {
		e.wantC2C(t, 200, "200", tc.mods...)
	}
	// And log out again: the "no" filters now pass, "yes" fail.
	e.c.want("PATCH", "/v1/agents/call", `{"web_login":false,"call_login":false}`, 200, "")
	e.wantC2C(t, 200, "200", "fromType=Agent", "from=call", "fromWebLogin=no", "fromCallLogin=no")
	e.wantC2C(t, 400, "1538", "fromType=Agent", "from=call", "fromCallLogin=yes")

	// Unknown ids are the spec's invalid-id codes, not failures.
	e.wantC2C(t, 400, "1512", "fromType=Agent", "from=nosuch")
	e.wantC2C(t, 400, "1519", "toType=Group", "to=nosuch")
}

func TestClickToCallAgentAvailability(t *testing.T) {
	e := newManageEnv(t)
	e.c.want("POST", "/v1/agents", `{"id":"solo","numbers":["9811111111"],"web_login":true}`, 201, "")
	e.c.want("POST", "/v1/agents", `{"id":"duo","numbers":["9811111112"],"max_calls":2}`, 201, "")
	e.wantC2C(t, 200, "200", "fromType=Agent", "from=solo")

	// The only agent is on a call (a live reservation): 1578 / 1579.
	now := time.Now()
	for _, id := range []string{"solo", "duo"} {
		if err := e.st.Reserve(context.Background(), "101", id, "c-other", now, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	e.wantC2C(t, 400, "1578", "fromType=Agent", "from=solo")
	e.wantC2C(t, 400, "1579", "toType=Agent", "to=solo")
	e.wantC2C(t, 200, "200", "toType=Agent", "to=duo")      // room for a second call
	e.wantC2C(t, 200, "200", "toType=Agent", "to=solo,duo") // one of them is free

	// The call ends and the agent rests: still unavailable.
	if err := e.st.Release(context.Background(), "101", "solo", "c-other", now, true); err != nil {
		t.Fatal(err)
	}
	e.c.want("PATCH", "/v1/agents/solo", `{"wrap_up_seconds":60}`, 200, "")
	e.st.setState("101", "solo", engine.AgentState{WrapUpUntil: now.Add(time.Minute)})
	e.wantC2C(t, 400, "1578", "fromType=Agent", "from=solo")
	e.st.setState("101", "solo", engine.AgentState{WrapUpUntil: now.Add(-time.Second)})
	e.wantC2C(t, 200, "200", "fromType=Agent", "from=solo")

	// Paused: unavailable.
	e.c.want("PATCH", "/v1/agents/solo", `{"paused":true}`, 200, "")
	e.wantC2C(t, 400, "1579", "toType=Agent", "to=solo")
}

func TestClickToCallAgentCLIAndDND(t *testing.T) {
	e := newManageEnv(t)
	e.c.want("POST", "/v1/agents", `{"id":"nocli","numbers":["9811111111"]}`, 201, "")
	e.c.want("POST", "/v1/agents", `{"id":"withcli","numbers":["9811111112"],"cli":"9122222222"}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"g","members":[{"agent_id":"withcli"},{"agent_id":"nocli"}]}`, 201, "")

	e.wantC2C(t, 400, "1582", "fromType=Agent", "from=nocli", "fromCLI=AGENT_CLI")
	e.wantC2C(t, 400, "1583", "toType=Agent", "to=nocli", "toCLI=AGENT_CLI")
	e.wantC2C(t, 400, "1583", "toType=Group", "to=g", "toCLI=AGENT_CLI")
	e.wantC2C(t, 200, "200", "fromType=Agent", "from=withcli", "fromCLI=AGENT_CLI")
	e.c.want("PATCH", "/v1/agents/nocli", `{"cli":"9133333333"}`, 200, "")
	e.wantC2C(t, 200, "200", "toType=Group", "to=g", "toCLI=AGENT_CLI")

	e.c.want("POST", "/v1/dnd", `{"numbers":["9000000001"]}`, 204, "")
	e.wantC2C(t, 400, "1573", "from=9876543210,9000000001", "dndFilter=from")
	e.wantC2C(t, 400, "1574", "to=9000000001", "dndFilter=both")
	e.wantC2C(t, 200, "200", "to=9000000001") // no filter, no check
	e.c.want("DELETE", "/v1/dnd/9000000001", "", 204, "")
	e.wantC2C(t, 200, "200", "to=9000000001", "dndFilter=to")
}

func TestClickToCallStoreDown(t *testing.T) {
	e := newManageEnv(t)
	e.c.want("POST", "/v1/agents", `{"id":"a1","numbers":["9811111111"]}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"g1","members":[{"agent_id":"a1"}]}`, 201, "")
	for _, tc := range []struct {
		op, code string
		mods     []string
	}{
		{"IsDND", "1575", []string{"dndFilter=to"}},
		{"GetAgent", "1501", []string{"fromType=Agent", "from=a1"}},
		{"AgentStates", "1501", []string{"toType=Agent", "to=a1"}},
		{"GetGroup", "1501", []string{"toType=Group", "to=g1"}},
		{"ListAgents", "1501", []string{"fromType=Group", "from=g1"}},
	} {
		e.st.mu.Lock()
		e.st.failOn = map[string]bool{tc.op: true}
		e.st.mu.Unlock()
		before := e.eng.originateCount()
		resp := postForm(t, e.url+"/v2/clickToCall/para", params(tc.mods...))
		body := decodeSpec(t, resp)
		if resp.StatusCode != 503 || body["code"] != tc.code || body["status"] != "error" || resp.Header.Get("Retry-After") != "5" {
			t.Errorf("%s failing: %d %v", tc.op, resp.StatusCode, body)
		}
		if e.eng.originateCount() != before {
			t.Errorf("%s failing: the call was placed", tc.op)
		}
		// The JSON API answers the same codes.
		r, b := e.c.do("POST", "/v1/calls", jsonParams(tc.mods))
		if r.StatusCode != 503 || v1Code(t, b) != tc.code {
			t.Errorf("%s failing, /v1/calls: %d %s", tc.op, r.StatusCode, b)
		}
	}
}

// jsonParams renders params' mods (k=v only) as a /v1/calls body.
func jsonParams(mods []string) string {
	v := params(mods...)
	v.Del("user_id")
	v.Del("token")
	m := map[string]string{}
	for k := range v {
		m[k] = v.Get(k)
	}
	b, _ := json.Marshal(m)
	return string(b)
}
