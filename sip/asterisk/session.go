package asterisk

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/switchboard/switchboard/engine"
)

var (
	_ engine.Session     = (*Session)(nil)
	_ engine.Player      = (*Session)(nil)
	_ engine.DTMFSession = (*Session)(nil)
)

// legKind says how the backend came to hold a channel.
type legKind int

const (
	kindDial    legKind = iota // originated by Dial
	kindInbound                // entered Stasis from the dialplan
	kindSnoop                  // a snoop channel of ours (Play with Mix)
)

// errDialEnded is the Context cause of a dialed channel that ended before
// it answered (Dial returns the DialError that says how).
var errDialEnded = errors.New("asterisk: dial ended before answer")

// Session is one channel this backend holds: a dialed leg (a Session
// once it answered, as Dial returns it), an inbound call (a Session once
// answered), or a snoop channel. One goroutine per channel consumes its
// events, in the order Asterisk sent them.
type Session struct {
	b    *Backend
	id   string
	kind legKind
	log  *slog.Logger
	mb   *mailbox

	ctx    context.Context
	cancel context.CancelCauseFunc

	created atomic.Bool // the channel exists on Asterisk (for reconcile)
	up      atomic.Bool // answered (dialed or snoop: in Stasis)
	ended   atomic.Bool
	local   atomic.Bool // ended by us

	answered chan struct{} // closed when a dialed or snoop channel enters Stasis
	ringing  chan struct{} // closed when a dialed channel first rings
	gone     chan struct{} // closed when the session ends, whoever ended it
	stop     chan struct{} // closed to stop the event loop
	stopOnce sync.Once

	mu         sync.Mutex
	cause      int
	techCause  int // chan_pjsip: the SIP status of the final response
	causeTxt   string
	dialStatus string
	hangupReq  bool
	isRinging  bool
	isAnswered bool

	onDTMF   atomic.Pointer[func(rune)]
	dtmfTurn chan struct{}
	playMu   sync.Mutex
	play     *playing                    // the Play under way, to preempt it
	offer    atomic.Pointer[inboundCall] // an inbound call's offer
}

// localEnd wakes the event loop after we ended the session.
type localEnd struct{}

// reconciled tells the event loop what a reconcile found of its channel.
type reconciled struct {
	present bool
	state   string
}

// newLeg registers a channel id with the router (before any request that
// may create it) and starts its event loop; false once the backend is
// closed.
func (b *Backend) newLeg(id string, kind legKind, log *slog.Logger) (*Session, bool) {
	s := &Session{
		b: b, id: id, kind: kind, log: log, mb: newMailbox(),
		answered: make(chan struct{}),
		ringing:  make(chan struct{}),
		gone:     make(chan struct{}),
		stop:     make(chan struct{}),
		dtmfTurn: make(chan struct{}, 1),
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, false
	}
	b.legs[id] = s
	b.router.add(rkey(ari.ChannelKey, id), s.mb)
	b.wg.Add(1)
	b.mu.Unlock()
	go s.loop()
	return s, true
}

// ChannelID is the ARI id of the session's channel.
func (s *Session) ChannelID() string { return s.id }

// Context is done when the channel ends: context.Cause is
// engine.ErrRemoteHangup when the far end hung up (or the channel left
// the application), ErrChannelGone when it was found gone after the event
// connection came back, the cause given to Hangup when we hung up,
// ErrClosed when the backend closed.
func (s *Session) Context() context.Context { return s.ctx }

// Hangup hangs the channel up (DELETE, reason normal), bounded by the
// request timeout even when ctx is already cancelled. Only the first call
// does anything; cause (ErrLocalHangup when nil) becomes the Context's
// cause. A channel already gone is not an error.
func (s *Session) Hangup(ctx context.Context, cause error) error {
	if cause == nil {
		cause = ErrLocalHangup
	}
	if !s.endLocal(cause) {
		return nil
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.b.cfg.requestTimeout())
	defer cancel()
	if err := s.b.c.hangup(hctx, s.id, "normal"); err != nil {
		s.log.Warn("hang-up failed", "cause", cause.Error(), "error", err)
		s.b.orphan(s.id)
		return err
	}
	s.log.Info("hung up", "cause", cause.Error())
	return nil
}

// endLocal ends the session by our decision; false if it had ended.
func (s *Session) endLocal(cause error) bool {
	if !s.ended.CompareAndSwap(false, true) {
		return false
	}
	s.local.Store(true)
	s.cancel(cause)
	close(s.gone)
	s.mb.put(localEnd{})
	return true
}

// endRemote ends the session because its channel ended; false if it had
// ended.
func (s *Session) endRemote(cause error) bool {
	if !s.ended.CompareAndSwap(false, true) {
		return false
	}
	s.cancel(cause)
	close(s.gone)
	return true
}

