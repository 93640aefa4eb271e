package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

const lease = 30 * time.Second

func reserve(t *testing.T, s engine.AgentStore, tenant, agentID, callID string, now time.Time, lease time.Duration) {
	t.Helper()
	if err := s.Reserve(t.Context(), tenant, agentID, callID, now, lease); err != nil {
		t.Fatalf("Reserve(%s/%s for %s at %v): %v", tenant, agentID, callID, now, err)
	}
}

// refused checks that Reserve fails with want, the sentinel itself (the
// engine records its text as the skip reason), and changes nothing.
func refused(t *testing.T, s engine.AgentStore, tenant, agentID, callID string, now time.Time, want error) {
	t.Helper()
	before := states(t, s, tenant, agentID)[0]
	err := s.Reserve(t.Context(), tenant, agentID, callID, now, lease)
	if !errors.Is(err, want) || err.Error() != want.Error() {
		t.Fatalf("Reserve(%s/%s for %s): got %v, want %v", tenant, agentID, callID, err, want)
	}
	if _, held := before.Calls[callID]; held {
		return // the state may lose the expired lease of this very call
	}
	after := states(t, s, tenant, agentID)[0]
	if _, ok := after.Calls[callID]; ok {
		t.Fatalf("refused Reserve left a reservation for %s: %s", callID, stateString(after))
	}
}

func release(t *testing.T, s engine.AgentStore, tenant, agentID, callID string, now time.Time, answered bool) {
	t.Helper()
	if err := s.Release(t.Context(), tenant, agentID, callID, now, answered); err != nil {
		t.Fatalf("Release(%s/%s for %s): %v", tenant, agentID, callID, err)
	}
}

func leases(kv ...any) map[string]time.Time {
	m := map[string]time.Time{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = ms(kv[i+1].(time.Time))
	}
	return m
}

func testAgentStates(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	putAgent(t, s, agent("tenant-a", "ag-1"))
	putAgent(t, s, agent("tenant-a", "ag-2"))
	reserve(t, s, "tenant-a", "ag-2", "call-1", base, lease)
	ids := []string{"ag-3", "ag-2", "ag-1", "ag-2"}
	busy := engine.AgentState{Calls: leases("call-1", base.Add(lease))}
	assertStates(t, s, "tenant-a", ids, engine.AgentState{}, busy, engine.AgentState{}, busy)

	got, err := s.AgentStates(ctx, "tenant-a", nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("AgentStates of no ids: %v, %v", got, err)
	}
	// The states are copies.
	st := states(t, s, "tenant-a", "ag-2")
	st[0].Calls["call-1"] = time.Time{}
	st[0].Calls["call-9"] = base
	assertStates(t, s, "tenant-a", []string{"ag-2"}, busy)
	// Another tenant sees none of it.
	assertStates(t, s, "tenant-b", []string{"ag-2"}, engine.AgentState{})
}

func testReserveCapacity(t *testing.T, s engine.AgentStore) {
	one := agent("tenant-a", "one")
	three := agent("tenant-a", "three")
	three.MaxCalls = 3
	negative := agent("tenant-a", "negative")
	negative.MaxCalls = -2
	for _, a := range []*engine.Agent{one, three, negative} {
		putAgent(t, s, a)
	}

	reserve(t, s, "tenant-a", "one", "call-1", base, lease)
	refused(t, s, "tenant-a", "one", "call-2", base, engine.ErrAgentBusy)
	reserve(t, s, "tenant-a", "negative", "call-1", base, lease)
	refused(t, s, "tenant-a", "negative", "call-2", base, engine.ErrAgentBusy)

	for i := 1; i <= 3; i++ {
		reserve(t, s, "tenant-a", "three", fmt.Sprintf("call-%d", i), base.Add(time.Duration(i)*time.Second), lease)
	}
	refused(t, s, "tenant-a", "three", "call-4", base.Add(4*time.Second), engine.ErrAgentBusy)
	assertStates(t, s, "tenant-a", []string{"three"}, engine.AgentState{Calls: leases(
		"call-1", base.Add(time.Second+lease), "call-2", base.Add(2*time.Second+lease), "call-3", base.Add(3*time.Second+lease))})

	release(t, s, "tenant-a", "three", "call-2", base.Add(5*time.Second), false)
	reserve(t, s, "tenant-a", "three", "call-4", base.Add(5*time.Second), lease)
	refused(t, s, "tenant-a", "three", "call-5", base.Add(5*time.Second), engine.ErrAgentBusy)
}

