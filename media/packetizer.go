package media

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pion/rtp"
)

// gapThreshold is how late, past the end of the previous packet, a packet
// may come and still continue the stream seamlessly. Later than that the
// stream restarts: its timestamp moves on by the time that really passed
// and the marker bit is set, as after silence (RFC 3551 §4.1).
const gapThreshold = 60 * time.Millisecond

// PacketizerConfig starts a Packetizer. RFC 3550 wants the SSRC and the
// first sequence number and timestamp random: see RandomPacketizerConfig.
type PacketizerConfig struct {
	SSRC      uint32
	Seq       uint16 // sequence number of the first packet
	Timestamp uint32 // timestamp of the first packet
	Codec     Codec  // payload type of the packets Packetize makes
}

// RandomPacketizerConfig is a config for c with a random SSRC, first
// sequence number and first timestamp.
func RandomPacketizerConfig(c Codec) PacketizerConfig {
	return PacketizerConfig{SSRC: rand.Uint32(), Seq: uint16(rand.Uint32()), Timestamp: rand.Uint32(), Codec: c}
}

type source uint8

const (
	srcNone  source = iota // nothing sent yet
	srcOwn                 // Packetize: our playback
	srcRelay               // Rewrite: the other party, relayed
	srcEvent               // a DTMFSender's event
)

// Packetizer is the sending side of one leg's RTP stream when Switchboard
// speaks on it: our own 20 ms G.711 payloads (Packetize), packets relayed
// from the other party (Rewrite), and DTMF events (DTMFSender) all go out
// under one SSRC with one sequence-number and timestamp space, so the
// phone sees a single stream that never jumps back.
//
// Each time the source changes (announcement → other party →
// announcement, or the other party's SSRC changes) the stream continues
// where it was: the next sequence number, and the timestamp just after the
// last packet sent. The first packet after a change has the marker bit set
// so the phone's jitter buffer re-syncs instead of playing a click. If the
// now passed in shows a pause longer than gapThreshold (60 ms) since the
// last packet, the timestamp moves on by the pause instead; a zero now
// means "no clock": always continuous.
//
// A Packetizer is not safe for concurrent use: one goroutine sends on a
// leg. Its per-packet methods do not allocate.
type Packetizer struct {
	ssrc  uint32
	codec Codec

	src       source
	relaySSRC uint32 // the relayed source's SSRC while src == srcRelay

	seq      uint16    // sequence number of the next packet
	lastTs   uint32    // timestamp of the newest packet sent (the first one's before any)
	lastDur  uint32    // its duration in samples
	lastTime time.Time // when it was sent; zero without a clock

	// Relayed packets are mapped by offsets fixed at the switch.
	seqOff, firstIn uint16
	tsOff           uint32
	guard           bool // drop relayed packets from before the switch
}

// NewPacketizer returns a Packetizer for cfg; the codec must be PCMU or
// PCMA.
func NewPacketizer(cfg PacketizerConfig) (*Packetizer, error) {
	if !cfg.Codec.Valid() {
		return nil, fmt.Errorf("media: packetizer codec %v is not G.711", cfg.Codec)
	}
	return &Packetizer{ssrc: cfg.SSRC, codec: cfg.Codec, seq: cfg.Seq, lastTs: cfg.Timestamp, lastDur: FrameSamples}, nil
}

// SSRC is the stream's synchronization source.
func (p *Packetizer) SSRC() uint32 { return p.ssrc }

// Codec is the payload type of the packets Packetize makes.
func (p *Packetizer) Codec() Codec { return p.codec }

// NextSeq is the sequence number the next packet will carry.
func (p *Packetizer) NextSeq() uint16 { return p.seq }

// samplesSince is the time since the last packet in RTP clock units, or 0
// without a clock (or with one that went backwards).
func (p *Packetizer) samplesSince(now time.Time) uint32 {
	if now.IsZero() || p.lastTime.IsZero() {
		return 0
	}
	d := now.Sub(p.lastTime)
	if d <= 0 {
		return 0
	}
	return uint32(d / (time.Second / SampleRate))
}

// gap reports whether now is a pause after the last packet.
func (p *Packetizer) gap(now time.Time) bool {
	return p.samplesSince(now) > p.lastDur+uint32(gapThreshold/(time.Second/SampleRate))
}

// nextTs is the timestamp of a packet that starts at now and follows the
// last one sent: just after it, or later by the pause since it. (Within
// one relayed source Rewrite keeps the source's own timestamps instead.)
func (p *Packetizer) nextTs(now time.Time) uint32 {
	if p.src == srcNone {
		return p.lastTs
	}
	if p.gap(now) {
		return p.lastTs + p.samplesSince(now)
	}
	return p.lastTs + p.lastDur
}

