package asterisk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/switchboard/switchboard/engine"
)

// DefaultOfferTimeout is how long an inbound call may stay offered to the
// handler, neither answered nor rejected, before the backend rejects it
// (480) itself.
const DefaultOfferTimeout = 60 * time.Second

// Causes of an InboundCall's Context, and errors of its methods.
var (
	// ErrCallerHungUp: the caller hung up before the answer.
	ErrCallerHungUp = errors.New("asterisk: the caller hung up before the answer")
	// ErrNotAnswered: the call stayed offered for DefaultOfferTimeout and
	// was rejected (480).
	ErrNotAnswered = errors.New("asterisk: inbound call neither answered nor rejected in time")
	// ErrRejected: the handler rejected the call.
	ErrRejected = errors.New("asterisk: inbound call rejected")
	// ErrAlreadyAnswered is returned by Answer, Reject and Ringing once
	// the call was answered or rejected (or while Answer is under way).
	ErrAlreadyAnswered = errors.New("asterisk: inbound call already answered or rejected")
)

var _ engine.InboundCall = (*inboundCall)(nil)

// OnInbound sets the function inbound calls are offered to: channels
// that enter the Stasis application from the dialplan (a StasisStart for
// a channel this backend did not create). It is called on a goroutine of
// its own for each call, which it answers or rejects. Without one, such
// channels are hung up (reason rejected: the caller gets 403); nil
// removes it.
func (b *Backend) OnInbound(h func(engine.InboundCall)) {
	if h == nil {
		b.onInbound.Store(nil)
		return
	}
	b.onInbound.Store(&h)
}

// stasisStart handles a StasisStart nobody registered for, on the reader
// goroutine: the channel's sink is registered before the next event is
// read, so none of its events is missed.
func (b *Backend) stasisStart(e *ari.StasisStart) {
	id := e.Channel.ID
	if len(e.Args) > 0 && (e.Args[0] == dialArg || e.Args[0] == snoopArg) {
		// One of ours whose attempt already ended (its Dial hung it up),
		// or a channel another Switchboard created in the same app.
		if b.isOrphan(id) {
			b.killOrphan(id)
		}
		b.stats.unrouted.Add(1)
		b.log.Debug("StasisStart of a channel no attempt waits for", "channel_id", id)
		return
	}
	var caller, callerName string
	if c := e.Channel.Caller; c != nil {
		caller, callerName = c.Number, c.Name
	}
	called := ""
	if d := e.Channel.Dialplan; d != nil {
		called = d.Exten
	}
	if len(e.Args) > 0 && e.Args[0] != "" {
		called = e.Args[0]
	}
	log := b.log.With("channel_id", id, "caller", caller, "called", called)
	h := b.onInbound.Load()
	if h == nil {
		b.stats.inboundRefused.Add(1)
		log.Warn("inbound call refused: no inbound handler is set")
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return
		}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			b.dropChannel(id, rejectReason(403))
		}()
		return
	}
	s, ok := b.newLeg(id, kindInbound, log)
	if !ok {
		return
	}
	s.created.Store(true)
	ic := &inboundCall{s: s, caller: caller, callerName: callerName, called: called}
	s.offer.Store(ic)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.wg.Add(1)
	b.mu.Unlock()
	b.stats.inbound.Add(1)
	ic.mu.Lock()
	ic.timer = time.AfterFunc(b.offerTimeout, ic.expire)
	ic.mu.Unlock()
	log.Info("inbound call")
	go func() {
		defer b.wg.Done()
		(*h)(ic)
	}()
}

// offerState is where an inbound call stands.
type offerState int

const (
	offerPending   offerState = iota // may be answered or rejected
	offerAnswering                   // Answer under way
	offerDone                        // answered, rejected or gone
)

// inboundCall is a channel offered to the handler (engine.InboundCall).
type inboundCall struct {
	s                          *Session
	caller, callerName, called string

	mu      sync.Mutex
	state   offerState
	ringing bool
	timer   *time.Timer
}

// Caller is the channel's caller ID number, CallerName its name.
func (ic *inboundCall) Caller() string     { return ic.caller }
func (ic *inboundCall) CallerName() string { return ic.callerName }

// Called is the first argument of Stasis() in the dialplan when given,
// else the channel's dialplan extension.
func (ic *inboundCall) Called() string { return ic.called }

// Context ends when the caller hangs up (ErrCallerHungUp), the call is
// rejected, not answered in time (ErrNotAnswered) or the backend closes
// (ErrClosed); once answered, it is the Session's Context.
func (ic *inboundCall) Context() context.Context { return ic.s.ctx }