func testReserveRenews(t *testing.T, s engine.AgentStore) {
	a := agent("tenant-a", "ag-1")
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-1", base, lease)
	// Renewing is not a second reservation, so a one-call agent allows it.
	reserve(t, s, "tenant-a", "ag-1", "call-1", base.Add(10*time.Second), lease)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{Calls: leases("call-1", base.Add(10*time.Second+lease))})
	refused(t, s, "tenant-a", "ag-1", "call-2", base.Add(lease+time.Second), engine.ErrAgentBusy)

	// A call that holds the agent keeps it through wrap-up (another call
	// of the agent ended), pause and a lowered capacity.
	a.MaxCalls, a.WrapUpSeconds = 2, 60
	putAgent(t, s, a)
	now := base.Add(20 * time.Second)
	reserve(t, s, "tenant-a", "ag-1", "call-2", now, lease)
	release(t, s, "tenant-a", "ag-1", "call-2", now, true)
	reserve(t, s, "tenant-a", "ag-1", "call-1", now.Add(time.Second), lease)
	refused(t, s, "tenant-a", "ag-1", "call-3", now.Add(time.Second), engine.ErrAgentWrapUp)
	a.Paused = true
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-1", now.Add(2*time.Second), lease)
	refused(t, s, "tenant-a", "ag-1", "call-3", now.Add(2*time.Second), engine.ErrAgentPaused)

	// Once the wrap-up is over (changing WrapUpSeconds does not shorten
	// one that runs), the agent takes a second call; lowering the capacity
	// then refuses new calls but keeps both.
	a.Paused, a.WrapUpSeconds = false, 0
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-1", now.Add(30*time.Second), lease)
	reserve(t, s, "tenant-a", "ag-1", "call-1", now.Add(55*time.Second), lease)
	refused(t, s, "tenant-a", "ag-1", "call-3", now.Add(time.Minute-time.Millisecond), engine.ErrAgentWrapUp)
	reserve(t, s, "tenant-a", "ag-1", "call-3", now.Add(time.Minute), lease)
	a.MaxCalls = 1
	putAgent(t, s, a)
	end := now.Add(time.Minute + time.Second)
	reserve(t, s, "tenant-a", "ag-1", "call-1", end, lease)
	reserve(t, s, "tenant-a", "ag-1", "call-3", end, lease)
	refused(t, s, "tenant-a", "ag-1", "call-4", end, engine.ErrAgentBusy)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{
		Calls:       leases("call-1", end.Add(lease), "call-3", end.Add(lease)),
		WrapUpUntil: ms(now).Add(time.Minute), LastCallEnd: ms(now), CallsTaken: 1,
	})
}

func testReserveExpiredLeases(t *testing.T, s engine.AgentStore) {
	a := agent("tenant-a", "ag-1")
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-1", base, 10*time.Second)
	refused(t, s, "tenant-a", "ag-1", "call-2", base.Add(10*time.Second-time.Millisecond), engine.ErrAgentBusy)
	// At its deadline a lease no longer counts, and Reserve cleans it.
	reserve(t, s, "tenant-a", "ag-1", "call-2", ms(base.Add(10*time.Second)), time.Minute)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{Calls: leases("call-2", ms(base.Add(10*time.Second)).Add(time.Minute))})

	// A call whose lease ran out reserves afresh: every check applies.
	later := base.Add(time.Hour)
	a.Paused = true
	putAgent(t, s, a)
	refused(t, s, "tenant-a", "ag-1", "call-2", later, engine.ErrAgentPaused)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{})

	// Release cleans the agent's expired leases too.
	a.Paused, a.MaxCalls = false, 3
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "short", later, 5*time.Second)
	reserve(t, s, "tenant-a", "ag-1", "long", later, time.Minute)
	reserve(t, s, "tenant-a", "ag-1", "other", later, time.Minute)
	release(t, s, "tenant-a", "ag-1", "long", later.Add(10*time.Second), false)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{Calls: leases("other", later.Add(time.Minute))})
}

