package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// RunAgents runs the conformance suite for engine.AgentStore against stores
// made by newStore, which follows the same rules as Run's: every subtest
// gets a store of its own, and newStore registers the store's cleanup
// (Close) with t.Cleanup.
//
// The contract it pins down, beyond the comments on engine.AgentStore:
//
//   - Agents and groups belong to their tenant: another tenant never sees,
//     changes or deletes them. GetAgent, GetGroup, DeleteAgent and
//     DeleteGroup return engine.ErrNotFound for an id the tenant does not
//     have. Put replaces the whole record; an empty id is an error.
//     ListAgents and ListGroups are sorted by id. Every value returned is a
//     copy, and the store keeps no reference to a value passed in.
//   - Live-state times are kept to the millisecond (truncated) and derived
//     only from the now passed in: a lease runs until now+lease, and it is
//     live while its deadline is after now. Reserve and Release remove the
//     expired leases of the agent they touch; AgentStates shows the state
//     as stored.
//   - Reserve checks, in order: the agent exists (ErrAgentNotFound), and
//     then, unless the call already holds a live lease on the agent (a
//     renewal, which always succeeds), that the agent is not paused
//     (ErrAgentPaused), not in wrap-up (ErrAgentWrapUp: now is before
//     WrapUpUntil) and below Capacity() live leases (ErrAgentBusy). The
//     refusals are the engine's sentinel errors themselves, unwrapped, as
//     the engine records their text as the reason an agent was skipped.
//     A lease must be positive.
//   - Release with answered=true counts the call only when the call still
//     held its reservation and the agent still exists: LastCallEnd=now,
//     CallsTaken+1, WrapUpUntil=now+WrapUpSeconds when WrapUpSeconds > 0
//     (without wrap-up it stamps none, so a reservation racing the release
//     with a clock read a moment earlier is not refused). A release repeated
//     (retried) therefore counts once.
//   - DeleteAgent forgets the agent's wrap-up, last call and count; its
//     reservations stay, visible in AgentStates, until released or expired.
//     DeleteGroup forgets the group's round-robin pointer.
//   - SetRoundRobinLast and SetSticky with an empty agent id remove the
//     pointer or binding. A negative sticky ttl is an error.
//   - The waiting line orders calls by first join (millisecond), ties by
//     call id (bytewise). A call whose lease ran out (deadline not after
//     now) is dropped, and joins again at the back of the line.
//   - ListDND is sorted; DND calls with no numbers do nothing.
func RunAgents(t *testing.T, newStore func(t *testing.T) engine.AgentStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s engine.AgentStore)
	}{
		{"AgentRoundTrip", testAgentRoundTrip},
		{"AgentReplaceAndDelete", testAgentReplaceAndDelete},
		{"AgentTenants", testAgentTenants},
		{"AgentCopies", testAgentCopies},
		{"GetAgents", testGetAgents},
		{"GroupRoundTrip", testGroupRoundTrip},
		{"GroupReplaceAndDelete", testGroupReplaceAndDelete},
		{"GroupCopies", testGroupCopies},
		{"ListSorted", testListSorted},
		{"BadInput", testAgentBadInput},
		{"AgentStates", testAgentStates},
		{"ReserveCapacity", testReserveCapacity},
		{"ReserveRenews", testReserveRenews},
		{"ReserveExpiredLeases", testReserveExpiredLeases},
		{"ReserveRefusals", testReserveRefusals},
		{"ReserveDeletedAgent", testReserveDeletedAgent},
		{"ReleaseAnswered", testReleaseAnswered},
		{"ReleaseGone", testReleaseGone},
		{"ReserveTenants", testReserveTenants},
		{"ReserveRace", testReserveRace},
		{"RoundRobin", testRoundRobin},
		{"Sticky", testSticky},
		{"StickyExpiry", testStickyExpiry},
		{"QueueOrder", testQueueOrder},
		{"QueueExpiry", testQueueExpiry},
		{"QueueFull", testQueueFull},
		{"QueueLeave", testQueueLeave},
		{"DND", testDND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// fullAgent returns an agent with every field set to a non-zero value.
func fullAgent(tenant, id string) *engine.Agent {
	return &engine.Agent{
		Tenant: tenant, ID: id, Name: "Agent " + id,
		Numbers:  []string{"+15550107", "sip:" + id + "@pbx.example"},
		CLI:      "+15550199",
		WebLogin: true, CallLogin: true, Paused: true,
		MaxCalls: 2, WrapUpSeconds: 15,
		CreatedAt: base, UpdatedAt: base.Add(time.Hour + 7*time.Nanosecond),
	}
}

// fullGroup returns a group with every field set to a non-zero value.
func fullGroup(tenant, id string) *engine.Group {
	return &engine.Group{
		Tenant: tenant, ID: id, Name: "Group " + id,
		Members:      []engine.Member{{AgentID: "ag-2", Priority: 2}, {AgentID: "ag-1", Priority: 1}},
		RingTime:     20,
		Distribution: "least_recent",
		Sticky:       true, StickyDays: 7, Recording: true,
		QueueTimeout: 90, MaxWait: 5,
		CreatedAt: base, UpdatedAt: base.Add(time.Minute + 3*time.Nanosecond),
	}
}

// agent returns a plain agent that may take calls: logged in, not paused,
// one call at a time, no wrap-up.
func agent(tenant, id string) *engine.Agent {
	return &engine.Agent{Tenant: tenant, ID: id, Name: id, Numbers: []string{"+15550100"}, WebLogin: true, CallLogin: true, CreatedAt: base, UpdatedAt: base}
}

// jsonOf renders a value for comparison; times compare at full precision.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func assertSame(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
		t.Fatalf("%s mismatch\n got: %s\nwant: %s", what, g, w)
	}
}

