package media

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestDTMFEventPayload(t *testing.T) {
	e := DTMFEvent{Event: 5, End: true, Volume: 10, Duration: 800}
	b := e.Append(nil)
	if !bytes.Equal(b, []byte{0x05, 0x8A, 0x03, 0x20}) {
		t.Fatalf("encoded % x", b)
	}
	got, err := ParseDTMFEvent(append(b, 0xEE)) // trailing bytes ignored
	if err != nil || got != e {
		t.Fatalf("parsed %+v, %v", got, err)
	}
	// The R bit is ignored; Volume keeps six bits.
	if got, _ := ParseDTMFEvent([]byte{11, 0x40 | 63, 0xFF, 0xFF}); got != (DTMFEvent{Event: 11, Volume: 63, Duration: 0xFFFF}) {
		t.Fatalf("parsed %+v", got)
	}
	if b := (DTMFEvent{Volume: 0xFF}).Append(nil); b[1] != 0x3F {
		t.Fatalf("volume byte %#x", b[1])
	}
	if _, err := ParseDTMFEvent([]byte{1, 2, 3}); err == nil {
		t.Fatal("parsed 3 bytes")
	}
}

func TestDTMFDigits(t *testing.T) {
	for i, d := range "0123456789*#ABCD" {
		if got, ok := EventDigit(uint8(i)); !ok || got != d {
			t.Errorf("EventDigit(%d) = %q", i, got)
		}
		if got, ok := DigitEvent(d); !ok || got != uint8(i) {
			t.Errorf("DigitEvent(%q) = %d", d, got)
		}
	}
	if e, ok := DigitEvent('c'); !ok || e != 14 {
		t.Error("lower-case c")
	}
	if _, ok := EventDigit(16); ok {
		t.Error("flash is not a key")
	}
	for _, bad := range "E/ x" {
		if _, ok := DigitEvent(bad); ok {
			t.Errorf("DigitEvent(%q) accepted", bad)
		}
	}
}

const tePT = 101

// ev is a telephone-event packet.
func ev(ssrc uint32, seq uint16, ts uint32, event uint8, end bool, dur uint16) []byte {
	p := relayed(ssrc, seq, ts, tePT, 0)
	return DTMFEvent{Event: event, End: end, Volume: 10, Duration: dur}.Append(p)
}

func TestDTMFDetector(t *testing.T) {
	const S = 0x1234
	audio := relayed(S, 1, 100, 0, 160)
	for _, c := range []struct {
		name string
		pkts [][]byte
		want string
	}{
		{"one digit with three ends", [][]byte{
			ev(S, 1, 1000, 5, false, 400), ev(S, 2, 1000, 5, false, 800),
			ev(S, 3, 1000, 5, true, 800), ev(S, 4, 1000, 5, true, 800), ev(S, 5, 1000, 5, true, 800),
		}, "5"},
		{"repeated start packets", [][]byte{ev(S, 1, 1000, 1, false, 0), ev(S, 2, 1000, 1, false, 0), ev(S, 3, 1000, 1, false, 0)}, "1"},
		{"only end packets arrive", [][]byte{ev(S, 3, 1000, 9, true, 800), ev(S, 4, 1000, 9, true, 800)}, "9"},
		{"same key twice", [][]byte{
			ev(S, 1, 1000, 7, false, 400), ev(S, 2, 1000, 7, true, 800), ev(S, 3, 1000, 7, true, 800),
			ev(S, 4, 3000, 7, false, 400), ev(S, 5, 3000, 7, true, 800),
		}, "77"},
		{"new event before the previous end (end lost)", [][]byte{
			ev(S, 1, 1000, 1, false, 400), ev(S, 2, 1000, 1, false, 800),
			ev(S, 5, 2000, 2, false, 400), ev(S, 6, 2000, 2, true, 800),
		}, "12"},
		{"late end of the previous event after the next began", [][]byte{
			ev(S, 1, 1000, 3, false, 400), ev(S, 4, 2000, 4, false, 400),
			ev(S, 3, 1000, 3, true, 800), ev(S, 2, 1000, 3, false, 800), ev(S, 5, 2000, 4, true, 800),
		}, "34"},
		{"all keys", func() [][]byte {
			var ps [][]byte
			for i := range 16 {
				ps = append(ps, ev(S, uint16(i), uint32(1000*i), uint8(i), true, 800))
			}
			return ps
		}(), "0123456789*#ABCD"},
		{"audio, other payload types and broken packets ignored", [][]byte{
			audio, relayed(S, 2, 100, 100, 4), ev(S, 3, 1000, 1, false, 400)[:14], []byte("junk"),
			ev(S, 4, 1000, 8, false, 400),
		}, "8"},
		{"flash is tracked but not a key", [][]byte{ev(S, 1, 1000, 16, false, 400), ev(S, 2, 1000, 16, true, 800), ev(S, 3, 2000, 0, true, 800)}, "0"},
		{"a long event split in segments is one press", [][]byte{
			ev(S, 1, 1000, 6, false, 0xFFFF), ev(S, 2, 1000+0xFFFF, 6, false, 400), ev(S, 3, 1000+0xFFFF, 6, true, 800),
		}, "6"},
		{"timestamps wrap", [][]byte{ev(S, 1, 1<<32-100, 1, true, 800), ev(S, 2, 300, 2, false, 400), ev(S, 3, 1<<32-100, 1, true, 800)}, "12"},
		{"a new SSRC starts over", [][]byte{ev(S, 1, 5000, 1, true, 800), ev(S+1, 1, 5000, 1, false, 400), ev(S+1, 2, 5000, 1, true, 800)}, "11"},
		{"a clock restart far back is a new event", [][]byte{ev(S, 1, 900000, 1, true, 800), ev(S, 2, 1000, 2, true, 800)}, "12"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDTMFDetector(tePT)
			var got []rune
			for _, p := range c.pkts {
				if r, ok := d.Detect(p); ok {
					got = append(got, r)
				}
			}
			if string(got) != c.want {
				t.Fatalf("detected %q, want %q", string(got), c.want)
			}
		})
	}
}

