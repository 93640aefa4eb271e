package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

// fakeBackend answers by number, the way the demo phones do: a number's
// behaviour is looked up in script; unknown numbers answer at once. It
// stands in for telephony only; the SIP paths are tested end to end with
// sipp.
type fakeBackend struct {
	// release lets "hold" attempts finish their cancel; closing gate lets
	// "gate" attempts answer.
	release chan struct{}
	gate    chan struct{}

	// media makes Dial return mediaSessions and Bridge recordingBridges
	// (media_test.go); requests keeps every DialRequest.
	media    *mediaLog
	requests []engine.DialRequest

	mu     sync.Mutex
	script map[string]string // number → "answer", "busy", "noanswer", "late", "hold", "slow", "gate"
	dials  []string
	live   map[*fakeSession]bool
	bridge int
}

func newFakeBackend(script map[string]string) *fakeBackend {
	return &fakeBackend{script: script, live: make(map[*fakeSession]bool), release: make(chan struct{}), gate: make(chan struct{})}
}

type fakeSession struct {
	b      *fakeBackend
	number string
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func (s *fakeSession) Context() context.Context { return s.ctx }
func (s *fakeSession) Hangup(_ context.Context, cause error) error {
	s.cancel(cause)
	s.b.mu.Lock()
	delete(s.b.live, s)
	s.b.mu.Unlock()
	return nil
}

// remoteHangup simulates a BYE from the far end.
func (s *fakeSession) remoteHangup() { s.Hangup(context.Background(), engine.ErrRemoteHangup) }

func (b *fakeBackend) Ready() error { return nil }

func (b *fakeBackend) Bridge(a, c engine.Session) (engine.Bridge, error) {
	b.mu.Lock()
	b.bridge++
	b.mu.Unlock()
	if b.media != nil {
		return &recordingBridge{log: b.media}, nil
	}
	return nopBridge{}, nil
}

type nopBridge struct{}

func (nopBridge) Close() error { return nil }

func (b *fakeBackend) Dial(ctx context.Context, req engine.DialRequest, progress func(engine.Progress)) (engine.Session, error) {
	b.mu.Lock()
	b.dials = append(b.dials, req.Number)
	b.requests = append(b.requests, req)
	mode := b.script[req.Number]
	b.mu.Unlock()
	progress(engine.ProgressRinging)
	answer := func() (engine.Session, error) {
		sctx, cancel := context.WithCancelCause(context.Background())
		s := &fakeSession{b: b, number: req.Number, ctx: sctx, cancel: cancel}
		b.mu.Lock()
		b.live[s] = true
		b.mu.Unlock()
		if b.media != nil {
			return &mediaSession{fakeSession: s, log: b.media}, nil
		}
		return s, nil
	}
	switch mode {
	case "busy":
		return nil, &engine.DialError{Disposition: engine.DispBusy, SIPCode: 486}
	case "noanswer":
		<-ctx.Done()
		return nil, &engine.DialError{Disposition: engine.DispCanceled, SIPCode: 487, Err: context.Cause(ctx)}
	case "late": // the 200 crosses the CANCEL: the attempt answers anyway
		<-ctx.Done()
		return answer()
	case "hold": // the far end is slow to answer the CANCEL
		<-ctx.Done()
		<-b.release
		return nil, &engine.DialError{Disposition: engine.DispCanceled, SIPCode: 487, Err: context.Cause(ctx)}
	case "gate":
		select {
		case <-ctx.Done():
			return nil, &engine.DialError{Disposition: engine.DispCanceled, SIPCode: 487, Err: context.Cause(ctx)}
		case <-b.gate:
			return answer()
		}
	case "slow":
		select {
		case <-ctx.Done():
			return nil, &engine.DialError{Disposition: engine.DispCanceled, SIPCode: 487, Err: context.Cause(ctx)}
		case <-time.After(300 * time.Millisecond):
			return answer()
		}
	}
	return answer()
}

func (b *fakeBackend) sessions() []*fakeSession {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*fakeSession
	for s := range b.live {
		out = append(out, s)
	}
	return out
}

func (b *fakeBackend) dialed() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dials...)
}

