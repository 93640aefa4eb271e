package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/dialer"
)

// callRun is one live call: the goroutine that drives it and the record it
// keeps. Only the run goroutine changes the call's own fields; legs are
// also changed by dialing goroutines, always under mu.
type callRun struct {
	e   *Engine
	log *slog.Logger

	mu   sync.Mutex
	call *Call
	seq  int

	ctx      context.Context
	cancel   context.CancelCauseFunc
	stopOnce sync.Once
	stopBy   HangupBy // set once, before cancel

	// pending counts dialing goroutines still running after their wave
	// was decided (losers of a TO_ALL wave finishing their CANCEL).
	pending sync.WaitGroup
	done    chan struct{}

	// held are the agents this call has reserved (under heldMu);
	// answeredAgent the agent who answered each side, if any (under mu).
	heldMu        sync.Mutex
	held          map[string]bool
	answeredAgent map[SideName]string
	// sessions are the answered legs' sessions by leg id (under mu);
	// groupRecords is set when an answered leg came through a group that
	// records; audio is what the answered from party hears while the to
	// side is hunted (the run goroutine only).
	sessions map[string]Session
	// callerName is the display name the to side's legs are dialed with
	// (an inbound caller's; under mu).
	callerName   string
	groupRecords atomic.Bool
	audio        *partyAudio
	// stopLeases ends keepLeases; leasesDone closes when it has.
	stopLeases context.CancelFunc
	leasesDone chan struct{}

	// For the Observer: started is when Originate was entered; fromAnswered
	// (under mu) when the from side answered; fromSent and toSent are set
	// by each side's first attempt to reach the wire; endObserved once
	// CallEnded was told (the run goroutine only).
	started          time.Time
	fromAnswered     time.Time
	fromSent, toSent atomic.Bool
	endObserved      bool

	// Batched writes (persist.go). flushMu serialises the writes; the
	// rest is under mu: what the next write carries, the timer that
	// bounds its wait, and final once the final record took over.
	flushMu       sync.Mutex
	callDirty     bool
	dirtyLegs     []*Leg
	pendingEvents []Event
	flushTimer    *time.Timer
	final         bool
	// logEvents: the call's events go to the event log (Options.LogEvents).
	logEvents bool
}

func newCallRun(e *Engine, c *Call) *callRun {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &callRun{
		e:      e,
		log:    e.log.With("call_id", c.ID),
		call:   c,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),

		held:          map[string]bool{},
		answeredAgent: map[SideName]string{},
		sessions:      map[string]Session{},
		leasesDone:    make(chan struct{}),
	}
}

// stop ends the call from outside (API, shutdown). Idempotent: the first
// caller names who hung up.
func (r *callRun) stop(by HangupBy, cause error) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopBy = by
		r.mu.Unlock()
		r.cancel(cause)
	})
}

func (r *callRun) stoppedBy() HangupBy {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopBy
}

// run drives the call from the first ring to the final record with body
// (clickToCall, or inbound). A call always ends with a record, whatever
// path it takes out.
func (r *callRun) run(body func()) {
	// Forgotten before done closes: once Wait returns, the engine no
	// longer knows the call as live.
	defer close(r.done)
	defer r.e.forget(r.call.ID)
	defer r.cancel(ErrCallStopped)
	defer func() {
		// A bug must not cost the record: end the call as failed.
		if p := recover(); p != nil {
			r.log.Error("call goroutine panicked", "panic", p, "stack", string(debug.Stack()))
			r.cancel(ErrCallStopped)
			r.end(OutcomeFailed, HangupSystem, fmt.Sprintf("internal error: %v", p))
		}
	}()
	leaseCtx, stopLeases := context.WithCancel(r.ctx)
	r.stopLeases = stopLeases
	go r.keepLeases(leaseCtx)
	body()
}

// clickToCall hunts the from side, then connects it to the to side.
func (r *callRun) clickToCall() {
	from, fromLeg := r.hunt(r.ctx, SideFrom, r.call.Request.From, nil)
	if from == nil {
		if by := r.stoppedBy(); by != "" {
			r.end(OutcomeCanceled, by, "stopped while dialing from")
		} else {
			r.end(OutcomeFromUnanswered, HangupSystem, "nobody on the from side answered")
		}
		return
	}
	now := r.e.opt.Now().UTC()
	r.setCall("", func(c *Call) { c.State, c.AnswerAt = StateDialingTo, &now })
	r.connect(from, fromLeg)
}