// sent records a packet that became the newest.
func (p *Packetizer) sent(ts, dur uint32, now time.Time) {
	p.lastTs, p.lastDur, p.lastTime = ts, dur, now
}

// Packetize appends to dst an RTP packet carrying payload, our own G.711
// audio (normally FrameSamples bytes from a Player), and returns the
// extended slice. Call it once per payload duration; it does not allocate
// when dst has room for 12+len(payload) bytes.
func (p *Packetizer) Packetize(dst, payload []byte, now time.Time) []byte {
	restart := p.src != srcOwn || p.gap(now)
	ts := p.nextTs(now)
	p.src = srcOwn
	dst = p.appendHeader(dst, len(payload), p.codec.PayloadType(), restart, ts)
	p.sent(ts, uint32(len(payload)), now)
	return append(dst, payload...)
}

// appendHeader appends the header of the next packet (taking a sequence
// number) and grows dst for size bytes of payload.
func (p *Packetizer) appendHeader(dst []byte, size int, pt uint8, marker bool, ts uint32) []byte {
	dst = slices.Grow(dst, 12+size)
	n := len(dst)
	dst = dst[:n+12]
	h := rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc}
	_, _ = h.MarshalTo(dst[n:]) // cannot fail: 12 bytes are there
	p.seq++
	return dst
}

// Rewrite turns pkt, an RTP packet relayed from the other party, into a
// packet of this stream in place: its SSRC becomes ours and its sequence
// number and timestamp are shifted into our spaces, so that the first
// relayed packet after our own audio (or after the other party's SSRC
// changed) follows on from the last packet we sent, with the marker bit
// set. Within one relayed source the shifts are fixed, so the source's
// own gaps, losses and reordering, and its DTMF events, pass through
// unchanged.
//
// Rewrite returns false, leaving pkt as it was, for a packet that must not
// be sent: one that is not RTP, or one the source sent before the switch
// (reordered across it), which would repeat a sequence number we already
// used. It does not allocate.
func (p *Packetizer) Rewrite(pkt []byte, now time.Time) bool {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return false
	}
	be := binary.BigEndian
	inSeq, inTs, inSSRC := be.Uint16(pkt[2:]), be.Uint32(pkt[4:]), be.Uint32(pkt[8:])
	switched := p.src != srcRelay || inSSRC != p.relaySSRC
	if switched {
		ts := p.nextTs(now)
		p.src, p.relaySSRC = srcRelay, inSSRC
		p.seqOff, p.tsOff = p.seq-inSeq, ts-inTs
		p.firstIn, p.guard = inSeq, true
	} else if p.guard {
		switch d := int16(inSeq - p.firstIn); {
		case d < 0:
			return false
		case d > 1000: // far past the switch: stop checking before the comparison wraps
			p.guard = false
		}
	}
	seq, ts := inSeq+p.seqOff, inTs+p.tsOff
	be.PutUint16(pkt[2:], seq)
	be.PutUint32(pkt[4:], ts)
	be.PutUint32(pkt[8:], p.ssrc)
	if switched {
		pkt[1] |= 0x80
	}
	if int16(seq-p.seq) >= 0 {
		p.seq = seq + 1
	}
	if switched || int32(ts-p.lastTs) > 0 {
		dur := p.lastDur
		if pkt[1]&0x7F == p.codec.PayloadType() {
			if pl, ok := rtpPayload(pkt); ok && len(pl) > 0 {
				dur = uint32(len(pl)) // one G.711 byte per sample
			}
		}
		p.sent(ts, dur, now)
	}
	return true
}

// RTPPayload is the payload of an RTP packet, past CSRCs, header
// extension and padding: a slice of pkt; false if the packet is too short
// for what its header says. It does not allocate.
func RTPPayload(pkt []byte) ([]byte, bool) { return rtpPayload(pkt) }

// rtpPayload is RTPPayload.
func rtpPayload(pkt []byte) ([]byte, bool) {
	if len(pkt) < 12 {
		return nil, false
	}
	n := 12 + 4*int(pkt[0]&0x0F)
	if pkt[0]&0x10 != 0 { // extension
		if len(pkt) < n+4 {
			return nil, false
		}
		n += 4 + 4*int(binary.BigEndian.Uint16(pkt[n+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 && end > n { // padding
		end -= int(pkt[end-1])
	}
	if end < n {
		return nil, false
	}
	return pkt[n:end], true
}
