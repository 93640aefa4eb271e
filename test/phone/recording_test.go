package phone

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/switchboard/switchboard/media"
)

func sine(freq, amp float64, n int) []int16 {
	var g toneGen
	s := make([]int16, n)
	g.fill(s, freq, amp)
	return s
}

func TestToneLevelSeparatesFrequencies(t *testing.T) {
	for _, tc := range []struct{ played, measured float64 }{
		{440, 440}, {1000, 1000}, {425, 425}, {1000, 440}, {440, 1000}, {440, 697},
	} {
		s := sine(tc.played, 8000, media.FrameSamples)
		share, level := ToneShare(s, tc.measured), ToneLevel(s, tc.measured)
		if tc.played == tc.measured {
			if share < 0.9 || math.Abs(level-8000/math.Sqrt2) > 800 {
				t.Errorf("%v Hz measured at %v Hz: share %.3f level %.0f, want about 1 and %.0f", tc.played, tc.measured, share, level, 8000/math.Sqrt2)
			}
		} else if share > 0.01 {
			t.Errorf("%v Hz measured at %v Hz: share %.4f, want about 0", tc.played, tc.measured, share)
		}
	}
	if ToneShare(make([]int16, 160), 440) != 0 || ToneLevel(nil, 440) != 0 {
		t.Error("silence has a tone")
	}
	// Two tones at equal level: each has about half the energy.
	a, b := sine(440, 4000, 160), sine(1000, 4000, 160)
	for i := range a {
		a[i] += b[i]
	}
	if s4, s10 := ToneShare(a, 440), ToneShare(a, 1000); math.Abs(s4-0.5) > 0.1 || math.Abs(s10-0.5) > 0.1 {
		t.Errorf("mix: shares %.3f at 440 Hz and %.3f at 1000 Hz, want about 0.5 each", s4, s10)
	}
}

// synth feeds a recorder 20 ms G.711 packets of the given tones (0 =
// silence), one after another, with arrival times 20 ms apart from the
// recorder's start: what a phone would hear, without a clock.
func synth(t *testing.T, rec *Recorder, codec media.Codec, tones ...float64) *media.Packetizer {
	t.Helper()
	pk, err := media.NewPacketizer(media.RandomPacketizerConfig(codec))
	if err != nil {
		t.Fatal(err)
	}
	var g toneGen
	frame := make([]int16, media.FrameSamples)
	payload := make([]byte, media.FrameSamples)
	at := rec.Recording().Start.Add(rec.Recording().Duration())
	for _, f := range tones {
		at = at.Add(Frame)
		g.fill(frame, f, 8000)
		codec.Encode(payload, frame)
		if err := rec.Record(pk.Packetize(nil, payload, at), at); err != nil {
			t.Fatal(err)
		}
	}
	return pk
}

func repeat(f float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = f
	}
	return s
}

func TestRecordingSaysWhichToneWasHeardWhen(t *testing.T) {
	for _, codec := range []media.Codec{media.PCMU, media.PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			start := time.Unix(1700000000, 0)
			rec := NewRecorder(start, 101)
			// 1 s of silence, 1 s of 425 Hz, 2 s of 1000 Hz, 1 s of 697 Hz.
			tones := append(repeat(0, 50), repeat(425, 50)...)
			tones = append(tones, repeat(1000, 100)...)
			tones = append(tones, repeat(697, 50)...)
			synth(t, rec, codec, tones...)
			r := rec.Recording()
			if len(r.Packets) != 250 || len(r.Samples) != 250*160 {
				t.Fatalf("%d packets %d samples", len(r.Packets), len(r.Samples))
			}
			if l := r.Level(0, time.Second); l > SilenceRMS {
				t.Errorf("silence has level %.0f", l)
			}
			if h := r.HeardTone(425, 0, time.Second); h != 0 {
				t.Errorf("silence: HeardTone %.3f", h)
			}
			if h := r.HeardTone(1000, 2*time.Second, 4*time.Second); h < 0.9 {
				t.Errorf("1000 Hz heard %.3f in its seconds", h)
			}
			if h := r.HeardTone(697, 2*time.Second, 4*time.Second); h > 0.01 {
				t.Errorf("697 Hz heard %.3f while 1000 Hz played", h)
			}
			if h := r.HeardTone(697, 0, End); h < 0.2 || h > 0.3 {
				t.Errorf("697 Hz over the whole recording: %.3f, want about a quarter of the energy", h)
			}
			if l := r.Level(2*time.Second, 4*time.Second); math.Abs(l-8000/math.Sqrt2) > 600 {
				t.Errorf("level %.0f, want about %.0f", l, 8000/math.Sqrt2)
			}
			for _, tc := range []struct {
				freq        float64
				start, stop time.Duration
			}{{425, time.Second, 2 * time.Second}, {1000, 2 * time.Second, 4 * time.Second}, {697, 4 * time.Second, 5 * time.Second}} {
				// Packet k arrives at (k+1)·20 ms.
				from, ok1 := r.ToneStart(tc.freq)
				to, ok2 := r.ToneStop(tc.freq)
				if !ok1 || !ok2 || from != tc.start+Frame || to != tc.stop+Frame {
					t.Errorf("%v Hz heard [%v, %v), want [%v, %v)", tc.freq, from, to, tc.start+Frame, tc.stop+Frame)
				}
				if s := r.ToneSpans(tc.freq, 0); len(s) != 1 {
					t.Errorf("%v Hz spans %v", tc.freq, s)
				}
			}
			if _, ok := r.ToneStart(1633); ok {
				t.Error("1633 Hz was never played")
			}
			w := r.Windows(1000, 500*time.Millisecond)
			if len(w) != 11 || w[4].Tone < 0.9 || w[2].Tone > 0.01 || w[0].Level > SilenceRMS || w[4].Packets != 25 {
				t.Errorf("windows %+v", w)
			}
			if c := r.Continuity(); !c.OK() {
				t.Errorf("continuity of a clean stream: %v", c)
			}
		})
	}
}

