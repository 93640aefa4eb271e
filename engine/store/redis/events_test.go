package redis

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/redistest"
)

// ev returns event seq of c.
func ev(c *engine.Call, seq int, typ engine.EventType) engine.Event {
	return engine.Event{
		ID: c.ID + "-e" + itoa(seq), Seq: seq, Type: typ, CallID: c.ID, Tenant: c.Tenant,
		Time: time.Unix(1800000000+int64(seq), 0).UTC(), Call: c.Clone(),
	}
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func eventIDs(les []engine.LoggedEvent) []string {
	var out []string
	for _, le := range les {
		out = append(out, le.Event.ID)
	}
	return out
}

// TestEventKeyLayout pins the documented keys of the event log.
func TestEventKeyLayout(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx, r, p := t.Context(), s.c, s.opts.Prefix
	c := call("c1")
	if err := s.CreateCall(ctx, c, ev(c, 1, engine.EventCallCreated)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(ctx, c, nil, ev(c, 2, engine.EventLegDialing), ev(c, 3, engine.EventLegRinging)); err != nil {
		t.Fatal(err)
	}
	if v, err := r.HGet(ctx, p+":{c:c1}", "eseq").Result(); err != nil || v != "3" {
		t.Fatalf(`hash field "eseq" = %q, %v; want "3"`, v, err)
	}
	stream := p + ":events:{n:n1}"
	msgs, err := r.XRange(ctx, stream, "-", "+").Result()
	if err != nil || len(msgs) != 3 {
		t.Fatalf("XRANGE %s: %d entries, %v; want 3", stream, len(msgs), err)
	}
	for i, m := range msgs {
		if len(m.Values) != 1 {
			t.Fatalf("entry %s has fields %v, want only \"e\"", m.ID, m.Values)
		}
		var le engine.LoggedEvent
		if err := json.Unmarshal([]byte(m.Values["e"].(string)), &le); err != nil || le.Event.Seq != i+1 || le.ID != "" {
			t.Fatalf("entry %s: %+v, %v", m.ID, le, err)
		}
	}
	if ok, _ := r.SIsMember(ctx, p+":events:nodes", "n1").Result(); !ok {
		t.Fatal("n1 not in the set of nodes with streams")
	}
	if _, err := s.ReadEvents(ctx, "n1", "", 1, 0); err != nil {
		t.Fatal(err)
	}
	groups, err := r.XInfoGroups(ctx, stream).Result()
	if err != nil || len(groups) != 1 || groups[0].Name != "webhooks" || groups[0].Pending != 1 {
		t.Fatalf("consumer groups %+v, %v; want webhooks with 1 pending", groups, err)
	}
	consumers, err := r.XInfoConsumers(ctx, stream, "webhooks").Result()
	if err != nil || len(consumers) != 1 || consumers[0].Name != "lease-holder" {
		t.Fatalf("consumers %+v, %v; want lease-holder", consumers, err)
	}
	if ok, err := s.LeaseStream(ctx, "n1", "reader-a", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	lease := p + ":events:{n:n1}:lease"
	if v, _ := r.Get(ctx, lease).Result(); v != "reader-a" {
		t.Fatalf("lease key holds %q, want reader-a", v)
	}
	if ttl, _ := r.PTTL(ctx, lease).Result(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("lease TTL %v, want (0, 1m]", ttl)
	}
	d := &engine.DeadLetter{Tenant: "t1", Target: "https://example.test/h", Event: ev(c, 1, engine.EventCallCreated)}
	if err := s.PutDeadLetter(ctx, d); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.XLen(ctx, p+":{t:t1}:dead").Result(); n != 1 {
		t.Fatalf("dead letter stream holds %d, want 1", n)
	}
	// An acknowledged entry leaves the stream.
	first, _ := s.ReadEvents(ctx, "n1", "", 1, 0)
	if err := s.AckEvents(ctx, "n1", first[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.XLen(ctx, stream).Result(); n != 2 {
		t.Fatalf("stream holds %d after an ack, want 2", n)
	}
}

// TestEventRoundTrips counts the round trips of the writes with events
// and of the event log's methods, on a single server and on the cluster
// path (events beside the write), with the scripts cached.
func TestEventRoundTrips(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	loadScripts(t, s)
	h := &counter{}
	s.c.AddHook(h)
	cluster := func(fn func() error) func() error {
		return func() error {
			s.cluster, s.createInTwoSteps = true, true
			defer func() { s.cluster, s.createInTwoSteps = false, false }()
			return fn()
		}
	}
	a, b := call("rt-a"), call("rt-b")
	l := &engine.Leg{ID: "rt-a-1", CallID: a.ID, Seq: 1}
	var read []engine.LoggedEvent
	var dead *engine.DeadLetter
	for _, tc := range []struct {
		name string
		want int64
		fn   func() error
	}{
		{"CreateCall with events", 1, func() error { return s.CreateCall(ctx, a, ev(a, 1, engine.EventCallCreated)) }},
		{"SaveCall with legs and events", 1, func() error {
			return s.SaveCall(ctx, a, []*engine.Leg{l}, ev(a, 2, engine.EventLegDialing), ev(a, 3, engine.EventLegAnswered))
		}},
		{"EndCall with events", 1, func() error {
			end := a.Clone()
			end.State, end.Legs = engine.StateEnded, []*engine.Leg{l}
			return s.EndCall(ctx, end, time.Hour, ev(a, 4, engine.EventLegEnded), ev(a, 5, engine.EventCallEnded))
		}},
		{"CreateCall with events (cluster)", 2, cluster(func() error { return s.CreateCall(ctx, b, ev(b, 1, engine.EventCallCreated)) })},
		{"SaveCall with events (cluster)", 1, cluster(func() error { return s.SaveCall(ctx, b, nil, ev(b, 2, engine.EventBridged)) })},
		{"EndCall with events (cluster)", 1, cluster(func() error {
			end := b.Clone()
			end.State = engine.StateEnded
			return s.EndCall(ctx, end, time.Hour, ev(b, 3, engine.EventCallEnded))
		})},
		{"EventStreams", 1, func() error { _, err := s.EventStreams(ctx); return err }},
		{"LeaseStream", 1, func() error { _, err := s.LeaseStream(ctx, "n1", "r1", time.Minute); return err }},
		{"LeaseStream renewal", 1, func() error { _, err := s.LeaseStream(ctx, "n1", "r1", time.Minute); return err }},
		{"ReadEvents, first of the stream (group made)", 3, func() error {
			var err error
			read, err = s.ReadEvents(ctx, "n1", "", 3, 0)
			return err
		}},
		{"ReadEvents", 2, func() error { _, err := s.ReadEvents(ctx, "n1", read[2].ID, 3, 0); return err }},
		{"ReadEvents, pending fill the batch", 1, func() error { _, err := s.ReadEvents(ctx, "n1", "", 3, 0); return err }},
		{"AckEvents", 1, func() error { return s.AckEvents(ctx, "n1", read[0].ID, read[1].ID) }},
		{"AppendEvents", 1, func() error {
			return s.AppendEvents(ctx, "n1", engine.LoggedEvent{Event: ev(a, 1, engine.EventCallCreated), Target: "https://example.test/h"},
				engine.LoggedEvent{Event: ev(a, 2, engine.EventLegDialing), Target: "https://example.test/h"})
		}},
		{"ReleaseStream", 1, func() error { return s.ReleaseStream(ctx, "n1", "r1") }},
		{"PutDeadLetter", 1, func() error {
			dead = &engine.DeadLetter{Tenant: "t1", Target: "https://example.test/h", Event: ev(a, 1, engine.EventCallCreated)}
			return s.PutDeadLetter(ctx, dead)
		}},
		{"ListDeadLetters", 1, func() error { _, _, err := s.ListDeadLetters(ctx, "t1", "", 10); return err }},
		{"TakeDeadLetter", 1, func() error { _, err := s.TakeDeadLetter(ctx, "t1", dead.ID); return err }},
	} {
		h.n.Store(0)
		if err := tc.fn(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := h.n.Load(); n != tc.want {
			t.Errorf("%s took %d round trips, want %d", tc.name, n, tc.want)
		}
	}
}

// TestClusterEventsBesideWrite runs the cluster path (plain XADDs beside
// the write, in its pipeline) against a single server: the events are
// appended in order to the node's stream and the node is listed; the
// call's hash keeps no "eseq", and a repeated write appends again, as
// documented (receivers de-duplicate by event id). The scripts are
// loaded first: a pipeline sent again after NOSCRIPT would append its
// events twice more.
func TestClusterEventsBesideWrite(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	s.cluster, s.createInTwoSteps = true, true
	ctx := t.Context()
	loadScripts(t, s)
	c := call("cl")
	for range 2 {
		if err := s.CreateCall(ctx, c, ev(c, 1, engine.EventCallCreated)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCall(ctx, c, nil, ev(c, 2, engine.EventLegDialing), ev(c, 3, engine.EventBridged)); err != nil {
		t.Fatal(err)
	}
	end := c.Clone()
	end.State = engine.StateEnded
	if err := s.EndCall(ctx, end, time.Hour, ev(c, 4, engine.EventCallEnded)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadEvents(ctx, "n1", "", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cl-e01", "cl-e01", "cl-e02", "cl-e03", "cl-e04"}
	if !reflect.DeepEqual(eventIDs(got), want) {
		t.Fatalf("stream %v, want %v", eventIDs(got), want)
	}
	if nodes, _ := s.EventStreams(ctx); !reflect.DeepEqual(nodes, []string{"n1"}) {
		t.Fatalf("EventStreams = %v", nodes)
	}
	if ok, _ := s.c.HExists(ctx, s.callKey(c.ID), "eseq").Result(); ok {
		t.Fatal(`the cluster path wrote "eseq"`)
	}
}

// TestTrimmedPendingEntries: entries trimmed from the stream before they
// were acknowledged (a backlog beyond the bound) are skipped, and
// acknowledged, by the next read from the start; the reader does not
// stall on them.
func TestTrimmedPendingEntries(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	c := call("tr")
	var les []engine.LoggedEvent
	for i := 1; i <= 6; i++ {
		les = append(les, engine.LoggedEvent{Event: ev(c, i, engine.EventBridged)})
	}
	if err := s.AppendEvents(ctx, "n1", les...); err != nil {
		t.Fatal(err)
	}
	read, err := s.ReadEvents(ctx, "n1", "", 5, 0)
	if err != nil || len(read) != 5 {
		t.Fatalf("read %v, %v", eventIDs(read), err)
	}
	// Trim the three oldest, as XADD MAXLEN would.
	if err := s.c.XTrimMaxLen(ctx, s.streamKey("n1"), 3).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadEvents(ctx, "n1", "", 2, 0)
	if err != nil || !reflect.DeepEqual(eventIDs(got), []string{"tr-e04", "tr-e05"}) {
		t.Fatalf("read after the trim: %v, %v; want tr-e04, tr-e05", eventIDs(got), err)
	}
	got, err = s.ReadEvents(ctx, "n1", got[1].ID, 10, 0)
	if err != nil || !reflect.DeepEqual(eventIDs(got), []string{"tr-e06"}) {
		t.Fatalf("read on: %v, %v; want tr-e06", eventIDs(got), err)
	}
	pending, err := s.c.XPending(ctx, s.streamKey("n1"), readGroup).Result()
	if err != nil || pending.Count != 3 {
		t.Fatalf("pending %+v, %v; want the 3 entries still in the stream", pending, err)
	}
}

// TestStreamDeletedUnderReader: a stream deleted after this store made
// its consumer group (an operator, a flush) is read again without an
// error.
func TestStreamDeletedUnderReader(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	c := call("del")
	if _, err := s.ReadEvents(ctx, "n1", "", 10, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Del(ctx, s.streamKey("n1")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, "n1", engine.LoggedEvent{Event: ev(c, 1, engine.EventCallCreated)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadEvents(ctx, "n1", "", 10, 0)
	if err != nil || !reflect.DeepEqual(eventIDs(got), []string{"del-e01"}) {
		t.Fatalf("read after the stream was deleted: %v, %v", eventIDs(got), err)
	}
}

// TestEventScriptsFlushed: the write scripts with events, after SCRIPT
// FLUSH, are loaded and the pipeline sent again, and the events are
// appended once (the first attempt ran no script).
func TestEventScriptsFlushed(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	h := &counter{}
	s.c.AddHook(h)
	private := os.Getenv(redistest.EnvURL) == ""
	c := call("fl")
	end := c.Clone()
	end.State = engine.StateEnded
	for _, step := range []struct {
		name   string
		write  func() error
		cached *goredis.Script
	}{
		{"CreateCall with an event", func() error { return s.CreateCall(ctx, c, ev(c, 1, engine.EventCallCreated)) }, createEventsScript},
		{"SaveCall with events", func() error {
			return s.SaveCall(ctx, c, nil, ev(c, 2, engine.EventLegDialing), ev(c, 3, engine.EventBridged))
		}, putEventsScript},
		{"EndCall with an event", func() error { return s.EndCall(ctx, end, time.Hour, ev(c, 4, engine.EventCallEnded)) }, putEventsScript},
	} {
		if err := s.c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		h.n.Store(0)
		if err := step.write(); err != nil {
			t.Fatalf("%s after SCRIPT FLUSH: %v", step.name, err)
		}
		if n := h.n.Load(); private && n != 3 {
			t.Errorf("%s after SCRIPT FLUSH took %d round trips, want 3", step.name, n)
		}
		if ok, err := s.c.ScriptExists(ctx, step.cached.Hash()).Result(); err != nil || !ok[0] {
			t.Errorf("%s: script not cached again: %v, %v", step.name, ok, err)
		}
	}
	got, err := s.ReadEvents(ctx, "n1", "", 100, 0)
	if want := []string{"fl-e01", "fl-e02", "fl-e03", "fl-e04"}; err != nil || !reflect.DeepEqual(eventIDs(got), want) {
		t.Fatalf("stream %v, %v; want %v", eventIDs(got), err, want)
	}
}