// connect hunts the to side for the answered from party, bridges them and
// ends the call when the conversation is over.
func (r *callRun) connect(from Session, fromLeg *Leg) {
	req := r.call.Request
	// While to rings, from may hang up: that stops the to hunt at once.
	toCtx, cancelTo := context.WithCancelCause(r.ctx)
	defer cancelTo(nil)
	go func() {
		select {
		case <-from.Context().Done():
			cancelTo(errFromHungUp)
		case <-toCtx.Done():
		}
	}()
	r.audio = r.newPartyAudio(from)
	r.audio.ringing()
	to, toLeg := r.hunt(toCtx, SideTo, req.To, from)
	r.audio.stop()
	if to == nil {
		// Read why the hunt ended before hanging up from, whose end would
		// otherwise look like from hanging up.
		fromHungUp := context.Cause(toCtx) == errFromHungUp
		r.hangup(from, ErrCallStopped)
		r.recordMedia(fromLeg, from)
		switch {
		case fromHungUp:
			r.end(OutcomeFromHungUp, HangupFrom, "from hung up while to was ringing")
		case r.stoppedBy() != "":
			r.end(OutcomeCanceled, r.stoppedBy(), "stopped while dialing to")
		default:
			r.end(OutcomeToUnanswered, HangupSystem, "nobody on the to side answered")
		}
		return
	}
	cancelTo(nil)
	end := r.talk(from, to)
	r.recordMedia(fromLeg, from)
	r.recordMedia(toLeg, to)
	r.end(end.outcome, end.by, end.reason)
}

var errFromHungUp = errors.New("from hung up")

// talk bridges the two answered parties and waits for the end; both are
// hung up when it returns. A stop or a hang-up that raced to's answer
// ends the call without a bridge, recorded as what it was.
func (r *callRun) talk(from, to Session) ending {
	defer r.hangup(to, ErrCallStopped)
	defer r.hangup(from, ErrCallStopped)

	if e, ok := r.endedBeforeBridge(from, to); ok {
		return e
	}
	bridge, err := r.e.backend.Bridge(from, to)
	if err != nil {
		if e, ok := r.endedBeforeBridge(from, to); ok {
			return e
		}
		r.log.Error("bridge failed", "err", err)
		return ending{OutcomeFailed, HangupSystem, "bridge failed: " + err.Error()}
	}
	defer bridge.Close()
	bridged := time.Now()
	now := r.e.opt.Now().UTC()
	url := r.startRecording(bridge)
	r.setCall(EventBridged, func(c *Call) {
		c.State, c.BridgedAt, c.RecordingURL, c.Bridge = StateBridged, &now, url, handleOf(bridge)
	})
	return r.converse(from, to, bridged, newAlertSchedule(r.call.Request))
}

// converse waits for the end of a bridged conversation that began at
// bridged (on this clock): a party hanging up, the time limit, a stop,
// with the alerts still due played on the way.
func (r *callRun) converse(from, to Session, bridged time.Time, alerts *alertSchedule) ending {
	var limit <-chan time.Time
	if tl := r.call.Request.TimeLimit; tl > 0 && r.call.Request.TimeLimitHangup {
		t := time.NewTimer(time.Until(bridged.Add(time.Duration(tl) * time.Second)))
		defer t.Stop()
		limit = t.C
	}
	for {
		var alert <-chan time.Time
		t := alerts.timer(bridged)
		if t != nil {
			alert = t.C
		}
		var by HangupBy
		var reason string
		select {
		case <-alert:
			mark, id := alerts.take()
			r.playAlert(mark, id, from, to)
			continue
		case <-from.Context().Done():
			by, reason = partyEnded(HangupFrom, from)
		case <-to.Context().Done():
			by, reason = partyEnded(HangupTo, to)
		case <-limit:
			by, reason = HangupTimeLimit, fmt.Sprintf("time limit of %d s reached", r.call.Request.TimeLimit)
		case <-r.ctx.Done():
			by, reason = r.stoppedBy(), context.Cause(r.ctx).Error()
		}
		if t != nil {
			t.Stop()
		}
		return ending{OutcomeCompleted, by, reason}
	}
}

