// Package storetest is the conformance suite for engine.Store. Every store
// implementation runs it from its own tests, so the engine can rely on one
// behaviour whichever store cmd wires in:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) engine.Store { return memory.New(memory.Options{}) })
//	}
//
// RunAgents does the same for engine.AgentStore, and RunEventLog for the
// event log (engine.EventLog, kept by the same store types: what the
// writes append and what the dispatcher reads).
//
// The contract it pins down, beyond the comments on engine.Store:
//
//   - Records keep every field exactly, times to the nanosecond (the suite
//     uses nanosecond times and compares them after JSON and with
//     time.Equal). Ordering and paging use CreatedAt truncated to the unix
//     millisecond, ties broken by call id, both descending; Since/Until
//     compare the exact CreatedAt.
//   - CreateCall repeated with a record whose JSON is byte-equal to the
//     stored one (legs aside) succeeds and changes nothing: it is the same
//     write, retried after a lost reply. Another record under a taken id
//     is engine.ErrExists.
//   - SaveCall, SaveLeg and EndCall on a call the store does not hold
//     return engine.ErrNotFound and store nothing, so a late write can never
//     resurrect an expired call (nor leave legs that a later call under
//     the same id would show).
//   - SaveCall writes the call's fields and the legs passed to it together
//     and ignores c.Legs; legs already stored and not passed are kept. A
//     leg passed whose CallID is not the call's is an error (not
//     ErrNotFound), and nothing of that SaveCall is written. EndCall
//     writes c's fields and every leg in c.Legs; legs already stored but
//     absent from c.Legs are kept.
//   - A call is live from CreateCall (when its state is not ended) until
//     EndCall, or until a SaveCall stores it as ended. Its Node is fixed at
//     creation.
//   - ListCalls pages hold exactly Limit calls while NextCursor is set; the
//     last page has an empty NextCursor. A cursor the store did not issue
//     (garbage, altered, of another format) is an error wrapping
//     engine.ErrBadCursor.
//   - GetCall and ListCalls return copies the caller may change freely, and
//     the store never keeps a reference to a value passed in.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// Run runs the suite against stores made by newStore. Every subtest gets a
// store of its own from newStore, whose calls may come from parallel
// subtests; newStore registers whatever cleanup the store needs (Close) with
// t.Cleanup. Expiry is tested with one-second retentions and polling, so the
// whole suite takes a few seconds.
func Run(t *testing.T, newStore func(t *testing.T) engine.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s engine.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"CreateExists", testCreateExists},
		{"NotFound", testNotFound},
		{"SaveCallKeepsLegs", testSaveCallKeepsLegs},
		{"SaveCallWithLegs", testSaveCallWithLegs},
		{"SaveCallWithLegsNotFound", testSaveCallWithLegsNotFound},
		{"SaveCallForeignLeg", testSaveCallForeignLeg},
		{"SaveLegOrder", testSaveLegOrder},
		{"FreshCopies", testFreshCopies},
		{"EndCall", testEndCall},
		{"Retention", testRetention},
		{"LiveCalls", testLiveCalls},
		{"ListNewestFirst", testListNewestFirst},
		{"ListStateFilter", testListStateFilter},
		{"ListSinceUntil", testListSinceUntil},
		{"ListLimit", testListLimit},
		{"ListPagination", testListPagination},
		{"ListBadCursor", testListBadCursor},
		{"ConcurrentSaveLeg", testConcurrentSaveLeg},
		{"Idempotent", testIdempotent},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
	t.Run("CallLog", func(t *testing.T) { t.Parallel(); testCallLog(t, newStore) })
}

func testRoundTrip(t *testing.T, s engine.Store) {
	c := fullCall("rt-1", "tenant-a", "node-1", base)
	requireNonZero(t, "Call", reflect.ValueOf(c))

	mustCreate(t, s, c)
	got := mustGet(t, s, c.ID)
	assertCall(t, got, withLegs(c)) // CreateCall ignores legs
	if !got.BridgedAt.Equal(*c.BridgedAt) || got.BridgedAt.Nanosecond() != c.BridgedAt.Nanosecond() {
		t.Fatalf("BridgedAt %v, want %v to the nanosecond", got.BridgedAt, c.BridgedAt)
	}

	l2 := fullLeg(c.ID, 2, base)
	l2.Side, l2.State = engine.SideTo, engine.LegAnswered
	mustSaveLeg(t, s, c.Legs[0])
	mustSaveLeg(t, s, l2)
	assertCall(t, mustGet(t, s, c.ID), withLegs(c, c.Legs[0], l2))
}

