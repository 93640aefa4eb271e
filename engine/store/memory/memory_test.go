package memory

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) engine.Store {
		s := New(Options{SweepInterval: 100 * time.Millisecond})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// clock is a fake clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func endedCall(id string) *engine.Call {
	return &engine.Call{ID: id, Tenant: "t", Node: "n", State: engine.StateDialingFrom, CreatedAt: time.Unix(1700000000, 0)}
}

// TestExpiryOnRead checks retention against the injected clock, with no
// janitor: an expired call is gone for every read at its deadline, and
// the read frees it.
func TestExpiryOnRead(t *testing.T) {
	clk := &clock{now: time.Unix(1800000000, 0)}
	s := New(Options{Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	c := endedCall("c1")
	if err := s.CreateCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.State = engine.StateEnded
	if err := s.EndCall(ctx, c, time.Hour); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour - time.Nanosecond)
	if _, err := s.GetCall(ctx, "c1"); err != nil {
		t.Fatalf("before the deadline: %v", err)
	}
	clk.Add(time.Nanosecond)
	if _, err := s.GetCall(ctx, "c1"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("at the deadline: got %v, want ErrNotFound", err)
	}
	if err := s.SaveCall(ctx, c, nil); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("SaveCall after expiry: got %v, want ErrNotFound", err)
	}
	s.mu.Lock()
	n, nt := len(s.calls), len(s.tenants)
	s.mu.Unlock()
	if n != 0 || nt != 0 {
		t.Fatalf("expired call still held: %d calls, %d tenants", n, nt)
	}
	// The id is free again.
	if err := s.CreateCall(ctx, endedCall("c1")); err != nil {
		t.Fatalf("CreateCall after expiry: %v", err)
	}
}

// TestJanitorFreesExpired checks that expired calls nobody reads are freed,
// and that Close stops the janitor (Close returns only once it has exited).
func TestJanitorFreesExpired(t *testing.T) {
	clk := &clock{now: time.Unix(1800000000, 0)}
	s := New(Options{Now: clk.Now, SweepInterval: 5 * time.Millisecond})
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		c := endedCall(id)
		if err := s.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.EndCall(ctx, c, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.calls)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("janitor left %d expired calls", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func BenchmarkPerCall(b *testing.B) {
	s := New(Options{})
	defer s.Close()
	storetest.BenchPerCall(b, s)
}

func TestEventLogConformance(t *testing.T) {
	storetest.RunEventLog(t, func(t *testing.T) storetest.EventStore {
		s := New(Options{SweepInterval: -1})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestNodeLeases(t *testing.T) {
	storetest.RunNodeLeases(t, func(t *testing.T) storetest.NodeStore {
		s := New(Options{})
		t.Cleanup(func() { s.Close() })
		return s
	})
}