// resume carries on an adopted bridged call (nodes.go) to its end, as
// talk would have: the time limit and the alerts not yet due count from
// the bridge, on the record's clock.
func (r *callRun) resume(from, to Session, bridge Bridge, fromLeg, toLeg *Leg) {
	end := func() ending {
		defer r.hangup(to, ErrCallStopped)
		defer r.hangup(from, ErrCallStopped)
		defer bridge.Close()
		elapsed := r.e.opt.Now().Sub(*r.call.BridgedAt)
		alerts := newAlertSchedule(r.call.Request)
		alerts.skip(r.call.AlertsPlayed, elapsed)
		return r.converse(from, to, time.Now().Add(-elapsed), alerts)
	}()
	r.recordMedia(fromLeg, from)
	r.recordMedia(toLeg, to)
	r.end(end.outcome, end.by, end.reason)
}

// partyEnded says who ended a bridged call when one party's session
// ended: the party itself (a BYE), or the engine when the party's media
// died. A session that ended for another reason the backend gives (an
// Asterisk channel found gone after the event connection came back, the
// backend closed) keeps that reason in the record: the party's side
// ended, but the record must not claim more than is known.
func partyEnded(party HangupBy, s Session) (HangupBy, string) {
	switch cause := context.Cause(s.Context()); {
	case errors.Is(cause, ErrMediaTimeout):
		return HangupSystem, fmt.Sprintf("%s: %v", party, cause)
	case cause != nil && !errors.Is(cause, ErrRemoteHangup) && !errors.Is(cause, context.Canceled):
		return party, fmt.Sprintf("%s hung up: %v", party, cause)
	}
	return party, string(party) + " hung up"
}

// ending is how a call ended, decided before the final record is written.
type ending struct {
	outcome Outcome
	by      HangupBy
	reason  string
}

// endedBeforeBridge reports how the call ended when a party or a stop got
// there before the bridge.
func (r *callRun) endedBeforeBridge(from, to Session) (ending, bool) {
	switch {
	case r.ctx.Err() != nil:
		return ending{OutcomeCanceled, r.stoppedBy(), "stopped as to answered"}, true
	case from.Context().Err() != nil:
		return ending{OutcomeFromHungUp, HangupFrom, "from hung up as to answered"}, true
	case to.Context().Err() != nil:
		return ending{OutcomeToUnanswered, HangupTo, "to hung up as it answered"}, true
	}
	return ending{}, false
}

// recordMedia copies a leg's media counters into its record.
func (r *callRun) recordMedia(leg *Leg, s Session) {
	mc, ok := s.(MediaCounter)
	if !ok {
		return
	}
	st := mc.MediaStats()
	r.mu.Lock()
	leg.Media = &st
	r.mu.Unlock()
}

// hangup tears a session down on a context that outlives the call's own,
// with a deadline, so a stopped call still sends its BYEs.
func (r *callRun) hangup(s Session, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.e.opt.HangupTimeout)
	defer cancel()
	if err := s.Hangup(ctx, cause); err != nil {
		r.log.Debug("hangup", "err", err)
	}
}

// hunt rings one side and returns the first session that answered and
// its leg, or nil when nobody did or ctx ended. Numbers and agents are
// hunted wave by wave (dialer.Plan); a group by its distribution
// (huntGroup).
func (r *callRun) hunt(ctx context.Context, side SideName, sr SideRequest, peer Session) (Session, *Leg) {
	if sr.Type == TargetGroup {
		return r.huntGroup(ctx, side, sr, peer)
	}
	waves := dialer.Plan(dialer.Side{
		Targets:  sr.Values,
		Strategy: sr.Strategy,
		RingTime: time.Duration(sr.RingTime) * time.Second,
		Retries:  sr.RetryCount,
	})
	for _, w := range waves {
		if ctx.Err() != nil {
			return nil, nil
		}
		var targets []dialTarget
		for _, value := range w.Targets {
			if sr.Type == TargetAgent {
				if t, ok := r.offerAgent(ctx, side, sr, w, value, "", "requested agent"); ok {
					targets = append(targets, t)
				}
				continue
			}
			targets = append(targets, dialTarget{target: value, number: value, callerID: r.callerID(side, sr, nil)})
		}
		if len(targets) == 0 {
			continue
		}
		if s, leg := r.wave(ctx, side, sr, w, targets, peer); s != nil {
			return s, leg
		}
	}
	return nil, nil
}

type dialResult struct {
	leg     *Leg
	session Session
	err     error
	at      time.Time // when Dial returned
}

