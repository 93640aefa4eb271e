package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/engine"
)

type membersJSON struct {
	GroupID     string `json:"group_id"`
	MaxPriority int    `json:"maxPriority"`
	Members     []struct {
		AgentID  string   `json:"agent_id"`
		Priority int      `json:"priority"`
		Name     string   `json:"name"`
		Numbers  []string `json:"numbers"`
		Deleted  bool     `json:"deleted"`
	} `json:"members"`
}

func TestGroupCRUD(t *testing.T) {
	e := newManageEnv(t)
	for _, id := range []string{"a1", "a2", "a3"} {
		e.c.want("POST", "/v1/agents", `{"id":"`+id+`","name":"Agent `+id+`","numbers":["911"]}`, 201, "")
	}
	resp, b := e.c.do("POST", "/v1/groups", `{"id":"sales","name":"Sales","ring_time":15,"distribution":"RR","sticky":true,"sticky_days":30,"recording":true,"queue_timeout":120,"max_wait":10}`)
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/v1/groups/sales" {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	g := decodeAs[engine.Group](t, b)
	if g.Tenant != "101" || g.Distribution != "round_robin" || g.RingTime != 15 || !g.Sticky || g.StickyDays != 30 || !g.Recording ||
		g.QueueTimeout != 120 || g.MaxWait != 10 || g.Members == nil || g.CreatedAt.IsZero() {
		t.Fatalf("created %+v", g)
	}
	if !strings.Contains(string(b), `"members":[]`) {
		t.Errorf("no members is not []: %s", b)
	}
	e.c.want("POST", "/v1/groups", `{"id":"sales"}`, 409, "exists")
	gen := decodeAs[engine.Group](t, e.c.want("POST", "/v1/groups", `{"distribution":"Linear"}`, 201, ""))
	if !validID(gen.ID) || gen.Distribution != "linear" {
		t.Fatalf("generated %+v", gen)
	}
	if l := decodeAs[struct{ Groups []engine.Group }](t, e.c.want("GET", "/v1/groups", "", 200, "")); len(l.Groups) != 2 {
		t.Fatalf("list %+v", l)
	}

	// Members: the default priority is maxPriority+1.
	e.c.want("POST", "/v1/groups/sales/members", `{"agent_id":"a1"}`, 201, "")
	m := decodeAs[engine.Member](t, e.c.want("POST", "/v1/groups/sales/members", `{"agent_id":"a2","priority":5}`, 201, ""))
	if m.Priority != 5 {
		t.Fatalf("member %+v", m)
	}
	m = decodeAs[engine.Member](t, e.c.want("POST", "/v1/groups/sales/members", `{"agent_id":"a3"}`, 201, ""))
	if m.Priority != 6 {
		t.Fatalf("default priority %d, want 6", m.Priority)
	}
	ms := decodeAs[membersJSON](t, e.c.want("GET", "/v1/groups/sales/members", "", 200, ""))
	if ms.GroupID != "sales" || ms.MaxPriority != 6 || len(ms.Members) != 3 || ms.Members[0].Priority != 1 ||
		ms.Members[0].Name != "Agent a1" || len(ms.Members[0].Numbers) != 1 {
		t.Fatalf("members %+v", ms)
	}
	e.c.want("POST", "/v1/groups/sales/members", `{"agent_id":"a1"}`, 409, "exists")
	e.c.want("POST", "/v1/groups/sales/members", `{"agent_id":"nosuch"}`, 404, "not_found")
	e.c.want("POST", "/v1/groups/nosuch/members", `{"agent_id":"a1"}`, 404, "not_found")
	e.c.want("POST", "/v1/groups/sales/members", `{}`, 400, "invalid_value")
	e.c.want("POST", "/v1/groups/sales/members", `{"agent_id":"a1","priority":0}`, 400, "invalid_value")
	e.c.want("POST", "/v1/groups/sales/members", `{"agent_id":"a1","rank":1}`, 400, "unknown_parameter")

	e.c.want("DELETE", "/v1/groups/sales/members/a2", "", 204, "")
	e.c.want("DELETE", "/v1/groups/sales/members/a2", "", 404, "not_found")
	if ms := decodeAs[membersJSON](t, e.c.want("GET", "/v1/groups/sales/members", "", 200, "")); len(ms.Members) != 2 || ms.MaxPriority != 6 {
		t.Fatalf("after removal %+v", ms)
	}

	// PATCH changes what it names; PUT replaces the settings and keeps
	// the members unless it gives them.
	p := decodeAs[engine.Group](t, e.c.want("PATCH", "/v1/groups/sales", `{"ring_time":20,"distribution":"least_recent"}`, 200, ""))
	if p.RingTime != 20 || p.Distribution != "least_recent" || p.Name != "Sales" || !p.Sticky || len(p.Members) != 2 {
		t.Fatalf("patched %+v", p)
	}
	r := decodeAs[engine.Group](t, e.c.want("PUT", "/v1/groups/sales", `{"name":"Sales 2"}`, 200, ""))
	if r.Name != "Sales 2" || r.RingTime != 0 || r.Sticky || r.Distribution != "round_robin" || len(r.Members) != 2 || !r.CreatedAt.Equal(g.CreatedAt) {
		t.Fatalf("replaced %+v", r)
	}
	r = decodeAs[engine.Group](t, e.c.want("PUT", "/v1/groups/sales", `{"members":[{"agent_id":"a3"},{"agent_id":"a1","priority":4},{"agent_id":"a2"}]}`, 200, ""))
	if fmt.Sprint(r.Members) != "[{a3 1} {a1 4} {a2 5}]" {
		t.Fatalf("members given to PUT: %v", r.Members)
	}
	e.c.want("PUT", "/v1/groups/sales", `{"id":"other"}`, 400, "invalid_value")
	e.c.want("PUT", "/v1/groups/nosuch", `{}`, 404, "not_found")

	e.c.want("DELETE", "/v1/groups/sales", "", 204, "")
	e.c.want("GET", "/v1/groups/sales", "", 404, "not_found")
	e.c.want("DELETE", "/v1/groups/sales", "", 404, "not_found")
}

