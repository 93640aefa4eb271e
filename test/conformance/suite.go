// Package conformance is the one suite of call scenarios every Switchboard
// backend must pass: the engine, on a memory store, drives real calls
// through the backend under test to far ends the harness scripts, and the
// suite checks what users see — the call's record (legs, dispositions,
// outcome, who hung up, alerts, recording, keys) and what reached the far
// ends. The native SIP backend runs it against the test phone over
// loopback SIP; the Asterisk backend runs it against the ARI test server
// and, when one is configured, a real Asterisk. A user must not be able to
// tell the backends apart by behaviour, so no scenario knows which one it
// runs on.
//
// Far ends are scripted per number; each scenario uses numbers of its own,
// so a far end's calls belong to one scenario.
package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

// Action is what a far end does with a call.
type Action int

const (
	// Answer: ring for AnswerAfter, then answer.
	Answer Action = iota
	// Busy: refuse at once as busy (SIP 486, Q.850 17).
	Busy
	// NoAnswer: ring until the call is given up.
	NoAnswer
	// Reject: decline at once (SIP 603, Q.850 21).
	Reject
)

// Far is the behaviour of one number's far end.
type Far struct {
	Action      Action
	AnswerAfter time.Duration
}

// Harness is a backend under test and the far ends it reaches.
type Harness struct {
	// Backend is started and ready; the harness stops it at cleanup.
	Backend engine.Backend
	// Far sets what number's far end does with the calls that follow.
	// Numbers not set answer at once.
	Far func(number string, f Far)
	// Hangup makes number's answered far end hang up its call.
	Hangup func(ctx context.Context, number string) error
	// Press makes number's answered far end press keys (RFC 4733 on SIP).
	Press func(ctx context.Context, number, keys string) error
	// Received is the keys number's far end has received so far.
	Received func(number string) string
	// Recording returns the recording the engine named name (such as
	// "1/<callid>"), as the backend keeps it: a WAV file.
	Recording func(ctx context.Context, name string) ([]byte, error)
}

// bound is how long any one wait of the suite may take. Waits end as
// soon as their condition holds; the bound only keeps a broken backend
// from hanging the suite.
const bound = 30 * time.Second

// tenant is the tenant of every call of the suite.
const tenant = "1"

// Run runs every scenario, each with a harness of its own.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	for _, sc := range []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"OneByOneWithRingTone", oneByOne},
		{"ToAllFirstAnswerWins", toAll},
		{"RetriesThenUnanswered", retries},
		{"RejectedToSide", rejected},
		{"TimeLimitWithAlerts", timeLimit},
		{"GroupRoundRobin", groupRoundRobin},
		{"StickyAgent", sticky},
		{"Recording", recording},
		{"DTMFBothWays", dtmf},
		{"HangupByFrom", hangupByFrom},
		{"HangupByAPI", hangupByAPI},
	} {
		t.Run(sc.name, func(t *testing.T) {
			sc.fn(t, newSuite(t, newHarness(t)))
		})
	}
}

// suite is one scenario's engine, store and harness.
type suite struct {
	t   *testing.T
	h   *Harness
	e   *engine.Engine
	st  *memory.Store
	ctx context.Context
}

func newSuite(t *testing.T, h *Harness) *suite {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	e := engine.New(st, h.Backend, engine.Options{NodeID: "conformance", Agents: st, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		e.Drain(ctx)
	})
	return &suite{t: t, h: h, e: e, st: st, ctx: t.Context()}
}

// numbers is a side of Number targets.
func numbers(strategy dialer.Strategy, ringTime, retries int, values ...string) engine.SideRequest {
	return engine.SideRequest{Type: engine.TargetNumber, Values: values, Strategy: strategy, RingTime: ringTime, RetryCount: retries}
}

// originate starts a call and fails the test if it is refused.
func (s *suite) originate(req engine.CallRequest) string {
	s.t.Helper()
	c, err := s.e.Originate(s.ctx, tenant, req)
	if err != nil {
		s.t.Fatalf("originate: %v", err)
	}
	return c.ID
}

// waitFor polls the call's record until cond holds.
func (s *suite) waitFor(id, what string, cond func(*engine.Call) bool) *engine.Call {
	s.t.Helper()
	deadline := time.Now().Add(bound)
	for {
		c, err := s.e.Get(s.ctx, tenant, id)
		if err == nil && cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("call %s: %s never happened; record %s", id, what, describe(c))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *suite) bridged(id string) *engine.Call {
	s.t.Helper()
	return s.waitFor(id, "bridge", func(c *engine.Call) bool { return c.BridgedAt != nil || !c.Live() })
}

// ended waits for the call's end and returns its final record.
func (s *suite) ended(id string) *engine.Call {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, bound)
	defer cancel()
	if err := s.e.Wait(ctx, id); err != nil {
		s.t.Fatalf("call %s did not end: %v", id, err)
	}
	return s.waitFor(id, "end", func(c *engine.Call) bool { return !c.Live() })
}