// wave rings a wave's targets together. The first answer wins; the others
// are cancelled at once and finish in the background, and a session that
// answers after the winner is hung up (ACK then BYE at the SIP level).
func (r *callRun) wave(ctx context.Context, side SideName, sr SideRequest, w dialer.Wave, targets []dialTarget, peer Session) (Session, *Leg) {
	waveCtx, cancelWave := context.WithCancelCause(ctx)
	ringCtx, cancelRing := context.WithTimeoutCause(waveCtx, w.RingTime, ErrRingTimeout)
	results := make(chan dialResult, len(targets))
	for _, t := range targets {
		leg := r.newLeg(side, sr, t, w, LegDialing, "")
		r.pending.Add(1)
		go func() {
			defer r.pending.Done()
			s, err := r.dial(ringCtx, leg, peer)
			at := time.Now()
			if err != nil && t.agent != nil {
				r.release(t.agent.ID, false)
			}
			results <- dialResult{leg: leg, session: s, err: err, at: at}
		}()
	}

	var winner Session
	var winnerLeg *Leg
	remaining := len(targets)
	// Collect results until one answers, all have failed, or the ring
	// time is over: then the hunt moves on at once, and attempts still
	// cancelling (a CANCEL waits for its 487, up to 32 s) finish in the
	// background.
collect:
	for remaining > 0 && winner == nil {
		select {
		case res := <-results:
			remaining--
			if res.err == nil {
				winner, winnerLeg = res.session, res.leg
				cancelWave(ErrLostRace)
				r.legAnswered(res.leg, res.at, res.session)
				r.answered(res.leg, res.session)
				continue
			}
			r.legFailed(ringCtx, res.leg, res.err, w.RingTime)
		case <-ringCtx.Done():
			break collect
		}
	}
	if remaining == 0 {
		cancelRing()
		cancelWave(nil)
		return winner, winnerLeg
	}
	// Losers still cancelling: record them as they finish without holding
	// the winner back.
	r.pending.Add(1)
	go func() {
		defer r.pending.Done()
		defer cancelRing()
		defer cancelWave(nil)
		for ; remaining > 0; remaining-- {
			res := <-results
			if res.err == nil {
				r.hangup(res.session, ErrLostRace)
				reason := "answered after another leg had won; released"
				if winner == nil {
					reason = "answered after its ring time; released"
				}
				r.endLeg(res.leg, DispCanceled, 0, reason)
				if res.leg.AgentID != "" {
					r.release(res.leg.AgentID, false)
				}
				continue
			}
			r.legFailed(ringCtx, res.leg, res.err, w.RingTime)
		}
	}()
	return winner, winnerLeg
}

// dial places one leg through the backend, recording its progress.
func (r *callRun) dial(ctx context.Context, leg *Leg, peer Session) (Session, error) {
	req := DialRequest{CallID: leg.CallID, LegID: leg.ID, Number: leg.Number, CallerID: leg.CallerID, Peer: peer}
	if leg.Side == SideTo {
		r.mu.Lock()
		req.CallerName = r.callerName
		r.mu.Unlock()
	}
	if _, plays := peer.(Player); plays && leg.Side == SideTo && r.call.Request.RingTone != "" {
		req.NoEarlyMedia = true // from hears the ringTone instead
	}
	return r.e.backend.Dial(ctx, req, func(p Progress) {
		if p == ProgressSent {
			r.dialSent(leg.Side, time.Now())
			return
		}
		if p != ProgressRinging {
			return
		}
		r.updateLeg(leg, EventLegRinging, func(l *Leg) bool {
			if l.State != LegDialing {
				return false
			}
			now := r.e.opt.Now().UTC()
			l.State, l.RingingAt = LegRinging, &now
			return true
		})
	})
}

// newLeg adds an attempt to the record: a leg about to be dialed
// (LegDialing), or one that was only considered (LegEnded, skipped, with
// reason).
func (r *callRun) newLeg(side SideName, sr SideRequest, t dialTarget, w dialer.Wave, state LegState, reason string) *Leg {
	r.mu.Lock()
	r.seq++
	now := r.e.opt.Now().UTC()
	leg := &Leg{
		ID:         fmt.Sprintf("%s-%d", r.call.ID, r.seq),
		CallID:     r.call.ID,
		Seq:        r.seq,
		Side:       side,
		TargetType: sr.Type,
		Target:     t.target,
		GroupID:    t.groupID,
		Routing:    t.routing,
		Number:     t.number,
		CallerID:   t.callerID,
		Inbound:    t.inbound,
		Round:      w.Round,
		Step:       w.Step,
		State:      state,
		Reason:     reason,
		CreatedAt:  now,
	}
	if t.agent != nil {
		leg.AgentID, leg.AgentName = t.agent.ID, t.agent.Name
	}
	ev := EventLegDialing
	switch state {
	case LegEnded:
		leg.Disposition, leg.EndedAt, ev = DispSkipped, &now, EventLegEnded
	case LegRinging: // an inbound caller, waiting for the answer
		leg.RingingAt, ev = &now, EventLegRinging
	}
	r.call.Legs = append(r.call.Legs, leg)
	r.queueLocked(leg, r.legEvent(ev, leg, now))
	writeNow := r.scheduleLocked()
	r.mu.Unlock()
	if writeNow {
		r.flush()
	}
	return leg
}

