package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

// countingStore counts the writes the engine makes, by kind.
type countingStore struct {
	engine.Store
	mu     sync.Mutex
	writes map[string]int
	legs   int // leg records carried by SaveCall
}

func (s *countingStore) count(kind string) {
	s.mu.Lock()
	s.writes[kind]++
	s.mu.Unlock()
}

func (s *countingStore) CreateCall(ctx context.Context, c *engine.Call, events ...engine.Event) error {
	s.count("create")
	return s.Store.CreateCall(ctx, c, events...)
}

func (s *countingStore) SaveCall(ctx context.Context, c *engine.Call, legs []*engine.Leg, events ...engine.Event) error {
	s.mu.Lock()
	s.writes["save_call"]++
	s.legs += len(legs)
	s.mu.Unlock()
	return s.Store.SaveCall(ctx, c, legs, events...)
}

func (s *countingStore) SaveLeg(ctx context.Context, l *engine.Leg) error {
	s.count("save_leg")
	return s.Store.SaveLeg(ctx, l)
}

func (s *countingStore) EndCall(ctx context.Context, c *engine.Call, retention time.Duration, events ...engine.Event) error {
	s.count("end")
	return s.Store.EndCall(ctx, c, retention, events...)
}

func (s *countingStore) snapshot() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.writes))
	for k, v := range s.writes {
		out[k] = v
	}
	return out, s.legs
}

func newCountingEngine(t *testing.T, script map[string]string, delay time.Duration) (*engine.Engine, *fakeBackend, *countingStore) {
	t.Helper()
	mem := memory.New(memory.Options{})
	t.Cleanup(func() { mem.Close() })
	st := &countingStore{Store: mem, writes: map[string]int{}}
	b := newFakeBackend(script)
	e := engine.New(st, b, engine.Options{NodeID: "test", ProgressWriteDelay: delay})
	return e, b, st
}

// A plain call whose parties answer at once costs four writes: created,
// from answered (carrying the from leg and the to leg dialing), bridged
// (carrying the to leg) and ended. The delay is long so that no timer
// write can fall in between, whatever the scheduler does.
func TestPlainCallCostsFourWrites(t *testing.T) {
	e, b, st := newCountingEngine(t, nil, time.Hour)
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001"),
		To:   side(dialer.OneByOne, 0, "2001"),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitBridged(t, e, b, c.ID)
	live, err := e.Get(context.Background(), "1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The bridged milestone carried both legs, answered.
	if got := dispositions(live); !equal(got, []string{"from:1001:answered", "to:2001:answered"}) {
		t.Fatalf("store while bridged: legs %v", got)
	}
	if err := e.Hangup(context.Background(), "1", c.ID); err != nil {
		t.Fatal(err)
	}
	got := finished(t, e, c.ID)
	if got.Outcome != engine.OutcomeCompleted || len(got.Legs) != 2 {
		t.Fatalf("record = %+v", got)
	}
	writes, legs := st.snapshot()
	want := map[string]int{"create": 1, "save_call": 2, "end": 1}
	if len(writes) != len(want) {
		t.Fatalf("writes = %v, want %v", writes, want)
	}
	for k, n := range want {
		if writes[k] != n {
			t.Fatalf("writes = %v, want %v", writes, want)
		}
	}
	if legs != 2 {
		t.Fatalf("SaveCall carried %d leg records, want 2 (one per leg, each with all its changes)", legs)
	}
}

// With a negative delay every change is its own write: the old behaviour,
// for whoever wants the store to follow every ring.
func TestNegativeDelayWritesEveryChange(t *testing.T) {
	e, b, st := newCountingEngine(t, nil, -1)
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001"),
		To:   side(dialer.OneByOne, 0, "2001"),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitBridged(t, e, b, c.ID)
	e.Hangup(context.Background(), "1", c.ID)
	finished(t, e, c.ID)
	writes, legs := st.snapshot()
	// Per leg: dialing, ringing, answered; the call: from answered, bridged.
	if writes["save_call"] != 8 || legs != 6 {
		t.Fatalf("writes = %v with %d leg records, want 8 SaveCall carrying 6", writes, legs)
	}
}

// Leg progress that no milestone follows soon is still written within the
// delay, and its event is published only after the write: whoever reads
// the call after an event finds at least what the event said.
func TestEventsNeverRunAheadOfTheStore(t *testing.T) {
	e, b, _ := newCountingEngine(t, map[string]string{"1001": "noanswer", "1002": "gate"}, 5*time.Millisecond)
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.ToAll, 0, "1001", "1002"),
		To:   side(dialer.OneByOne, 0, "2001"),
	})
	if err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := e.Subscribe(c.ID)
	defer unsubscribe()
	// 1002 answers once subscribed, so the answer, the lost race, the to
	// side and the bridge are all seen; earlier events may not be.
	close(b.gate)
	rank := map[engine.LegState]int{engine.LegDialing: 0, engine.LegRinging: 1, engine.LegAnswered: 2, engine.LegEnded: 3}
	seen := 0
	deadline := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-events:
			if ev.Type == engine.EventCallEnded {
				done = true
				continue
			}
			if ev.Type == engine.EventBridged {
				e.Hangup(context.Background(), "1", c.ID)
			}
			if ev.Leg == nil {
				continue
			}
			seen++
			stored, err := e.Get(context.Background(), "1", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			var leg *engine.Leg
			for _, l := range stored.Legs {
				if l.ID == ev.Leg.ID {
					leg = l
				}
			}
			if leg == nil {
				t.Fatalf("%s for leg %s: the store has no such leg", ev.Type, ev.Leg.ID)
			}
			if rank[leg.State] < rank[ev.Leg.State] {
				t.Fatalf("%s for leg %s: store says %s, event says %s", ev.Type, ev.Leg.ID, leg.State, ev.Leg.State)
			}
		case <-deadline:
			t.Fatal("call did not end")
		}
	}
	if seen == 0 {
		t.Fatal("no leg event seen")
	}
	got := finished(t, e, c.ID)
	if want := []string{"from:1001:canceled", "from:1002:answered", "to:2001:answered"}; !equal(dispositions(got), want) {
		t.Fatalf("legs = %v, want %v", dispositions(got), want)
	}
}

