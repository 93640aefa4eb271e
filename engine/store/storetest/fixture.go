package storetest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/ivr"
)

// base is the suite's reference CreatedAt. It carries nanoseconds on
// purpose: stores must keep a record's times exactly as given (they are
// ordered and paged by the millisecond, but never rounded).
var base = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

// fullCall returns a call with every field set to a non-zero value, so a
// round trip through a store proves that no field is dropped. It carries one
// leg, which CreateCall must ignore.
func fullCall(id, tenant, node string, created time.Time) *engine.Call {
	at := func(d time.Duration) *time.Time { v := created.Add(d); return &v }
	return &engine.Call{
		ID:     id,
		Tenant: tenant,
		Node:   node,
		Request: engine.CallRequest{
			From: engine.SideRequest{
				Type: engine.TargetAgent, Values: []string{"agent-7", "agent-9"},
				Strategy: dialer.OneByOne, RingTime: 20, RetryCount: 1,
				CLI: "AGENT_CLI", WebLogin: "yes", CallLogin: "na",
			},
			To: engine.SideRequest{
				Type: engine.TargetNumber, Values: []string{"+15550100", "+15550101"},
				Strategy: dialer.ToAll, RingTime: 45, RetryCount: 3,
				CLI: "+15550199", WebLogin: "no", CallLogin: "yes",
			},
			TimeLimit: 600, TimeLimitHangup: true,
			TimeLimitAlert: []int{300, 540}, AlertAudio: []string{"5min.wav", "1min.wav"},
			RingTone: "ring.wav", Sticky: "yes", StickyTimeType: "hours",
			StickyTimeValue: 4, StickyAgentBusy: "queue", QueueTimeout: 30,
			DNDFilter: "yes", Mode: "live", Record: true,
			StatusCallback: "https://crm.example.test/switchboard/status",
		},
		Direction:  engine.DirectionInbound,
		App:        "hotline",
		Called:     "+15550100",
		Caller:     "+15550142",
		CallerInfo: &engine.CallerInfo{Name: "Ada Lovelace", Email: "ada@example.test", Info: "gold"},
		IVR: []ivr.Entry{{
			At: created.Add(time.Second), Event: ivr.EntryExit, Menu: "main", Digits: "1#", Retry: 1,
			Action: &ivr.Action{Type: ivr.RouteGroup, Target: "sales", Prompt: "connecting.wav"},
			Reason: ivr.ReasonOption,
		}},
		State:        engine.StateDialingFrom,
		Outcome:      engine.OutcomeCompleted,
		HangupBy:     engine.HangupTo,
		Reason:       "normal clearing",
		CreatedAt:    created,
		AnswerAt:     at(3*time.Second + 17*time.Nanosecond),
		BridgedAt:    at(9*time.Second + 123456*time.Nanosecond),
		EndedAt:      at(70 * time.Second),
		RingSeconds:  9.000123,
		TalkSeconds:  61.25,
		RecordingURL: "/v1/calls/" + id + "/recording",
		Bridge:       "bridge-" + id,
		AlertsPlayed: []int{300},
		EventSeq:     7,
		MediaErrors:  []string{"alert 1min.wav at 540 s: unknown announcement"},
		Legs:         []*engine.Leg{fullLeg(id, 1, created)},
	}
}

// fullLeg returns leg seq of call callID with every field non-zero.
func fullLeg(callID string, seq int, created time.Time) *engine.Leg {
	at := func(d time.Duration) *time.Time { v := created.Add(d); return &v }
	return &engine.Leg{
		ID: fmt.Sprintf("%s-%d", callID, seq), CallID: callID, Seq: seq,
		Side: engine.SideFrom, TargetType: engine.TargetGroup, Target: "sales",
		AgentID: "agent-7", AgentName: "Asha Rao", GroupID: "sales", Routing: "sticky hit",
		Number: "+15550107", CallerID: "+15550199", Round: 1, Step: 2, Inbound: true,
		State: engine.LegRinging, Disposition: engine.DispAnswered,
		SIPCode: 200, Reason: "ok", DTMF: "12#", Channel: fmt.Sprintf("chan-%s-%d", callID, seq),
		Media:      &engine.MediaStats{PacketsIn: 3000, PacketsOut: 2998, BytesIn: 516000, BytesOut: 515656},
		CreatedAt:  created.Add(time.Duration(seq) * time.Millisecond),
		RingingAt:  at(time.Second + 1),
		AnsweredAt: at(2*time.Second + 2),
		EndedAt:    at(60*time.Second + 3),
	}
}