func testCreateExists(t *testing.T, s engine.Store) {
	c := fullCall("dup-1", "tenant-a", "node-1", base)
	mustCreate(t, s, c)

	// The identical record again is the same write, repeated (a retry
	// after a lost reply): it succeeds and changes nothing.
	if err := s.CreateCall(t.Context(), c.Clone()); err != nil {
		t.Fatalf("CreateCall repeated with the identical record: %v", err)
	}
	// Any other record under the same id is refused, even one that
	// differs in a single field the listings do not look at.
	reason := c.Clone()
	reason.Reason = "second"
	if err := s.CreateCall(t.Context(), reason); !errors.Is(err, engine.ErrExists) {
		t.Fatalf("CreateCall of a record that differs in Reason: got %v, want engine.ErrExists", err)
	}
	again := c.Clone()
	again.Node, again.Tenant, again.Reason = "node-2", "tenant-b", "second"
	again.CreatedAt = base.Add(time.Hour)
	if err := s.CreateCall(t.Context(), again); !errors.Is(err, engine.ErrExists) {
		t.Fatalf("second CreateCall: got %v, want engine.ErrExists", err)
	}
	assertCall(t, mustGet(t, s, c.ID), withLegs(c))
	assertIDs(t, "live on node-2", mustLive(t, s, "node-2"), nil)
	assertIDs(t, "live on node-1", mustLive(t, s, "node-1"), []string{c.ID})
	assertIDs(t, "tenant-b list", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-b"}).Calls), nil)
	assertIDs(t, "tenant-a list", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a"}).Calls), []string{c.ID})
}

func testNotFound(t *testing.T, s engine.Store) {
	ctx := t.Context()
	_, err := s.GetCall(ctx, "nope")
	assertNotFound(t, "GetCall unknown", err)

	c := fullCall("ghost", "tenant-a", "node-1", base)
	assertNotFound(t, "SaveCall unknown", s.SaveCall(ctx, c, nil))
	assertNotFound(t, "SaveLeg unknown", s.SaveLeg(ctx, c.Legs[0]))
	assertNotFound(t, "EndCall unknown", s.EndCall(ctx, c, 0))

	_, err = s.GetCall(ctx, c.ID)
	assertNotFound(t, "GetCall after writes to an unknown call", err)
	assertIDs(t, "live", mustLive(t, s, ""), nil)
	assertIDs(t, "list", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a"}).Calls), nil)
}

func testSaveCallKeepsLegs(t *testing.T, s engine.Store) {
	c := fullCall("save-1", "tenant-a", "node-1", base)
	mustCreate(t, s, c)
	l1, l2 := fullLeg(c.ID, 1, base), fullLeg(c.ID, 2, base)
	mustSaveLeg(t, s, l1)
	mustSaveLeg(t, s, l2)

	upd := c.Clone()
	upd.State, upd.Reason, upd.RingSeconds = engine.StateBridged, "bridged now", 4.5
	upd.Request.To.Values = []string{"+15550999"}
	upd.Legs = []*engine.Leg{fullLeg(c.ID, 9, base)} // must be ignored
	if err := s.SaveCall(t.Context(), upd, nil); err != nil {
		t.Fatalf("SaveCall: %v", err)
	}
	assertCall(t, mustGet(t, s, c.ID), withLegs(upd, l1, l2))
}

// testSaveCallWithLegs writes the call's fields with several legs, given
// out of order, some new and one replacing a stored leg: GetCall returns
// them all in Seq order with the new fields, beside a stored leg that was
// not passed.
func testSaveCallWithLegs(t *testing.T, s engine.Store) {
	c := fullCall("batch-1", "tenant-a", "node-1", base)
	mustCreate(t, s, c)
	l1, l2 := fullLeg(c.ID, 1, base), fullLeg(c.ID, 2, base)
	mustSaveLeg(t, s, l1)
	mustSaveLeg(t, s, l2)

	upd := c.Clone()
	upd.State, upd.Reason = engine.StateBridged, "bridged with legs"
	upd.Legs = []*engine.Leg{fullLeg(c.ID, 9, base)} // must be ignored
	l2b := l2.Clone()
	l2b.State, l2b.Disposition, l2b.SIPCode = engine.LegAnswered, engine.DispAnswered, 200
	l3, l10 := fullLeg(c.ID, 3, base), fullLeg(c.ID, 10, base)
	l10.Side = engine.SideTo
	if err := s.SaveCall(t.Context(), upd, []*engine.Leg{l10, l2b, l3}); err != nil {
		t.Fatalf("SaveCall with legs: %v", err)
	}
	got := mustGet(t, s, c.ID)
	var seqs []string
	for _, l := range got.Legs {
		seqs = append(seqs, fmt.Sprint(l.Seq))
	}
	assertIDs(t, "leg order", seqs, []string{"1", "2", "3", "10"})
	assertCall(t, got, withLegs(upd, l1, l2b, l3, l10))
	assertIDs(t, "live", mustLive(t, s, "node-1"), []string{c.ID})

	// The store keeps none of what it was given.
	l3.State, upd.Reason = engine.LegEnded, "changed"
	assertCall(t, mustGet(t, s, c.ID), got)

	// With legs as without, a SaveCall that stores the call as ended
	// takes it out of the live set.
	ended := got.Clone()
	ended.State = engine.StateEnded
	l10b := l10.Clone()
	l10b.State = engine.LegEnded
	if err := s.SaveCall(t.Context(), ended, []*engine.Leg{l10b}); err != nil {
		t.Fatalf("SaveCall with legs: %v", err)
	}
	assertCall(t, mustGet(t, s, c.ID), withLegs(ended, l1, l2b, got.Legs[2], l10b))
	assertIDs(t, "live after ended", mustLive(t, s, ""), nil)
}

// testSaveCallWithLegsNotFound checks that SaveCall with legs on a call
// the store does not hold writes nothing: the legs do not appear in a
// call created under that id afterwards.
func testSaveCallWithLegsNotFound(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := fullCall("batch-ghost", "tenant-a", "node-1", base)
	assertNotFound(t, "SaveCall with legs, unknown call",
		s.SaveCall(ctx, c, []*engine.Leg{fullLeg(c.ID, 1, base), fullLeg(c.ID, 2, base)}))
	_, err := s.GetCall(ctx, c.ID)
	assertNotFound(t, "GetCall after SaveCall with legs to an unknown call", err)
	assertIDs(t, "live", mustLive(t, s, ""), nil)

	mustCreate(t, s, c)
	assertCall(t, mustGet(t, s, c.ID), withLegs(c))
}

// testSaveCallForeignLeg checks that SaveCall refuses a leg of another
// call and writes nothing, neither the call's fields nor its own legs.
func testSaveCallForeignLeg(t *testing.T, s engine.Store) {
	ctx := t.Context()
	a := fullCall("batch-a", "tenant-a", "node-1", base)
	b := fullCall("batch-b", "tenant-a", "node-1", base.Add(time.Second))
	mustCreate(t, s, a)
	mustCreate(t, s, b)

	upd := a.Clone()
	upd.State, upd.Reason = engine.StateEnded, "must not be stored"
	err := s.SaveCall(ctx, upd, []*engine.Leg{fullLeg(a.ID, 1, base), fullLeg(b.ID, 2, base)})
	if err == nil || errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("SaveCall with a leg of another call: got %v, want an error other than ErrNotFound", err)
	}
	assertCall(t, mustGet(t, s, a.ID), withLegs(a))
	assertCall(t, mustGet(t, s, b.ID), withLegs(b))
	assertIDs(t, "live", mustLive(t, s, "node-1"), []string{a.ID, b.ID})
}

func testSaveLegOrder(t *testing.T, s engine.Store) {
	c := fullCall("order-1", "tenant-a", "node-1", base)
	mustCreate(t, s, c)
	want := map[int]*engine.Leg{}
	for _, seq := range []int{12, 3, 100, 1, 2, 1000000} {
		l := fullLeg(c.ID, seq, base)
		want[seq] = l
		mustSaveLeg(t, s, l)
	}
	repl := want[3].Clone()
	repl.State, repl.Disposition, repl.SIPCode = engine.LegEnded, engine.DispBusy, 486
	want[3] = repl
	mustSaveLeg(t, s, repl)

	got := mustGet(t, s, c.ID)
	var seqs []string
	for _, l := range got.Legs {
		seqs = append(seqs, fmt.Sprint(l.Seq))
	}
	assertIDs(t, "leg order", seqs, []string{"1", "2", "3", "12", "100", "1000000"})
	assertCall(t, got, withLegs(c, want[1], want[2], want[3], want[12], want[100], want[1000000]))
}

func testFreshCopies(t *testing.T, s engine.Store) {
	c := fullCall("copy-1", "tenant-a", "node-1", base)
	orig := c.Clone()
	mustCreate(t, s, c)
	l := fullLeg(c.ID, 1, base)
	origLeg := l.Clone()
	mustSaveLeg(t, s, l)

	// The store must not keep what it was given...
	c.Reason, c.Request.From.Values[0], c.Request.TimeLimitAlert[0] = "changed", "x", 1
	*c.AnswerAt = c.AnswerAt.Add(time.Hour)
	l.State, *l.RingingAt = engine.LegEnded, l.RingingAt.Add(time.Hour)
	l.Media.PacketsOut = 1
	want := withLegs(orig, origLeg)
	assertCall(t, mustGet(t, s, c.ID), want)

	// ...nor hand out what it keeps.
	got := mustGet(t, s, c.ID)
	got.State, got.Request.To.Values[0], got.Request.AlertAudio[0] = engine.StateEnded, "y", "z"
	*got.BridgedAt = got.BridgedAt.Add(time.Hour)
	got.Legs[0].Number, *got.Legs[0].AnsweredAt = "0", time.Time{}
	got.Legs[0].Media.BytesIn = 1
	got.Legs = append(got.Legs, fullLeg(c.ID, 2, base))
	assertCall(t, mustGet(t, s, c.ID), want)

	listed := mustList(t, s, engine.CallQuery{Tenant: "tenant-a"}).Calls
	listed[0].Reason, listed[0].Legs[0].Target = "listed", "t"
	assertCall(t, mustGet(t, s, c.ID), want)
}

func testEndCall(t *testing.T, s engine.Store) {
	c := fullCall("end-1", "tenant-a", "node-1", base)
	mustCreate(t, s, c)
	l1, l3 := fullLeg(c.ID, 1, base), fullLeg(c.ID, 3, base)
	mustSaveLeg(t, s, l1)
	mustSaveLeg(t, s, l3)

	final := c.Clone()
	final.State, final.Outcome, final.HangupBy = engine.StateEnded, engine.OutcomeToUnanswered, engine.HangupSystem
	l1end := l1.Clone()
	l1end.State, l1end.Disposition = engine.LegEnded, engine.DispAnswered
	l2 := fullLeg(c.ID, 2, base)
	l2.State, l2.Disposition = engine.LegEnded, engine.DispNoAnswer
	final.Legs = []*engine.Leg{l1end, l2}
	mustEnd(t, s, final, 0)

	// Every leg of the final record, plus l3 that was stored but not passed.
	want := withLegs(final, l1end, l2, l3)
	assertCall(t, mustGet(t, s, c.ID), want)
	assertIDs(t, "live after end", mustLive(t, s, "node-1"), nil)
	assertIDs(t, "all live after end", mustLive(t, s, ""), nil)
	page := mustList(t, s, engine.CallQuery{Tenant: "tenant-a"})
	if len(page.Calls) != 1 {
		t.Fatalf("ListCalls after end: %d calls, want 1", len(page.Calls))
	}
	assertCall(t, page.Calls[0], want)
}

func testRetention(t *testing.T, s engine.Store) {
	short := fullCall("ret-short", "tenant-a", "node-1", base)
	keep := fullCall("ret-keep", "tenant-a", "node-1", base.Add(time.Second))
	renewed := fullCall("ret-renewed", "tenant-a", "node-1", base.Add(2*time.Second))
	for _, c := range []*engine.Call{short, keep, renewed} {
		mustCreate(t, s, c)
		mustSaveLeg(t, s, c.Legs[0])
		c.State = engine.StateEnded
	}
	// renewed gets a short retention first and then 0, which must cancel it.
	mustEnd(t, s, renewed, time.Second)
	mustEnd(t, s, renewed, 0)
	mustEnd(t, s, keep, 0)
	mustEnd(t, s, short, time.Second)

	eventually(t, "short-retention call expires", func() (bool, error) {
		_, err := s.GetCall(t.Context(), short.ID)
		if errors.Is(err, engine.ErrNotFound) {
			return true, nil
		}
		return false, err
	})
	eventually(t, "expired call leaves ListCalls", func() (bool, error) {
		p, err := s.ListCalls(t.Context(), engine.CallQuery{Tenant: "tenant-a"})
		if err != nil {
			return false, err
		}
		for _, c := range p.Calls {
			if c.ID == short.ID {
				return false, nil
			}
		}
		return true, nil
	})
	// short's retention was set last, so renewed's would have run out too.
	assertCall(t, mustGet(t, s, keep.ID), keep)
	assertCall(t, mustGet(t, s, renewed.ID), renewed)
	assertIDs(t, "list after expiry", ids(mustList(t, s, engine.CallQuery{Tenant: "tenant-a"}).Calls),
		[]string{renewed.ID, keep.ID})
}

func testLiveCalls(t *testing.T, s engine.Store) {
	for i, node := range []string{"node-1", "node-1", "node-1", "node-2"} {
		mustCreate(t, s, fullCall(fmt.Sprintf("live-%d", i), "tenant-a", node, base.Add(time.Duration(i)*time.Second)))
	}
	other := fullCall("live-b", "tenant-b", "node-2", base)
	mustCreate(t, s, other)

	ended := mustGet(t, s, "live-1")
	ended.State = engine.StateEnded
	mustEnd(t, s, ended, 0)
	// A SaveCall that stores the call as ended takes it out of the live set too.
	other.State = engine.StateEnded
	if err := s.SaveCall(t.Context(), other, nil); err != nil {
		t.Fatalf("SaveCall: %v", err)
	}
	bridged := mustGet(t, s, "live-2")
	bridged.State = engine.StateBridged
	if err := s.SaveCall(t.Context(), bridged, nil); err != nil {
		t.Fatalf("SaveCall: %v", err)
	}

	assertIDs(t, "node-1", mustLive(t, s, "node-1"), []string{"live-0", "live-2"})
	assertIDs(t, "node-2", mustLive(t, s, "node-2"), []string{"live-3"})
	assertIDs(t, "all nodes", mustLive(t, s, ""), []string{"live-0", "live-2", "live-3"})
	assertIDs(t, "unknown node", mustLive(t, s, "node-9"), nil)
}

func testConcurrentSaveLeg(t *testing.T, s engine.Store) {
	c := fullCall("conc-1", "tenant-a", "node-1", base)
	mustCreate(t, s, c)
	const legs = 64
	states := []engine.LegState{engine.LegDialing, engine.LegRinging, engine.LegAnswered, engine.LegEnded}
	var wg sync.WaitGroup
	for seq := 1; seq <= legs; seq++ {
		wg.Go(func() {
			for _, st := range states {
				l := fullLeg(c.ID, seq, base)
				l.State = st
				if err := s.SaveLeg(t.Context(), l); err != nil {
					t.Errorf("SaveLeg(%s): %v", l.ID, err)
					return
				}
			}
		})
	}
	// Call writes racing the leg writes must not drop legs either.
	for range 8 {
		wg.Go(func() {
			if err := s.SaveCall(t.Context(), c, nil); err != nil {
				t.Errorf("SaveCall: %v", err)
			}
		})
	}
	wg.Wait()
	got := mustGet(t, s, c.ID)
	if len(got.Legs) != legs {
		t.Fatalf("%d legs after concurrent saves, want %d", len(got.Legs), legs)
	}
	for i, l := range got.Legs {
		if l.Seq != i+1 || l.State != engine.LegEnded {
			t.Fatalf("leg %d: seq %d state %s, want seq %d state ended", i, l.Seq, l.State, i+1)
		}
	}
}

// testIdempotent repeats every write and checks that the second one leaves
// exactly the state the first one did: go-redis retries a write whose reply
// was lost, and the engine retries writes after errors.
func testIdempotent(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := fullCall("idem-1", "tenant-a", "node-1", base)
	l := fullLeg(c.ID, 1, base)
	upd := c.Clone()
	upd.State = engine.StateBridged
	final := upd.Clone()
	final.State, final.Legs = engine.StateEnded, []*engine.Leg{l, fullLeg(c.ID, 2, base)}

	snapshot := func() string {
		got, err := s.GetCall(ctx, c.ID)
		if err != nil {
			t.Fatalf("GetCall: %v", err)
		}
		b, err := json.Marshal(struct {
			Call string
			Live []string
			List []string
		}{canon(t, got), mustLive(t, s, ""), ids(mustList(t, s, engine.CallQuery{Tenant: c.Tenant}).Calls)})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	steps := []struct {
		name  string
		write func() error
	}{
		{"CreateCall", func() error { return s.CreateCall(ctx, c) }},
		{"SaveLeg", func() error { return s.SaveLeg(ctx, l) }},
		{"SaveCall", func() error { return s.SaveCall(ctx, upd, nil) }},
		{"SaveCall with legs", func() error { return s.SaveCall(ctx, upd, []*engine.Leg{l, fullLeg(c.ID, 3, base)}) }},
		{"EndCall", func() error { return s.EndCall(ctx, final, 0) }},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		once := snapshot()
		if err := st.write(); err != nil {
			t.Fatalf("%s repeated: %v", st.name, err)
		}
		if twice := snapshot(); twice != once {
			t.Fatalf("%s repeated changed the state\nonce:  %s\ntwice: %s", st.name, once, twice)
		}
	}
}

func testPing(t *testing.T, s engine.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
