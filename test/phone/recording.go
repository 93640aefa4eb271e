package phone

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/switchboard/switchboard/media"
)

// End as the end of a window means "to the end of the recording".
const End = time.Duration(math.MaxInt64)

// Packet is one RTP packet heard, as it arrived.
type Packet struct {
	// At is when it arrived, since the recording's Start.
	At time.Duration
	// The RTP header.
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
	Marker      bool
	PayloadType uint8
	// PayloadSize is the payload's length in bytes.
	PayloadSize int
	// Audio is true for a G.711 packet (payload type 0 or 8): its samples
	// are Samples[Offset:Offset+Samples] of the Recording.
	Audio   bool
	Offset  int
	Samples int
	// IsEvent is true for a telephone-event packet (RFC 4733) of the
	// negotiated payload type; Event is its payload.
	IsEvent bool
	Event   media.DTMFEvent
}

// Digit is a DTMF key press heard as RFC 4733 events, reported once.
type Digit struct {
	Digit rune
	At    time.Duration // arrival of its first packet
}

// Recording is what a party heard: every packet in arrival order, the
// decoded audio, and the DTMF key presses. A Recording is a snapshot: it
// does not change after Call.Heard or Recorder.Recording returned it.
type Recording struct {
	// Start is the origin of every offset: for a call, when the phone got
	// its INVITE.
	Start   time.Time
	Packets []Packet
	// Samples is the decoded audio of every audio packet, in arrival order.
	Samples []int16
	Digits  []Digit
}

// Recorder builds a Recording from received RTP packets. It is safe for
// concurrent use: one goroutine records while others take snapshots.
type Recorder struct {
	mu      sync.Mutex
	rec     Recording
	eventPT int
	det     *media.DTMFDetector
}

// NewRecorder records packets with offsets from start; eventPT is the
// telephone-event payload type, or -1 for none.
func NewRecorder(start time.Time, eventPT int) *Recorder {
	r := &Recorder{rec: Recording{Start: start}, eventPT: -1}
	r.SetEventPT(eventPT)
	return r
}

// SetEventPT changes the telephone-event payload type (-1: none).
func (r *Recorder) SetEventPT(pt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pt < 0 || pt > 127 {
		r.eventPT, r.det = -1, nil
		return
	}
	if pt != r.eventPT {
		r.eventPT, r.det = pt, media.NewDTMFDetector(uint8(pt))
	}
}

// ErrNotRTP is returned by Record for a datagram that is not RTP.
var ErrNotRTP = errors.New("phone: not an RTP packet")

// Record adds one packet that arrived at the given time; the packet is not
// kept. It returns ErrNotRTP, recording nothing, for anything else.
func (r *Recorder) Record(pkt []byte, at time.Time) error {
	var p rtp.Packet
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return ErrNotRTP
	}
	if err := p.Unmarshal(pkt); err != nil {
		return fmt.Errorf("%w: %v", ErrNotRTP, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.rec
	pk := Packet{
		At:          at.Sub(rec.Start),
		Seq:         p.SequenceNumber,
		Timestamp:   p.Timestamp,
		SSRC:        p.SSRC,
		Marker:      p.Marker,
		PayloadType: p.PayloadType,
		PayloadSize: len(p.Payload),
	}
	switch c := media.Codec(p.PayloadType); {
	case c.Valid():
		pk.Audio, pk.Offset, pk.Samples = true, len(rec.Samples), len(p.Payload)
		n := len(rec.Samples)
		rec.Samples = append(rec.Samples, make([]int16, len(p.Payload))...)
		c.Decode(rec.Samples[n:], p.Payload)
	case int(p.PayloadType) == r.eventPT:
		if ev, err := media.ParseDTMFEvent(p.Payload); err == nil {
			pk.IsEvent, pk.Event = true, ev
		}
		if d, ok := r.det.Detect(pkt); ok {
			rec.Digits = append(rec.Digits, Digit{Digit: d, At: pk.At})
		}
	}
	rec.Packets = append(rec.Packets, pk)
	return nil
}

// Recording returns a snapshot of what was recorded so far.
func (r *Recorder) Recording() *Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &Recording{
		Start:   r.rec.Start,
		Packets: append([]Packet(nil), r.rec.Packets...),
		Samples: append([]int16(nil), r.rec.Samples...),
		Digits:  append([]Digit(nil), r.rec.Digits...),
	}
}

// Packets counts the packets recorded so far.
func (r *Recorder) Packets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rec.Packets)
}

// Offset is t as an offset of the recording, for windows that start or
// end at a moment seen elsewhere (another call's answer).
func (r *Recording) Offset(t time.Time) time.Duration { return t.Sub(r.Start) }