func newEngine(t *testing.T, script map[string]string) (*engine.Engine, *fakeBackend, engine.Store) {
	t.Helper()
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	b := newFakeBackend(script)
	e := engine.New(st, b, engine.Options{NodeID: "test"})
	return e, b, st
}

func side(strategy dialer.Strategy, retries int, values ...string) engine.SideRequest {
	return engine.SideRequest{Type: engine.TargetNumber, Values: values, Strategy: strategy, RingTime: 1, RetryCount: retries}
}

// finished waits for the call to end on the engine and returns its record.
func finished(t *testing.T, e *engine.Engine, id string) *engine.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Wait(ctx, id); err != nil {
		t.Fatalf("call %s did not end: %v", id, err)
	}
	c, err := e.Get(ctx, "1", id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Live() {
		t.Fatalf("call %s still live after Wait: %+v", id, c)
	}
	return c
}

func dispositions(c *engine.Call) []string {
	var out []string
	for _, l := range c.Legs {
		out = append(out, string(l.Side)+":"+l.Number+":"+string(l.Disposition))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// waitBridged waits until the call is bridged and returns its sessions.
func waitBridged(t *testing.T, e *engine.Engine, b *fakeBackend, id string) []*fakeSession {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := e.Get(context.Background(), "1", id)
		if err == nil && c.State == engine.StateBridged {
			return b.sessions()
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("call %s never bridged", id)
	return nil
}

func TestOneByOneFallsThroughToTheNumberThatAnswers(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"1001": "busy", "1002": "noanswer", "2001": "busy"})
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001", "1002", "1003"),
		To:   side(dialer.OneByOne, 0, "2001", "2002"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range waitBridged(t, e, b, c.ID) {
		if s.number == "2002" {
			s.remoteHangup()
		}
	}
	got := finished(t, e, c.ID)
	want := []string{"from:1001:busy", "from:1002:noanswer", "from:1003:answered", "to:2001:busy", "to:2002:answered"}
	if !equal(dispositions(got), want) {
		t.Fatalf("legs = %v, want %v", dispositions(got), want)
	}
	if got.Outcome != engine.OutcomeCompleted || got.BridgedAt == nil || got.EndedAt == nil {
		t.Fatalf("record = %+v", got)
	}
	if got.HangupBy != engine.HangupTo {
		t.Fatalf("hangup_by = %q, want to", got.HangupBy)
	}
	if len(b.sessions()) != 0 {
		t.Fatalf("sessions left up: %d", len(b.sessions()))
	}
}

func TestToAllFirstAnswerWinsOthersCancelled(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"1001": "noanswer", "1003": "noanswer"})
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.ToAll, 0, "1001", "1002", "1003"),
		To:   side(dialer.OneByOne, 0, "2001"),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitBridged(t, e, b, c.ID)
	if err := e.Hangup(context.Background(), "1", c.ID); err != nil {
		t.Fatal(err)
	}
	got := finished(t, e, c.ID)
	for _, l := range got.Legs {
		want := engine.DispCanceled
		if l.Number == "1002" || l.Number == "2001" {
			want = engine.DispAnswered
		}
		if l.Disposition != want || l.State != engine.LegEnded {
			t.Errorf("leg %s: %s/%s, want ended/%s (%s)", l.Number, l.State, l.Disposition, want, l.Reason)
		}
	}
	if got.HangupBy != engine.HangupAPI {
		t.Fatalf("hangup_by = %q, want api", got.HangupBy)
	}
}

