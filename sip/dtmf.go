package sip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

var _ engine.DTMFSession = (*Session)(nil)

// ErrNoTelephoneEvent is returned by SendDTMF on a leg whose far end
// answered no telephone-event payload type: it cannot receive RFC 4733
// DTMF.
var ErrNoTelephoneEvent = errors.New("sip: the far end negotiated no telephone-event")

// Digits sent by SendDTMF: each lasts dtmfLength; between two, what the
// party heard before is heard again for dtmfPause.
const (
	dtmfLength = 100 * time.Millisecond
	dtmfPause  = 50 * time.Millisecond
)

// OnDTMF sets the function called with each key the party presses
// (engine.DTMFSession): RFC 4733 telephone-events of the payload type its
// SDP answer named, each press reported once however often its packets
// are repeated. It is called on the leg's RTP read goroutine and must
// return at once; nil stops the reports.
func (s *Session) OnDTMF(f func(digit rune)) {
	if f == nil {
		s.onDTMF.Store(nil)
		return
	}
	s.onDTMF.Store(&f)
}

// SendDTMF sends digits (0-9, *, #, A-D) to the party as RFC 4733 events
// (engine.DTMFSession), one after the other, and returns once the last
// one's end was sent. The events go out on the leg's one output stream:
// while a digit is sent, an announcement playing pauses (and resumes
// where it was) and relayed media is not sent. Calls on one leg take
// turns. An invalid string is an error at once, and so is a far end that
// negotiated no telephone-event (ErrNoTelephoneEvent). If ctx or the leg
// ends meanwhile, the digit being sent is ended at once and the cause is
// returned.
func (s *Session) SendDTMF(ctx context.Context, digits string) error {
	if !engine.ValidDTMF(digits) {
		return fmt.Errorf("sip: send dtmf: %q is not a string of DTMF keys (0-9, *, #, A-D)", digits)
	}
	if s.out.format.te == noTelephoneEvent {
		return ErrNoTelephoneEvent
	}
	if !s.out.format.valid {
		return fmt.Errorf("sip: send dtmf: the leg's codec %s is not G.711", s.codec.Name)
	}
	select {
	case s.dtmfTurn <- struct{}{}:
		defer func() { <-s.dtmfTurn }()
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.ctx.Done():
		return fmt.Errorf("sip: send dtmf: leg ended: %w", context.Cause(s.ctx))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i, d := range digits {
		if i > 0 {
			if err := s.wait(ctx, timer, dtmfPause); err != nil {
				return err
			}
		}
		if err := s.sendDigit(ctx, timer, d); err != nil {
			return err
		}
	}
	s.log.Debug("DTMF sent", "digits", digits)
	return nil
}

// sendDigit sends one digit's packets, each when it is due.
func (s *Session) sendDigit(ctx context.Context, timer *time.Timer, d rune) error {
	o := s.out
	o.mu.Lock()
	snd := media.NewDTMFSender(o.pk, uint8(o.format.te))
	start := time.Now()
	if err := snd.Start(d, dtmfLength, start); err != nil {
		o.mu.Unlock()
		return fmt.Errorf("sip: send dtmf: %w", err)
	}
	o.dtmf = true
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.dtmf = false
		o.mu.Unlock()
	}()
	for {
		due, ok := snd.Due()
		if !ok {
			return nil
		}
		if err := s.wait(ctx, timer, time.Until(start.Add(due))); err != nil {
			// End the event now rather than leave the far end with a key
			// held down until it times out.
			for s.sendEvent(snd) {
			}
			return err
		}
		s.sendEvent(snd)
	}
}

// sendEvent sends snd's next packet; false once the digit is done.
func (s *Session) sendEvent(snd *media.DTMFSender) bool {
	o := s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	pkt, ok := snd.Next(o.buf[:0])
	if ok {
		_ = o.stream.WriteRTP(pkt)
	}
	return ok
}

// wait waits d, or until ctx or the leg ends.
func (s *Session) wait(ctx context.Context, timer *time.Timer, d time.Duration) error {
	if d > 0 {
		timer.Reset(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.ctx.Done():
			return fmt.Errorf("sip: send dtmf: leg ended: %w", context.Cause(s.ctx))
		}
	}
	return nil
}
