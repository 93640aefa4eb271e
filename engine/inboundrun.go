package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/ivr"
)

// Inbound calls.
//
// A backend offers a call a caller placed to a number that reached
// Switchboard from a trunk (the backend refuses other sources). Inbound
// finds the app that answers the number and runs the call:
//
//  1. The record is written (call.created: the spec's IN) before anything
//     else, with the caller's own leg (Inbound set; not a transfer
//     attempt), so a call that goes no further is still on record.
//  2. The app's caller lookup, if any, starts at once, beside the answer
//     and the IVR; routing waits for it, never beyond its timeout.
//  3. The call is answered, and the caller meets the app's flow: the IVR
//     (ivr.Machine: prompts, keys as RFC 4733 events, timeouts, retries),
//     or the app's direct route.
//  4. A route rings its group, agent or number exactly as a click-to-call
//     rings its to side (distribution, round-robin, sticky agents keyed by
//     the caller's number, the waiting line and its hold music, ring
//     time), presenting the caller's number and name; the caller hears the
//     app's ringTone (ringback by default) meanwhile. Then the two are
//     bridged, and the call ends as a click-to-call does.
//
// What the spec leaves open, decided after Asterisk and the hosted IVRs:
// an unknown number is refused with 404, a node that is draining or full
// with 503 (the trunk tries another node); the caller is answered before
// the IVR (prompts need media), and a direct route without a prompt is
// answered too, so the caller hears the ringback from Switchboard and the
// call's talk time starts at the bridge as for a click-to-call.

// Answering and lookup bounds.
const (
	// answerTimeout bounds the answer (a 200 OK until its ACK).
	answerTimeout = 40 * time.Second
	// defaultLookupTimeout bounds a caller lookup whose app sets none.
	defaultLookupTimeout = 1500 * time.Millisecond
	// defaultInboundRingTime is the ring time of a route whose app sets
	// none (the click-to-call default).
	defaultInboundRingTime = 20
)

// CallerLookup asks an app's caller lookup URL who a caller is: the
// callerInformation webhook. It returns within ctx's deadline.
type CallerLookup interface {
	LookupCaller(ctx context.Context, app *App, caller string) (*CallerInfo, error)
}

// Inbound answers a call a backend offers (cmd wires it to the backend).
// It returns once the call is refused or its goroutine started; the
// backend has handed the call over either way.
func (e *Engine) Inbound(ic InboundCall) {
	started := time.Now()
	called, caller := ic.Called(), ic.Caller()
	log := e.log.With("called", called, "caller", caller)
	if e.opt.Apps == nil {
		e.reject(ic, 404, "Not Found", log, "no apps configured")
		return
	}
	ctx, cancel := context.WithTimeout(ic.Context(), e.opt.StoreTimeout)
	app, err := e.opt.Apps.AppByNumber(ctx, called)
	cancel()
	switch {
	case errors.Is(err, ErrNotFound):
		e.reject(ic, 404, "Not Found", log, "no app answers the number")
		return
	case err != nil:
		e.reject(ic, 503, "Service Unavailable", log, "app lookup failed: "+err.Error())
		return
	}
	req := CallRequest{
		From:           SideRequest{Type: TargetNumber, Strategy: dialer.OneByOne},
		RingTone:       app.RingTone,
		TimeLimit:      app.TimeLimit,
		Record:         app.Record,
		StatusCallback: app.StatusCallback,
		// A caller routed to a group waits in its line for as long as the
		// group says (queue_timeout), as callers of a call centre do; a
		// click-to-call's request carries its own queueTimeout instead.
		QueueTimeout: queueTimeoutOfGroup,
	}
	if caller != "" {
		// An anonymous caller has no number to stick to an agent.
		req.From.Values = []string{caller}
	}
	if app.TimeLimit > 0 {
		req.TimeLimitHangup = true
	}
	if req.RingTone == "" {
		req.RingTone = inboundRingback
	}
	run, err := e.admit(ic.Context(), &Call{
		Tenant:    app.Tenant,
		Request:   req,
		Direction: DirectionInbound,
		App:       app.ID,
		Called:    called,
		Caller:    caller,
		State:     StateIVR,
	}, started)
	if err != nil {
		e.reject(ic, 503, "Service Unavailable", log, err.Error())
		return
	}
	go run.run(func() { run.inbound(ic, app) })
}

// inboundRingback is what an inbound caller hears while the route rings
// when the app names no ringTone: the built-in ringback announcement.
const inboundRingback = "ringback.wav"

func (e *Engine) reject(ic InboundCall, code int, reason string, log interface{ Info(string, ...any) }, why string) {
	log.Info("inbound call refused", "code", code, "why", why)
	if err := ic.Reject(code, reason); err != nil {
		e.log.Debug("inbound reject", "err", err)
	}
}