func TestRetriesRepeatTheWholeSide(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"1001": "busy", "1002": "busy"})
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 2, "1001", "1002"),
		To:   side(dialer.OneByOne, 0, "2001"),
	})
	got := finished(t, e, c.ID)
	if got.Outcome != engine.OutcomeFromUnanswered {
		t.Fatalf("outcome = %s", got.Outcome)
	}
	want := []string{"1001", "1002", "1001", "1002", "1001", "1002"}
	if !equal(b.dialed(), want) {
		t.Fatalf("dialed %v, want %v", b.dialed(), want)
	}
	for i, l := range got.Legs {
		if l.Round != i/2 {
			t.Errorf("leg %d round %d, want %d", i, l.Round, i/2)
		}
	}
}

func TestToUnansweredHangsUpFrom(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"2001": "busy"})
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001"),
		To:   side(dialer.OneByOne, 1, "2001"),
	})
	got := finished(t, e, c.ID)
	if got.Outcome != engine.OutcomeToUnanswered || got.BridgedAt != nil {
		t.Fatalf("record = %+v", got)
	}
	want := []string{"from:1001:answered", "to:2001:busy", "to:2001:busy"}
	if !equal(dispositions(got), want) {
		t.Fatalf("legs %v, want %v", dispositions(got), want)
	}
	if n := len(b.sessions()); n != 0 {
		t.Fatalf("from left up: %d sessions", n)
	}
}

func TestFromHangsUpWhileToRings(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"2001": "noanswer"})
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001"),
		To:   engine.SideRequest{Type: engine.TargetNumber, Values: []string{"2001"}, RingTime: 30},
	})
	deadline := time.Now().Add(10 * time.Second)
	for len(b.dialed()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.sessions()[0].remoteHangup()
	got := finished(t, e, c.ID)
	if got.Outcome != engine.OutcomeFromHungUp || got.HangupBy != engine.HangupFrom {
		t.Fatalf("record = %+v", got)
	}
	if l := got.Legs[1]; l.Disposition != engine.DispCanceled {
		t.Fatalf("to leg %+v", l)
	}
}

func TestTimeLimitHangsUp(t *testing.T) {
	e, b, _ := newEngine(t, nil)
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001"), To: side(dialer.OneByOne, 0, "2001"),
		TimeLimit: 1, TimeLimitHangup: true,
	})
	got := finished(t, e, c.ID)
	if got.HangupBy != engine.HangupTimeLimit || got.Outcome != engine.OutcomeCompleted {
		t.Fatalf("record = %+v", got)
	}
	if len(b.sessions()) != 0 {
		t.Fatal("sessions left up")
	}
}

func TestDrainEndsLiveCallsWithRecordAndRefusesNew(t *testing.T) {
	e, b, _ := newEngine(t, nil)
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001"), To: side(dialer.OneByOne, 0, "2001"),
	})
	waitBridged(t, e, b, c.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	e.Drain(ctx)
	if _, err := e.Originate(context.Background(), "1", engine.CallRequest{}); !errors.Is(err, engine.ErrDraining) {
		t.Fatalf("originate while draining: %v", err)
	}
	got, err := e.Get(context.Background(), "1", c.ID)
	if err != nil || got.Live() || got.HangupBy != engine.HangupSystem {
		t.Fatalf("after drain: %+v %v", got, err)
	}
}

func TestTenantIsolationAndHangupErrors(t *testing.T) {
	e, _, _ := newEngine(t, map[string]string{"1001": "busy"})
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "1001"), To: side(dialer.OneByOne, 0, "2001")})
	finished(t, e, c.ID)
	if _, err := e.Get(context.Background(), "2", c.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("other tenant get: %v", err)
	}
	if err := e.Hangup(context.Background(), "2", c.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("other tenant hangup: %v", err)
	}
	if err := e.Hangup(context.Background(), "1", c.ID); !errors.Is(err, engine.ErrCallEnded) {
		t.Fatalf("hangup ended call: %v", err)
	}
}