func TestGroupValidation(t *testing.T) {
	e := newManageEnv(t)
	e.c.want("POST", "/v1/agents", `{"id":"a1","numbers":["911"]}`, 201, "")
	for _, d := range []string{"round_robin", "RR", "rr", "ring_all", "linear", "least_recent", "fewest_calls", "RANDOM", ""} {
		e.c.want("POST", "/v1/groups", `{"distribution":"`+d+`"}`, 201, "")
	}
	e.c.want("POST", "/v1/groups", `{"ring_time":50,"sticky_days":3650,"queue_timeout":3600,"max_wait":10000,"name":"`+strings.Repeat("n", 100)+`"}`, 201, "")
	members := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `{"agent_id":"a1"}`
		}
		return `{"members":[` + strings.Join(parts, ",") + `]}`
	}
	for _, tc := range []struct{ name, body, code string }{
		{"id", `{"id":"no/slash"}`, "invalid_value"},
		{"name of 101", `{"name":"` + strings.Repeat("n", 101) + `"}`, "invalid_value"},
		{"distribution", `{"distribution":"weighted"}`, "invalid_value"},
		{"ring_time 51", `{"ring_time":51}`, "invalid_value"},
		{"ring_time negative", `{"ring_time":-1}`, "invalid_value"},
		{"sticky_days 3651", `{"sticky_days":3651}`, "invalid_value"},
		{"queue_timeout 3601", `{"queue_timeout":3601}`, "invalid_value"},
		{"max_wait 10001", `{"max_wait":10001}`, "invalid_value"},
		{"501 members", members(501), "invalid_value"},
		{"unknown member", `{"members":[{"agent_id":"nosuch"}]}`, "invalid_value"},
		{"member twice", members(2), "invalid_value"},
		{"member priority negative", `{"members":[{"agent_id":"a1","priority":-1}]}`, "invalid_value"},
		{"member with an unknown key", `{"members":[{"agent_id":"a1","weight":1}]}`, "unknown_parameter"},
		{"ring_time a string", `{"ring_time":"15"}`, "invalid_value"},
		{"sticky a string", `{"sticky":"yes"}`, "invalid_value"},
		{"spec's ringtime", `{"ringtime":15}`, "unknown_parameter"},
		{"maxPriority", `{"maxPriority":3}`, "read_only"},
	} {
		resp, b := e.c.do("POST", "/v1/groups", tc.body)
		if resp.StatusCode != 400 || v1Code(t, b) != tc.code {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}

	// A full group refuses one more member.
	e.st.mu.Lock()
	full := &engine.Group{Tenant: "101", ID: "full"}
	for i := range maxGroupMembers {
		full.Members = append(full.Members, engine.Member{AgentID: fmt.Sprintf("x%d", i), Priority: 1})
	}
	inner(e.st.groups, "101")["full"] = full
	e.st.mu.Unlock()
	e.c.want("POST", "/v1/groups/full/members", `{"agent_id":"a1"}`, 409, "group_full")
}