// legs lists "number:disposition" (or "agent:disposition") of a side's
// legs in the order they were made.
func legs(c *engine.Call, side engine.SideName) []string {
	var out []string
	for _, l := range c.Legs {
		if l.Side != side {
			continue
		}
		who := l.Number
		if l.AgentID != "" {
			who = l.AgentID
		}
		out = append(out, who+":"+string(l.Disposition))
	}
	return out
}

// answeredLeg is the answered leg of a side.
func answeredLeg(c *engine.Call, side engine.SideName) *engine.Leg {
	for _, l := range c.Legs {
		if l.Side == side && l.Disposition == engine.DispAnswered {
			return l
		}
	}
	return nil
}

func describe(c *engine.Call) string {
	if c == nil {
		return "(none)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "state=%s outcome=%s by=%s reason=%q alerts=%v media_errors=%v legs=[", c.State, c.Outcome, c.HangupBy, c.Reason, c.AlertsPlayed, c.MediaErrors)
	for _, l := range c.Legs {
		fmt.Fprintf(&b, " %s/%s %s %s(%d %q dtmf=%q)", l.Side, l.Number, l.State, l.Disposition, l.SIPCode, l.Reason, l.DTMF)
	}
	b.WriteString(" ]")
	return b.String()
}

// expect fails the test with the record when cond is false.
func (s *suite) expect(c *engine.Call, cond bool, format string, args ...any) {
	s.t.Helper()
	if !cond {
		s.t.Fatalf("%s\nrecord: %s", fmt.Sprintf(format, args...), describe(c))
	}
}

// ONE_BY_ONE: a busy from number is passed over for the next, the to side
// rings (the from party hears the ringTone meanwhile), and the to party
// hangs up.
func oneByOne(t *testing.T, s *suite) {
	s.h.Far("5100001", Far{Action: Busy})
	s.h.Far("5100003", Far{AnswerAfter: 700 * time.Millisecond})
	id := s.originate(engine.CallRequest{
		From:     numbers(dialer.OneByOne, 10, 0, "5100001", "5100002"),
		To:       numbers(dialer.OneByOne, 10, 0, "5100003"),
		RingTone: "ringback.wav",
	})
	c := s.bridged(id)
	s.expect(c, c.BridgedAt != nil, "not bridged")
	if err := s.h.Hangup(s.ctx, "5100003"); err != nil {
		t.Fatal(err)
	}
	c = s.ended(id)
	s.expect(c, c.Outcome == engine.OutcomeCompleted && c.HangupBy == engine.HangupTo, "want completed, hung up by to")
	s.expect(c, slices.Equal(legs(c, engine.SideFrom), []string{"5100001:busy", "5100002:answered"}), "from legs %v", legs(c, engine.SideFrom))
	s.expect(c, slices.Equal(legs(c, engine.SideTo), []string{"5100003:answered"}), "to legs %v", legs(c, engine.SideTo))
	s.expect(c, len(c.MediaErrors) == 0, "media errors (the ringTone) %v", c.MediaErrors)
}

// TO_ALL: every to number rings at once; the first to answer is bridged
// and the others are cancelled.
func toAll(t *testing.T, s *suite) {
	s.h.Far("5200002", Far{Action: NoAnswer})
	s.h.Far("5200003", Far{AnswerAfter: 500 * time.Millisecond})
	s.h.Far("5200004", Far{Action: NoAnswer})
	id := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 10, 0, "5200001"),
		To:   numbers(dialer.ToAll, 10, 0, "5200002", "5200003", "5200004"),
	})
	c := s.bridged(id)
	s.expect(c, c.BridgedAt != nil, "not bridged")
	if err := s.h.Hangup(s.ctx, "5200001"); err != nil {
		t.Fatal(err)
	}
	c = s.ended(id)
	got := legs(c, engine.SideTo)
	slices.Sort(got)
	s.expect(c, slices.Equal(got, []string{"5200002:canceled", "5200003:answered", "5200004:canceled"}), "to legs %v", got)
	s.expect(c, c.Outcome == engine.OutcomeCompleted && c.HangupBy == engine.HangupFrom, "want completed, hung up by from")
}

// A from number that never answers is tried again (fromRetryCount), then
// the call ends unanswered; nothing is dialed on the to side.
func retries(t *testing.T, s *suite) {
	s.h.Far("5300001", Far{Action: NoAnswer})
	id := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 1, 1, "5300001"),
		To:   numbers(dialer.OneByOne, 10, 0, "5300002"),
	})
	c := s.ended(id)
	s.expect(c, c.Outcome == engine.OutcomeFromUnanswered, "want from_unanswered")
	s.expect(c, slices.Equal(legs(c, engine.SideFrom), []string{"5300001:noanswer", "5300001:noanswer"}), "from legs %v", legs(c, engine.SideFrom))
	s.expect(c, len(legs(c, engine.SideTo)) == 0, "the to side was dialed")
}

