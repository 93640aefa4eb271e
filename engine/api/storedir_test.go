package api

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func putAgent(t *testing.T, st *fakeStore, a engine.Agent) {
	t.Helper()
	if a.Numbers == nil {
		a.Numbers = []string{"9812345678"}
	}
	if err := st.PutAgent(context.Background(), &a); err != nil {
		t.Fatal(err)
	}
}

func putGroup(t *testing.T, st *fakeStore, g engine.Group) {
	t.Helper()
	if err := st.PutGroup(context.Background(), &g); err != nil {
		t.Fatal(err)
	}
}

func TestStoreDirectoryAgent(t *testing.T) {
	st := newFakeStore()
	d := StoreDirectory{Agents: st, Now: func() time.Time { return t0 }}
	ctx := context.Background()
	putAgent(t, st, engine.Agent{Tenant: "101", ID: "free", WebLogin: true, CLI: "9111111111"})
	putAgent(t, st, engine.Agent{Tenant: "101", ID: "paused", CallLogin: true, Paused: true})
	putAgent(t, st, engine.Agent{Tenant: "101", ID: "wrap"})
	putAgent(t, st, engine.Agent{Tenant: "101", ID: "busy"})
	putAgent(t, st, engine.Agent{Tenant: "101", ID: "two", MaxCalls: 2})
	putAgent(t, st, engine.Agent{Tenant: "101", ID: "stale"})
	st.setState("101", "wrap", engine.AgentState{WrapUpUntil: t0.Add(time.Second)})
	st.setState("101", "busy", engine.AgentState{Calls: map[string]time.Time{"c1": t0.Add(time.Minute)}})
	st.setState("101", "two", engine.AgentState{Calls: map[string]time.Time{"c1": t0.Add(time.Minute)}})
	st.setState("101", "stale", engine.AgentState{Calls: map[string]time.Time{"c1": t0}, WrapUpUntil: t0})

	for _, tc := range []struct {
		id   string
		want AgentInfo
	}{
		{"free", AgentInfo{WebLogin: true, Available: true, CLI: "9111111111"}},
		{"paused", AgentInfo{CallLogin: true}},
		{"wrap", AgentInfo{}},
		{"busy", AgentInfo{}},
		{"two", AgentInfo{Available: true}},
		{"stale", AgentInfo{Available: true}}, // lease and wrap-up end at t0
	} {
		got, ok, err := d.Agent(ctx, "101", tc.id)
		if err != nil || !ok || got != tc.want {
			t.Errorf("%s: %+v %v %v, want %+v", tc.id, got, ok, err, tc.want)
		}
	}
	if _, ok, err := d.Agent(ctx, "101", "nosuch"); ok || err != nil {
		t.Errorf("unknown agent: %v %v", ok, err)
	}
	if _, ok, err := d.Agent(ctx, "202", "free"); ok || err != nil {
		t.Errorf("another tenant's agent: %v %v", ok, err)
	}
	if ok, err := d.Announcement(ctx, "101", "ann1"); ok || err != nil {
		t.Errorf("announcements: %v %v", ok, err)
	}
}

func TestStoreDirectoryGroup(t *testing.T) {
	st := newFakeStore()
	d := StoreDirectory{Agents: st, Now: func() time.Time { return t0 }}
	ctx := context.Background()
	var members []engine.Member
	for i := range 50 {
		id := fmt.Sprintf("a%02d", i)
		putAgent(t, st, engine.Agent{Tenant: "101", ID: id, WebLogin: i%2 == 0, CLI: "9111111111"})
		members = append(members, engine.Member{AgentID: id, Priority: i + 1})
	}
	members = append(members, engine.Member{AgentID: "deleted", Priority: 99})
	putGroup(t, st, engine.Group{Tenant: "101", ID: "big", Members: members})
	putGroup(t, st, engine.Group{Tenant: "101", ID: "empty"})
	st.setState("101", "a01", engine.AgentState{Calls: map[string]time.Time{"c": t0.Add(time.Hour)}})

	st.resetOps()
	g, ok, err := d.Group(ctx, "101", "big")
	if err != nil || !ok || len(g.Members) != 50 {
		t.Fatalf("group: %d members, %v %v", len(g.Members), ok, err)
	}
	if n := st.opCount(); n > 3 {
		t.Errorf("a group of 50 cost %d store round trips", n)
	}
	if !g.Members[0].WebLogin || g.Members[1].WebLogin || g.Members[1].Available || !g.Members[2].Available {
		t.Errorf("members: %+v", g.Members[:3])
	}
	if g, ok, err := d.Group(ctx, "101", "empty"); err != nil || !ok || len(g.Members) != 0 {
		t.Errorf("empty group: %+v %v %v", g, ok, err)
	}
	for _, tc := range []struct{ tenant, id string }{{"101", "nosuch"}, {"202", "big"}} {
		if _, ok, err := d.Group(ctx, tc.tenant, tc.id); ok || err != nil {
			t.Errorf("%s/%s: %v %v", tc.tenant, tc.id, ok, err)
		}
	}
}

func TestStoreDirectoryFailures(t *testing.T) {
	st := newFakeStore()
	d := StoreDirectory{Agents: st}
	ctx := context.Background()
	putAgent(t, st, engine.Agent{Tenant: "101", ID: "a1"})
	putGroup(t, st, engine.Group{Tenant: "101", ID: "g1", Members: []engine.Member{{AgentID: "a1", Priority: 1}}})
	if err := st.AddDND(ctx, "101", "9000000001"); err != nil {
		t.Fatal(err)
	}
	if on, err := d.DND(ctx, "101", "9000000001"); !on || err != nil {
		t.Fatalf("DND: %v %v", on, err)
	}
	if on, err := d.DND(ctx, "202", "9000000001"); on || err != nil {
		t.Fatalf("another tenant's DND: %v %v", on, err)
	}
	for _, op := range []string{"GetAgent", "AgentStates", "GetGroup", "ListAgents", "IsDND"} {
		st := newFakeStore()
		putAgent(t, st, engine.Agent{Tenant: "101", ID: "a1"})
		putGroup(t, st, engine.Group{Tenant: "101", ID: "g1", Members: []engine.Member{{AgentID: "a1", Priority: 1}}})
		st.fail(op)
		d := StoreDirectory{Agents: st}
		_, _, errA := d.Agent(ctx, "101", "a1")
		_, _, errG := d.Group(ctx, "101", "g1")
		_, errD := d.DND(ctx, "101", "9000000001")
		n := 0
		for _, err := range []error{errA, errG, errD} {
			if err != nil {
				n++
				if !errors.Is(err, errStoreDown) {
					t.Errorf("%s: %v does not wrap the store's error", op, err)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s failing: no look-up failed", op)
		}
	}
}
