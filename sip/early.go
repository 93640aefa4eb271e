package sip

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

// errNotEarlyOwner is what a leg's early-media relay returns for a packet
// it may not pass on: another leg's early media (or an answered leg) has
// the peer.
var errNotEarlyOwner = errors.New("sip: peer hears another leg")

// earlyRelay is the sink of a ringing leg's stream while it has early
// media: it sends the leg's packets to the peer's party, from the peer's
// stream, as long as it owns the peer's early media (Session.early). The
// first relay to get a packet takes the peer; the others drop theirs. A
// relay with no leg is a seal: an answered or bridged leg holds the peer
// and no early media reaches it.
type earlyRelay struct {
	peer   *Session
	format legFormat // how the ringing leg labels its RTP (its early SDP)
	log    *slog.Logger
	told   atomic.Bool // the takeover was logged
}

// WriteRTP passes a packet of the ringing leg to the peer's party, through
// the peer's output like a bridged party's packets. It runs on the leg's
// read goroutine and does not allocate.
func (e *earlyRelay) WriteRTP(pkt []byte) error {
	p := e.peer
	if cur := p.early.Load(); cur != e {
		if cur != nil || !p.early.CompareAndSwap(nil, e) {
			p.earlyRefused.Add(1)
			return errNotEarlyOwner
		}
		if !e.told.Swap(true) {
			e.log.Info("relaying early media to the peer", "peer_leg", p.SIPCallID())
		}
	}
	return p.out.relay(pkt, e.format)
}

// earlyMedia is the early media of one attempt dialed with a peer.
// Methods are called from the dialing goroutine only; all accept nil
// (an attempt without a peer of this backend).
type earlyMedia struct {
	peer   *Session
	leg    *media.Stream
	codecs []Codec
	log    *slog.Logger
	relay  *earlyRelay // set once a provisional response had SDP
	// off: the dial request said NoEarlyMedia; the leg's early media is
	// not relayed, but its answer still seals the peer.
	off  bool
	told bool // that it is not relayed was logged
}

// newEarlyMedia returns the early media of a leg dialed for peer, or nil
// when peer is not a live session of this backend. With off
// (DialRequest.NoEarlyMedia) nothing is relayed.
func (b *Backend) newEarlyMedia(peer engine.Session, leg *media.Stream, codecs []Codec, off bool, log *slog.Logger) *earlyMedia {
	p, ok := peer.(*Session)
	if !ok || p == nil || p.b != b || p.ctx.Err() != nil {
		return nil
	}
	return &earlyMedia{peer: p, leg: leg, codecs: codecs, off: off, log: log}
}

// provisional takes the SDP of a 180 or 183: the leg's stream is pointed
// at it and, the first time, its packets are relayed to the peer (unless
// the request said NoEarlyMedia).
func (em *earlyMedia) provisional(res *sipmsg.Response) {
	if em == nil || len(res.Body()) == 0 || (res.StatusCode != 180 && res.StatusCode != 183) {
		return
	}
	remote, codec, err := parseAnswer(res.Body(), em.codecs)
	if err != nil {
		em.log.Info("early media ignored", "code", res.StatusCode, "error", err)
		return
	}
	setRemote(em.leg, remote, res.Source())
	if em.off {
		if !em.told {
			em.told = true
			em.log.Info("early media not relayed (no early media asked)", "code", res.StatusCode, "remote_rtp", remote.String())
		}
		return
	}
	if em.relay != nil || em.peer.ctx.Err() != nil {
		return
	}
	em.relay = &earlyRelay{peer: em.peer, format: newLegFormat(codec, telephoneEvent(res.Body())), log: em.log}
	em.leg.SetSink(em.relay)
	em.log.Info("early media", "code", res.StatusCode, "remote_rtp", remote.String())
}

// stop ends the relay (the attempt failed, was cancelled or answered):
// the leg's stream forwards nothing more and the peer is free for another
// leg's early media.
func (em *earlyMedia) stop() {
	if em == nil || em.relay == nil {
		return
	}
	em.leg.SetSink(nil)
	em.peer.early.CompareAndSwap(em.relay, nil)
	em.relay = nil
}

// answered stops the relay and seals the peer while s, the answered leg,
// is up: no other leg's early media reaches the peer's party between the
// answer and the engine's Bridge (which seals the pair itself).
func (em *earlyMedia) answered(s *Session) {
	if em == nil {
		return
	}
	em.stop()
	seal := &earlyRelay{peer: em.peer}
	em.peer.early.Store(seal)
	context.AfterFunc(s.ctx, func() { em.peer.early.CompareAndSwap(seal, nil) })
}