// A to number that declines ends the call to_unanswered, with the
// disposition the decline maps to.
func rejected(t *testing.T, s *suite) {
	s.h.Far("5400002", Far{Action: Reject})
	id := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 10, 0, "5400001"),
		To:   numbers(dialer.OneByOne, 10, 0, "5400002"),
	})
	c := s.ended(id)
	s.expect(c, c.Outcome == engine.OutcomeToUnanswered, "want to_unanswered")
	s.expect(c, slices.Equal(legs(c, engine.SideTo), []string{"5400002:rejected"}), "to legs %v", legs(c, engine.SideTo))
	s.expect(c, slices.Equal(legs(c, engine.SideFrom), []string{"5400001:answered"}), "from legs %v", legs(c, engine.SideFrom))
}

// The time limit ends the call; each alert mark is played, heard by both
// parties, without a media error.
func timeLimit(t *testing.T, s *suite) {
	id := s.originate(engine.CallRequest{
		From:            numbers(dialer.OneByOne, 10, 0, "5500001"),
		To:              numbers(dialer.OneByOne, 10, 0, "5500002"),
		TimeLimit:       3,
		TimeLimitHangup: true,
		TimeLimitAlert:  []int{1, 2},
		AlertAudio:      []string{"beep.wav", "beep.wav"},
	})
	c := s.ended(id)
	s.expect(c, c.Outcome == engine.OutcomeCompleted && c.HangupBy == engine.HangupTimeLimit, "want completed by the time limit")
	s.expect(c, slices.Equal(c.AlertsPlayed, []int{1, 2}), "alerts played %v", c.AlertsPlayed)
	s.expect(c, len(c.MediaErrors) == 0, "media errors %v", c.MediaErrors)
}

// seedGroup stores agents with the given numbers (ag1, ag2, …) and group
// g of them, round-robin.
func (s *suite) seedGroup(sticky bool, agentNumbers ...string) {
	s.t.Helper()
	g := &engine.Group{Tenant: tenant, ID: "g", Name: "G", Distribution: "round_robin", Sticky: sticky}
	for i, n := range agentNumbers {
		a := &engine.Agent{Tenant: tenant, ID: fmt.Sprintf("ag%d", i+1), Name: fmt.Sprintf("Agent %d", i+1), Numbers: []string{n}, WebLogin: true, CallLogin: true}
		if err := s.st.PutAgent(s.ctx, a); err != nil {
			s.t.Fatal(err)
		}
		g.Members = append(g.Members, engine.Member{AgentID: a.ID, Priority: i + 1})
	}
	if err := s.st.PutGroup(s.ctx, g); err != nil {
		s.t.Fatal(err)
	}
}

// agentOf is the agent who answered a side.
func agentOf(c *engine.Call, side engine.SideName) string {
	if l := answeredLeg(c, side); l != nil {
		return l.AgentID
	}
	return ""
}

// A group's calls go round its members.
func groupRoundRobin(t *testing.T, s *suite) {
	s.seedGroup(false, "5600011", "5600012")
	var got []string
	for i := range 3 {
		id := s.originate(engine.CallRequest{
			From:            engine.SideRequest{Type: engine.TargetGroup, Values: []string{"g"}, Strategy: dialer.OneByOne, RingTime: 10},
			To:              numbers(dialer.OneByOne, 10, 0, fmt.Sprintf("560000%d", i+1)),
			TimeLimit:       1,
			TimeLimitHangup: true,
		})
		c := s.ended(id)
		s.expect(c, c.Outcome == engine.OutcomeCompleted, "call %d not completed", i)
		got = append(got, agentOf(c, engine.SideFrom))
	}
	if got[0] == "" || got[0] == got[1] || got[2] != got[0] {
		t.Fatalf("agents %v: want round-robin over ag1 and ag2", got)
	}
}

// A customer comes back to the agent they last talked to, even when the
// round-robin pointer says otherwise.
func sticky(t *testing.T, s *suite) {
	s.seedGroup(true, "5700011", "5700012")
	call := func(customer string) *engine.Call {
		id := s.originate(engine.CallRequest{
			From:            numbers(dialer.OneByOne, 10, 0, customer),
			To:              engine.SideRequest{Type: engine.TargetGroup, Values: []string{"g"}, Strategy: dialer.OneByOne, RingTime: 10},
			Sticky:          "yes",
			StickyTimeType:  "day",
			StickyTimeValue: 1,
			TimeLimit:       1,
			TimeLimitHangup: true,
		})
		return s.ended(id)
	}
	first := call("5700001")
	agent := agentOf(first, engine.SideTo)
	s.expect(first, agent != "", "nobody answered")
	again := call("5700001")
	l := answeredLeg(again, engine.SideTo)
	s.expect(again, l != nil && l.AgentID == agent && l.Routing == "sticky hit", "the customer reached %v, want %s by a sticky hit", l, agent)
}