// legAnswered records the winner of a wave, which answered at at.
func (r *callRun) legAnswered(leg *Leg, at time.Time, s Session) {
	handle := handleOf(s)
	r.mu.Lock()
	if leg.AgentID != "" {
		r.answeredAgent[leg.Side] = leg.AgentID
	}
	if leg.Side == SideFrom {
		r.fromAnswered = at
	}
	r.mu.Unlock()
	r.updateLeg(leg, EventLegAnswered, func(l *Leg) bool {
		now := r.e.opt.Now().UTC()
		l.State, l.Disposition, l.SIPCode, l.AnsweredAt, l.Channel = LegAnswered, DispAnswered, 200, &now, handle
		return true
	})
}

// legFailed records why an attempt ended. The engine knows why it
// cancelled a leg (ring time, lost race, call stopped); the backend knows
// what the far end said. The cause of the ring context decides between a
// no-answer and a cancel when the backend reports a cancellation.
func (r *callRun) legFailed(ringCtx context.Context, leg *Leg, err error, ringTime time.Duration) {
	var de *DialError
	if !errors.As(err, &de) {
		de = &DialError{Disposition: DispFailed, Err: err}
	}
	disp, reason := de.Disposition, de.Reason
	if reason == "" && de.Err != nil {
		reason = de.Err.Error()
	}
	if disp == DispCanceled || disp == DispNoAnswer {
		switch cause := context.Cause(ringCtx); {
		case errors.Is(cause, ErrRingTimeout):
			disp, reason = DispNoAnswer, fmt.Sprintf("no answer within %s", ringTime)
		case errors.Is(cause, ErrLostRace):
			disp, reason = DispCanceled, "cancelled: another leg answered first"
		case cause != nil && disp == DispCanceled:
			reason = "cancelled: " + cause.Error()
		}
	}
	r.endLeg(leg, disp, de.SIPCode, reason)
}

func (r *callRun) endLeg(leg *Leg, disp Disposition, code int, reason string) {
	r.updateLeg(leg, EventLegEnded, func(l *Leg) bool {
		if l.State == LegEnded {
			return false
		}
		now := r.e.opt.Now().UTC()
		l.State, l.Disposition, l.SIPCode, l.Reason, l.EndedAt = LegEnded, disp, code, reason, &now
		return true
	})
}

// updateLeg changes a leg under the call's lock and, when change reports a
// change, queues it for a write (leg progress: persist.go) and its event
// for after the write. Once the record is final a leg no longer changes.
func (r *callRun) updateLeg(leg *Leg, ev EventType, change func(*Leg) bool) {
	r.mu.Lock()
	if r.final || !change(leg) {
		r.mu.Unlock()
		return
	}
	r.queueLocked(leg, r.legEvent(ev, leg, r.e.opt.Now().UTC()))
	writeNow := r.scheduleLocked()
	r.mu.Unlock()
	if writeNow {
		r.flush()
	}
}

// setCall changes the call's own fields, a milestone: it is written at
// once with every change queued before it, then ev (when set) is
// published.
func (r *callRun) setCall(ev EventType, change func(*Call)) {
	r.mu.Lock()
	change(r.call)
	var e Event
	if ev != "" {
		e = Event{Type: ev, CallID: r.call.ID, Tenant: r.call.Tenant, Time: r.e.opt.Now().UTC(), Call: r.call.Clone()}
	}
	r.queueLocked(nil, e)
	r.mu.Unlock()
	r.flush()
}

// legEvent is the event announcing a leg's change. r.mu must be held.
func (r *callRun) legEvent(t EventType, l *Leg, at time.Time) Event {
	return Event{Type: t, CallID: l.CallID, Tenant: r.call.Tenant, Time: at, Leg: l.Clone()}
}

