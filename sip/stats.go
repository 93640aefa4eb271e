package sip

import (
	"sync/atomic"

	"github.com/switchboard/switchboard/media"
)

// Stats are a backend's counters since it was created, for metrics.
type Stats struct {
	// Stray counts the responses that matched no transaction.
	Stray StrayStats
	// RTP sums the counters of the legs' RTP streams (package media's
	// Stats: PacketsSent is what the relay forwarded to a far end). A
	// stream's counts are added when it closes, so they grow as legs end,
	// not packet by packet.
	RTP media.Stats
	// Inbound counts the INVITEs that would start a call (see the
	// package doc, "Inbound calls").
	Inbound InboundStats
}

// InboundStats count out-of-dialog INVITEs: those offered to the
// OnInbound handler, and those refused before, by reason.
type InboundStats struct {
	// Accepted were offered to the handler.
	Accepted uint64
	// RefusedNotTrunk came from an IP that is no trunk's source (403).
	RefusedNotTrunk uint64
	// RefusedBadRequest could not make a call: no caller in From (400),
	// no number called (404), no Contact (400), no SDP offer or none with
	// a codec we can use (488).
	RefusedBadRequest uint64
	// RefusedNoHandler came from a trunk while no handler was set (403).
	RefusedNoHandler uint64
}

// inboundCounters are the atomic InboundStats.
type inboundCounters struct {
	accepted, notTrunk, badRequest, noHandler atomic.Uint64
}

func (c *inboundCounters) load() InboundStats {
	return InboundStats{
		Accepted:          c.accepted.Load(),
		RefusedNotTrunk:   c.notTrunk.Load(),
		RefusedBadRequest: c.badRequest.Load(),
		RefusedNoHandler:  c.noHandler.Load(),
	}
}

// Stats returns the backend's counters.
func (b *Backend) Stats() Stats {
	return Stats{Stray: b.StrayStats(), RTP: b.rtp.load(), Inbound: b.inboundStats.load()}
}

// rtpTotals sums the counters of closed streams.
type rtpTotals struct {
	rxPackets, rxBytes atomic.Uint64
	txPackets, txBytes atomic.Uint64
	dropped            atomic.Uint64
	rejected, invalid  atomic.Uint64
}

func (t *rtpTotals) add(s media.Stats) {
	t.rxPackets.Add(s.PacketsReceived)
	t.rxBytes.Add(s.BytesReceived)
	t.txPackets.Add(s.PacketsSent)
	t.txBytes.Add(s.BytesSent)
	t.dropped.Add(s.Dropped)
	t.rejected.Add(s.Rejected)
	t.invalid.Add(s.Invalid)
}

func (t *rtpTotals) load() media.Stats {
	return media.Stats{
		PacketsReceived: t.rxPackets.Load(),
		BytesReceived:   t.rxBytes.Load(),
		PacketsSent:     t.txPackets.Load(),
		BytesSent:       t.txBytes.Load(),
		Dropped:         t.dropped.Load(),
		Rejected:        t.rejected.Load(),
		Invalid:         t.invalid.Load(),
	}
}

// closeStream closes a leg's stream and adds its counters to the
// backend's. Each stream is closed through it once: by Dial when no
// Session took it, else by the Session when the leg ends.
func (b *Backend) closeStream(s *media.Stream) {
	s.Close()
	b.rtp.add(s.Stats())
}