// Ringing tells the caller its call rings (POST /channels/{id}/ring).
// Idempotent.
func (ic *inboundCall) Ringing() error {
	ic.mu.Lock()
	if ic.state != offerPending {
		ic.mu.Unlock()
		return ErrAlreadyAnswered
	}
	if ic.ringing {
		ic.mu.Unlock()
		return nil
	}
	ic.ringing = true
	ic.mu.Unlock()
	s := ic.s
	ctx, cancel := context.WithTimeout(s.ctx, s.b.cfg.requestTimeout())
	defer cancel()
	if err := s.b.c.do(ctx, http.MethodPost, esc("channels", s.id, "ring"), nil, nil, nil); err != nil {
		if s.ctx.Err() != nil {
			return fmt.Errorf("asterisk: ringing: call ended: %w", context.Cause(s.ctx))
		}
		return fmt.Errorf("asterisk: ringing: %w", err)
	}
	return nil
}

// Answer answers the channel (POST /channels/{id}/answer) and returns its
// Session. It fails without answering, leaving the call to be rejected,
// when the call or ctx already ended or Asterisk refuses.
func (ic *inboundCall) Answer(ctx context.Context) (engine.Session, error) {
	ic.mu.Lock()
	if ic.state != offerPending {
		ic.mu.Unlock()
		return nil, ErrAlreadyAnswered
	}
	ic.state = offerAnswering
	ic.mu.Unlock()
	s := ic.s
	fail := func(err error) (engine.Session, error) {
		ic.mu.Lock()
		if ic.state == offerAnswering {
			ic.state = offerPending
		}
		ic.mu.Unlock()
		return nil, err
	}
	if s.ctx.Err() != nil {
		return fail(fmt.Errorf("asterisk: answer: call ended: %w", context.Cause(s.ctx)))
	}
	if err := s.b.c.do(ctx, http.MethodPost, esc("channels", s.id, "answer"), nil, nil, nil); err != nil {
		if s.ctx.Err() != nil {
			return fail(fmt.Errorf("asterisk: answer: call ended: %w", context.Cause(s.ctx)))
		}
		return fail(fmt.Errorf("asterisk: answer: %w", err))
	}
	ic.mu.Lock()
	if ic.state != offerAnswering { // Close or the offer timeout took it meanwhile
		ic.mu.Unlock()
		return nil, fmt.Errorf("asterisk: answer: call ended: %w", context.Cause(s.ctx))
	}
	ic.state = offerDone
	if ic.timer != nil {
		ic.timer.Stop()
	}
	ic.mu.Unlock()
	s.up.Store(true)
	if s.ctx.Err() != nil {
		return nil, fmt.Errorf("asterisk: answer: call ended: %w", context.Cause(s.ctx))
	}
	s.log.Info("inbound call answered")
	return s, nil
}

// Reject refuses the call: the channel is hung up with the reason
// rejectReason maps code to, so the caller gets that status or the
// nearest Asterisk sends.
func (ic *inboundCall) Reject(code int, reason string) error {
	ic.mu.Lock()
	if ic.state != offerPending {
		ic.mu.Unlock()
		return ErrAlreadyAnswered
	}
	ic.mu.Unlock()
	ic.s.log.Info("inbound call rejected", "sip_code", code, "reason", reason)
	return ic.end(rejectReason(code), ErrRejected)
}

// expire rejects a call offered for too long.
func (ic *inboundCall) expire() {
	ic.mu.Lock()
	pending := ic.state == offerPending
	ic.mu.Unlock()
	if pending {
		ic.s.log.Warn("inbound call neither answered nor rejected in time; rejecting it")
		ic.end(rejectReason(480), ErrNotAnswered)
	}
}

// end takes the call out of the offer (whatever its state short of
// answered) and hangs its channel up with reason.
func (ic *inboundCall) end(reason string, cause error) error {
	ic.mu.Lock()
	if ic.state == offerDone {
		ic.mu.Unlock()
		return ErrAlreadyAnswered
	}
	ic.state = offerDone
	if ic.timer != nil {
		ic.timer.Stop()
	}
	ic.mu.Unlock()
	s := ic.s
	if !s.endLocal(cause) {
		return fmt.Errorf("asterisk: reject: call ended: %w", context.Cause(s.ctx))
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.b.cfg.requestTimeout())
	defer cancel()
	if err := s.b.c.hangup(ctx, s.id, reason); err != nil {
		s.b.orphan(s.id)
		return fmt.Errorf("asterisk: reject: %w", err)
	}
	return nil
}