func putAgent(t *testing.T, s engine.AgentStore, a *engine.Agent) {
	t.Helper()
	if err := s.PutAgent(t.Context(), a); err != nil {
		t.Fatalf("PutAgent(%s/%s): %v", a.Tenant, a.ID, err)
	}
}

func putGroup(t *testing.T, s engine.AgentStore, g *engine.Group) {
	t.Helper()
	if err := s.PutGroup(t.Context(), g); err != nil {
		t.Fatalf("PutGroup(%s/%s): %v", g.Tenant, g.ID, err)
	}
}

func getAgent(t *testing.T, s engine.AgentStore, tenant, id string) *engine.Agent {
	t.Helper()
	a, err := s.GetAgent(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("GetAgent(%s/%s): %v", tenant, id, err)
	}
	return a
}

func getGroup(t *testing.T, s engine.AgentStore, tenant, id string) *engine.Group {
	t.Helper()
	g, err := s.GetGroup(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("GetGroup(%s/%s): %v", tenant, id, err)
	}
	return g
}

func listAgents(t *testing.T, s engine.AgentStore, tenant string) []*engine.Agent {
	t.Helper()
	as, err := s.ListAgents(t.Context(), tenant)
	if err != nil {
		t.Fatalf("ListAgents(%s): %v", tenant, err)
	}
	return as
}

func listGroups(t *testing.T, s engine.AgentStore, tenant string) []*engine.Group {
	t.Helper()
	gs, err := s.ListGroups(t.Context(), tenant)
	if err != nil {
		t.Fatalf("ListGroups(%s): %v", tenant, err)
	}
	return gs
}

