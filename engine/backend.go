package engine

import (
	"context"
	"errors"
	"fmt"
)

// Backend is the telephony the engine drives: native SIP (package sip) or
// Asterisk through ARI (package sip/asterisk). The engine owns the call
// logic; a backend only dials, reports and bridges.
type Backend interface {
	// Dial rings one endpoint and blocks until it answers or the attempt
	// ends. progress is called from the dialing goroutine: with
	// ProgressSent as soon as the attempt is on the wire (optional: the
	// engine times its latency by it), then with ProgressRinging while it
	// rings. It must return at once. Cancelling ctx cancels the attempt
	// (CANCEL on SIP, once a provisional response arrived); context.Cause
	// of ctx is carried in the returned DialError.
	//
	// On answer it returns a live Session. On any other end it returns a
	// *DialError saying how the attempt ended. A backend never re-dials on
	// its own: after an INVITE went out, an ambiguous failure is reported,
	// not retried, because a duplicate call is worse than a failed one.
	Dial(ctx context.Context, req DialRequest, progress func(Progress)) (Session, error)
	// Bridge joins the media of two answered sessions until the returned
	// Bridge is closed or either session ends.
	Bridge(a, b Session) (Bridge, error)
	// Ready reports whether the backend can place calls now.
	Ready() error
}

// DialRequest says what one leg dials.
type DialRequest struct {
	CallID string
	LegID  string
	// Number is dialed through the backend's routing (trunks).
	Number string
	// CallerID is presented to the far end; empty means the trunk default.
	CallerID string
	// CallerName is the display name presented with CallerID (SIP From
	// display name): an inbound caller's name, as its app's caller lookup
	// or its own INVITE gave it. Empty: none.
	CallerName string
	// Peer, when set, is the already-answered session this leg will be
	// bridged to, so the backend can offer media that fits it (the same
	// codec, so the relay never transcodes).
	Peer Session
	// NoEarlyMedia keeps this leg's early media (183 with SDP) from the
	// Peer: the engine plays the Peer a ringTone of its own instead.
	NoEarlyMedia bool
}

// Progress is an event of an attempt before it ends.
type Progress int

const (
	// ProgressRinging: the far end is alerting (SIP 180, or 183).
	ProgressRinging Progress = iota + 1
	// ProgressSent: the attempt reached the wire (SIP: its INVITE was
	// written to the transport). Reported once, right then, before any
	// response; a backend that cannot tell does not report it.
	ProgressSent
)

// Session is one answered leg. Its lifetime is Context(): done when the
// leg ends for any reason, with context.Cause saying why (ErrRemoteHangup
// when the far end hung up).
type Session interface {
	Context() context.Context
	// Hangup ends the leg (BYE on SIP). It is idempotent and safe to call
	// from any goroutine; the cause is recorded as the Context's cause
	// when the leg was still up.
	Hangup(ctx context.Context, cause error) error
}

// MediaCounter is implemented by sessions whose backend relays media; the
// engine copies the counters into the leg's record when the leg ends.
type MediaCounter interface {
	MediaStats() MediaStats
}

// Bridge is two sessions' media joined together.
type Bridge interface {
	// Close unjoins the media; it does not hang up the sessions.
	// Idempotent.
	Close() error
}

// ErrRemoteHangup is a Session's cause when the far end hung up.
var ErrRemoteHangup = errors.New("remote hangup")

// ErrMediaTimeout is a Session's cause when its party sent no media for
// the backend's media timeout: the phone is gone without a BYE (crash,
// network loss, NAT timeout), and the call is ended rather than left up.
var ErrMediaTimeout = errors.New("media timeout: no RTP received")

// DialError is how a Dial attempt ended without an answer.
type DialError struct {
	Disposition Disposition
	// SIPCode is the final response code when one arrived (487 after a
	// CANCEL, 486 busy, …); 0 when none did (timeout, network failure).
	SIPCode int
	// Reason is a short human text (the SIP reason phrase, "timer B", …).
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *DialError) Error() string {
	s := string(e.Disposition)
	if e.SIPCode != 0 {
		s += fmt.Sprintf(" (%d)", e.SIPCode)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *DialError) Unwrap() error { return e.Err }

// Causes the engine gives to the contexts it cancels, so a backend and the
// record can tell a ring timeout from a lost race or a hang-up.
var (
	// ErrRingTimeout: the attempt rang for its whole ring time.
	ErrRingTimeout = errors.New("ring time expired")
	// ErrLostRace: another leg of the same TO_ALL wave answered first.
	ErrLostRace = errors.New("another leg answered first")
	// ErrCallStopped: the call was stopped (API hang-up, shutdown, the
	// other party hung up).
	ErrCallStopped = errors.New("call stopped")
)

// Handled is implemented by sessions and bridges that their backend can
// find again by a handle (an Asterisk channel or bridge id). The engine
// keeps the handles in the record (Leg.Channel, Call.Bridge) so that
// another node can adopt the call (Adopter).
type Handled interface {
	Handle() string
}

// Adopter is implemented by backends whose calls outlive the engine node
// that drives them: Asterisk keeps a call's channels and bridge up when
// that node dies, so another node, sharing the store and the Asterisk,
// can carry the call on (nodes.go). A backend without it (native SIP,
// whose dialogs die with their process) has its dead nodes' calls ended.
type Adopter interface {
	// AdoptLeg finds the live channel of one of a dead node's legs (by
	// its Channel, or for a leg that never answered by the backend's
	// own naming of the attempt) and takes its events from now on. An
	// error wrapping ErrNotFound when the channel is gone; any other
	// error means it could not be looked at now (the call is then left
	// for a later try, never recorded as ended while it may be up).
	AdoptLeg(ctx context.Context, leg *Leg) (Session, error)
	// AdoptBridge takes over the bridge of handle that joins x and y
	// (x first, as Bridge was given them), or joins them in a new one
	// when it is gone. recording, when not empty, is the name of the
	// recording under way (RecordingBridge), which goes on.
	AdoptBridge(ctx context.Context, handle string, x, y Session, recording string) (Bridge, error)
}

// DispositionOfSIP maps a SIP final (non-2xx) status to the disposition
// of the attempt: the one table both backends use (the native backend for
// the responses it receives, the Asterisk backend for the status
// chan_pjsip reports), so a call gets the same disposition on either.
func DispositionOfSIP(code int) Disposition {
	switch code {
	case 486, 600:
		return DispBusy
	case 603:
		return DispRejected
	case 480, 408:
		return DispNoAnswer
	case 487:
		return DispCanceled
	}
	switch {
	case code >= 600:
		return DispRejected
	case code >= 500:
		return DispCongestion
	default: // 3xx (not followed) and 4xx
		return DispFailed
	}
}
