package sip

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/media"
)

func TestValidRecordingName(t *testing.T) {
	for _, ok := range []string{"acme/3f2a-11", "a", "t1/2026/call_1.part-2", "A.b"} {
		if err := validRecordingName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/etc/x", "../x", "a/../b", "a/..", "a..b", ".hidden", "a/.x", "a//b", "a/", "a b", "a\\b", "é", "a:b", strings.Repeat("x", 201)} {
		if err := validRecordingName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRecChannelKeepsTimeAndBounds(t *testing.T) {
	c := newRecChannel(media.PCMU)
	frame := func(v int16) []int16 {
		s := make([]int16, media.FrameSamples)
		for i := range s {
			s[i] = v
		}
		return s
	}
	out := make([]int16, media.FrameSamples)
	c.take(out) // nothing sent: silence
	for _, v := range out {
		if v != 0 {
			t.Fatal("no audio is not silence")
		}
	}
	c.fifo.push(frame(1))
	c.fifo.push(frame(2)[:100])
	c.take(out)
	if out[0] != 1 || out[159] != 1 {
		t.Fatalf("first frame %v", out[:2])
	}
	c.take(out)
	if out[0] != 2 || out[99] != 2 || out[100] != 0 {
		t.Fatalf("short frame padded wrong: %v %v", out[99], out[100])
	}
	// A party that sends too much: the oldest goes, the lag stays bounded.
	for i := range 20 {
		c.fifo.push(frame(int16(10 + i)))
	}
	if c.fifo.n != recLag || c.fifo.dropped != uint64(12*media.FrameSamples) {
		t.Fatalf("fifo %d samples, %d dropped", c.fifo.n, c.fifo.dropped)
	}
	c.take(out)
	if out[0] != 22 {
		t.Fatalf("oldest kept %d, want 22", out[0])
	}

	// The tap never blocks: beyond its pool it drops and counts.
	pkt := append([]byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 160)...)
	for range recPackets + 3 {
		c.tap(pkt)
	}
	if c.dropped.Load() != 3 {
		t.Fatalf("dropped %d", c.dropped.Load())
	}
	if n := testing.AllocsPerRun(100, func() { c.drain(); c.tap(pkt) }); n != 0 {
		t.Fatalf("tap allocates %v", n)
	}
}

func TestStartRecordingRefusals(t *testing.T) {
	br := &Bridge{b: &Backend{}}
	if err := br.StartRecording("a/b"); !errors.Is(err, ErrNoRecordingDir) {
		t.Fatalf("no directory: %v", err)
	}
	if err := br.StopRecording(); err != nil {
		t.Fatalf("StopRecording without a recording: %v", err)
	}
	if p, d := br.Recording(); p != "" || d != 0 {
		t.Fatalf("Recording() = %q, %v", p, d)
	}
}

// The bridge is recorded: a (440 Hz) on the left, b (1000 Hz) on the
// right. Read while it records, as a process dying then would leave it,
// the file is a valid WAV; once stopped it has its final size.
func TestRecordingLeftAndRight(t *testing.T) {
	dir := t.TempDir()
	b, a, o := pair(t, Config{RecordingDir: dir}, 101, 101)
	brg, err := b.Bridge(a.s, o.s)
	if err != nil {
		t.Fatal(err)
	}
	br := brg.(*Bridge)
	defer br.Close()
	for _, bad := range []string{"../escape", "/abs", "a b"} {
		if err := br.StartRecording(bad); err == nil {
			t.Fatalf("name %q accepted", bad)
		}
	}
	if err := br.StartRecording("acme/call-1"); err != nil {
		t.Fatal(err)
	}
	if err := br.StartRecording("acme/call-2"); !errors.Is(err, ErrRecording) {
		t.Fatalf("second recording: %v", err)
	}
	path := filepath.Join(dir, "acme", "call-1.wav")
	if p, _ := br.Recording(); p != path {
		t.Fatalf("Recording path %q, want %q", p, path)
	}

	// Both parties talk, every 20 ms, until the recording holds 1.5 s.
	stop := make(chan struct{})
	talking := make(chan struct{})
	go func() {
		defer close(talking)
		fa, fo := make([]byte, media.FrameSamples), make([]byte, media.FrameSamples)
		tk := time.NewTicker(frameInterval)
		defer tk.Stop()
		for i := 0; ; i++ {
			media.PCMA.Encode(fa, tone(440, 8000, i*media.FrameSamples, media.FrameSamples))
			media.PCMA.Encode(fo, tone(1000, 8000, i*media.FrameSamples, media.FrameSamples))
			a.phone.audio(a.ours, 8, fa)
			o.phone.audio(o.ours, 8, fo)
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	waitFor(t, "1.5 s recorded", func() bool { _, d := br.Recording(); return d >= 1500*time.Millisecond })

	// Abruptly: the file as it is now.
	snap, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, r, err := readStereoWAV(snap)
	if err != nil {
		t.Fatalf("recording read while it runs: %v", err)
	}
	if len(l) < 8000 {
		t.Fatalf("the header says %d samples after 1.5 s", len(l))
	}
	checkChannels(t, l, r)

	close(stop)
	<-talking
	// A leg's end finishes the recording.
	o.hangup(t)
	final, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, r, err = readStereoWAV(final)
	if err != nil {
		t.Fatalf("finished recording: %v", err)
	}
	if 44+4*len(l) != len(final) {
		t.Fatalf("header says %d samples, file holds %d bytes", len(l), len(final))
	}
	_, d := br.Recording()
	if le := binary.LittleEndian; le.Uint32(final[4:]) != uint32(len(final)-8) {
		t.Fatalf("RIFF size %d, file %d bytes", le.Uint32(final[4:]), len(final))
	}
	if got := time.Duration(len(l)) * time.Second / media.SampleRate; got != d {
		t.Fatalf("file holds %v, Recording says %v", got, d)
	}
	checkChannels(t, l, r)
	if err := br.StartRecording("acme/call-3"); !errors.Is(err, ErrBridgeClosed) {
		t.Fatalf("recording an ended bridge: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("file mode: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "acme", "call-2.wav")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("refused recording left a file: %v", err)
	}
}

// checkChannels checks that most 20 ms frames that carry audio carry
// 440 Hz on the left and 1000 Hz on the right, never the other way round.
func checkChannels(t *testing.T, l, r []int16) {
	t.Helper()
	good, talk := 0, 0
	for i := 0; i+media.FrameSamples <= len(l); i += media.FrameSamples {
		fl, fr := l[i:i+media.FrameSamples], r[i:i+media.FrameSamples]
		if level(fl, 1000) > 2000 || level(fr, 440) > 2000 {
			t.Fatalf("frame %d: the channels are mixed up (left 1000 Hz %.0f, right 440 Hz %.0f)", i/media.FrameSamples, level(fl, 1000), level(fr, 440))
		}
		if level(fl, 440) > 4000 || level(fr, 1000) > 4000 {
			talk++
		}
		if level(fl, 440) > 4000 && level(fr, 1000) > 4000 {
			good++
		}
	}
	t.Logf("%d frames with both parties of %d with either, %d in all", good, talk, len(l)/media.FrameSamples)
	if talk < 50 || good < talk*3/4 {
		t.Fatalf("%d frames with both parties of %d with either", good, talk)
	}
}

// Closing the backend finishes the recordings of its bridges before it
// returns.
func TestCloseFinishesRecording(t *testing.T) {
	dir := t.TempDir()
	b, a, o := pair(t, Config{RecordingDir: dir, ByeTimeout: 100 * time.Millisecond}, 101, 101)
	brg, err := b.Bridge(a.s, o.s)
	if err != nil {
		t.Fatal(err)
	}
	br := brg.(*Bridge)
	if err := br.StartRecording("acme/closing"); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		a.phone.audio(a.ours, 8, fill(0x55, media.FrameSamples))
	}
	waitFor(t, "some audio recorded", func() bool { _, d := br.Recording(); return d > 0 })
	b.Close() // the far ends do not answer the BYEs: bounded by ByeTimeout
	f, err := os.ReadFile(filepath.Join(dir, "acme", "closing.wav"))
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := readStereoWAV(f)
	_, d := br.Recording()
	if err != nil || 44+4*len(l) != len(f) || binary.LittleEndian.Uint32(f[4:]) != uint32(len(f)-8) ||
		time.Duration(len(l))*time.Second/media.SampleRate != d {
		t.Fatalf("after Close: %d samples in %d bytes, Recording %v: %v", len(l), len(f), d, err)
	}
	if err := br.StartRecording("acme/late"); err == nil {
		t.Fatal("recording after Close")
	}
}