// requireNonZero fails when any exported field reachable from v is the zero
// value. The round-trip test uses it on its fixture so that a field added to
// the model later cannot slip through the suite untested.
func requireNonZero(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Fatalf("fixture field %s is nil: set it so the round trip covers it", path)
		}
		requireNonZero(t, path, v.Elem())
	case reflect.Struct:
		if tm, ok := v.Interface().(time.Time); ok {
			if tm.IsZero() {
				t.Fatalf("fixture field %s is zero", path)
			}
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				requireNonZero(t, path+"."+f.Name, v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Fatalf("fixture field %s is empty", path)
		}
		for i := range v.Len() {
			requireNonZero(t, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	default:
		if v.IsZero() {
			t.Fatalf("fixture field %s is zero", path)
		}
	}
}

// canon renders a call for comparison: JSON covers every serialised field
// and compares times at full precision; legs are put in Seq order and an
// empty leg list is the same as none.
func canon(t *testing.T, c *engine.Call) string {
	t.Helper()
	if c == nil {
		return "null"
	}
	cp := c.Clone()
	slices.SortFunc(cp.Legs, func(a, b *engine.Leg) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(cp.Legs) == 0 {
		cp.Legs = nil
	}
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		t.Fatalf("marshal call: %v", err)
	}
	return string(b)
}

func assertCall(t *testing.T, got, want *engine.Call) {
	t.Helper()
	if g, w := canon(t, got), canon(t, want); g != w {
		t.Fatalf("call mismatch\n got: %s\nwant: %s", g, w)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("CreatedAt %v, want %v", got.CreatedAt, want.CreatedAt)
	}
}

// withLegs returns a copy of c whose legs are exactly legs.
func withLegs(c *engine.Call, legs ...*engine.Leg) *engine.Call {
	cp := c.Clone()
	cp.Legs = nil
	for _, l := range legs {
		cp.Legs = append(cp.Legs, l.Clone())
	}
	return cp
}

func mustCreate(t *testing.T, s engine.Store, c *engine.Call) {
	t.Helper()
	if err := s.CreateCall(t.Context(), c); err != nil {
		t.Fatalf("CreateCall(%s): %v", c.ID, err)
	}
}

func mustSaveLeg(t *testing.T, s engine.Store, l *engine.Leg) {
	t.Helper()
	if err := s.SaveLeg(t.Context(), l); err != nil {
		t.Fatalf("SaveLeg(%s): %v", l.ID, err)
	}
}

func mustEnd(t *testing.T, s engine.Store, c *engine.Call, retention time.Duration) {
	t.Helper()
	if err := s.EndCall(t.Context(), c, retention); err != nil {
		t.Fatalf("EndCall(%s): %v", c.ID, err)
	}
}

func mustGet(t *testing.T, s engine.Store, id string) *engine.Call {
	t.Helper()
	c, err := s.GetCall(t.Context(), id)
	if err != nil {
		t.Fatalf("GetCall(%s): %v", id, err)
	}
	return c
}

func mustList(t *testing.T, s engine.Store, q engine.CallQuery) engine.CallPage {
	t.Helper()
	p, err := s.ListCalls(t.Context(), q)
	if err != nil {
		t.Fatalf("ListCalls(%+v): %v", q, err)
	}
	return p
}

func mustLive(t *testing.T, s engine.Store, node string) []string {
	t.Helper()
	ids, err := s.LiveCalls(t.Context(), node)
	if err != nil {
		t.Fatalf("LiveCalls(%q): %v", node, err)
	}
	slices.Sort(ids)
	return ids
}

func ids(calls []*engine.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.ID
	}
	return out
}

func assertIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got [%s], want [%s]", what, strings.Join(got, " "), strings.Join(want, " "))
	}
}

func assertNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("%s: got error %v, want engine.ErrNotFound", what, err)
	}
}

// eventually polls cond until it holds or a generous deadline passes. Store
// expiry is checked this way so that no test depends on tight timing.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: still not true after 20s", what)
		case <-tick.C:
		}
	}
}