// remoteCause is the cause of an end we did not ask for.
func (s *Session) remoteCause() error {
	switch {
	case s.up.Load() || s.kind == kindSnoop:
		return engine.ErrRemoteHangup
	case s.kind == kindInbound:
		return ErrCallerHungUp
	}
	return errDialEnded
}

func (s *Session) stopLoop() { s.stopOnce.Do(func() { close(s.stop) }) }

// loop consumes the channel's events until ChannelDestroyed, a reconcile
// that finds it gone, the teardown time after we hung it up, or Close.
func (s *Session) loop() {
	defer s.b.wg.Done()
	defer s.forget()
	var teardown <-chan struct{}
	for {
		select {
		case <-s.mb.wake:
		case <-s.stop:
			return
		case <-teardown:
			return
		}
		for _, it := range s.mb.take() {
			if _, ok := it.(localEnd); ok && teardown == nil {
				tctx, cancel := context.WithTimeout(context.Background(), s.b.teardown)
				defer cancel()
				teardown = tctx.Done()
				continue
			}
			if s.handle(it) {
				return
			}
		}
	}
}

func (s *Session) forget() {
	s.b.router.remove(rkey(ari.ChannelKey, s.id), s.mb)
	s.b.mu.Lock()
	if s.b.legs[s.id] == s {
		delete(s.b.legs, s.id)
	}
	s.b.mu.Unlock()
	// A session whose loop stops (Close) ends with it.
	s.endRemote(ErrClosed)
}

// handle applies one event; true when the channel is gone for good.
func (s *Session) handle(it any) bool {
	switch e := it.(type) {
	case *ari.StasisStart:
		gaveUp := s.local.Load() // before the answer is seen, not after
		if s.kind != kindInbound {
			s.markAnswered()
		}
		if gaveUp {
			// Answered after we gave it up (an originate whose answer was
			// lost, a cancel that crossed the answer): hang it up again.
			s.b.orphan(s.id)
			s.b.killOrphan(s.id)
		}
	case *ari.ChannelStateChange:
		if e.Channel.State == "Ringing" && s.kind == kindDial {
			s.markRinging()
		}
	case *ari.Dial:
		if e.Peer.ID == s.id {
			s.mu.Lock()
			s.dialStatus = e.Dialstatus
			s.mu.Unlock()
			if e.Dialstatus == "RINGING" || e.Dialstatus == "PROGRESS" {
				s.markRinging()
			}
		}
	case *hangupEvent:
		if e.farEnd { // ChannelHangupRequest
			s.mu.Lock()
			if !e.soft() && e.cause != 0 {
				s.cause = e.cause
			}
			if e.techCause != 0 {
				s.techCause = e.techCause
			}
			s.hangupReq = true
			s.mu.Unlock()
			if s.kind != kindDial || s.up.Load() {
				s.endRemote(s.remoteCause())
			}
			return false
		}
		// ChannelDestroyed
		s.mu.Lock()
		s.cause, s.causeTxt = e.cause, e.causeTxt
		if e.techCause != 0 {
			s.techCause = e.techCause
		}
		s.mu.Unlock()
		s.endRemote(s.remoteCause())
		return true
	case *ari.StasisEnd:
		if s.kind != kindDial || s.up.Load() {
			s.mu.Lock()
			hungUp := s.hangupReq
			s.mu.Unlock()
			if s.endRemote(s.remoteCause()) && !hungUp {
				// It left the application without a hang-up: we have no
				// control of it any more, so it must not stay up.
				s.b.orphan(s.id)
				s.b.killOrphan(s.id)
			}
		}
	case *ari.ChannelDtmfReceived:
		if f := s.onDTMF.Load(); f != nil && s.up.Load() && !s.ended.Load() {
			for _, r := range e.Digit {
				(*f)(r)
				break
			}
		}
	case reconciled:
		if !e.present {
			if s.endRemote(ErrChannelGone) {
				s.b.stats.reconciled.Add(1)
				s.log.Warn("channel gone while the event connection was down")
			}
			return true
		}
		switch {
		case e.state == "Up" && s.kind == kindDial:
			s.markAnswered()
		case e.state == "Ringing" && s.kind == kindDial:
			s.markRinging()
		}
	}
	return false
}

func (s *Session) markAnswered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isAnswered {
		return
	}
	s.isAnswered = true
	s.up.Store(true)
	close(s.answered)
}

func (s *Session) markRinging() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isRinging {
		return
	}
	s.isRinging = true
	close(s.ringing)
}

// outcome is what the session knows of how a dial ended.
func (s *Session) outcome() dialOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := dialOutcome{sent: true, remote: !s.local.Load(), cause: s.cause, causeTxt: s.causeTxt, sipCode: s.techCause, dialStatus: s.dialStatus}
	if c := context.Cause(s.ctx); errors.Is(c, ErrChannelGone) || errors.Is(c, ErrClosed) {
		o.err = c
	}
	return o
}