func TestDeleteAgentLeavesGroups(t *testing.T) {
	e := newManageEnv(t)
	for _, id := range []string{"a1", "a2"} {
		e.c.want("POST", "/v1/agents", `{"id":"`+id+`","numbers":["911"]}`, 201, "")
	}
	e.c.want("POST", "/v1/groups", `{"id":"g1","members":[{"agent_id":"a1"},{"agent_id":"a2"}]}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"g2","members":[{"agent_id":"a2"},{"agent_id":"a1"}]}`, 201, "")
	e.c.want("POST", "/v1/groups", `{"id":"g3","members":[{"agent_id":"a2"}]}`, 201, "")
	e.c.want("DELETE", "/v1/agents/a1", "", 204, "")
	for id, want := range map[string]string{"g1": "[{a2 2}]", "g2": "[{a2 1}]", "g3": "[{a2 1}]"} {
		g := decodeAs[engine.Group](t, e.c.want("GET", "/v1/groups/"+id, "", 200, ""))
		if fmt.Sprint(g.Members) != want {
			t.Errorf("%s: members %v, want %s", id, g.Members, want)
		}
	}

	// A member whose agent vanished another way is shown as deleted and
	// can be removed.
	e.st.mu.Lock()
	delete(e.st.agents["101"], "a2")
	e.st.mu.Unlock()
	ms := decodeAs[membersJSON](t, e.c.want("GET", "/v1/groups/g3/members", "", 200, ""))
	if len(ms.Members) != 1 || !ms.Members[0].Deleted {
		t.Fatalf("members %+v", ms)
	}
	e.c.want("DELETE", "/v1/groups/g3/members/a2", "", 204, "")
}

func TestDND(t *testing.T) {
	e := newManageEnv(t)
	if b := e.c.want("GET", "/v1/dnd", "", 200, ""); strings.TrimSpace(string(b)) != `{"numbers":[]}` {
		t.Fatalf("empty list: %s", b)
	}
	e.c.want("POST", "/v1/dnd", `{"numbers":["9000000002","+919000000001","9000000002"]}`, 204, "")
	if b := e.c.want("GET", "/v1/dnd", "", 200, ""); strings.TrimSpace(string(b)) != `{"numbers":["+919000000001","9000000002"]}` {
		t.Fatalf("list: %s", b)
	}
	if b := e.c.want("GET", "/v1/dnd/+919000000001", "", 200, ""); strings.TrimSpace(string(b)) != `{"dnd":true,"number":"+919000000001"}` {
		t.Fatalf("get: %s", b)
	}
	if b := e.c.want("GET", "/v1/dnd/9000000001", "", 200, ""); !strings.Contains(string(b), `"dnd":false`) {
		t.Fatalf("not listed: %s", b)
	}
	e.c.want("DELETE", "/v1/dnd/9000000002", "", 204, "")
	e.c.want("DELETE", "/v1/dnd/9000000002", "", 404, "not_found")
	e.c.want("GET", "/v1/dnd/abc", "", 400, "invalid_value")
	e.c.want("DELETE", "/v1/dnd/12", "", 400, "invalid_value")
	e.c.want("POST", "/v1/dnd", `{"numbers":[]}`, 400, "invalid_value")
	e.c.want("POST", "/v1/dnd", `{}`, 400, "invalid_value")
	e.c.want("POST", "/v1/dnd", `{"numbers":["9000000003","nine"]}`, 400, "invalid_value")
	e.c.want("POST", "/v1/dnd", `{"number":"9000000003"}`, 400, "unknown_parameter")
	many := make([]string, maxDNDPerRequest+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"9%09d"`, i)
	}
	e.c.want("POST", "/v1/dnd", `{"numbers":[`+strings.Join(many, ",")+`]}`, 400, "invalid_value")
}
