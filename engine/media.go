package engine

import (
	"context"
	"errors"
)

// What a backend offers beyond dialing and bridging: speaking on a leg,
// recording a bridge, DTMF. Each is an optional interface that a Session
// or a Bridge implements when its backend can do it; the engine asks with
// a type assertion and, where a feature is missing, records that it was
// not available instead of failing the call.

// Announcement names a tenant's audio file: an id of the announcement
// store (such as "1610448601_84.wav"). The backend finds the audio: the
// native SIP backend plays frames pre-encoded in the leg's codec, an
// Asterisk backend a sound URI.
type Announcement struct {
	Tenant string
	ID     string
}

// ErrUnknownAnnouncement is returned by Play for an announcement the
// backend cannot find.
var ErrUnknownAnnouncement = errors.New("unknown announcement")

// PlayOptions say how an announcement is heard.
type PlayOptions struct {
	// Loop repeats the announcement until the context given to Play ends.
	Loop bool
	// Mix lays the announcement over what the party hears (the other
	// party, in a bridge) instead of replacing it.
	Mix bool
}

// Player is implemented by sessions whose backend can play audio to the
// session's party.
type Player interface {
	// Play plays a to the party and returns once it has been played
	// (once; or, with Loop, until ctx ends), or when ctx or the session
	// ends. Without Mix the party hears only the announcement meanwhile:
	// the other party's relayed media and any early media are not heard.
	// When Play returns the party hears again what it heard before, on
	// the same RTP stream (one SSRC, no sequence or timestamp jumps; the
	// marker bit where the stream restarts). An announcement the backend
	// cannot find returns ErrUnknownAnnouncement at once.
	Play(ctx context.Context, a Announcement, opt PlayOptions) error
}

// DTMFSession is implemented by sessions whose backend receives and sends
// DTMF (RFC 4733 telephone-events on SIP).
type DTMFSession interface {
	// OnDTMF sets the function called with each key the party presses,
	// once per key press however often its packets are repeated. It is
	// called from the backend's goroutine and must return at once.
	OnDTMF(func(digit rune))
	// SendDTMF sends digits (0-9, *, #, A-D) to the party one after the
	// other and returns once they are sent, or when ctx or the session
	// ends.
	SendDTMF(ctx context.Context, digits string) error
}

// RecordingBridge is implemented by bridges whose backend can record.
type RecordingBridge interface {
	// StartRecording records the bridge's conversation as the recording
	// named name (a slash-separated path without extension, such as
	// "<tenant>/<callid>"): the first session given to Bridge on the left
	// channel, the second on the right. It records until the bridge is
	// closed or StopRecording is called, and what it has written is a
	// playable file at every moment, so a call that ends abruptly (even
	// with the process) still leaves its recording.
	StartRecording(name string) error
	// StopRecording finishes the recording. Idempotent.
	StopRecording() error
}

// ValidDTMF reports whether digits is a non-empty string of DTMF keys.
func ValidDTMF(digits string) bool {
	if digits == "" {
		return false
	}
	for _, d := range digits {
		switch {
		case d >= '0' && d <= '9', d == '*', d == '#', d >= 'A' && d <= 'D':
		default:
			return false
		}
	}
	return true
}