// inbound runs an admitted inbound call to its end.
func (r *callRun) inbound(ic InboundCall, app *App) {
	caller := r.call.Caller
	leg := r.newLeg(SideFrom, r.call.Request.From,
		dialTarget{target: caller, number: caller, callerID: caller, inbound: true},
		dialer.Wave{}, LegRinging, "")
	lookup := r.lookupCaller(app)

	from, err := r.answerInbound(ic, leg)
	if err != nil {
		r.endInbound(ic, leg, err)
		return
	}
	r.mu.Lock()
	r.sessions[leg.ID] = from
	r.mu.Unlock()
	digits := make(chan rune, 32)
	if d, ok := from.(DTMFSession); ok {
		d.OnDTMF(func(k rune) {
			r.dtmfReceived(leg, k)
			select {
			case digits <- k:
			default: // nobody collects keys now (or a flood): the record has them
			}
		})
	}

	action := ivr.Action{Type: ivr.Hangup}
	if app.Route != nil {
		action = *app.Route
	}
	if app.Flow != nil {
		var ok bool
		if action, ok = r.runIVR(from, app.Flow, digits); !ok {
			r.hangup(from, ErrCallStopped)
			r.recordMedia(leg, from)
			if by := r.stoppedBy(); by != "" {
				r.end(OutcomeCanceled, by, "stopped in the IVR")
			} else {
				r.end(OutcomeFromHungUp, HangupFrom, "the caller hung up in the IVR")
			}
			return
		}
	}
	if action.Prompt != "" && !r.playPrompt(from, action.Prompt) {
		r.hangup(from, ErrCallStopped)
		r.recordMedia(leg, from)
		r.end(OutcomeFromHungUp, HangupFrom, "the caller hung up during the prompt")
		return
	}
	var to SideRequest
	switch action.Type {
	case ivr.RouteGroup:
		to.Type = TargetGroup
	case ivr.RouteAgent:
		to.Type = TargetAgent
	case ivr.RouteNumber:
		to.Type = TargetNumber
	default: // play_hangup (its prompt played above), hangup
		r.hangup(from, ErrCallStopped)
		r.recordMedia(leg, from)
		r.end(OutcomeIVRHangup, HangupSystem, fmt.Sprintf("the flow hung up (%s)", action.Type))
		return
	}
	to.Values = []string{action.Target}
	to.Strategy = dialer.OneByOne
	to.RingTime = app.RingTime
	if to.RingTime <= 0 {
		to.RingTime = defaultInboundRingTime
	}
	to.CLI = caller // the agent sees the caller's number

	info := r.awaitLookup(lookup)
	r.mu.Lock()
	r.callerName = ic.CallerName()
	if info != nil && info.Name != "" {
		r.callerName = info.Name
	}
	r.mu.Unlock()
	r.setCall("", func(c *Call) {
		c.Request.To, c.CallerInfo, c.State = to, info, StateDialingTo
	})
	r.connect(from, leg)
}

// answerInbound answers the caller and records the answer. An error means
// the caller is not connected: gone, or the answer failed.
func (r *callRun) answerInbound(ic InboundCall, leg *Leg) (Session, error) {
	if err := ic.Ringing(); err != nil {
		r.log.Debug("inbound ringing", "err", err)
	}
	ctx, cancel := context.WithTimeout(r.ctx, answerTimeout)
	defer cancel()
	s, err := ic.Answer(ctx)
	if err != nil {
		return nil, err
	}
	at := time.Now()
	r.legAnswered(leg, at, s)
	now := r.e.opt.Now().UTC()
	r.setCall("", func(c *Call) { c.AnswerAt = &now })
	return s, nil
}

// endInbound ends a call whose caller was never connected.
func (r *callRun) endInbound(ic InboundCall, leg *Leg, err error) {
	switch {
	case ic.Context().Err() != nil:
		r.endLeg(leg, DispCanceled, 487, "the caller hung up before the answer")
		r.end(OutcomeFromHungUp, HangupFrom, "the caller hung up before the answer")
	case r.stoppedBy() != "":
		_ = ic.Reject(503, "Service Unavailable")
		r.endLeg(leg, DispCanceled, 503, "stopped before the answer")
		r.end(OutcomeCanceled, r.stoppedBy(), "stopped before the answer")
	default:
		_ = ic.Reject(500, "Server Internal Error")
		r.endLeg(leg, DispFailed, 0, "answer failed: "+err.Error())
		r.end(OutcomeFailed, HangupSystem, "answer failed: "+err.Error())
	}
}

// promptEnd reports that the prompt a Play step started has ended.
type promptEnd struct {
	id  int
	err error
}

