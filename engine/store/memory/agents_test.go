package memory

import (
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/storetest"
)

func TestAgentConformance(t *testing.T) {
	storetest.RunAgents(t, func(t *testing.T) engine.AgentStore {
		s := New(Options{SweepInterval: 100 * time.Millisecond})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestStickyClock checks sticky periods against the injected clock: a
// binding holds until its deadline and is gone at it, and the janitor
// frees bindings that nobody reads.
func TestStickyClock(t *testing.T) {
	clk := &clock{now: time.Unix(1800000000, 0)}
	s := New(Options{Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	for _, n := range []string{"+15550001", "+15550002"} {
		if err := s.SetSticky(ctx, "t", n, "ag-1", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetSticky(ctx, "t", "+15550003", "ag-2", 0); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour - time.Nanosecond)
	if got, err := s.Sticky(ctx, "t", "+15550001"); err != nil || got != "ag-1" {
		t.Fatalf("before the deadline: %q, %v", got, err)
	}
	clk.Add(time.Nanosecond)
	if got, err := s.Sticky(ctx, "t", "+15550001"); err != nil || got != "" {
		t.Fatalf("at the deadline: %q, %v", got, err)
	}
	s.book.sweep(clk.Now())
	s.book.mu.Lock()
	n := len(s.book.tenants["t"].sticky)
	s.book.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d bindings kept after the sweep, want only the permanent one", n)
	}
	clk.Add(1000 * 24 * time.Hour)
	if got, _ := s.Sticky(ctx, "t", "+15550003"); got != "ag-2" {
		t.Fatalf("permanent binding: %q", got)
	}
}

// TestNothingLeftBehind checks that released reservations, left lines and
// deleted agents leave no empty entries in the maps.
func TestNothingLeftBehind(t *testing.T) {
	s := New(Options{SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	now := time.Unix(1800000000, 0)
	if err := s.PutAgent(ctx, &engine.Agent{Tenant: "t", ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "t", "a", "c1", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "t", "a", "c1", now, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinQueue(ctx, "t", "g", "c1", now, time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveQueue(ctx, "t", "g", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinQueue(ctx, "t", "g2", "c1", now, time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinQueue(ctx, "t", "g2", "c2", now.Add(time.Hour), time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveQueue(ctx, "t", "g2", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "t", "a", "c2", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "t", "a", "c2", now, true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAgent(ctx, "t", "a"); err != nil {
		t.Fatal(err)
	}
	tb := s.book.tenants["t"]
	if len(tb.states) != 0 || len(tb.queues) != 0 {
		t.Fatalf("left behind: states %v, queues %v", tb.states, tb.queues)
	}
}
