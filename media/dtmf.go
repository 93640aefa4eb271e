package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// RFC 4733 telephone events: DTMF sent as RTP packets of their own payload
// type (negotiated in the SDP as telephone-event/8000, commonly 101).

// DTMFEvent is the payload of a telephone-event packet (RFC 4733 §2.3).
type DTMFEvent struct {
	Event    uint8  // 0-9 the digits, 10 *, 11 #, 12-15 A-D, 16 flash
	End      bool   // the E bit: the event is over
	Volume   uint8  // power level in -dBm0, 0-63
	Duration uint16 // in RTP clock units since the event began
}

// ParseDTMFEvent reads the first event of a telephone-event payload.
func ParseDTMFEvent(payload []byte) (DTMFEvent, error) {
	if len(payload) < 4 {
		return DTMFEvent{}, fmt.Errorf("media: telephone-event payload of %d bytes, need 4", len(payload))
	}
	return DTMFEvent{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(payload[2:]),
	}, nil
}

// Append appends the 4-byte payload of e to dst. The R bit is zero and
// a Volume above 63 keeps its low six bits.
func (e DTMFEvent) Append(dst []byte) []byte {
	b := e.Volume & 0x3F
	if e.End {
		b |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(dst, e.Event, b), e.Duration)
}

const dtmfDigits = "0123456789*#ABCD"

// EventDigit is the key of a DTMF event code: '0'-'9', '*', '#', 'A'-'D'
// for 0-15; false for other events (flash, tones).
func EventDigit(event uint8) (rune, bool) {
	if int(event) < len(dtmfDigits) {
		return rune(dtmfDigits[event]), true
	}
	return 0, false
}

// DigitEvent is the event code of a DTMF key, 'a'-'d' as 'A'-'D'.
func DigitEvent(digit rune) (uint8, bool) {
	if digit >= 'a' && digit <= 'd' {
		digit -= 'a' - 'A'
	}
	for i, d := range dtmfDigits {
		if d == digit {
			return uint8(i), true
		}
	}
	return 0, false
}

// dtmfStaleWindow is how far back a packet's timestamp may be from the
// latest event and still be a late packet of an earlier one; further back,
// the sender restarted its clock and the packet starts a new event.
const dtmfStaleWindow = 10 * SampleRate

// DTMFDetector turns a stream's telephone-event packets into key presses,
// each reported once, as soon as any packet of it arrives.
//
// An event is identified by its RTP timestamp (the same in every packet of
// it) and code: repeats of its start, updates and the three end packets
// are all the same key press. A new timestamp is a new press, even of the
// same key and even if the previous one's end was lost. A packet whose
// timestamp is older than the latest event's is late and ignored, so
// reordering never reports a key twice. A long event that the sender had
// to split into segments (duration reaching 0xFFFF, RFC 4733 §2.5.1.3)
// stays one press. A new SSRC starts over.
//
// A DTMFDetector is not safe for concurrent use: the stream's read
// goroutine feeds it. Detect does not allocate.
type DTMFDetector struct {
	pt    uint8
	have  bool
	ssrc  uint32
	ts    uint32 // timestamp of the latest event
	event uint8
	ended bool // its end has been seen
	maxed bool // its duration reached 0xFFFF: a next segment may follow
}

// NewDTMFDetector detects events in packets of payloadType, the
// telephone-event type negotiated for the stream.
func NewDTMFDetector(payloadType uint8) *DTMFDetector {
	return &DTMFDetector{pt: payloadType & 0x7F}
}

// Reset forgets the events seen.
func (d *DTMFDetector) Reset() { *d = DTMFDetector{pt: d.pt} }

// Detect looks at one RTP packet of the stream and returns the key when
// the packet is the first seen of a new key press. Packets of other payload
// types, broken ones, and events that are not DTMF keys return false.
func (d *DTMFDetector) Detect(pkt []byte) (rune, bool) {
	if len(pkt) < 12 || pkt[0]>>6 != 2 || pkt[1]&0x7F != d.pt {
		return 0, false
	}
	payload, ok := rtpPayload(pkt)
	if !ok {
		return 0, false
	}
	ev, err := ParseDTMFEvent(payload)
	if err != nil {
		return 0, false
	}
	ts, ssrc := binary.BigEndian.Uint32(pkt[4:]), binary.BigEndian.Uint32(pkt[8:])
	if d.have && ssrc == d.ssrc {
		switch diff := int32(ts - d.ts); {
		case diff < 0 && diff >= -dtmfStaleWindow:
			return 0, false // late packet of an earlier event
		case diff == 0 && ev.Event == d.event:
			d.ended = d.ended || ev.End
			d.maxed = d.maxed || ev.Duration == 0xFFFF
			return 0, false
		case diff > 0 && ev.Event == d.event && d.maxed && !d.ended:
			d.ts, d.ended, d.maxed = ts, ev.End, ev.Duration == 0xFFFF // next segment
			return 0, false
		}
	}
	*d = DTMFDetector{pt: d.pt, have: true, ssrc: ssrc, ts: ts, event: ev.Event, ended: ev.End, maxed: ev.Duration == 0xFFFF}
	return EventDigit(ev.Event)
}

