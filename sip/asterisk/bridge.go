package asterisk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/switchboard/switchboard/engine"
)

var (
	_ engine.Bridge          = (*Bridge)(nil)
	_ engine.RecordingBridge = (*Bridge)(nil)
)

// Errors of StartRecording.
var (
	ErrRecording    = errors.New("asterisk: recording: the bridge is already recording")
	ErrBridgeClosed = errors.New("asterisk: recording: the bridge is closed")
)

// Bridge is an Asterisk mixing bridge holding two sessions' channels.
type Bridge struct {
	b    *Backend
	id   string
	x, y *Session
	// destroyed: by someone else, or found gone (set from the event
	// reader, which must never wait for mu).
	destroyed atomic.Bool

	mu     sync.Mutex
	closed bool
	stops  []func() bool
	rec    string // the Asterisk name of the recording under way
}

// put takes the bridge's events (the router's sink): a bridge destroyed
// by someone else needs no DELETE.
func (br *Bridge) put(item any) {
	if _, ok := item.(*ari.BridgeDestroyed); ok {
		br.destroyed.Store(true)
	}
}

// bridgeType is the type of the bridges the backend makes. A plain mixing
// bridge of two SIP channels goes native_rtp, where Asterisk forwards the
// RFC 4733 packets from one party to the other at the RTP layer and
// raises no ChannelDtmfReceived: the keys a party presses would never
// reach the engine (seen on Asterisk 20.20.1 with chan_sip). dtmf_events
// keeps the bridge off native RTP, so media and DTMF go through
// Asterisk's core and every key is an event.
const bridgeType = "mixing,dtmf_events"

// Bridge joins two answered sessions of this backend in a new mixing
// bridge (POST /bridges/{id}, then addChannel with both). The bridge is
// destroyed when closed or when either session ends; the sessions stay
// up.
func (b *Backend) Bridge(x, y engine.Session) (engine.Bridge, error) {
	sx, ok1 := x.(*Session)
	sy, ok2 := y.(*Session)
	switch {
	case !ok1 || !ok2 || sx == nil || sy == nil:
		return nil, errors.New("asterisk: bridge: not sessions of the Asterisk backend")
	case sx.b != b || sy.b != b:
		return nil, errors.New("asterisk: bridge: session of another backend")
	case sx == sy:
		return nil, errors.New("asterisk: bridge: a session with itself")
	}
	for _, s := range []*Session{sx, sy} {
		if s.ctx.Err() != nil {
			return nil, fmt.Errorf("asterisk: bridge: leg already ended: %w", context.Cause(s.ctx))
		}
	}
	br := &Bridge{b: b, id: newID(), x: sx, y: sy}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	b.bridges[br.id] = br
	b.router.add(rkey(ari.BridgeKey, br.id), br)
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(b.closeCtx, b.cfg.requestTimeout())
	defer cancel()
	err := b.c.do(ctx, http.MethodPost, esc("bridges", br.id), url.Values{"type": {bridgeType}, "name": {br.id}}, nil, nil)
	if err == nil {
		err = b.c.do(ctx, http.MethodPost, esc("bridges", br.id, "addChannel"), url.Values{"channel": {sx.id + "," + sy.id}}, nil, nil)
	}
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("asterisk: bridge: %w", err)
	}
	br.watch()
	sx.log.Info("bridged", "bridge_id", br.id, "peer_channel", sy.id)
	return br, nil
}

// watch closes the bridge when either session ends.
func (br *Bridge) watch() {
	br.mu.Lock()
	br.stops = []func() bool{
		context.AfterFunc(br.x.ctx, func() { br.Close() }),
		context.AfterFunc(br.y.ctx, func() { br.Close() }),
	}
	br.mu.Unlock()
}

// ID is the ARI id of the bridge.
func (br *Bridge) ID() string { return br.id }