// Every event of a call has its own id and the next Seq, and subscribers
// get them in that order: created, the legs, bridged, the end.
func TestEventsAreNumberedInOrder(t *testing.T) {
	e, _, _ := newCountingEngine(t, map[string]string{"1001": "busy"}, 0)
	events, unsubscribe := e.Subscribe("")
	defer unsubscribe()
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001", "1002"),
		To:   side(dialer.OneByOne, 0, "2001"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []engine.Event
	for done := false; !done; {
		select {
		case ev := <-events:
			got = append(got, ev)
			switch ev.Type {
			case engine.EventBridged:
				e.Hangup(context.Background(), "1", c.ID)
			case engine.EventCallEnded:
				done = true
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no call.ended; got %d events", len(got))
		}
	}
	ids := map[string]bool{}
	for i, ev := range got {
		if ev.Seq != i+1 || ev.CallID != c.ID || ev.Tenant != "1" || ids[ev.ID] || ev.ID == "" {
			t.Fatalf("event %d: %+v", i, ev)
		}
		ids[ev.ID] = true
	}
	if got[0].Type != engine.EventCallCreated || got[len(got)-1].Type != engine.EventCallEnded {
		t.Fatalf("first %s, last %s", got[0].Type, got[len(got)-1].Type)
	}
	final := finished(t, e, c.ID)
	if final.EventSeq != len(got) {
		t.Fatalf("record's event_seq %d, %d events", final.EventSeq, len(got))
	}
}

// Only the calls somebody will be sent events of go to the event log;
// the others are published in-process all the same.
func TestLogEventsChoosesWhatGoesToTheLog(t *testing.T) {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	b := newFakeBackend(nil)
	e := engine.New(st, b, engine.Options{NodeID: "test", LogEvents: func(tenant string, req engine.CallRequest) bool {
		return req.StatusCallback != ""
	}})
	ctx := context.Background()
	quiet, _ := e.Originate(ctx, "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "1001"), To: side(dialer.OneByOne, 0, "2001")})
	hooked, _ := e.Originate(ctx, "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "1002"), To: side(dialer.OneByOne, 0, "2002"), StatusCallback: "https://example.test/cb"})
	for _, c := range []*engine.Call{quiet, hooked} {
		waitBridged(t, e, b, c.ID)
		e.Hangup(ctx, "1", c.ID)
		finished(t, e, c.ID)
	}
	logged, err := st.ReadEvents(ctx, "test", "", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, le := range logged {
		if le.Event.CallID != hooked.ID {
			t.Fatalf("an event of the call nobody receives was logged: %+v", le.Event)
		}
		n++
	}
	if final := finished(t, e, hooked.ID); n != final.EventSeq || n == 0 {
		t.Fatalf("logged %d events of the hooked call, it had %d", n, final.EventSeq)
	}
}
