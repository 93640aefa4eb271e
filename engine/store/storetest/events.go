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
func RunEventLog(t *testing.T, newStore func(t *testing.T) EventStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, EventStore)
	}{
		{"WritesAppendTheirEvents", testWritesAppendEvents},
		{"RepeatedWriteAppendsOnce", testRepeatedWriteAppendsOnce},
		{"FailedWriteAppendsNothing", testFailedWriteAppendsNothing},
		{"ReadAckAppend", testReadAckAppend},
		{"ReadBlocksUntilAppend", testReadBlocks},
		{"Leases", testLeases},
		{"DeadLetters", testDeadLetters},
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

// sameJSON compares two values as the stores keep them: encoded.
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