func TestDTMFDetectorReset(t *testing.T) {
	d := NewDTMFDetector(tePT | 0x80) // a marker bit in the type is ignored
	p := ev(1, 1, 1000, 4, true, 800)
	if _, ok := d.Detect(p); !ok {
		t.Fatal("not detected")
	}
	if _, ok := d.Detect(p); ok {
		t.Fatal("detected twice")
	}
	d.Reset()
	if r, ok := d.Detect(p); !ok || r != '4' {
		t.Fatal("not detected after Reset")
	}
	if n := testing.AllocsPerRun(100, func() { d.Detect(p) }); n != 0 {
		t.Fatalf("Detect allocates %v", n)
	}
}

// sendDigit runs a DTMFSender to the end and returns its packets and when
// each is due.
func sendDigit(t *testing.T, s *DTMFSender, digit rune, length time.Duration, now time.Time) ([][]byte, []time.Duration) {
	t.Helper()
	if err := s.Start(digit, length, now); err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	var due []time.Duration
	for {
		at, ok := s.Due()
		if !ok {
			break
		}
		p, ok := s.Next(nil)
		if !ok {
			t.Fatal("Due promised a packet Next did not give")
		}
		pkts, due = append(pkts, p), append(due, at)
	}
	if s.Busy() {
		t.Fatal("still busy")
	}
	if p, ok := s.Next(nil); ok || len(p) != 0 {
		t.Fatal("a packet after the end")
	}
	return pkts, due
}

func TestDTMFSender(t *testing.T) {
	p, _ := NewPacketizer(PacketizerConfig{SSRC: 77, Seq: 65533, Timestamp: 5000, Codec: PCMU})
	start := time.Now()
	frame := make([]byte, FrameSamples)
	p.Packetize(nil, frame, start)
	p.Packetize(nil, frame, start.Add(20*time.Millisecond))

	s := NewDTMFSender(p, tePT)
	at := start.Add(40 * time.Millisecond)
	pkts, due := sendDigit(t, s, '#', 120*time.Millisecond, at)
	// Updates at 0, 50, 100 ms with the duration so far; the end three
	// times from 120 ms, 50 ms apart.
	wantDue := []time.Duration{0, 50, 100, 120, 170, 220}
	wantDur := []uint16{400, 800, 960, 960, 960, 960}
	if len(pkts) != 6 {
		t.Fatalf("%d packets", len(pkts))
	}
	d := NewDTMFDetector(tePT)
	var keys []rune
	for i, b := range pkts {
		h := parse(t, b)
		e, err := ParseDTMFEvent(h.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if h.SSRC != 77 || h.PayloadType != tePT || h.SequenceNumber != uint16(65535+i) || h.Timestamp != 5320 || h.Marker != (i == 0) {
			t.Fatalf("packet %d: %+v", i, h.Header)
		}
		if e.Event != 11 || e.Duration != wantDur[i] || e.End != (i >= 3) || e.Volume != DefaultDTMFVolume || due[i] != wantDue[i]*time.Millisecond {
			t.Fatalf("packet %d: %+v due %v", i, e, due[i])
		}
		if k, ok := d.Detect(b); ok {
			keys = append(keys, k)
		}
	}
	if string(keys) != "#" {
		t.Fatalf("detector heard %q", string(keys))
	}
	// Audio right at the event's end follows it and restarts the stream.
	h := parse(t, p.Packetize(nil, frame, at.Add(120*time.Millisecond)))
	if h.SequenceNumber != 5 || h.Timestamp != 5320+960 || !h.Marker {
		t.Fatalf("audio after the digit: %+v", h.Header)
	}
	// A second digit later: its timestamp is where the clock stands.
	pkts, _ = sendDigit(t, s, '1', 40*time.Millisecond, at.Add(time.Second))
	if h := parse(t, pkts[0]); h.Timestamp != 5320+960+160+(1000-140)*8 || len(pkts) != 4 {
		t.Fatalf("second digit at ts %d, %d packets", h.Timestamp, len(pkts))
	}
}

func TestDTMFSenderRefuses(t *testing.T) {
	p, _ := NewPacketizer(PacketizerConfig{Codec: PCMA})
	s := NewDTMFSender(p, tePT)
	for _, c := range []struct {
		digit  rune
		length time.Duration
	}{{'E', 100 * time.Millisecond}, {'1', 30 * time.Millisecond}, {'1', 9 * time.Second}} {
		if err := s.Start(c.digit, c.length, time.Time{}); err == nil {
			t.Errorf("Start(%q, %v) accepted", c.digit, c.length)
		}
	}
	if s.Busy() || p.NextSeq() != 0 {
		t.Fatal("a refused digit changed the stream")
	}
	if err := s.Start('1', 100*time.Millisecond, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start('2', 100*time.Millisecond, time.Time{}); !errors.Is(err, ErrDTMFBusy) {
		t.Fatalf("second Start: %v", err)
	}
	buf := make([]byte, 0, 16)
	if n := testing.AllocsPerRun(1, func() { s.Next(buf[:0]) }); n != 0 {
		t.Fatalf("Next allocates %v", n)
	}
}