// DTMF sending (RFC 4733 §2.5.1): one timestamp for the whole event, the
// marker bit on its first packet, an update every dtmfInterval with the
// duration so far, and the final packet, with the E bit, sent three times
// at the same interval.
const (
	dtmfInterval = 50 * time.Millisecond
	dtmfEnds     = 3
	// DefaultDTMFVolume is the power level of sent digits, -10 dBm0.
	DefaultDTMFVolume = 10
)

// DTMFSender sends digits on a leg's stream through its Packetizer: the
// event packets take the stream's SSRC and next sequence numbers, the
// event's timestamp is where the stream's audio stood when it began, and
// audio sent after the event follows it. Send no other packets on the leg
// while a digit is being sent.
//
// A DTMFSender is not safe for concurrent use; Next does not allocate.
type DTMFSender struct {
	// Volume is the power level written in the events, in -dBm0;
	// DefaultDTMFVolume when NewDTMFSender returns.
	Volume uint8

	p       *Packetizer
	pt      uint8
	busy    bool
	event   uint8
	ts      uint32
	length  time.Duration
	samples uint16
	updates int // update packets: one per interval, the last one ending the event
	sent    int
}

// NewDTMFSender sends telephone events of payloadType on p's stream.
func NewDTMFSender(p *Packetizer, payloadType uint8) *DTMFSender {
	return &DTMFSender{Volume: DefaultDTMFVolume, p: p, pt: payloadType & 0x7F}
}

// ErrDTMFBusy is returned by Start while a digit is still being sent.
var ErrDTMFBusy = errors.New("media: a DTMF digit is still being sent")

// Start begins sending digit ('0'-'9', '*', '#', 'A'-'D') for length (40
// ms to 8 s; 100 ms is usual) at now, the time its first packet goes out.
// Then, while Due says a packet is due, send Next's packet at now plus
// Due's offset.
func (s *DTMFSender) Start(digit rune, length time.Duration, now time.Time) error {
	if s.busy {
		return ErrDTMFBusy
	}
	event, ok := DigitEvent(digit)
	if !ok {
		return fmt.Errorf("media: %q is not a DTMF digit", digit)
	}
	if length < 40*time.Millisecond || length > 8*time.Second {
		return fmt.Errorf("media: DTMF length %v, want 40ms to 8s", length)
	}
	n := length / (time.Second / SampleRate)
	*s = DTMFSender{
		Volume: s.Volume, p: s.p, pt: s.pt, busy: true, event: event, length: length,
		ts: s.p.nextTs(now), samples: uint16(n),
		updates: int((length + dtmfInterval - 1) / dtmfInterval),
	}
	// The event holds the stream's clock until it ends; audio after it is
	// a restart.
	s.p.src = srcEvent
	s.p.sent(s.ts, uint32(n), now)
	return nil
}

// Busy reports whether a digit is being sent.
func (s *DTMFSender) Busy() bool { return s.busy }

// Due is when the next packet is due, as an offset from the now given to
// Start; false when the digit is done.
func (s *DTMFSender) Due() (time.Duration, bool) {
	switch {
	case !s.busy:
		return 0, false
	case s.sent < s.updates:
		return time.Duration(s.sent) * dtmfInterval, true
	}
	return s.length + time.Duration(s.sent-s.updates)*dtmfInterval, true
}

// Next appends the next packet of the digit to dst and returns it; false
// when the digit is done. It does not allocate when dst has room for 16
// bytes.
func (s *DTMFSender) Next(dst []byte) ([]byte, bool) {
	if !s.busy {
		return dst, false
	}
	ev := DTMFEvent{Event: s.event, Volume: s.Volume, Duration: s.samples}
	if s.sent < s.updates {
		ev.Duration = uint16(min(uint32(s.sent+1)*uint32(dtmfInterval/(time.Second/SampleRate)), uint32(s.samples)))
	} else {
		ev.End = true
	}
	dst = s.p.appendHeader(dst, 4, s.pt, s.sent == 0, s.ts)
	dst = ev.Append(dst)
	if s.sent++; s.sent == s.updates+dtmfEnds {
		s.busy = false
	}
	return dst, true
}
