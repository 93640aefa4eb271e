package announce

import (
	"math"
	"sync"
	"time"

	"github.com/switchboard/switchboard/media"
)

// The built-in announcements: generated at start (nothing binary ships
// with Switchboard), shared by every tenant. A file of the same name in
// the shared directory replaces one.
const (
	// RingbackID is a ringback tone, 440 + 480 Hz for 2 s then 4 s of
	// silence: one cadence, to be played in a loop (ringTone).
	RingbackID = "ringback.wav"
	// BeepID is two short 1400 Hz beeps, an alert before a time limit
	// (alertAudio).
	BeepID = "beep.wav"
	// HoldID is gentle hold music, a slow arpeggio of soft chimes, 8 s
	// in a loop; the default hold announcement.
	HoldID = "hold.wav"
)

// builtins generates each built-in's audio.
var builtins = map[string]func() *media.Audio{
	RingbackID: ringback,
	BeepID:     beep,
	HoldID:     holdMusic,
}

// builtinAudio is every built-in, generated and encoded once per
// process; stores share the (read-only) payloads.
var builtinAudio = sync.OnceValue(func() map[string]*Announcement {
	m := make(map[string]*Announcement, len(builtins))
	for id, gen := range builtins {
		m[id] = newAnnouncement(id, "", gen())
	}
	return m
})

const toneLevel = 0.25 * math.MaxInt16 // about -12 dBFS

func samplesOf(d time.Duration) int { return int(d * media.SampleRate / time.Second) }

// ringback: 440 + 480 Hz (each at half the level) for 2 s, then 4 s of
// silence.
func ringback() *media.Audio {
	s := make([]int16, samplesOf(6*time.Second))
	on := samplesOf(2 * time.Second)
	for i := range on {
		t := float64(i) / media.SampleRate
		v := 0.5*math.Sin(2*math.Pi*440*t) + 0.5*math.Sin(2*math.Pi*480*t)
		s[i] = int16(toneLevel * v * ramp(i, on, 80))
	}
	return &media.Audio{Samples: s}
}

// beep: 1400 Hz, 250 ms on, 150 ms off, 250 ms on.
func beep() *media.Audio {
	on, off := samplesOf(250*time.Millisecond), samplesOf(150*time.Millisecond)
	s := make([]int16, 2*on+off)
	for _, start := range []int{0, on + off} {
		for i := range on {
			t := float64(i) / media.SampleRate
			s[start+i] = int16(toneLevel * math.Sin(2*math.Pi*1400*t) * ramp(i, on, 40))
		}
	}
	return &media.Audio{Samples: s}
}

// holdMusic: an arpeggio of C major (C5 E5 G5 C6 G5 E5), a note every
// 500 ms, each a chime that decays, then 5 s of its echo fading out.
func holdMusic() *media.Audio {
	notes := []float64{523.25, 659.25, 783.99, 1046.50, 783.99, 659.25}
	s := make([]float64, samplesOf(8*time.Second))
	step := samplesOf(500 * time.Millisecond)
	for n, f := range notes {
		start := n * step
		for i := 0; start+i < len(s); i++ {
			t := float64(i) / media.SampleRate
			env := math.Exp(-t*1.5) * ramp(i, len(s)-start, 40)
			s[start+i] += 0.45 * env * (math.Sin(2*math.Pi*f*t) + 0.25*math.Sin(2*math.Pi*2*f*t))
		}
	}
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = int16(toneLevel * max(-1, min(1, v)))
	}
	return &media.Audio{Samples: out}
}

// ramp is a short linear fade in and out (n samples each way) of a tone
// of length samples, so it starts and stops without a click.
func ramp(i, length, n int) float64 {
	switch {
	case i < n:
		return float64(i) / float64(n)
	case length-i <= n:
		return float64(length-i) / float64(n)
	}
	return 1
}
