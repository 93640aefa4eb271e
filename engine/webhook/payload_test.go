package webhook

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

func TestPayloadMapping(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	req := engine.CallRequest{
		From: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"9000000001"}},
		To:   engine.SideRequest{Type: engine.TargetGroup, Values: []string{"sales"}},
	}
	from := &engine.Leg{ID: "c1-1", CallID: "c1", Seq: 1, Side: engine.SideFrom, Number: "9000000001", CallerID: "8001234567",
		State: engine.LegAnswered, Disposition: engine.DispAnswered, CreatedAt: t0, AnsweredAt: at(3)}
	agent := &engine.Leg{ID: "c1-2", CallID: "c1", Seq: 2, Side: engine.SideTo, AgentID: "101", GroupID: "sales",
		Number: "9000000101", CallerID: "9000000001", State: engine.LegDialing, CreatedAt: *at(4)}
	busy := &engine.Leg{ID: "c1-3", CallID: "c1", Seq: 3, Side: engine.SideTo, AgentID: "103", GroupID: "sales",
		Number: "9000000107", State: engine.LegEnded, Disposition: engine.DispSkipped, CreatedAt: *at(4), EndedAt: at(4)}
	ended := *agent
	ended.State, ended.Disposition, ended.AnsweredAt, ended.EndedAt = engine.LegEnded, engine.DispAnswered, at(10), at(70)
	endedFrom := *from
	endedFrom.State, endedFrom.EndedAt = engine.LegEnded, at(70)
	call := &engine.Call{ID: "c1", Tenant: "7", Request: req, State: engine.StateEnded, Outcome: engine.OutcomeCompleted,
		HangupBy: engine.HangupTo, CreatedAt: t0, BridgedAt: at(10), EndedAt: at(70), TalkSeconds: 60.4,
		RecordingURL: "/v1/calls/c1/recording", Legs: []*engine.Leg{&endedFrom, &ended, busy}}
	ev := func(seq int, typ engine.EventType, s int) engine.Event {
		return engine.Event{ID: "c1-e" + string(rune('0'+seq)), Seq: seq, Type: typ, CallID: "c1", Tenant: "7", Time: *at(s)}
	}
	withCall := func(e engine.Event, c *engine.Call) engine.Event { e.Call = c; return e }
	withLeg := func(e engine.Event, l *engine.Leg) engine.Event { e.Leg = l; return e }
	created := &engine.Call{ID: "c1", Tenant: "7", Request: req, State: engine.StateDialingFrom, CreatedAt: t0}

	tests := []struct {
		ev   engine.Event
		want *IVREvent
	}{
		{withCall(ev(1, engine.EventCallCreated, 0), created), &IVREvent{Event: "IN", UniqueID: "c1", CLI: "9000000001", Time: "2026-11-22T10:00:00Z"}},
		{withLeg(ev(2, engine.EventLegDialing, 0), from), &IVREvent{Event: "TA", UniqueID: "c1", CLI: "8001234567", AttemptID: "c1-1", To: "9000000001", Time: "2026-11-22T10:00:00Z"}},
		{withLeg(ev(3, engine.EventLegRinging, 1), from), nil},
		{withLeg(ev(4, engine.EventLegAnswered, 3), from), &IVREvent{Event: "TC", UniqueID: "c1", CLI: "8001234567", AttemptID: "c1-1", To: "9000000001", Time: "2026-11-22T10:00:03Z"}},
		{withLeg(ev(5, engine.EventLegDialing, 4), agent), &IVREvent{Event: "TA", UniqueID: "c1", CLI: "9000000001", AttemptID: "c1-2", To: "101", Time: "2026-11-22T10:00:04Z"}},
		{withLeg(ev(6, engine.EventLegEnded, 4), busy), &IVREvent{Event: "TE", UniqueID: "c1", AttemptID: "c1-3", To: "9000000107", Time: "2026-11-22T10:00:04Z", Duration: "0", Result: "busy"}},
		{withCall(ev(7, engine.EventBridged, 10), call), nil},
		{withLeg(ev(8, engine.EventLegEnded, 70), &ended), &IVREvent{Event: "TE", UniqueID: "c1", CLI: "9000000001", AttemptID: "c1-2", To: "9000000101", Time: "2026-11-22T10:01:10Z", Duration: "66", Result: "answered"}},
		{withCall(ev(9, engine.EventCallEnded, 70), call), &IVREvent{Event: "H", UniqueID: "c1", CLI: "9000000001", Time: "2026-11-22T10:01:10Z", Duration: "70"}},
	}
	for _, tc := range tests {
		p := NewPayload(tc.ev)
		if !reflect.DeepEqual(p.IVR, tc.want) {
			t.Errorf("%s: ivr %+v, want %+v", tc.ev.Type, p.IVR, tc.want)
		}
		if (p.Summary != nil) != (tc.ev.Type == engine.EventCallEnded) {
			t.Errorf("%s: summary %+v", tc.ev.Type, p.Summary)
		}
	}

	body, err := Body(tests[len(tests)-1].ev)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"id": "c1-e9", "seq": 9.0, "type": "call.ended", "callid": "c1", "user_id": "7"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	wantSummary := map[string]any{
		"event": "callSummary", "call_direction": "Outgoing", "call_department": "sales",
		"caller_number": "9000000001", "called_number": "9000000101", "recording_url": "/v1/calls/c1/recording",
		"call_duration": "60", "call_status": "finished", "outcome": "completed", "hangup_by": "to",
	}
	if !reflect.DeepEqual(got["summary"], wantSummary) {
		t.Errorf("summary %v\nwant %v", got["summary"], wantSummary)
	}
	if c, ok := got["call"].(map[string]any); !ok || c["callid"] != "c1" {
		t.Errorf("call snapshot %v", got["call"])
	}
}