func testReserveRefusals(t *testing.T, s engine.AgentStore) {
	refused(t, s, "tenant-a", "nobody", "call-1", base, engine.ErrAgentNotFound)
	assertStates(t, s, "tenant-a", []string{"nobody"}, engine.AgentState{})

	paused := agent("tenant-a", "paused")
	paused.Paused = true
	putAgent(t, s, paused)
	refused(t, s, "tenant-a", "paused", "call-1", base, engine.ErrAgentPaused)
	assertStates(t, s, "tenant-a", []string{"paused"}, engine.AgentState{})

	// Wrap-up runs from the answered release to now+WrapUpSeconds.
	a := agent("tenant-a", "ag-1")
	a.WrapUpSeconds = 30
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-1", base, lease)
	end := base.Add(5 * time.Second)
	release(t, s, "tenant-a", "ag-1", "call-1", end, true)
	refused(t, s, "tenant-a", "ag-1", "call-2", end, engine.ErrAgentWrapUp)
	refused(t, s, "tenant-a", "ag-1", "call-2", ms(end).Add(30*time.Second-time.Millisecond), engine.ErrAgentWrapUp)
	reserve(t, s, "tenant-a", "ag-1", "call-2", ms(end).Add(30*time.Second), lease)

	// Without wrap-up, an answered release leaves the agent free even for
	// a reservation whose clock was read a moment before the release (the
	// engine reads its clock before its store round trips).
	nw := agent("tenant-a", "no-wrap")
	putAgent(t, s, nw)
	reserve(t, s, "tenant-a", "no-wrap", "call-1", base, lease)
	release(t, s, "tenant-a", "no-wrap", "call-1", end, true)
	reserve(t, s, "tenant-a", "no-wrap", "call-2", end.Add(-5*time.Millisecond), lease)
	assertStates(t, s, "tenant-a", []string{"no-wrap"}, engine.AgentState{
		Calls: leases("call-2", end.Add(-5*time.Millisecond+lease)), LastCallEnd: ms(end), CallsTaken: 1,
	})

	// With several reasons, the order is paused, wrap-up, busy.
	b := agent("tenant-a", "ag-2")
	b.MaxCalls, b.WrapUpSeconds = 2, 60
	putAgent(t, s, b)
	reserve(t, s, "tenant-a", "ag-2", "call-1", base, lease)
	reserve(t, s, "tenant-a", "ag-2", "call-2", base, lease)
	release(t, s, "tenant-a", "ag-2", "call-2", base, true)
	b.MaxCalls = 1 // call-1 alone fills it now
	putAgent(t, s, b)
	refused(t, s, "tenant-a", "ag-2", "call-3", base, engine.ErrAgentWrapUp)
	b.Paused = true
	putAgent(t, s, b)
	refused(t, s, "tenant-a", "ag-2", "call-3", base, engine.ErrAgentPaused)
	b.Paused = false
	putAgent(t, s, b)
	// call-1 renews its lease through the wrap-up, so it still fills the
	// agent once the wrap-up is over.
	reserve(t, s, "tenant-a", "ag-2", "call-1", base.Add(20*time.Second), lease)
	reserve(t, s, "tenant-a", "ag-2", "call-1", base.Add(45*time.Second), lease)
	refused(t, s, "tenant-a", "ag-2", "call-3", base.Add(time.Minute+time.Second), engine.ErrAgentBusy)
}

func testReserveDeletedAgent(t *testing.T, s engine.AgentStore) {
	ctx := t.Context()
	a := agent("tenant-a", "ag-1")
	a.MaxCalls, a.WrapUpSeconds = 2, 10
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-0", base, lease)
	release(t, s, "tenant-a", "ag-1", "call-0", base, true)
	reserve(t, s, "tenant-a", "ag-1", "call-1", base.Add(time.Minute), lease)
	reserve(t, s, "tenant-a", "ag-1", "call-2", base.Add(time.Minute), lease)
	if err := s.DeleteAgent(ctx, "tenant-a", "ag-1"); err != nil {
		t.Fatalf("DeleteAgent: %v", err)
	}
	// The reservations stay; what the agent did is forgotten.
	held := engine.AgentState{Calls: leases("call-1", base.Add(time.Minute+lease), "call-2", base.Add(time.Minute+lease))}
	assertStates(t, s, "tenant-a", []string{"ag-1"}, held)
	now := base.Add(time.Minute + time.Second)
	refused(t, s, "tenant-a", "ag-1", "call-3", now, engine.ErrAgentNotFound)
	refused(t, s, "tenant-a", "ag-1", "call-1", now, engine.ErrAgentNotFound)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, held)

	// The calls can still release it, answered or not, without error.
	release(t, s, "tenant-a", "ag-1", "call-1", now, true)
	release(t, s, "tenant-a", "ag-1", "call-2", now, false)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{})

	// An agent put again under the id starts afresh.
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-3", now, lease)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{Calls: leases("call-3", now.Add(lease))})
}

