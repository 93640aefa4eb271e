package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// EventStore is a store that keeps the event log too.
type EventStore interface {
	engine.Store
	engine.EventLog
}

// RunEventLog runs the conformance suite of the event log: what the
// writes append, and what the dispatcher reads, leases and dead-letters.
// Every subtest gets a store of its own from newStore, as in Run. The
// contract it pins down, beyond the comments on engine.EventLog:
//
//   - CreateCall, SaveCall and EndCall append their events, in the order
//     given, to the stream of c.Node, and keep every field of them
//     (snapshots included) as encoded to JSON.
//   - An event whose Seq is not above the last one appended for its call
//     is not appended again: a repeated write appends nothing twice. A
//     write that fails (ErrNotFound, ErrExists, a leg of another call)
//     appends nothing, and does not count as having appended.
//   - ReadEvents from "" starts at the oldest entry not acknowledged,
//     whoever read it before; entry ids increase within a stream.
//   - Leases are exclusive, renewed by their holder, released only by it,
//     and expire after their ttl (tested with short ttls and polling).
//   - Dead letters are per tenant: another tenant neither lists nor takes
//     them.
func RunEventLog(t *testing.T, newStore func(t *testing.T) EventStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, EventStore)
	}{
		{"WritesAppendTheirEvents", testWritesAppendEvents},
		{"EventRoundTrip", testEventRoundTrip},
		{"RepeatedWriteAppendsOnce", testRepeatedWriteAppendsOnce},
		{"FailedWriteAppendsNothing", testFailedWriteAppendsNothing},
		{"ReadAckAppend", testReadAckAppend},
		{"ReadBounds", testReadBounds},
		{"ReadBlocksUntilAppend", testReadBlocks},
		{"TakeoverSeesPending", testTakeoverSeesPending},
		{"Leases", testLeases},
		{"DeadLetters", testDeadLetters},
		{"DeadLetterRoundTrip", testDeadLetterRoundTrip},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// event returns event seq of c, with snapshots.
func event(c *engine.Call, seq int, typ engine.EventType) engine.Event {
	ev := engine.Event{
		ID: fmt.Sprintf("%s-e%d", c.ID, seq), Seq: seq, Type: typ, CallID: c.ID, Tenant: c.Tenant,
		Time: base.Add(time.Duration(seq) * time.Second),
	}
	if typ == engine.EventLegDTMF {
		ev.Leg, ev.Digit = fullLeg(c.ID, 1, base), "5"
	} else {
		ev.Call = withLegs(c)
		ev.Call.Legs = []*engine.Leg{} // as the engine's snapshots have them
	}
	return ev
}

func readAll(t *testing.T, s EventStore, node string) []engine.LoggedEvent {
	t.Helper()
	got, err := s.ReadEvents(t.Context(), node, "", 1000, 0)
	if err != nil {
		t.Fatalf("ReadEvents(%s): %v", node, err)
	}
	return got
}

func seqs(les []engine.LoggedEvent) []string {
	var out []string
	for _, le := range les {
		out = append(out, le.Event.ID)
	}
	return out
}

func testWritesAppendEvents(t *testing.T, s EventStore) {
	ctx := t.Context()
	a := fullCall("ev-a", "t1", "node-a", base)
	a.State = engine.StateDialingFrom
	b := fullCall("ev-b", "t1", "node-b", base)
	b.State = engine.StateDialingFrom
	if err := s.CreateCall(ctx, a, event(a, 1, engine.EventCallCreated)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCall(ctx, b, event(b, 1, engine.EventCallCreated)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(ctx, a, []*engine.Leg{fullLeg(a.ID, 1, base)}, event(a, 2, engine.EventLegDTMF), event(a, 3, engine.EventBridged)); err != nil {
		t.Fatal(err)
	}
	ended := withLegs(a)
	ended.State, ended.Legs = engine.StateEnded, []*engine.Leg{fullLeg(a.ID, 1, base)}
	if err := s.EndCall(ctx, ended, time.Hour, event(a, 4, engine.EventCallEnded)); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s, "node-a")
	if want := []string{"ev-a-e1", "ev-a-e2", "ev-a-e3", "ev-a-e4"}; !reflect.DeepEqual(seqs(got), want) {
		t.Fatalf("node-a stream %v, want %v", seqs(got), want)
	}
	// Every field of the event comes back, snapshots included.
	if want := event(a, 2, engine.EventLegDTMF); !sameJSON(got[1].Event, want) {
		t.Fatalf("event round trip:\n got %+v\nwant %+v", got[1].Event, want)
	}
	if want := event(a, 1, engine.EventCallCreated); !sameJSON(got[0].Event, want) {
		t.Fatalf("call snapshot round trip:\n got %+v\nwant %+v", got[0].Event.Call, want.Call)
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID == "" || got[i].ID == got[i-1].ID {
			t.Fatalf("entry ids %q, %q", got[i-1].ID, got[i].ID)
		}
	}
	if got := seqs(readAll(t, s, "node-b")); !reflect.DeepEqual(got, []string{"ev-b-e1"}) {
		t.Fatalf("node-b stream %v", got)
	}
	nodes, err := s.EventStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(nodes, "node-a") || !contains(nodes, "node-b") {
		t.Fatalf("EventStreams = %v", nodes)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// A write repeated (a retry after a lost reply) appends its events once;
// a later write appends only its new ones.
func testRepeatedWriteAppendsOnce(t *testing.T, s EventStore) {
	ctx := t.Context()
	c := fullCall("ev-r", "t1", "node-r", base)
	c.State = engine.StateDialingFrom
	e1 := event(c, 1, engine.EventCallCreated)
	for range 2 {
		if err := s.CreateCall(ctx, c, e1); err != nil {
			t.Fatal(err)
		}
	}
	e2, e3 := event(c, 2, engine.EventLegDTMF), event(c, 3, engine.EventBridged)
	for range 2 {
		if err := s.SaveCall(ctx, c, nil, e2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCall(ctx, c, nil, e2, e3); err != nil {
		t.Fatal(err)
	}
	ended := withLegs(c)
	ended.State = engine.StateEnded
	e4 := event(c, 4, engine.EventCallEnded)
	for range 2 {
		if err := s.EndCall(ctx, ended, time.Hour, e3, e4); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := seqs(readAll(t, s, "node-r")), []string{"ev-r-e1", "ev-r-e2", "ev-r-e3", "ev-r-e4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stream %v, want %v", got, want)
	}
}

// A write that changes nothing appends nothing.
func testFailedWriteAppendsNothing(t *testing.T, s EventStore) {
	ctx := t.Context()
	c := fullCall("ev-f", "t1", "node-f", base)
	c.State = engine.StateDialingFrom
	if err := s.SaveCall(ctx, c, nil, event(c, 1, engine.EventBridged)); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("SaveCall unknown = %v", err)
	}
	if err := s.EndCall(ctx, c, time.Hour, event(c, 1, engine.EventCallEnded)); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("EndCall unknown = %v", err)
	}
	mustCreate(t, s, c)
	other := withLegs(c)
	other.Reason = "another record under the same id"
	if err := s.CreateCall(ctx, other, event(other, 1, engine.EventCallCreated)); !errors.Is(err, engine.ErrExists) {
		t.Fatalf("CreateCall taken id = %v", err)
	}
	foreign := fullLeg("someone-else", 1, base)
	if err := s.SaveCall(ctx, c, []*engine.Leg{foreign}, event(c, 1, engine.EventBridged)); err == nil {
		t.Fatal("SaveCall with a foreign leg succeeded")
	}
	if got := readAll(t, s, "node-f"); len(got) != 0 {
		t.Fatalf("failed writes appended %v", seqs(got))
	}
	// Nor did they count as appended: the call's first event still goes in.
	if err := s.SaveCall(ctx, c, nil, event(c, 1, engine.EventBridged)); err != nil {
		t.Fatal(err)
	}
	if got, want := seqs(readAll(t, s, "node-f")), []string{"ev-f-e1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after the failed writes, a write appended %v, want %v", got, want)
	}
}

// fullEvent returns an event with every field set, both snapshots
// included (the call's with a leg), so a round trip proves that the log
// drops no field.
func fullEvent(t *testing.T, c *engine.Call, seq int) engine.Event {
	t.Helper()
	ev := engine.Event{
		ID: fmt.Sprintf("%s-e%d", c.ID, seq), Seq: seq, Type: engine.EventLegDTMF, CallID: c.ID, Tenant: c.Tenant,
		App: c.App, Time: base.Add(time.Duration(seq)*time.Second + 7), Leg: fullLeg(c.ID, 2, base), Call: c.Clone(), Digit: "9#",
	}
	requireNonZero(t, "Event", reflect.ValueOf(ev))
	return ev
}

func testEventRoundTrip(t *testing.T, s EventStore) {
	ctx := t.Context()
	c := fullCall("ev-rt", "t1", "node-rt", base)
	e1, e2, e3 := fullEvent(t, c, 1), fullEvent(t, c, 2), fullEvent(t, c, 3)
	if err := s.CreateCall(ctx, c, e1); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(ctx, c, []*engine.Leg{fullLeg(c.ID, 2, base)}, e2); err != nil {
		t.Fatal(err)
	}
	if err := s.EndCall(ctx, c, time.Hour, e3); err != nil {
		t.Fatal(err)
	}
	// The store keeps no reference to what it was given.
	e1.Call.Reason, e1.Leg.Reason = "changed by the caller", "changed by the caller"
	got := readAll(t, s, "node-rt")
	if len(got) != 3 {
		t.Fatalf("stream %v, want 3 entries", seqs(got))
	}
	for i, want := range []engine.Event{fullEvent(t, c, 1), e2, e3} {
		if !sameJSON(got[i].Event, want) {
			t.Fatalf("event %d round trip:\n got %s\nwant %s", i+1, mustJSON(got[i].Event), mustJSON(want))
		}
		if got[i].Target != "" || got[i].Redriven != nil {
			t.Fatalf("a write's entry has Target %q, Redriven %v", got[i].Target, got[i].Redriven)
		}
	}
	// What a read returns is the caller's to change.
	got[0].Event.Call.Reason, got[0].Event.Leg.Reason = "changed by the reader", "changed by the reader"
	if again := readAll(t, s, "node-rt"); !sameJSON(again[0].Event, fullEvent(t, c, 1)) {
		t.Fatal("changing a read entry changed the log")
	}
	// An appended entry keeps Target and Redriven, and gets a new id.
	redriven := base.Add(48*time.Hour + 11)
	le := engine.LoggedEvent{ID: "ignored", Event: fullEvent(t, c, 4), Target: "https://example.test/hook?a=1&b=2", Redriven: &redriven}
	requireNonZero(t, "LoggedEvent", reflect.ValueOf(le))
	if err := s.AppendEvents(ctx, "node-rt", le); err != nil {
		t.Fatal(err)
	}
	got = readAll(t, s, "node-rt")
	if len(got) != 4 {
		t.Fatalf("after append: %v", seqs(got))
	}
	last := got[3]
	if last.ID == "ignored" || last.ID == got[2].ID {
		t.Fatalf("appended entry id %q", last.ID)
	}
	last.ID, le.ID = "", ""
	if !sameJSON(last, le) || !last.Redriven.Equal(redriven) {
		t.Fatalf("appended entry round trip:\n got %s\nwant %s", mustJSON(last), mustJSON(le))
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func testReadAckAppend(t *testing.T, s EventStore) {
	ctx := t.Context()
	c := fullCall("ev-x", "t1", "node-x", base)
	c.State = engine.StateDialingFrom
	if err := s.CreateCall(ctx, c, event(c, 1, engine.EventCallCreated)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(ctx, c, nil, event(c, 2, engine.EventBridged), event(c, 3, engine.EventLegDTMF)); err != nil {
		t.Fatal(err)
	}
	first, err := s.ReadEvents(ctx, "node-x", "", 2, 0)
	if err != nil || len(first) != 2 {
		t.Fatalf("first read: %v %v", seqs(first), err)
	}
	rest, err := s.ReadEvents(ctx, "node-x", first[1].ID, 10, 0)
	if err != nil || !reflect.DeepEqual(seqs(rest), []string{"ev-x-e3"}) {
		t.Fatalf("read after %s: %v %v", first[1].ID, seqs(rest), err)
	}
	// Unacknowledged entries come again from the start (a restart).
	if again := readAll(t, s, "node-x"); len(again) != 3 {
		t.Fatalf("from the start again: %v", seqs(again))
	}
	if err := s.AckEvents(ctx, "node-x", first[0].ID, rest[0].ID); err != nil {
		t.Fatal(err)
	}
	if left := seqs(readAll(t, s, "node-x")); !reflect.DeepEqual(left, []string{"ev-x-e2"}) {
		t.Fatalf("after ack: %v", left)
	}
	now := base.Add(time.Hour)
	re := engine.LoggedEvent{Event: event(c, 1, engine.EventCallCreated), Target: "https://example.test/hook", Redriven: &now}
	if err := s.AppendEvents(ctx, "node-x", re); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s, "node-x")
	if len(got) != 2 {
		t.Fatalf("after append: %v", seqs(got))
	}
	last := got[1]
	if last.Target != re.Target || last.Redriven == nil || !last.Redriven.Equal(now) || !sameJSON(last.Event, re.Event) {
		t.Fatalf("appended entry %+v", last)
	}
}

// appendN appends n entries, events 1..n of call id, to node's stream.
func appendN(t *testing.T, s EventStore, node, id string, n int) {
	t.Helper()
	c := fullCall(id, "t1", node, base)
	var les []engine.LoggedEvent
	for i := 1; i <= n; i++ {
		les = append(les, engine.LoggedEvent{Event: event(c, i, engine.EventBridged)})
	}
	if err := s.AppendEvents(t.Context(), node, les...); err != nil {
		t.Fatal(err)
	}
}

func entryIDs(les []engine.LoggedEvent) []string {
	var out []string
	for _, le := range les {
		out = append(out, le.ID)
	}
	return out
}

// n bounds every read, from "" and after an id alike, and reads after an
// id page through the stream, oldest first, whether the entries were
// read before or not.
func testReadBounds(t *testing.T, s EventStore) {
	ctx := t.Context()
	appendN(t, s, "node-n", "ev-n", 7)
	var got []engine.LoggedEvent
	after := ""
	for range 10 {
		page, err := s.ReadEvents(ctx, "node-n", after, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("read of 3 returned %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	want := []string{"ev-n-e1", "ev-n-e2", "ev-n-e3", "ev-n-e4", "ev-n-e5", "ev-n-e6", "ev-n-e7"}
	if !reflect.DeepEqual(seqs(got), want) {
		t.Fatalf("paged reads %v, want %v", seqs(got), want)
	}
	// From "" again (nothing acknowledged): the same, bounded the same.
	page, err := s.ReadEvents(ctx, "node-n", "", 3, 0)
	if err != nil || !reflect.DeepEqual(seqs(page), want[:3]) {
		t.Fatalf("read from the start: %v %v", seqs(page), err)
	}
	// Acknowledged entries in the middle are skipped by reads after an id.
	if err := s.AckEvents(ctx, "node-n", got[3].ID, got[4].ID); err != nil {
		t.Fatal(err)
	}
	page, err = s.ReadEvents(ctx, "node-n", got[2].ID, 3, 0)
	if err != nil || !reflect.DeepEqual(seqs(page), want[5:]) {
		t.Fatalf("read after %s with e4, e5 acknowledged: %v %v", got[2].ID, seqs(page), err)
	}
	// An unknown stream reads empty.
	if page, err := s.ReadEvents(ctx, "node-none", "", 3, 0); err != nil || len(page) != 0 {
		t.Fatalf("unknown stream: %v %v", seqs(page), err)
	}
}

// A reader that stops without acknowledging (a restart, a node gone)
// leaves its entries to the next holder of the lease, who reads them
// first, then the new ones.
func testTakeoverSeesPending(t *testing.T, s EventStore) {
	ctx := t.Context()
	appendN(t, s, "node-t", "ev-t", 4)
	if ok, err := s.LeaseStream(ctx, "node-t", "r1", time.Minute); err != nil || !ok {
		t.Fatalf("lease r1: %v %v", ok, err)
	}
	first, err := s.ReadEvents(ctx, "node-t", "", 3, 0)
	if err != nil || len(first) != 3 {
		t.Fatalf("r1 read: %v %v", seqs(first), err)
	}
	if err := s.AckEvents(ctx, "node-t", first[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseStream(ctx, "node-t", "r1"); err != nil {
		t.Fatal(err)
	}
	c := fullCall("ev-t2", "t1", "node-t", base)
	c.State = engine.StateDialingFrom
	if err := s.CreateCall(ctx, c, event(c, 1, engine.EventCallCreated)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.LeaseStream(ctx, "node-t", "r2", time.Minute); err != nil || !ok {
		t.Fatalf("lease r2: %v %v", ok, err)
	}
	got := readAll(t, s, "node-t")
	if want := []string{"ev-t-e2", "ev-t-e3", "ev-t-e4", "ev-t2-e1"}; !reflect.DeepEqual(seqs(got), want) {
		t.Fatalf("r2 read %v, want %v", seqs(got), want)
	}
	if got[0].ID != first[1].ID || got[1].ID != first[2].ID {
		t.Fatalf("entry ids changed between readers: %v then %v", entryIDs(first), entryIDs(got))
	}
}

func testReadBlocks(t *testing.T, s EventStore) {
	ctx := t.Context()
	c := fullCall("ev-b2", "t1", "node-w", base)
	c.State = engine.StateDialingFrom
	done := make(chan []engine.LoggedEvent, 1)
	go func() {
		got, _ := s.ReadEvents(ctx, "node-w", "", 10, 20*time.Second)
		done <- got
	}()
	// Whether the append comes before or during the wait, the read
	// returns it (and well before its 20 s).
	if err := s.CreateCall(ctx, c, event(c, 1, engine.EventCallCreated)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if !reflect.DeepEqual(seqs(got), []string{"ev-b2-e1"}) {
			t.Fatalf("blocked read returned %v", seqs(got))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("blocked read never returned")
	}
	// With nothing to read, a short block returns empty.
	ackAll(t, s, "node-w")
	got, err := s.ReadEvents(ctx, "node-w", "", 10, 10*time.Millisecond)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty read: %v %v", seqs(got), err)
	}
	// It waits for its block first (only a lower bound is asserted).
	started := time.Now()
	got, err = s.ReadEvents(ctx, "node-w", "", 10, 300*time.Millisecond)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty read: %v %v", seqs(got), err)
	}
	if waited := time.Since(started); waited < 150*time.Millisecond {
		t.Fatalf("a read with a block of 300ms returned empty after %v", waited)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ReadEvents(cctx, "node-w", "", 10, 10*time.Second); err == nil {
		t.Log("a read on a cancelled context returned without error (allowed when nothing blocks)")
	}
}

func ackAll(t *testing.T, s EventStore, node string) {
	t.Helper()
	var ids []string
	for _, le := range readAll(t, s, node) {
		ids = append(ids, le.ID)
	}
	if err := s.AckEvents(t.Context(), node, ids...); err != nil {
		t.Fatal(err)
	}
}

func testLeases(t *testing.T, s EventStore) {
	ctx := t.Context()
	ok, err := s.LeaseStream(ctx, "node-l", "r1", time.Minute)
	if err != nil || !ok {
		t.Fatalf("first lease: %v %v", ok, err)
	}
	if ok, _ := s.LeaseStream(ctx, "node-l", "r2", time.Minute); ok {
		t.Fatal("a second reader got a held lease")
	}
	if ok, _ := s.LeaseStream(ctx, "node-l", "r1", time.Minute); !ok {
		t.Fatal("the holder could not renew")
	}
	if err := s.ReleaseStream(ctx, "node-l", "r2"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.LeaseStream(ctx, "node-l", "r2", time.Minute); ok {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := s.ReleaseStream(ctx, "node-l", "r1"); err != nil {
		t.Fatal(err)
	}
	// A renewal sets the new ttl: a short lease renewed for a minute
	// outlives its first ttl.
	if ok, _ := s.LeaseStream(ctx, "node-l", "r1", 50*time.Millisecond); !ok {
		t.Fatal("a released lease could not be taken")
	}
	if ok, _ := s.LeaseStream(ctx, "node-l", "r1", time.Minute); !ok {
		t.Fatal("the holder could not renew")
	}
	time.Sleep(200 * time.Millisecond)
	if ok, _ := s.LeaseStream(ctx, "node-l", "r2", time.Minute); ok {
		t.Fatal("a lease renewed for a minute expired with its first ttl")
	}
	if err := s.ReleaseStream(ctx, "node-l", "r1"); err != nil {
		t.Fatal(err)
	}
	// Leases are per stream.
	if ok, _ := s.LeaseStream(ctx, "node-l2", "r9", time.Minute); !ok {
		t.Fatal("a lease on another stream was refused")
	}
	if ok, _ := s.LeaseStream(ctx, "node-l", "r2", 50*time.Millisecond); !ok {
		t.Fatal("a released lease could not be taken")
	}
	// An expired lease goes to the next reader.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := s.LeaseStream(ctx, "node-l", "r3", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired lease was never taken over")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testDeadLetters(t *testing.T, s EventStore) {
	ctx := t.Context()
	c := fullCall("ev-d", "t1", "node-d", base)
	var ids []string
	for i := 1; i <= 5; i++ {
		d := &engine.DeadLetter{Tenant: "t1", Target: "https://example.test/hook", Event: event(c, i, engine.EventBridged),
			Attempts: 10 + i, LastError: "503 Service Unavailable", FailedAt: base.Add(time.Duration(i) * time.Hour)}
		if err := s.PutDeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
		if d.ID == "" {
			t.Fatal("PutDeadLetter set no id")
		}
		ids = append(ids, d.ID)
	}
	other := &engine.DeadLetter{Tenant: "t2", Target: "https://example.test/other", Event: event(c, 9, engine.EventBridged), FailedAt: base}
	if err := s.PutDeadLetter(ctx, other); err != nil {
		t.Fatal(err)
	}
	var got []*engine.DeadLetter
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := s.ListDeadLetters(ctx, "t1", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if len(got) != 5 {
		t.Fatalf("listed %d dead letters, want 5", len(got))
	}
	if page, next, err := s.ListDeadLetters(ctx, "t2", "", 10); err != nil || next != "" || len(page) != 1 || page[0].ID != other.ID || page[0].Target != other.Target {
		t.Fatalf("t2's dead letters: %+v %q %v", page, next, err)
	}
	if page, next, err := s.ListDeadLetters(ctx, "t-none", "", 10); err != nil || next != "" || len(page) != 0 {
		t.Fatalf("a tenant without dead letters: %+v %q %v", page, next, err)
	}
	for i, d := range got {
		if d.ID != ids[i] || d.Event.Seq != i+1 || d.Attempts != 11+i || !d.FailedAt.Equal(base.Add(time.Duration(i+1)*time.Hour)) {
			t.Fatalf("dead letter %d: %+v", i, d)
		}
	}
	if !sameJSON(got[0].Event, event(c, 1, engine.EventBridged)) {
		t.Fatalf("event round trip: %+v", got[0].Event)
	}
	// Ids are per tenant (two tenants' letters may share one): t2 cannot
	// take a letter of t1's under an id t2 has none of.
	for _, id := range ids {
		if id == other.ID {
			continue
		}
		if _, err := s.TakeDeadLetter(ctx, "t2", id); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("another tenant took a dead letter: %v", err)
		}
	}
	d, err := s.TakeDeadLetter(ctx, "t1", ids[1])
	if err != nil || d.Event.Seq != 2 {
		t.Fatalf("take: %+v %v", d, err)
	}
	if _, err := s.TakeDeadLetter(ctx, "t1", ids[1]); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("taken twice: %v", err)
	}
	if _, err := s.TakeDeadLetter(ctx, "t1", "no-such-id"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	page, _, _ := s.ListDeadLetters(ctx, "t1", "", 10)
	if len(page) != 4 {
		t.Fatalf("after take: %d letters", len(page))
	}
	if _, _, err := s.ListDeadLetters(ctx, "t1", "not a cursor", 10); !errors.Is(err, engine.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// Every field of a dead letter comes back from List and Take.
func testDeadLetterRoundTrip(t *testing.T, s EventStore) {
	ctx := t.Context()
	c := fullCall("ev-dl", "t1", "node-dl", base)
	d := &engine.DeadLetter{ID: "ignored", Tenant: "t1", Target: "https://example.test/hook?x=1", Event: fullEvent(t, c, 3),
		Attempts: 17, LastError: "POST: 502 Bad Gateway \"upstream\"", FailedAt: base.Add(36*time.Hour + 5)}
	requireNonZero(t, "DeadLetter", reflect.ValueOf(d))
	want := *d
	want.Event = fullEvent(t, c, 3)
	if err := s.PutDeadLetter(ctx, d); err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.ID == "ignored" {
		t.Fatalf("PutDeadLetter set the id %q", d.ID)
	}
	want.ID = d.ID
	d.Event.Call.Reason = "changed by the caller" // the store keeps its own copy
	page, _, err := s.ListDeadLetters(ctx, "t1", "", 10)
	if err != nil || len(page) != 1 {
		t.Fatalf("list: %+v %v", page, err)
	}
	if !sameJSON(page[0], &want) || !page[0].FailedAt.Equal(want.FailedAt) {
		t.Fatalf("listed dead letter:\n got %s\nwant %s", mustJSON(page[0]), mustJSON(&want))
	}
	page[0].Event.Call.Reason = "changed by the lister"
	took, err := s.TakeDeadLetter(ctx, "t1", want.ID)
	if err != nil || !sameJSON(took, &want) {
		t.Fatalf("taken dead letter:\n got %s (%v)\nwant %s", mustJSON(took), err, mustJSON(&want))
	}
	if page, _, err := s.ListDeadLetters(ctx, "t1", "", 10); err != nil || len(page) != 0 {
		t.Fatalf("after take: %+v %v", page, err)
	}
}

// sameJSON compares two values as the stores keep them: encoded.
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