// runIVR runs the caller through flow: one select loop that does what the
// Machine's steps say and reports what happens. It returns the action the
// caller left the flow with, or false when the caller hung up or the call
// was stopped.
func (r *callRun) runIVR(from Session, flow *ivr.Flow, digits <-chan rune) (ivr.Action, bool) {
	m := ivr.NewMachine(flow)
	ends := make(chan promptEnd, 1)
	stopPlay := func() {}
	defer func() { stopPlay() }()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var timeout <-chan time.Time

	step := m.Start(r.e.opt.Now())
	for {
		r.logIVR(step.Log)
		if step.StopPrompt {
			stopPlay()
		}
		switch step.Kind {
		case ivr.Play:
			stopPlay()
			timer.Stop()
			timeout = nil
			ctx, cancel := context.WithCancel(r.ctx)
			stopPlay = cancel
			id, prompt := step.PlayID, step.Prompt
			go func() {
				err := r.play(ctx, from, prompt)
				select {
				case ends <- promptEnd{id, err}:
				case <-ctx.Done():
					// Stopped: the Machine no longer waits for this one.
				}
			}()
		case ivr.Wait:
			timer.Reset(max(step.Until.Sub(r.e.opt.Now()), 0))
			timeout = timer.C
		case ivr.Done:
			return step.Action, true
		}

		select {
		case pe := <-ends:
			if pe.err != nil {
				r.mediaError("IVR prompt: %v", pe.err)
			}
			step = m.PromptDone(pe.id, r.e.opt.Now())
		case k := <-digits:
			step = m.Digit(k, r.e.opt.Now())
		case <-timeout:
			timeout = nil
			step = m.Timeout(r.e.opt.Now())
		case <-from.Context().Done():
			r.logIVR(m.Hangup(r.e.opt.Now()).Log)
			return ivr.Action{}, false
		case <-r.ctx.Done():
			return ivr.Action{}, false
		}
	}
}

// play plays a prompt to the caller once. A backend that cannot play, or
// an announcement it cannot find, is an error the IVR goes on after (as
// if the prompt had been heard).
func (r *callRun) play(ctx context.Context, s Session, prompt string) error {
	p, ok := s.(Player)
	if !ok {
		return fmt.Errorf("%s: the backend cannot play to this leg", prompt)
	}
	err := p.Play(ctx, Announcement{Tenant: r.call.Tenant, ID: prompt}, PlayOptions{})
	if err != nil && ctx.Err() == nil && s.Context().Err() == nil {
		return fmt.Errorf("%s: %w", prompt, err)
	}
	return nil
}

// playPrompt plays a route's prompt and reports whether the caller is
// still there.
func (r *callRun) playPrompt(s Session, prompt string) bool {
	if err := r.play(r.ctx, s, prompt); err != nil {
		r.mediaError("prompt: %v", err)
	}
	return s.Context().Err() == nil && r.ctx.Err() == nil
}

// logIVR appends the Machine's log entries to the record; they are
// written with the next write, like leg progress.
func (r *callRun) logIVR(entries []ivr.Entry) {
	if len(entries) == 0 {
		return
	}
	r.mu.Lock()
	if r.final {
		r.mu.Unlock()
		return
	}
	r.call.IVR = append(r.call.IVR, entries...)
	r.queueLocked(nil, Event{})
	writeNow := r.scheduleLocked()
	r.mu.Unlock()
	if writeNow {
		r.flush()
	}
}

// lookupCaller starts the app's caller lookup, if it has one; its answer
// (nil when it failed or said nothing) arrives on the channel.
func (r *callRun) lookupCaller(app *App) <-chan *CallerInfo {
	if app.CallerLookupURL == "" || r.e.opt.CallerLookup == nil || r.call.Caller == "" {
		return nil
	}
	timeout := defaultLookupTimeout
	if app.CallerLookupTimeoutMS > 0 {
		timeout = time.Duration(app.CallerLookupTimeoutMS) * time.Millisecond
	}
	out := make(chan *CallerInfo, 1)
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, timeout)
		defer cancel()
		info, err := r.e.opt.CallerLookup.LookupCaller(ctx, app, r.call.Caller)
		if err != nil {
			r.log.Info("caller lookup failed; routing without it", "err", err)
			info = nil
		}
		out <- info
	}()
	return out
}

// awaitLookup waits for the lookup's answer; the lookup's own timeout
// bounds the wait.
func (r *callRun) awaitLookup(lookup <-chan *CallerInfo) *CallerInfo {
	if lookup == nil {
		return nil
	}
	select {
	case info := <-lookup:
		return info
	case <-r.ctx.Done():
		return nil
	}
}