func TestRecoverEndsCallsLeftLiveByACrashedRun(t *testing.T) {
	st := memory.New(memory.Options{})
	defer st.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	c := &engine.Call{ID: "crashed1", Tenant: "1", Node: "n1", State: engine.StateBridged, CreatedAt: now, BridgedAt: &now}
	if err := st.CreateCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	st.SaveLeg(ctx, &engine.Leg{ID: "crashed1-1", CallID: "crashed1", Seq: 1, State: engine.LegAnswered, AnsweredAt: &now})
	e := engine.New(st, newFakeBackend(nil), engine.Options{NodeID: "n1"})
	n, err := e.Recover(ctx)
	if err != nil || n != 1 {
		t.Fatalf("recover = %d, %v", n, err)
	}
	got, _ := st.GetCall(ctx, "crashed1")
	if got.Live() || got.HangupBy != engine.HangupSystem || got.Legs[0].State != engine.LegEnded {
		t.Fatalf("recovered record = %+v", got)
	}
	if ids, _ := st.LiveCalls(ctx, "n1"); len(ids) != 0 {
		t.Fatalf("still live: %v", ids)
	}
}

func TestEventsFollowTheRecord(t *testing.T) {
	e, b, _ := newEngine(t, nil)
	events, unsubscribe := e.Subscribe("")
	defer unsubscribe()
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "1001"), To: side(dialer.OneByOne, 0, "2001")})
	waitBridged(t, e, b, c.ID)
	b.sessions()[0].remoteHangup()
	finished(t, e, c.ID)
	var types []string
	for len(types) == 0 || types[len(types)-1] != string(engine.EventCallEnded) {
		select {
		case ev := <-events:
			types = append(types, string(ev.Type))
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far %v", types)
		}
	}
	want := []string{"call.created", "leg.dialing", "leg.ringing", "leg.answered", "leg.dialing", "leg.ringing", "leg.answered", "call.bridged", "leg.ended", "leg.ended", "call.ended"}
	if !equal(types, want) {
		t.Fatalf("events %v\nwant   %v", types, want)
	}
}

func TestLateAnswerAfterTheWinnerIsReleased(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"1002": "late"})
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.ToAll, 0, "1001", "1002"), To: side(dialer.OneByOne, 0, "2001"), TimeLimit: 1, TimeLimitHangup: true,
	})
	got := finished(t, e, c.ID)
	l := got.Legs[1]
	if l.Number != "1002" || l.Disposition != engine.DispCanceled || !strings.Contains(l.Reason, "another leg had won") {
		t.Fatalf("late leg %+v", l)
	}
	if n := len(b.sessions()); n != 0 {
		t.Fatalf("%d sessions left up", n)
	}
}

func TestHuntMovesOnWhileACancelIsStillPending(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"1001": "hold"})
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001", "1002"), To: side(dialer.OneByOne, 0, "2001"),
	})
	// 1001's CANCEL is not answered until release is closed, yet the
	// hunt rings 1002 and the call is bridged.
	waitBridged(t, e, b, c.ID)
	close(b.release)
	e.Hangup(context.Background(), "1", c.ID)
	got := finished(t, e, c.ID)
	if d := got.Legs[0].Disposition; d != engine.DispNoAnswer {
		t.Fatalf("held leg %s (%s)", d, got.Legs[0].Reason)
	}
}

func TestStopWhileToAnswersIsRecordedAsCanceled(t *testing.T) {
	e, b, _ := newEngine(t, map[string]string{"2001": "late"})
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "1001"), To: engine.SideRequest{Type: engine.TargetNumber, Values: []string{"2001"}, RingTime: 30},
	})
	deadline := time.Now().Add(10 * time.Second)
	for len(b.dialed()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// The API hang-up cancels to, whose answer crosses the cancel.
	e.Hangup(context.Background(), "1", c.ID)
	got := finished(t, e, c.ID)
	if got.BridgedAt != nil || got.HangupBy != engine.HangupAPI || got.Outcome != engine.OutcomeCanceled {
		t.Fatalf("record %+v", got)
	}
	if n := len(b.sessions()); n != 0 {
		t.Fatalf("%d sessions left up", n)
	}
}
