package asterisk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/switchboard/switchboard/engine"
)

var (
	_ engine.Adopter = (*Backend)(nil)
	_ engine.Handled = (*Session)(nil)
	_ engine.Handled = (*Bridge)(nil)
)

// Handle is the session's channel id (engine.Handled), kept in the leg's
// record so that another node can adopt the channel.
func (s *Session) Handle() string { return s.id }

// Handle is the bridge's id (engine.Handled).
func (br *Bridge) Handle() string { return br.id }

// dialChannelID is the id a dial's channel gets: "sb-" and the engine's
// leg id, so a node that adopts a dead node's call can find the channels
// of legs that never answered (and so never recorded a handle) too.
// Without a leg id (a backend used on its own), a random one.
func dialChannelID(legID string) string {
	if legID == "" || !validChannelID(legID) {
		return newID()
	}
	return "sb-" + legID
}

// validChannelID: Asterisk takes ids of up to 127 bytes; ours are letters,
// digits, '-', '_' and '.' only, so they need no escaping anywhere.
func validChannelID(id string) bool {
	if len(id) > 120 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// AdoptLeg takes over the channel of one of a dead node's legs
// (engine.Adopter): the leg's Channel, or for a leg that never answered
// the channel its dial made (dialChannelID). The channel is registered
// first and this backend's application subscribed to it (POST
// /applications/{app}/subscription?eventSource=channel:{id}) before it
// is looked at (GET /channels/{id}), so no event in between is missed;
// the channel stays in the dead node's Stasis application, which any
// application may drive. ErrChannelGone when it is not there.
func (b *Backend) AdoptLeg(ctx context.Context, leg *engine.Leg) (engine.Session, error) {
	if err := b.Ready(); err != nil {
		return nil, err
	}
	id := leg.Channel
	if id == "" && !leg.Inbound {
		id = dialChannelID(leg.ID)
	}
	if id == "" || !validChannelID(id) {
		return nil, fmt.Errorf("asterisk: adopt leg %s: no channel id", leg.ID)
	}
	kind := kindDial
	if leg.Inbound {
		kind = kindInbound
	}
	log := b.log.With("call_id", leg.CallID, "leg_id", leg.ID, "channel_id", id)
	b.mu.Lock()
	if s := b.legs[id]; s != nil {
		b.mu.Unlock()
		return s, nil // ours already (Recover after a reconnect)
	}
	b.mu.Unlock()
	s, ok := b.newLeg(id, kind, log)
	if !ok {
		return nil, ErrClosed
	}
	rctx, cancel := context.WithTimeout(ctx, b.cfg.requestTimeout())
	defer cancel()
	fail := func(err error) (engine.Session, error) {
		s.endRemote(ErrChannelGone)
		s.stopLoop()
		if errors.Is(err, ErrChannelGone) || errors.Is(err, ErrNotFound) {
			// The engine's word for it: the channel is not there.
			return nil, fmt.Errorf("asterisk: adopt channel %s: %w: %w", id, ErrChannelGone, engine.ErrNotFound)
		}
		return nil, fmt.Errorf("asterisk: adopt channel %s: %w", id, err)
	}
	if err := b.subscribe(rctx, "channel:"+id); err != nil {
		return fail(err)
	}
	var ch ariChannel
	if err := b.c.do(rctx, http.MethodGet, esc("channels", id), nil, nil, &ch); err != nil {
		return fail(err)
	}
	s.created.Store(true)
	if ch.State == "Up" {
		s.up.Store(true)
		if kind == kindDial {
			s.markAnswered()
		}
	}
	log.Info("adopted channel", "state", ch.State)
	return s, nil
}

// AdoptBridge takes over the bridge of a dead node's call that joins x
// and y (engine.Adopter): subscribed first, then checked; a bridge gone,
// or missing one of the two channels, is replaced by a new bridge of
// both. recording, when not empty, is the engine's name of the recording
// under way: it goes on in the bridge (and is stopped when the bridge is
// closed); in a new bridge it is started again, appended to what was
// recorded.
func (b *Backend) AdoptBridge(ctx context.Context, handle string, x, y engine.Session, recording string) (engine.Bridge, error) {
	sx, ok1 := x.(*Session)
	sy, ok2 := y.(*Session)
	if !ok1 || !ok2 || sx == nil || sy == nil || sx.b != b || sy.b != b {
		return nil, errors.New("asterisk: adopt bridge: not sessions of this backend")
	}
	if recording != "" {
		if err := validRecordingName(recording); err != nil {
			return nil, err
		}
	}
	br := &Bridge{b: b, id: handle, x: sx, y: sy}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	b.bridges[br.id] = br
	b.router.add(rkey(ari.BridgeKey, br.id), br)
	b.mu.Unlock()

	rctx, cancel := context.WithTimeout(ctx, b.cfg.requestTimeout())
	defer cancel()
	var got ariBridge
	err := b.subscribe(rctx, "bridge:"+handle)
	if err == nil {
		err = b.c.do(rctx, http.MethodGet, esc("bridges", handle), nil, nil, &got)
	}
	whole := err == nil && slices.Contains(got.Channels, sx.id) && slices.Contains(got.Channels, sy.id)
	if whole {
		if recording != "" {
			br.rec = recordingName(recording)
		}
		br.watch()
		sx.log.Info("adopted bridge", "bridge_id", br.id, "peer_channel", sy.id)
		return br, nil
	}
	b.router.remove(rkey(ari.BridgeKey, br.id), br)
	b.mu.Lock()
	delete(b.bridges, br.id)
	b.mu.Unlock()
	gone := errors.Is(err, ErrChannelGone) || errors.Is(err, ErrNotFound)
	if err != nil && !gone {
		// Not known to be gone (a timeout, a 5xx): no second bridge.
		return nil, fmt.Errorf("asterisk: adopt bridge %s: %w", handle, err)
	}
	if !gone {
		// There, but without both parties: it is replaced, not left.
		dctx, cancel := context.WithTimeout(ctx, b.cfg.requestTimeout())
		derr := b.c.do(dctx, http.MethodDelete, esc("bridges", handle), nil, nil, nil)
		cancel()
		if derr != nil && !errors.Is(derr, ErrNotFound) {
			return nil, fmt.Errorf("asterisk: adopt bridge %s: remove the broken bridge: %w", handle, derr)
		}
	}
	// The parties get a bridge of their own.
	sx.log.Info("bridge of the adopted call is gone, bridging anew", "bridge_id", handle, "err", err)
	nb, err := b.Bridge(sx, sy)
	if err != nil {
		return nil, err
	}
	if recording != "" {
		if err := nb.(*Bridge).startRecording(recording, "append"); err != nil {
			sx.log.Warn("recording of the adopted call not resumed", "err", err)
		}
	}
	return nb, nil
}

// subscribe subscribes this backend's application to an event source
// ("channel:<id>", "bridge:<id>"); a source that does not exist (422,
// 404) is ErrChannelGone.
func (b *Backend) subscribe(ctx context.Context, source string) error {
	err := b.c.do(ctx, http.MethodPost, esc("applications", b.cfg.app(), "subscription"), url.Values{"eventSource": {source}}, nil, nil)
	var ae *APIError
	if errors.As(err, &ae) && (ae.StatusCode == http.StatusUnprocessableEntity || ae.StatusCode == http.StatusNotFound) {
		return fmt.Errorf("%w: %v", ErrChannelGone, err)
	}
	return err
}