// Duration is the arrival offset of the last packet; 0 when none arrived.
func (r *Recording) Duration() time.Duration {
	if len(r.Packets) == 0 {
		return 0
	}
	return r.Packets[len(r.Packets)-1].At
}

// DigitString is the DTMF keys heard, in order.
func (r *Recording) DigitString() string {
	var b strings.Builder
	for _, d := range r.Digits {
		b.WriteRune(d.Digit)
	}
	return b.String()
}

// AudioPackets counts the audio packets that arrived in [from, to).
func (r *Recording) AudioPackets(from, to time.Duration) int {
	n := 0
	for _, p := range r.window(from, to) {
		if p.Audio {
			n++
		}
	}
	return n
}

// window is the packets that arrived in [from, to).
func (r *Recording) window(from, to time.Duration) []Packet {
	lo := sort.Search(len(r.Packets), func(i int) bool { return r.Packets[i].At >= from })
	hi := sort.Search(len(r.Packets), func(i int) bool { return r.Packets[i].At >= to })
	if hi < lo {
		return nil
	}
	return r.Packets[lo:hi]
}

func (r *Recording) samples(p Packet) []int16 { return r.Samples[p.Offset : p.Offset+p.Samples] }

// SilenceRMS is the level (RMS of 16-bit samples, about -56 dBFS) below
// which audio counts as silence: HeardTone is 0 there and ToneSpans skip it.
const SilenceRMS = 50