func (r *callRun) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.e.opt.StoreTimeout)
}

// end writes the final record. Legs still cancelling get a bounded wait;
// any still open after it are closed in the record, so the final record
// never shows a leg without an end.
func (r *callRun) end(outcome Outcome, by HangupBy, reason string) {
	waited := make(chan struct{})
	go func() { r.pending.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(r.e.opt.HangupTimeout):
		r.log.Warn("legs still cancelling at call end")
	}
	// No renewal may run once releases start.
	r.stopLeases()
	<-r.leasesDone
	r.releaseAll()

	// Held until the final record is written: a batched write still in
	// flight lands before it, none after it (persist.go).
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	now := r.e.opt.Now().UTC()
	for _, l := range r.call.Legs {
		if l.State == LegEnded {
			continue
		}
		if l.State == LegAnswered {
			l.Reason = string(by) + " ended the call"
		} else {
			l.Disposition, l.Reason = DispCanceled, "call ended while this leg was still being cancelled"
		}
		l.State, l.EndedAt = LegEnded, &now
	}
	finish(r.call, now, outcome, by, reason)
	// The final record carries what was still waiting for a write, the
	// end of every answered leg, the recording (the bridge, and with it
	// the recording, closed before end) and the end of the call.
	events := r.takeFinalLocked()
	var last []Event
	for _, l := range r.call.Legs {
		if l.Disposition == DispAnswered {
			last = append(last, r.legEvent(EventLegEnded, l, now))
		}
	}
	if r.call.RecordingURL != "" {
		last = append(last, Event{Type: EventRecordingReady, Time: now})
	}
	last = append(last, Event{Type: EventCallEnded, Time: now})
	for i := range last {
		r.call.stamp(&last[i])
	}
	snap := r.call.Clone()
	for i := range last {
		if last[i].Leg == nil {
			last[i].Call = snap
		}
	}
	events = append(events, last...)
	r.mu.Unlock()

	r.endCallWithRetry(snap, events)
	for _, ev := range events {
		r.e.events.publish(ev)
	}
	if !r.endObserved {
		r.endObserved = true
		r.e.opt.Observer.CallEnded(snap)
	}
	r.log.Info("call ended", "outcome", outcome, "hangup_by", by, "reason", reason,
		"legs", len(snap.Legs), "talk_seconds", snap.TalkSeconds)
}

// endCallWithRetry writes the final record, retrying with jittered
// exponential backoff: the final record is the one write a user must never
// lose. Whole-record puts make the retries safe, and a store appends a
// write's events once however often it is repeated (they carry their Seq).
func (r *callRun) endCallWithRetry(c *Call, events []Event) {
	backoff := 100 * time.Millisecond
	giveUp := time.Now().Add(finalRecordPatience)
	for attempt := 1; ; attempt++ {
		ctx, cancel := r.storeCtx()
		err := r.e.store.EndCall(ctx, c, r.e.opt.Retention, r.logged(events...)...)
		cancel()
		r.e.storeErr("end_call", err)
		if err == nil {
			return
		}
		if time.Now().After(giveUp) {
			r.log.Error("store: final record lost after retries", "attempts", attempt, "err", err)
			return
		}
		r.log.Warn("store: end call, retrying", "attempt", attempt, "err", err)
		time.Sleep(backoff/2 + rand.N(backoff))
		backoff = min(2*backoff, 5*time.Second)
	}
}

// finalRecordPatience is how long a call keeps retrying its final record:
// long enough to ride out a Redis failover (Sentinel takes 5–30 s).
const finalRecordPatience = 2 * time.Minute

// finish sets the fields of an ended call.
func finish(c *Call, now time.Time, outcome Outcome, by HangupBy, reason string) {
	c.State, c.Outcome, c.HangupBy, c.Reason, c.EndedAt = StateEnded, outcome, by, reason, &now
	if c.BridgedAt != nil {
		c.RingSeconds = c.BridgedAt.Sub(c.CreatedAt).Seconds()
		c.TalkSeconds = now.Sub(*c.BridgedAt).Seconds()
	} else {
		c.RingSeconds = now.Sub(c.CreatedAt).Seconds()
	}
}

// handleOf is the backend's handle of a session or bridge, or "".
func handleOf(v any) string {
	if h, ok := v.(Handled); ok {
		return h.Handle()
	}
	return ""
}