// Close stops a recording under way and destroys the bridge (its
// channels leave it and stay up). Idempotent.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	stops := br.stops
	br.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	err := br.StopRecording()
	if !br.destroyed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), br.b.cfg.requestTimeout())
		defer cancel()
		derr := br.b.c.do(ctx, http.MethodDelete, esc("bridges", br.id), nil, nil, nil)
		if derr != nil && !errors.Is(derr, ErrNotFound) {
			err = errors.Join(err, derr)
		}
	}
	br.b.mu.Lock()
	if br.b.bridges[br.id] == br {
		delete(br.b.bridges, br.id)
	}
	br.b.mu.Unlock()
	br.b.router.remove(rkey(ari.BridgeKey, br.id), br)
	return err
}

// StartRecording records the bridge (engine.RecordingBridge) through
// POST /bridges/{id}/record, in Config.RecordingFormat, overwriting a
// recording of the same name. name is the engine's slash-separated name
// ("<tenant>/<callid>"); Asterisk stores it under recordingName(name),
// where Recordings finds it again. Asterisk records the bridge's mix in
// one channel (ARI cannot split the parties into left and right).
func (br *Bridge) StartRecording(name string) error {
	return br.startRecording(name, "overwrite")
}

// startRecording is StartRecording with Asterisk's ifExists: overwrite
// for a new recording, append to carry one on in a new bridge.
func (br *Bridge) startRecording(name, ifExists string) error {
	if err := validRecordingName(name); err != nil {
		return err
	}
	rec := recordingName(name)
	br.mu.Lock()
	defer br.mu.Unlock()
	switch {
	case br.closed:
		return ErrBridgeClosed
	case br.rec != "":
		return ErrRecording
	}
	ctx, cancel := context.WithTimeout(br.b.closeCtx, br.b.cfg.requestTimeout())
	defer cancel()
	q := url.Values{"name": {rec}, "format": {br.b.cfg.recordingFormat()}, "ifExists": {ifExists}}
	if err := br.b.c.do(ctx, http.MethodPost, esc("bridges", br.id, "record"), q, nil, nil); err != nil {
		return fmt.Errorf("asterisk: recording %q: %w", name, err)
	}
	br.rec = rec
	br.x.log.Info("recording", "bridge_id", br.id, "recording", rec)
	return nil
}

// StopRecording stops the recording under way (POST
// /recordings/live/{name}/stop); one already finished is not an error.
// Idempotent.
func (br *Bridge) StopRecording() error {
	br.mu.Lock()
	rec := br.rec
	br.rec = ""
	br.mu.Unlock()
	if rec == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), br.b.cfg.requestTimeout())
	defer cancel()
	err := br.b.c.do(ctx, http.MethodPost, esc("recordings", "live", rec, "stop"), nil, nil, nil)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("asterisk: stop recording: %w", err)
	}
	return nil
}

// maxRecordingName bounds a recording's name.
const maxRecordingName = 200

// validRecordingName checks an engine recording name as the native
// backend does: slash-separated segments of letters, digits, '.', '_'
// and '-', none empty or starting with a dot, no leading slash.
func validRecordingName(name string) error {
	bad := func(why string) error { return fmt.Errorf("asterisk: recording name %q: %s", name, why) }
	switch {
	case name == "":
		return bad("empty")
	case len(name) > maxRecordingName:
		return bad(fmt.Sprintf("longer than %d bytes", maxRecordingName))
	case strings.HasPrefix(name, "/"):
		return bad("absolute")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg[0] == '.' {
			return bad("empty segment or one starting with a dot")
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return bad(fmt.Sprintf("character %q (allowed: letters, digits, . _ - and / between segments)", r))
			}
		}
	}
	return nil
}

// recordingName is the name Asterisk stores an engine recording under:
// the engine's name with each '/' written '~'. Asterisk's stored
// recordings are addressed by one path segment (/recordings/stored/{name}),
// so the name must not hold a slash; '~' cannot appear in an engine name,
// so the mapping is one to one, needs no table, and survives restarts.
func recordingName(name string) string { return strings.ReplaceAll(name, "/", "~") }