func agentIDs(as []*engine.Agent) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func groupIDs(gs []*engine.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

func testAgentRoundTrip(t *testing.T, s engine.AgentStore) {
	a := fullAgent("tenant-a", "ag-1")
	requireNonZero(t, "Agent", reflect.ValueOf(a))
	putAgent(t, s, a)
	got := getAgent(t, s, "tenant-a", "ag-1")
	assertSame(t, "GetAgent", got, a)
	if !got.UpdatedAt.Equal(a.UpdatedAt) {
		t.Fatalf("UpdatedAt %v, want %v to the nanosecond", got.UpdatedAt, a.UpdatedAt)
	}
	listed := listAgents(t, s, "tenant-a")
	if len(listed) != 1 {
		t.Fatalf("ListAgents: %d agents, want 1", len(listed))
	}
	assertSame(t, "ListAgents", listed[0], a)
}

func testAgentReplaceAndDelete(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	putAgent(t, s, fullAgent("tenant-a", "ag-1"))
	putAgent(t, s, fullAgent("tenant-a", "ag-2"))
	// Put replaces the whole record: fields left zero are zero afterwards.
	repl := &engine.Agent{Tenant: "tenant-a", ID: "ag-1", Name: "Renamed", Numbers: []string{"+15550999"}, UpdatedAt: base.Add(time.Hour)}
	putAgent(t, s, repl)
	assertSame(t, "replaced agent", getAgent(t, s, "tenant-a", "ag-1"), repl)
	assertIDs(t, "agents after replace", agentIDs(listAgents(t, s, "tenant-a")), []string{"ag-1", "ag-2"})

	if err := s.DeleteAgent(ctx, "tenant-a", "ag-1"); err != nil {
		t.Fatalf("DeleteAgent: %v", err)
	}
	_, err := s.GetAgent(ctx, "tenant-a", "ag-1")
	assertNotFound(t, "GetAgent after delete", err)
	assertNotFound(t, "DeleteAgent again", s.DeleteAgent(ctx, "tenant-a", "ag-1"))
	_, err = s.GetAgent(ctx, "tenant-a", "never")
	assertNotFound(t, "GetAgent unknown", err)
	assertIDs(t, "agents after delete", agentIDs(listAgents(t, s, "tenant-a")), []string{"ag-2"})

	// The id can be used again.
	putAgent(t, s, agent("tenant-a", "ag-1"))
	assertSame(t, "agent put after delete", getAgent(t, s, "tenant-a", "ag-1"), agent("tenant-a", "ag-1"))
}

func testAgentTenants(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	a, b := fullAgent("tenant-a", "ag-1"), fullAgent("tenant-b", "ag-1")
	b.Name = "the other tenant's"
	putAgent(t, s, a)
	putAgent(t, s, b)
	putAgent(t, s, agent("tenant-b", "ag-only-b"))
	assertSame(t, "tenant-a agent", getAgent(t, s, "tenant-a", "ag-1"), a)
	assertSame(t, "tenant-b agent", getAgent(t, s, "tenant-b", "ag-1"), b)
	_, err := s.GetAgent(ctx, "tenant-a", "ag-only-b")
	assertNotFound(t, "GetAgent of another tenant's agent", err)
	assertNotFound(t, "DeleteAgent of another tenant's agent", s.DeleteAgent(ctx, "tenant-a", "ag-only-b"))
	assertIDs(t, "tenant-a agents", agentIDs(listAgents(t, s, "tenant-a")), []string{"ag-1"})
	assertIDs(t, "tenant-c agents", agentIDs(listAgents(t, s, "tenant-c")), nil)

	if err := s.DeleteAgent(ctx, "tenant-a", "ag-1"); err != nil {
		t.Fatalf("DeleteAgent: %v", err)
	}
	assertSame(t, "tenant-b agent after tenant-a's delete", getAgent(t, s, "tenant-b", "ag-1"), b)

	g := fullGroup("tenant-a", "g-1")
	putGroup(t, s, g)
	_, err = s.GetGroup(ctx, "tenant-b", "g-1")
	assertNotFound(t, "GetGroup of another tenant's group", err)
	assertNotFound(t, "DeleteGroup of another tenant's group", s.DeleteGroup(ctx, "tenant-b", "g-1"))
	assertIDs(t, "tenant-b groups", groupIDs(listGroups(t, s, "tenant-b")), nil)
	assertSame(t, "tenant-a group", getGroup(t, s, "tenant-a", "g-1"), g)
}

func testAgentCopies(t *testing.T, s engine.AgentStore) {
	a := fullAgent("tenant-a", "ag-1")
	want := fullAgent("tenant-a", "ag-1")
	putAgent(t, s, a)
	// The store must not keep what it was given...
	a.Name, a.Numbers[0], a.MaxCalls = "changed", "changed", 9
	assertSame(t, "agent after changing the value put", getAgent(t, s, "tenant-a", "ag-1"), want)
	// ...nor hand out what it keeps.
	got := getAgent(t, s, "tenant-a", "ag-1")
	got.Name, got.Numbers[1], got.Paused = "changed", "changed", false
	got.Numbers = append(got.Numbers, "extra")
	listed := listAgents(t, s, "tenant-a")
	listed[0].CLI, listed[0].Numbers[0] = "changed", "changed"
	assertSame(t, "agent after changing values read", getAgent(t, s, "tenant-a", "ag-1"), want)
}

func testGroupRoundTrip(t *testing.T, s engine.AgentStore) {
	g := fullGroup("tenant-a", "g-1")
	requireNonZero(t, "Group", reflect.ValueOf(g))
	putGroup(t, s, g)
	got := getGroup(t, s, "tenant-a", "g-1")
	assertSame(t, "GetGroup", got, g)
	if !got.UpdatedAt.Equal(g.UpdatedAt) {
		t.Fatalf("UpdatedAt %v, want %v to the nanosecond", got.UpdatedAt, g.UpdatedAt)
	}
	listed := listGroups(t, s, "tenant-a")
	if len(listed) != 1 {
		t.Fatalf("ListGroups: %d groups, want 1", len(listed))
	}
	assertSame(t, "ListGroups", listed[0], g)
}

func testGroupReplaceAndDelete(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	putGroup(t, s, fullGroup("tenant-a", "g-1"))
	putGroup(t, s, fullGroup("tenant-a", "g-2"))
	repl := &engine.Group{Tenant: "tenant-a", ID: "g-1", Name: "Renamed", Members: []engine.Member{{AgentID: "ag-9", Priority: 1}}, Distribution: "linear"}
	putGroup(t, s, repl)
	assertSame(t, "replaced group", getGroup(t, s, "tenant-a", "g-1"), repl)

	if err := s.DeleteGroup(ctx, "tenant-a", "g-1"); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	_, err := s.GetGroup(ctx, "tenant-a", "g-1")
	assertNotFound(t, "GetGroup after delete", err)
	assertNotFound(t, "DeleteGroup again", s.DeleteGroup(ctx, "tenant-a", "g-1"))
	_, err = s.GetGroup(ctx, "tenant-a", "never")
	assertNotFound(t, "GetGroup unknown", err)
	assertIDs(t, "groups after delete", groupIDs(listGroups(t, s, "tenant-a")), []string{"g-2"})
}

func testGroupCopies(t *testing.T, s engine.AgentStore) {
	g := fullGroup("tenant-a", "g-1")
	want := fullGroup("tenant-a", "g-1")
	putGroup(t, s, g)
	g.Name, g.Members[0].AgentID, g.Members[1].Priority = "changed", "changed", 9
	assertSame(t, "group after changing the value put", getGroup(t, s, "tenant-a", "g-1"), want)
	got := getGroup(t, s, "tenant-a", "g-1")
	got.Members[0].Priority, got.Distribution = 7, "random"
	got.Members = append(got.Members, engine.Member{AgentID: "extra"})
	listed := listGroups(t, s, "tenant-a")
	listed[0].Members[1].AgentID = "changed"
	assertSame(t, "group after changing values read", getGroup(t, s, "tenant-a", "g-1"), want)
}

func testListSorted(t *testing.T, s engine.AgentStore) {
	want := []string{"ag-01", "ag-02", "ag-10", "ag-9", "b", "z"}
	for _, i := range []int{3, 0, 5, 1, 4, 2} {
		putAgent(t, s, agent("tenant-a", want[i]))
		putGroup(t, s, &engine.Group{Tenant: "tenant-a", ID: want[i], Distribution: "round_robin"})
	}
	assertIDs(t, "ListAgents order", agentIDs(listAgents(t, s, "tenant-a")), want)
	assertIDs(t, "ListGroups order", groupIDs(listGroups(t, s, "tenant-a")), want)
}

func testAgentBadInput(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	putAgent(t, s, agent("tenant-a", "ag-1"))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"PutAgent without id", s.PutAgent(ctx, &engine.Agent{Tenant: "tenant-a", Name: "x"})},
		{"PutGroup without id", s.PutGroup(ctx, &engine.Group{Tenant: "tenant-a", Name: "x"})},
		{"Reserve with zero lease", s.Reserve(ctx, "tenant-a", "ag-1", "call-1", base, 0)},
		{"Reserve with negative lease", s.Reserve(ctx, "tenant-a", "ag-1", "call-1", base, -time.Second)},
		{"Reserve without call id", s.Reserve(ctx, "tenant-a", "ag-1", "", base, time.Minute)},
		{"SetSticky with negative ttl", s.SetSticky(ctx, "tenant-a", "+15550100", "ag-1", -time.Second)},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if isRefusal(tc.err) || errors.Is(tc.err, engine.ErrNotFound) {
			t.Errorf("%s: got %v, want an input error", tc.name, tc.err)
		}
	}
	if _, err := s.JoinQueue(ctx, "tenant-a", "g-1", "call-1", base, 0, 0); err == nil {
		t.Error("JoinQueue with zero lease: no error")
	}
	if _, err := s.JoinQueue(ctx, "tenant-a", "g-1", "", base, time.Minute, 0); err == nil {
		t.Error("JoinQueue without call id: no error")
	}
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{})
	if a, _ := s.Sticky(ctx, "tenant-a", "+15550100"); a != "" {
		t.Errorf("a refused SetSticky bound %q", a)
	}
}

