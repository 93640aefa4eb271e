package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

func rrLast(t *testing.T, s engine.AgentStore, tenant, group string) string {
	t.Helper()
	id, err := s.RoundRobinLast(t.Context(), tenant, group)
	if err != nil {
		t.Fatalf("RoundRobinLast(%s/%s): %v", tenant, group, err)
	}
	return id
}

func setRR(t *testing.T, s engine.AgentStore, tenant, group, agentID string) {
	t.Helper()
	if err := s.SetRoundRobinLast(t.Context(), tenant, group, agentID); err != nil {
		t.Fatalf("SetRoundRobinLast(%s/%s, %q): %v", tenant, group, agentID, err)
	}
}

func assertString(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

func testRoundRobin(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	assertString(t, "unknown group", rrLast(t, s, "tenant-a", "g-1"), "")
	setRR(t, s, "tenant-a", "g-1", "ag-2")
	setRR(t, s, "tenant-a", "g-2", "ag-5")
	setRR(t, s, "tenant-b", "g-1", "ag-9")
	assertString(t, "tenant-a g-1", rrLast(t, s, "tenant-a", "g-1"), "ag-2")
	assertString(t, "tenant-a g-2", rrLast(t, s, "tenant-a", "g-2"), "ag-5")
	assertString(t, "tenant-b g-1", rrLast(t, s, "tenant-b", "g-1"), "ag-9")
	assertString(t, "tenant-c g-1", rrLast(t, s, "tenant-c", "g-1"), "")

	setRR(t, s, "tenant-a", "g-1", "ag-3")
	assertString(t, "overwritten", rrLast(t, s, "tenant-a", "g-1"), "ag-3")
	setRR(t, s, "tenant-a", "g-1", "")
	assertString(t, "cleared", rrLast(t, s, "tenant-a", "g-1"), "")
	assertString(t, "tenant-b g-1 after tenant-a's changes", rrLast(t, s, "tenant-b", "g-1"), "ag-9")

	putGroup(t, s, &engine.Group{Tenant: "tenant-a", ID: "g-2", Distribution: "round_robin"})
	if err := s.DeleteGroup(ctx, "tenant-a", "g-2"); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	assertString(t, "pointer of a deleted group", rrLast(t, s, "tenant-a", "g-2"), "")
}

func sticky(t *testing.T, s engine.AgentStore, tenant, number string) string {
	t.Helper()
	id, err := s.Sticky(t.Context(), tenant, number)
	if err != nil {
		t.Fatalf("Sticky(%s, %s): %v", tenant, number, err)
	}
	return id
}

func setSticky(t *testing.T, s engine.AgentStore, tenant, number, agentID string, ttl time.Duration) {
	t.Helper()
	if err := s.SetSticky(t.Context(), tenant, number, agentID, ttl); err != nil {
		t.Fatalf("SetSticky(%s, %s, %q, %v): %v", tenant, number, agentID, ttl, err)
	}
}

func testSticky(t *testing.T, s engine.AgentStore) {
	assertString(t, "unbound number", sticky(t, s, "tenant-a", "+15550001"), "")
	setSticky(t, s, "tenant-a", "+15550001", "ag-1", time.Hour)
	setSticky(t, s, "tenant-a", "+15550002", "ag-2", 0)
	setSticky(t, s, "tenant-b", "+15550001", "ag-9", time.Hour)
	assertString(t, "tenant-a +15550001", sticky(t, s, "tenant-a", "+15550001"), "ag-1")
	assertString(t, "tenant-a +15550002", sticky(t, s, "tenant-a", "+15550002"), "ag-2")
	assertString(t, "tenant-b +15550001", sticky(t, s, "tenant-b", "+15550001"), "ag-9")
	assertString(t, "tenant-c +15550001", sticky(t, s, "tenant-c", "+15550001"), "")

	setSticky(t, s, "tenant-a", "+15550001", "ag-3", time.Hour)
	assertString(t, "rebound", sticky(t, s, "tenant-a", "+15550001"), "ag-3")
	setSticky(t, s, "tenant-a", "+15550001", "", time.Hour)
	assertString(t, "unbound", sticky(t, s, "tenant-a", "+15550001"), "")
	assertString(t, "tenant-b after tenant-a's changes", sticky(t, s, "tenant-b", "+15550001"), "ag-9")
}

// testStickyExpiry uses one-second bindings and polls for their end: no
// assertion depends on how fast the machine is.
func testStickyExpiry(t *testing.T, s engine.AgentStore) {
	start := time.Now()
	setSticky(t, s, "tenant-a", "short", "ag-1", time.Second)
	setSticky(t, s, "tenant-a", "made-permanent", "ag-2", time.Second)
	setSticky(t, s, "tenant-a", "made-permanent", "ag-2", 0)
	setSticky(t, s, "tenant-a", "made-longer", "ag-3", time.Second)
	setSticky(t, s, "tenant-a", "made-longer", "ag-3", time.Hour)
	setSticky(t, s, "tenant-a", "rebound", "ag-4", time.Second)
	setSticky(t, s, "tenant-a", "rebound", "ag-5", 0)
	switch got := sticky(t, s, "tenant-a", "short"); {
	case got == "" && time.Since(start) < time.Second:
		t.Fatalf("a one-second binding ended after %v", time.Since(start))
	case got != "" && got != "ag-1":
		t.Fatalf("short: got %q", got)
	}
	eventually(t, "one-second binding expires", func() (bool, error) {
		id, err := s.Sticky(t.Context(), "tenant-a", "short")
		return id == "", err
	})
	assertString(t, "made permanent", sticky(t, s, "tenant-a", "made-permanent"), "ag-2")
	assertString(t, "made longer", sticky(t, s, "tenant-a", "made-longer"), "ag-3")
	assertString(t, "rebound", sticky(t, s, "tenant-a", "rebound"), "ag-5")
}

func join(t *testing.T, s engine.AgentStore, tenant, group, callID string, now time.Time, lease time.Duration, maxWait, wantAhead int) {
	t.Helper()
	ahead, err := s.JoinQueue(t.Context(), tenant, group, callID, now, lease, maxWait)
	if err != nil {
		t.Fatalf("JoinQueue(%s/%s, %s): %v", tenant, group, callID, err)
	}
	if ahead != wantAhead {
		t.Fatalf("JoinQueue(%s/%s, %s): %d ahead, want %d", tenant, group, callID, ahead, wantAhead)
	}
}

func joinFull(t *testing.T, s engine.AgentStore, tenant, group, callID string, now time.Time, maxWait int) {
	t.Helper()
	_, err := s.JoinQueue(t.Context(), tenant, group, callID, now, time.Minute, maxWait)
	if !errors.Is(err, engine.ErrQueueFull) {
		t.Fatalf("JoinQueue(%s/%s, %s) with maxWait %d: got %v, want ErrQueueFull", tenant, group, callID, maxWait, err)
	}
}

func leave(t *testing.T, s engine.AgentStore, tenant, group, callID string) {
	t.Helper()
	if err := s.LeaveQueue(t.Context(), tenant, group, callID); err != nil {
		t.Fatalf("LeaveQueue(%s/%s, %s): %v", tenant, group, callID, err)
	}
}

func testQueueOrder(t *testing.T, s engine.AgentStore) {
	const q = time.Minute
	join(t, s, "tenant-a", "g-1", "call-b", base, q, 0, 0)
	join(t, s, "tenant-a", "g-1", "call-a", base.Add(time.Second), q, 0, 1)
	join(t, s, "tenant-a", "g-1", "call-c", base.Add(2*time.Second), q, 0, 2)
	// Refreshing keeps each call's place, whatever order they refresh in.
	join(t, s, "tenant-a", "g-1", "call-c", base.Add(3*time.Second), q, 0, 2)
	join(t, s, "tenant-a", "g-1", "call-a", base.Add(4*time.Second), q, 0, 1)
	join(t, s, "tenant-a", "g-1", "call-b", base.Add(5*time.Second), q, 0, 0)

	// Calls that first joined in the same millisecond go by call id.
	tie := ms(base).Add(100 * time.Microsecond)
	join(t, s, "tenant-a", "g-2", "call-z", tie, q, 0, 0)
	join(t, s, "tenant-a", "g-2", "call-m", tie.Add(500*time.Microsecond), q, 0, 0)
	join(t, s, "tenant-a", "g-2", "call-z", tie.Add(time.Second), q, 0, 1)
	join(t, s, "tenant-a", "g-2", "call-y", tie.Add(time.Millisecond), q, 0, 2)

	// Lines are per group and per tenant.
	join(t, s, "tenant-b", "g-1", "call-x", base.Add(time.Hour), q, 0, 0)
	join(t, s, "tenant-a", "g-3", "call-x", base.Add(time.Hour), q, 0, 0)
	join(t, s, "tenant-a", "g-1", "call-c", base.Add(6*time.Second), q, 0, 2)
}

func testQueueExpiry(t *testing.T, s engine.AgentStore) {
	const q = 10 * time.Second
	t0 := ms(base)
	join(t, s, "tenant-a", "g-1", "call-1", t0, q, 0, 0)
	join(t, s, "tenant-a", "g-1", "call-2", t0.Add(time.Second), q, 0, 1)
	join(t, s, "tenant-a", "g-1", "call-3", t0.Add(2*time.Second), q, 0, 2)
	// At its deadline an entry is dropped.
	join(t, s, "tenant-a", "g-1", "call-3", t0.Add(10*time.Second-time.Millisecond), q, 0, 2)
	join(t, s, "tenant-a", "g-1", "call-3", t0.Add(10*time.Second), q, 0, 1)
	join(t, s, "tenant-a", "g-1", "call-3", t0.Add(11*time.Second), q, 0, 0)
	// A dropped call that comes back joins at the back.
	join(t, s, "tenant-a", "g-1", "call-1", t0.Add(12*time.Second), q, 0, 1)
	// call-1 refreshes; call-3 comes back after its own entry ran out
	// and joins afresh, behind call-1.
	join(t, s, "tenant-a", "g-1", "call-1", t0.Add(20*time.Second), q, 0, 1)
	join(t, s, "tenant-a", "g-1", "call-3", t0.Add(22*time.Second), q, 0, 1)
	// When everyone's entry ran out, the first to come back is first.
	join(t, s, "tenant-a", "g-1", "call-3", t0.Add(time.Hour), q, 0, 0)
	join(t, s, "tenant-a", "g-1", "call-1", t0.Add(time.Hour+time.Millisecond), q, 0, 1)
}

func testQueueFull(t *testing.T, s engine.AgentStore) {
	const q = time.Minute
	join(t, s, "tenant-a", "g-1", "call-1", base, q, 2, 0)
	join(t, s, "tenant-a", "g-1", "call-2", base.Add(time.Second), q, 2, 1)
	joinFull(t, s, "tenant-a", "g-1", "call-3", base.Add(2*time.Second), 2)
	// Calls already in the line refresh whatever the bound.
	join(t, s, "tenant-a", "g-1", "call-1", base.Add(3*time.Second), q, 2, 0)
	join(t, s, "tenant-a", "g-1", "call-2", base.Add(3*time.Second), q, 1, 1)
	// A refused call left no entry: once there is room it joins last.
	leave(t, s, "tenant-a", "g-1", "call-1")
	join(t, s, "tenant-a", "g-1", "call-2", base.Add(4*time.Second), q, 2, 0)
	join(t, s, "tenant-a", "g-1", "call-3", base.Add(4*time.Second), q, 2, 1)
	// maxWait 0 is no bound; another tenant's line is not counted.
	join(t, s, "tenant-a", "g-1", "call-4", base.Add(5*time.Second), q, 0, 2)
	join(t, s, "tenant-b", "g-1", "call-5", base.Add(5*time.Second), q, 1, 0)

	// Entries that ran out do not fill the line.
	join(t, s, "tenant-a", "g-2", "call-1", base, 10*time.Second, 1, 0)
	joinFull(t, s, "tenant-a", "g-2", "call-2", base.Add(5*time.Second), 1)
	join(t, s, "tenant-a", "g-2", "call-2", base.Add(10*time.Second), q, 1, 0)
}

func testQueueLeave(t *testing.T, s engine.AgentStore) {
	const q = time.Minute
	for i, c := range []string{"call-1", "call-2", "call-3"} {
		join(t, s, "tenant-a", "g-1", c, base.Add(time.Duration(i)*time.Second), q, 0, i)
	}
	leave(t, s, "tenant-a", "g-1", "call-2")
	join(t, s, "tenant-a", "g-1", "call-3", base.Add(5*time.Second), q, 0, 1)
	leave(t, s, "tenant-a", "g-1", "call-2")
	leave(t, s, "tenant-a", "g-9", "call-1")
	leave(t, s, "tenant-b", "g-1", "call-1")
	join(t, s, "tenant-a", "g-1", "call-3", base.Add(6*time.Second), q, 0, 1)
	leave(t, s, "tenant-a", "g-1", "call-1")
	join(t, s, "tenant-a", "g-1", "call-3", base.Add(7*time.Second), q, 0, 0)
	// A call that left and comes back joins at the back.
	join(t, s, "tenant-a", "g-1", "call-1", base.Add(8*time.Second), q, 0, 1)
}

func isDND(t *testing.T, s engine.AgentStore, tenant string, numbers ...string) []bool {
	t.Helper()
	got, err := s.IsDND(t.Context(), tenant, numbers...)
	if err != nil {
		t.Fatalf("IsDND(%s, %v): %v", tenant, numbers, err)
	}
	if len(got) != len(numbers) {
		t.Fatalf("IsDND(%s, %v): %d answers", tenant, numbers, len(got))
	}
	return got
}

func listDND(t *testing.T, s engine.AgentStore, tenant string) []string {
	t.Helper()
	got, err := s.ListDND(t.Context(), tenant)
	if err != nil {
		t.Fatalf("ListDND(%s): %v", tenant, err)
	}
	return got
}

func testDND(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	assertIDs(t, "empty list", listDND(t, s, "tenant-a"), nil)
	for _, nums := range [][]string{{"+15550001", "+15550003", "+15550002"}, {"+15550001"}, nil} {
		if err := s.AddDND(ctx, "tenant-a", nums...); err != nil {
			t.Fatalf("AddDND(%v): %v", nums, err)
		}
	}
	if got := isDND(t, s, "tenant-a", "+15550002", "+15550009", "+15550001", "+15550002"); !slices.Equal(got, []bool{true, false, true, true}) {
		t.Fatalf("IsDND: %v", got)
	}
	isDND(t, s, "tenant-a")
	assertIDs(t, "list", listDND(t, s, "tenant-a"), []string{"+15550001", "+15550002", "+15550003"})
	if got := isDND(t, s, "tenant-b", "+15550001"); got[0] {
		t.Fatal("another tenant's DND number matched")
	}
	assertIDs(t, "tenant-b list", listDND(t, s, "tenant-b"), nil)
	if err := s.AddDND(ctx, "tenant-b", "+15550001"); err != nil {
		t.Fatalf("AddDND: %v", err)
	}

	for _, nums := range [][]string{{"+15550001", "+15550404"}, {"+15550001"}, nil} {
		if err := s.RemoveDND(ctx, "tenant-a", nums...); err != nil {
			t.Fatalf("RemoveDND(%v): %v", nums, err)
		}
	}
	assertIDs(t, "list after remove", listDND(t, s, "tenant-a"), []string{"+15550002", "+15550003"})
	if got := isDND(t, s, "tenant-a", "+15550001", "+15550003"); !slices.Equal(got, []bool{false, true}) {
		t.Fatalf("IsDND after remove: %v", got)
	}
	assertIDs(t, "tenant-b list", listDND(t, s, "tenant-b"), []string{"+15550001"})
}