// record=yes records the bridge; the recording is a WAV file the backend
// keeps under the name the engine gave it.
func recording(t *testing.T, s *suite) {
	id := s.originate(engine.CallRequest{
		From:   numbers(dialer.OneByOne, 10, 0, "5800001"),
		To:     numbers(dialer.OneByOne, 10, 0, "5800002"),
		Record: true,
	})
	s.bridged(id)
	time.Sleep(300 * time.Millisecond) // some conversation to record; not a timing assertion
	if err := s.h.Hangup(s.ctx, "5800002"); err != nil {
		t.Fatal(err)
	}
	c := s.ended(id)
	s.expect(c, c.RecordingURL != "", "no recording URL")
	s.expect(c, len(c.MediaErrors) == 0, "media errors %v", c.MediaErrors)
	var wav []byte
	deadline := time.Now().Add(bound)
	for {
		b, err := s.h.Recording(s.ctx, tenant+"/"+id)
		if err == nil && len(b) > 44 {
			wav = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording %s/%s: %v (%d bytes)", tenant, id, err, len(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if string(wav[:4]) != "RIFF" || string(wav[8:12]) != "WAVE" {
		t.Fatalf("recording is not a WAV file: % x", wav[:12])
	}
}

// Keys a party presses are kept on its leg; keys sent to a leg reach its
// far end.
func dtmf(t *testing.T, s *suite) {
	id := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 10, 0, "5900001"),
		To:   numbers(dialer.OneByOne, 10, 0, "5900002"),
	})
	c := s.bridged(id)
	if err := s.h.Press(s.ctx, "5900001", "12#"); err != nil {
		t.Fatal(err)
	}
	s.waitFor(id, "the from party's keys on its leg", func(c *engine.Call) bool {
		l := answeredLeg(c, engine.SideFrom)
		return l != nil && l.DTMF == "12#"
	})
	to := answeredLeg(c, engine.SideTo)
	s.expect(c, to != nil, "no answered to leg")
	if err := s.e.SendDTMF(s.ctx, tenant, id, to.ID, "34*"); err != nil {
		t.Fatalf("SendDTMF: %v", err)
	}
	// The from party's own keys may reach the to party first (the native
	// relay passes RFC 4733 events on); the suite requires neither way.
	deadline := time.Now().Add(bound)
	for !strings.HasSuffix(s.h.Received("5900002"), "34*") {
		if time.Now().After(deadline) {
			t.Fatalf("the to party received %q, want it to end with 34*", s.h.Received("5900002"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.e.Hangup(s.ctx, tenant, id); err != nil {
		t.Fatal(err)
	}
	c = s.ended(id)
	s.expect(c, c.Outcome == engine.OutcomeCompleted && c.HangupBy == engine.HangupAPI, "want completed, hung up by the API")
}

// The from party hangs up the bridged call.
func hangupByFrom(t *testing.T, s *suite) {
	id := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 10, 0, "6000001"),
		To:   numbers(dialer.OneByOne, 10, 0, "6000002"),
	})
	s.bridged(id)
	if err := s.h.Hangup(s.ctx, "6000001"); err != nil {
		t.Fatal(err)
	}
	c := s.ended(id)
	s.expect(c, c.Outcome == engine.OutcomeCompleted && c.HangupBy == engine.HangupFrom, "want completed, hung up by from")
	s.expect(c, c.TalkSeconds > 0, "no talk time")
}

// The API hangs up a call while its to side rings: the ringing leg is
// cancelled and the answered one hung up.
func hangupByAPI(t *testing.T, s *suite) {
	s.h.Far("6100002", Far{Action: NoAnswer})
	id := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 10, 0, "6100001"),
		To:   numbers(dialer.OneByOne, 30, 0, "6100002"),
	})
	s.waitFor(id, "the to side ringing", func(c *engine.Call) bool {
		for _, l := range c.Legs {
			if l.Side == engine.SideTo && l.State == engine.LegRinging {
				return true
			}
		}
		return !c.Live()
	})
	if err := s.e.Hangup(s.ctx, tenant, id); err != nil {
		t.Fatal(err)
	}
	c := s.ended(id)
	s.expect(c, c.HangupBy == engine.HangupAPI && c.BridgedAt == nil, "want ended by the API before a bridge")
	s.expect(c, slices.Equal(legs(c, engine.SideTo), []string{"6100002:canceled"}), "to legs %v", legs(c, engine.SideTo))
}