func isRefusal(err error) bool {
	for _, e := range []error{engine.ErrAgentBusy, engine.ErrAgentWrapUp, engine.ErrAgentPaused, engine.ErrAgentNotFound, engine.ErrQueueFull} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ms truncates a time to the millisecond, as stores keep live-state times.
func ms(tm time.Time) time.Time { return time.UnixMilli(tm.UnixMilli()).UTC() }

// states reads the live state of ids.
func states(t *testing.T, s engine.AgentStore, tenant string, ids ...string) []engine.AgentState {
	t.Helper()
	st, err := s.AgentStates(t.Context(), tenant, ids)
	if err != nil {
		t.Fatalf("AgentStates(%s, %v): %v", tenant, ids, err)
	}
	if len(st) != len(ids) {
		t.Fatalf("AgentStates(%s, %v): %d states", tenant, ids, len(st))
	}
	return st
}

// assertStates compares states by their instants (times compared with
// Equal, whatever their location) and an absent Calls map as empty.
func assertStates(t *testing.T, s engine.AgentStore, tenant string, ids []string, want ...engine.AgentState) {
	t.Helper()
	got := states(t, s, tenant, ids...)
	for i := range ids {
		if g, w := stateString(got[i]), stateString(want[i]); g != w {
			t.Fatalf("state of %s/%s\n got: %s\nwant: %s", tenant, ids[i], g, w)
		}
	}
}

func stateString(st engine.AgentState) string {
	ms := func(tm time.Time) string {
		if tm.IsZero() {
			return "-"
		}
		return tm.UTC().Format(time.RFC3339Nano)
	}
	var calls []string
	for id, until := range st.Calls {
		calls = append(calls, id+"@"+ms(until))
	}
	slices.Sort(calls)
	return fmt.Sprintf("calls=%v wrap_until=%s last_end=%s taken=%d", calls, ms(st.WrapUpUntil), ms(st.LastCallEnd), st.CallsTaken)
}

// GetAgents reads several agents in the order asked, nil for an id the
// tenant has none under (another tenant's agent included), and copies.
func testGetAgents(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	a1, a2 := agent("tenant-a", "ag-1"), agent("tenant-a", "ag-2")
	a2.MaxCalls = 3
	putAgent(t, s, a1)
	putAgent(t, s, a2)
	putAgent(t, s, agent("tenant-b", "ag-3"))
	got, err := s.GetAgents(ctx, "tenant-a", []string{"ag-2", "nobody", "ag-3", "ag-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[1] != nil || got[2] != nil {
		t.Fatalf("GetAgents: %v", got)
	}
	if jsonOf(t, got[0]) != jsonOf(t, a2) || jsonOf(t, got[3]) != jsonOf(t, a1) {
		t.Fatalf("GetAgents: %s %s", jsonOf(t, got[0]), jsonOf(t, got[3]))
	}
	got[0].MaxCalls = 99
	if again, _ := s.GetAgent(ctx, "tenant-a", "ag-2"); again.MaxCalls != 3 {
		t.Fatal("GetAgents returned the stored agent, not a copy")
	}
	if none, err := s.GetAgents(ctx, "tenant-a", nil); err != nil || len(none) != 0 {
		t.Fatalf("GetAgents of no ids: %v %v", none, err)
	}
}