func testReleaseAnswered(t *testing.T, s engine.AgentStore) {
	a := agent("tenant-a", "ag-1")
	a.WrapUpSeconds = 20
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-1", base, lease)
	end := base.Add(12 * time.Second)
	release(t, s, "tenant-a", "ag-1", "call-1", end, true)
	after := engine.AgentState{WrapUpUntil: ms(end).Add(20 * time.Second), LastCallEnd: ms(end), CallsTaken: 1}
	assertStates(t, s, "tenant-a", []string{"ag-1"}, after)
	// A repeated (retried) release counts once.
	release(t, s, "tenant-a", "ag-1", "call-1", end.Add(time.Second), true)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, after)

	// A call the agent did not talk on leaves the counts alone.
	next := end.Add(time.Minute)
	reserve(t, s, "tenant-a", "ag-1", "call-2", next, lease)
	release(t, s, "tenant-a", "ag-1", "call-2", next.Add(time.Second), false)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, after)

	// Without wrap-up the agent is free at once.
	a.WrapUpSeconds = 0
	putAgent(t, s, a)
	reserve(t, s, "tenant-a", "ag-1", "call-3", next, lease)
	release(t, s, "tenant-a", "ag-1", "call-3", next, true)
	reserve(t, s, "tenant-a", "ag-1", "call-4", next, lease)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{
		Calls: leases("call-4", next.Add(lease)), LastCallEnd: ms(next), CallsTaken: 2,
	})
}

func testReleaseGone(t *testing.T, s engine.AgentStore) {
	putAgent(t, s, agent("tenant-a", "ag-1"))
	release(t, s, "tenant-a", "nobody", "call-1", base, true)
	release(t, s, "tenant-a", "ag-1", "never-reserved", base, true)
	release(t, s, "tenant-b", "ag-1", "call-1", base, true)
	assertStates(t, s, "tenant-a", []string{"nobody", "ag-1"}, engine.AgentState{}, engine.AgentState{})
	assertStates(t, s, "tenant-b", []string{"ag-1"}, engine.AgentState{})

	// A release after the lease ran out and was cleaned is no error either.
	reserve(t, s, "tenant-a", "ag-1", "call-1", base, time.Second)
	reserve(t, s, "tenant-a", "ag-1", "call-2", base.Add(time.Minute), lease)
	release(t, s, "tenant-a", "ag-1", "call-1", base.Add(time.Minute), true)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{Calls: leases("call-2", base.Add(time.Minute+lease))})
}

func testReserveTenants(t *testing.T, s engine.AgentStore) {
	putAgent(t, s, agent("tenant-a", "ag-1"))
	putAgent(t, s, agent("tenant-b", "ag-1"))
	putAgent(t, s, agent("tenant-a", "only-a"))
	reserve(t, s, "tenant-a", "ag-1", "call-1", base, lease)
	reserve(t, s, "tenant-b", "ag-1", "call-2", base, lease)
	refused(t, s, "tenant-b", "only-a", "call-3", base, engine.ErrAgentNotFound)
	release(t, s, "tenant-b", "ag-1", "call-1", base, true)
	assertStates(t, s, "tenant-a", []string{"ag-1"}, engine.AgentState{Calls: leases("call-1", base.Add(lease))})
	assertStates(t, s, "tenant-b", []string{"ag-1"}, engine.AgentState{Calls: leases("call-2", base.Add(lease))})
}

// testReserveRace has many goroutines reserve one agent for different
// calls at the same instant: exactly Capacity() of them may win.
func testReserveRace(t *testing.T, s engine.AgentStore) {
	for _, capacity := range []int{1, 3} {
		t.Run(fmt.Sprintf("capacity=%d", capacity), func(t *testing.T) {
			id := fmt.Sprintf("ag-%d", capacity)
			a := agent("tenant-a", id)
			a.MaxCalls = capacity
			putAgent(t, s, a)
			winners := RaceReserve(t, []engine.AgentStore{s}, "tenant-a", id, 50, base)
			if len(winners) != capacity {
				t.Fatalf("%d of 50 racing calls reserved the agent (%v), want %d", len(winners), winners, capacity)
			}
			st := states(t, s, "tenant-a", id)[0]
			var held []string
			for c := range st.Calls {
				held = append(held, c)
			}
			slices.Sort(held)
			assertIDs(t, "reservations after the race", held, winners)
		})
	}
}

// RaceReserve has n goroutines, spread over the stores in turn, reserve
// tenant's agent for calls race-0 … race-(n-1) at the same instant, and
// returns the sorted ids of the calls that won. Every loser must get
// ErrAgentBusy. Store tests use it to race several stores (engine nodes)
// sharing one backend.
func RaceReserve(t *testing.T, stores []engine.AgentStore, tenant, agentID string, n int, now time.Time) []string {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		start   = make(chan struct{})
	)
	for i := range n {
		s := stores[i%len(stores)]
		callID := fmt.Sprintf("race-%d", i)
		wg.Go(func() {
			<-start
			err := s.Reserve(t.Context(), tenant, agentID, callID, now, lease)
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, callID)
				mu.Unlock()
			case !errors.Is(err, engine.ErrAgentBusy):
				t.Errorf("Reserve for %s: got %v, want nil or ErrAgentBusy", callID, err)
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(winners)
	return winners
}