// Level is the RMS of the audio that arrived in [from, to), in 16-bit
// sample units (a sine of peak A has an RMS of A/√2); 0 without audio.
func (r *Recording) Level(from, to time.Duration) float64 {
	var sum float64
	n := 0
	for _, p := range r.window(from, to) {
		if !p.Audio {
			continue
		}
		for _, s := range r.samples(p) {
			sum += float64(s) * float64(s)
		}
		n += p.Samples
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(sum / float64(n))
}

// HeardTone is the share, 0 to 1, of the energy heard in [from, to) that
// is a tone of freq Hz: about 1 when only that tone was heard, about 0.5
// when it was mixed at equal level with other sound, about 0 when it was
// not heard. It is measured per packet (Goertzel over a Hann window, so
// tones 200 Hz apart or more do not count for each other) and weighted by
// each packet's energy. It is 0 when the window's Level is below
// SilenceRMS.
func (r *Recording) HeardTone(freq float64, from, to time.Duration) float64 {
	var tone, total float64
	n := 0
	for _, p := range r.window(from, to) {
		if !p.Audio || p.Samples == 0 {
			continue
		}
		s := r.samples(p)
		e := energy(s)
		total += e
		tone += ToneShare(s, freq) * e
		n += p.Samples
	}
	if n == 0 || math.Sqrt(total/float64(n)) < SilenceRMS {
		return 0
	}
	return tone / total
}

// Window is one slice of a recording.
type Window struct {
	From, To time.Duration
	Packets  int     // audio packets in it
	Level    float64 // Recording.Level of the window
	Tone     float64 // Recording.HeardTone of the window for the frequency asked
}

// Windows cuts the recording, from 0 to its last packet, into windows of
// width and measures each for freq.
func (r *Recording) Windows(freq float64, width time.Duration) []Window {
	if width <= 0 {
		width = 100 * time.Millisecond
	}
	var out []Window
	for from := time.Duration(0); from <= r.Duration(); from += width {
		to := from + width
		out = append(out, Window{
			From: from, To: to,
			Packets: r.AudioPackets(from, to),
			Level:   r.Level(from, to),
			Tone:    r.HeardTone(freq, from, to),
		})
	}
	return out
}

// Span is a stretch of time, in offsets of the recording.
type Span struct{ From, To time.Duration }

func (s Span) String() string { return fmt.Sprintf("[%v, %v)", s.From, s.To) }

// Duration is the span's length.
func (s Span) Duration() time.Duration { return s.To - s.From }

// DefaultToneShare is the share of a packet's energy that ToneSpans wants
// at the tone's frequency when given 0.
const DefaultToneShare = 0.5

// spanMergeGap is how far apart two packets with the tone may be and still
// belong to one span: a lost packet or two does not split it.
const spanMergeGap = 100 * time.Millisecond

// ToneSpans are the stretches in which a tone of freq Hz was heard: runs
// of audio packets above SilenceRMS with at least minShare
// (DefaultToneShare when 0) of their energy at freq, merged across gaps
// of up to 100 ms. A span runs from its first packet's arrival to its last
// one's plus 20 ms.
func (r *Recording) ToneSpans(freq, minShare float64) []Span {
	if minShare <= 0 {
		minShare = DefaultToneShare
	}
	var spans []Span
	for _, p := range r.Packets {
		if !p.Audio || p.Samples == 0 {
			continue
		}
		s := r.samples(p)
		if rms(s) < SilenceRMS || ToneShare(s, freq) < minShare {
			continue
		}
		end := p.At + time.Duration(p.Samples)*time.Second/media.SampleRate
		if k := len(spans) - 1; k >= 0 && p.At-spans[k].To <= spanMergeGap {
			spans[k].To = max(spans[k].To, end)
			continue
		}
		spans = append(spans, Span{From: p.At, To: end})
	}
	return spans
}

// ToneStart is when a tone of freq Hz was first heard (ToneSpans with the
// default share); false if it never was.
func (r *Recording) ToneStart(freq float64) (time.Duration, bool) {
	s := r.ToneSpans(freq, 0)
	if len(s) == 0 {
		return 0, false
	}
	return s[0].From, true
}

// ToneStop is when a tone of freq Hz was last heard; false if it never was.
func (r *Recording) ToneStop(freq float64) (time.Duration, bool) {
	s := r.ToneSpans(freq, 0)
	if len(s) == 0 {
		return 0, false
	}
	return s[len(s)-1].To, true
}

// ToneDuration is how long a tone of freq Hz was heard in all (the sum of
// ToneSpans with the default share).
func (r *Recording) ToneDuration(freq float64) time.Duration {
	var d time.Duration
	for _, s := range r.ToneSpans(freq, 0) {
		d += s.Duration()
	}
	return d
}

func energy(s []int16) float64 {
	var e float64
	for _, x := range s {
		e += float64(x) * float64(x)
	}
	return e
}

func rms(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	return math.Sqrt(energy(s) / float64(len(s)))
}

// ToneLevel is the RMS, in 16-bit sample units, of the component of
// samples (8 kHz) at freq Hz: about A/√2 for a sine of peak A at freq, about
// 0 for one 200 Hz or more away. It is the Goertzel algorithm over a Hann
// window, so it tolerates a frequency between DFT bins.
func ToneLevel(samples []int16, freq float64) float64 {
	n := len(samples)
	if n < 2 {
		return 0
	}
	w := 2 * math.Pi * freq / media.SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for i, x := range samples {
		hann := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		s0 := float64(x)*hann + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2 // |X(freq)|²
	if power < 0 {
		power = 0
	}
	// A sine of peak A gives |X| = A·Σhann/2 = A·n/4; its mean square is A²/2.
	return math.Sqrt(8 * power / float64(n*n))
}

// ToneShare is the share, 0 to 1, of the energy of samples that is at freq
// Hz (ToneLevel² over the mean square); 0 for digital silence.
func ToneShare(samples []int16, freq float64) float64 {
	e := energy(samples)
	if e == 0 {
		return 0
	}
	l := ToneLevel(samples, freq)
	return min(l*l/(e/float64(len(samples))), 1)
}

// DiscontinuityKind says what broke an RTP stream's continuity.
type DiscontinuityKind int

const (
	// SeqGap: the sequence number skipped ahead; Lost packets are missing.
	SeqGap DiscontinuityKind = iota
	// SeqBack: a sequence number at or before one already seen (a
	// duplicate or a reordered packet).
	SeqBack
	// TimestampJump: the timestamp is not the one the sequence numbers
	// and the previous packet's length call for (Want).
	TimestampJump
	// SSRCChange: a new synchronization source.
	SSRCChange
)

func (k DiscontinuityKind) String() string {
	switch k {
	case SeqGap:
		return "sequence gap"
	case SeqBack:
		return "sequence back"
	case TimestampJump:
		return "timestamp jump"
	case SSRCChange:
		return "SSRC change"
	}
	return fmt.Sprintf("DiscontinuityKind(%d)", int(k))
}

// Discontinuity is one break in an RTP stream, between the newest packet
// before it (Prev*) and the packet at Index.
type Discontinuity struct {
	Kind   DiscontinuityKind
	Index  int // in Recording.Packets
	At     time.Duration
	Marker bool // the packet had the marker bit set

	PrevSeq, Seq             uint16
	PrevTimestamp, Timestamp uint32
	PrevSSRC, SSRC           uint32
	Lost                     int    // SeqGap: packets missing
	Want                     uint32 // TimestampJump: the timestamp expected
}

func (d Discontinuity) String() string {
	m := ""
	if d.Marker {
		m = " (marked)"
	}
	switch d.Kind {
	case SeqGap:
		return fmt.Sprintf("%v at %v: seq %d after %d, %d lost%s", d.Kind, d.At, d.Seq, d.PrevSeq, d.Lost, m)
	case SeqBack:
		return fmt.Sprintf("%v at %v: seq %d after %d%s", d.Kind, d.At, d.Seq, d.PrevSeq, m)
	case TimestampJump:
		return fmt.Sprintf("%v at %v: seq %d ts %d, want %d (off by %d)%s", d.Kind, d.At, d.Seq, d.Timestamp, d.Want, int32(d.Timestamp-d.Want), m)
	case SSRCChange:
		return fmt.Sprintf("%v at %v: %#08x after %#08x%s", d.Kind, d.At, d.SSRC, d.PrevSSRC, m)
	}
	return d.Kind.String()
}

// Continuity is the result of checking an RTP stream.
type Continuity struct {
	Packets         int // packets checked
	Lost            int // sum of the sequence gaps
	Discontinuities []Discontinuity
}

// Count is how many discontinuities of kind were found.
func (c Continuity) Count(kind DiscontinuityKind) int {
	n := 0
	for _, d := range c.Discontinuities {
		if d.Kind == kind {
			n++
		}
	}
	return n
}

// Unmarked is the timestamp jumps and SSRC changes whose packet lacks the
// marker bit: the restarts a receiver's jitter buffer is not told about.
func (c Continuity) Unmarked() []Discontinuity {
	var out []Discontinuity
	for _, d := range c.Discontinuities {
		if (d.Kind == TimestampJump || d.Kind == SSRCChange) && !d.Marker {
			out = append(out, d)
		}
	}
	return out
}

// OK reports a stream with no discontinuity at all.
func (c Continuity) OK() bool { return len(c.Discontinuities) == 0 }

func (c Continuity) String() string {
	if c.OK() {
		return fmt.Sprintf("%d packets, continuous", c.Packets)
	}
	parts := make([]string, len(c.Discontinuities))
	for i, d := range c.Discontinuities {
		parts[i] = d.String()
	}
	return fmt.Sprintf("%d packets, %d lost: %s", c.Packets, c.Lost, strings.Join(parts, "; "))
}

// Continuity checks the stream heard, packet by packet in arrival order,
// against the newest packet before it:
//
//   - a new SSRC is an SSRCChange (and the stream starts over);
//   - a sequence number more than one ahead is a SeqGap, one at or behind
//     the newest a SeqBack (that packet is then skipped);
//   - the timestamp of an audio packet, or of the first packet of a DTMF
//     event, must follow the audio before it: its timestamp plus its
//     samples times the sequence step; after a DTMF event, audio must
//     follow the event's timestamp plus its duration. Packets of one event
//     share their timestamp. Anything else is a TimestampJump.
//
// Each discontinuity carries the packet's marker bit, so a test can accept
// marked restarts (Unmarked) and still catch unmarked ones.
func (r *Recording) Continuity() Continuity {
	c := Continuity{Packets: len(r.Packets)}
	var prev *Packet
	for i := range r.Packets {
		p := &r.Packets[i]
		d := Discontinuity{Index: i, At: p.At, Marker: p.Marker, Seq: p.Seq, Timestamp: p.Timestamp, SSRC: p.SSRC}
		if prev == nil {
			prev = p
			continue
		}
		d.PrevSeq, d.PrevTimestamp, d.PrevSSRC = prev.Seq, prev.Timestamp, prev.SSRC
		if p.SSRC != prev.SSRC {
			d.Kind = SSRCChange
			c.Discontinuities = append(c.Discontinuities, d)
			prev = p
			continue
		}
		step := int16(p.Seq - prev.Seq)
		if step <= 0 {
			d.Kind = SeqBack
			c.Discontinuities = append(c.Discontinuities, d)
			continue
		}
		if step > 1 {
			d.Kind, d.Lost = SeqGap, int(step)-1
			c.Lost += d.Lost
			c.Discontinuities = append(c.Discontinuities, d)
		}
		if want, check := wantTimestamp(prev, p, uint32(step)); check && p.Timestamp != want {
			d.Kind, d.Want, d.Lost = TimestampJump, want, 0
			c.Discontinuities = append(c.Discontinuities, d)
		}
		prev = p
	}
	return c
}

// wantTimestamp is the timestamp p should carry after prev, step sequence
// numbers later; false when nothing can be expected.
func wantTimestamp(prev, p *Packet, step uint32) (uint32, bool) {
	switch {
	case prev.Audio && (p.Audio || p.IsEvent):
		return prev.Timestamp + step*uint32(prev.Samples), true
	case prev.IsEvent && p.IsEvent:
		if p.Timestamp == prev.Timestamp || p.Marker {
			return 0, false // the same event, or the start of the next one
		}
		// Without the marker, a new timestamp is a new event only after
		// the previous one ended (E bit).
		if prev.Event.End {
			return 0, false
		}
		return prev.Timestamp, true
	case prev.IsEvent && p.Audio:
		if !prev.Event.End {
			return 0, false // the event's end was lost: its length is unknown
		}
		return prev.Timestamp + uint32(prev.Event.Duration), true
	}
	return 0, false
}