func TestToneSpansSurviveALostPacketAndSplitOnSilence(t *testing.T) {
	rec := NewRecorder(time.Unix(0, 0), -1)
	tones := append(repeat(1000, 20), 0) // one silent packet: a blip
	tones = append(tones, repeat(1000, 20)...)
	tones = append(tones, repeat(0, 25)...) // half a second of silence
	tones = append(tones, repeat(1000, 20)...)
	synth(t, rec, media.PCMU, tones...)
	spans := rec.Recording().ToneSpans(1000, 0)
	if len(spans) != 2 {
		t.Fatalf("spans %v, want two", spans)
	}
	if d := rec.Recording().ToneDuration(1000); d != spans[0].Duration()+spans[1].Duration() {
		t.Fatalf("duration %v of %v", d, spans)
	}
}

// pkt builds one RTP packet with a 160-byte PCMU payload (or an event).
func pkt(seq uint16, ts, ssrc uint32, marker bool) []byte {
	h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker}
	b, _ := h.Marshal()
	return append(b, make([]byte, 160)...)
}

func TestContinuityFlagsGapsJumpsAndSSRCChanges(t *testing.T) {
	start := time.Unix(0, 0)
	feed := func(pkts ...[]byte) Continuity {
		rec := NewRecorder(start, 101)
		for i, p := range pkts {
			if err := rec.Record(p, start.Add(time.Duration(i)*Frame)); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Recording().Continuity()
	}
	var clean [][]byte
	for i := range 10 {
		clean = append(clean, pkt(uint16(65530+i), uint32(1000+160*i), 7, i == 0))
	}
	if c := feed(clean...); !c.OK() || c.Packets != 10 {
		t.Fatalf("clean stream (sequence wrapping): %v", c)
	}

	// A synthetic gap: packet 4 lost. Its timestamp is accounted for, so it
	// is a gap and nothing else.
	gap := append(append([][]byte{}, clean[:4]...), clean[5:]...)
	c := feed(gap...)
	if c.Count(SeqGap) != 1 || c.Lost != 1 || len(c.Discontinuities) != 1 || c.Discontinuities[0].Index != 4 || c.Discontinuities[0].Seq != 65535 {
		t.Fatalf("one lost packet: %v", c)
	}
	if !strings.Contains(c.String(), "1 lost") {
		t.Errorf("report %q", c)
	}

	// A timestamp jump: unmarked, then marked.
	jump := append([][]byte{}, clean[:5]...)
	jump = append(jump, pkt(65535, 1000+160*5+8000, 7, false))
	c = feed(jump...)
	if c.Count(TimestampJump) != 1 || len(c.Unmarked()) != 1 || c.Discontinuities[0].Want != 1000+160*5 {
		t.Fatalf("unmarked jump: %v", c)
	}
	jump[5] = pkt(65535, 1000+160*5+8000, 7, true)
	c = feed(jump...)
	if c.Count(TimestampJump) != 1 || len(c.Unmarked()) != 0 || !c.Discontinuities[0].Marker {
		t.Fatalf("marked jump: %v", c)
	}

	// An SSRC change, a duplicate and a reordered packet.
	mixed := append([][]byte{}, clean[:3]...)
	mixed = append(mixed, clean[2])                     // duplicate
	mixed = append(mixed, clean[4], clean[3], clean[5]) // 3 arrives after 4
	mixed = append(mixed, pkt(100, 50, 8, false))       // new source, unmarked
	mixed = append(mixed, pkt(101, 210, 8, false))
	c = feed(mixed...)
	if c.Count(SeqBack) != 2 || c.Count(SeqGap) != 1 || c.Count(SSRCChange) != 1 || len(c.Unmarked()) != 1 || c.Count(TimestampJump) != 0 {
		t.Fatalf("mixed: %v", c)
	}
	if err := NewRecorder(start, -1).Record([]byte("not rtp at all"), start); err == nil {
		t.Fatal("garbage recorded")
	}
}

// DTMF sent by media.DTMFSender between audio packets is detected once per
// key, and the stream's only discontinuities are the marked restarts.
func TestRecorderDetectsDTMFAndKeepsContinuity(t *testing.T) {
	start := time.Unix(0, 0)
	rec := NewRecorder(start, 101)
	pk := synth(t, rec, media.PCMU, repeat(440, 10)...)
	ds := media.NewDTMFSender(pk, 101)
	at := start.Add(10 * Frame)
	for _, d := range "5*" {
		at = at.Add(Frame)
		if err := ds.Start(d, 100*time.Millisecond, at); err != nil {
			t.Fatal(err)
		}
		for off, ok := ds.Due(); ok; off, ok = ds.Due() {
			p, _ := ds.Next(nil)
			if err := rec.Record(p, at.Add(off)); err != nil {
				t.Fatal(err)
			}
			if err := rec.Record(p, at.Add(off)); err != nil { // every packet twice
				t.Fatal(err)
			}
		}
		at = at.Add(300 * time.Millisecond)
		p := make([]byte, 160)
		for range 5 {
			at = at.Add(Frame)
			media.PCMU.Encode(p, sine(440, 8000, 160))
			if err := rec.Record(pk.Packetize(nil, p, at), at); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := rec.Recording()
	if got := r.DigitString(); got != "5*" {
		t.Fatalf("digits %q", got)
	}
	c := r.Continuity()
	if len(c.Unmarked()) != 0 || c.Count(SeqGap) != 0 || c.Count(SSRCChange) != 0 {
		t.Fatalf("continuity across DTMF: %v", c)
	}
}