// An inbound call: IN names the app and the caller; the caller's own leg
// is no transfer attempt; the summary is Incoming, from the caller to the
// agent who answered, or to the virtual number when none did.
func TestPayloadOfAnInboundCall(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	caller := &engine.Leg{ID: "c2-1", CallID: "c2", Seq: 1, Side: engine.SideFrom, Inbound: true, Number: "9001",
		State: engine.LegAnswered, Disposition: engine.DispAnswered, CreatedAt: t0}
	call := &engine.Call{ID: "c2", Tenant: "7", App: "app1", Direction: engine.DirectionInbound, Caller: "9001", Called: "5550100",
		Request: engine.CallRequest{From: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"9001"}}},
		State:   engine.StateEnded, Outcome: engine.OutcomeIVRHangup, HangupBy: engine.HangupSystem, CreatedAt: t0, EndedAt: &t0,
		Legs: []*engine.Leg{caller}}
	in := NewPayload(engine.Event{ID: "c2-e1", Seq: 1, Type: engine.EventCallCreated, CallID: "c2", Tenant: "7", App: "app1", Time: t0, Call: call})
	if want := (&IVREvent{App: "app1", Event: "IN", UniqueID: "c2", CLI: "9001", Time: "2026-11-22T10:00:00Z"}); !reflect.DeepEqual(in.IVR, want) {
		t.Errorf("IN %+v, want %+v", in.IVR, want)
	}
	for _, typ := range []engine.EventType{engine.EventLegRinging, engine.EventLegAnswered, engine.EventLegEnded} {
		if p := NewPayload(engine.Event{Type: typ, CallID: "c2", App: "app1", Time: t0, Leg: caller}); p.IVR != nil {
			t.Errorf("%s of the caller's leg: %+v", typ, p.IVR)
		}
	}
	end := NewPayload(engine.Event{Type: engine.EventCallEnded, CallID: "c2", App: "app1", Time: t0, Call: call})
	want := &Summary{Event: "callSummary", CallDirection: "Incoming", CallDepartment: "app1", CallerNumber: "9001",
		CalledNumber: "5550100", CallDuration: "0", CallStatus: "finished", Outcome: engine.OutcomeIVRHangup, HangupBy: engine.HangupSystem}
	if !reflect.DeepEqual(end.Summary, want) {
		t.Errorf("summary %+v\nwant %+v", end.Summary, want)
	}
}

func TestBackoffGrowsToItsCeiling(t *testing.T) {
	st := memory.New(memory.Options{})
	defer st.Close()
	d, err := New(Options{Log: st, Node: "n", MinBackoff: time.Second, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < 200; n++ {
		ceiling := min(time.Second<<min(n-1, 20), time.Hour)
		for range 20 {
			if b := d.backoff(n); b < 0 || b >= ceiling {
				t.Fatalf("backoff(%d) = %v, want in [0, %v)", n, b, ceiling)
			}
		}
	}
	// A ceiling near the largest duration does not overflow.
	d.opt.MaxBackoff = time.Duration(1<<63 - 1)
	if b := d.backoff(100); b < 0 {
		t.Fatalf("backoff overflowed: %v", b)
	}
}
