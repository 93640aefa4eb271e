package media

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// memFile is an in-memory io.WriteSeeker, like a file.
type memFile struct {
	b   []byte
	pos int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := int(m.pos) + len(p); end > len(m.b) {
		m.b = slices.Grow(m.b, end-len(m.b))[:end]
	}
	copy(m.b[m.pos:], p)
	m.pos += int64(len(p))
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += m.pos
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	m.pos = off
	return off, nil
}

func ramp(n int, from int16) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = from + int16(i)
	}
	return s
}

func TestWAVWriterMono(t *testing.T) {
	f := &memFile{}
	f.Write([]byte("prefix")) // the WAV starts wherever w is
	w, err := NewWAVWriter(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := ramp(1000, -500)
	for i := 0; i < len(want); i += 160 {
		if err := w.WriteSamples(want[i:min(i+160, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if w.WriteSamples(want[:1]) == nil {
		t.Fatal("write after Close accepted")
	}
	if w.Duration() != 125*time.Millisecond || w.Channels() != 1 {
		t.Fatalf("Duration %v", w.Duration())
	}
	if !bytes.HasPrefix(f.b, []byte("prefixRIFF")) {
		t.Fatalf("file starts % x", f.b[:10])
	}
	a, err := DecodeWAV(bytes.NewReader(f.b[6:]))
	if err != nil || !equalSamples(a.Samples, want) {
		t.Fatalf("decode: %v", err)
	}
	var enc bytes.Buffer
	EncodeWAV(&enc, 1, want)
	if !bytes.Equal(enc.Bytes(), f.b[6:]) {
		t.Fatal("streamed file differs from EncodeWAV's")
	}
}

// A recording that stops without Close (the process died) is playable up
// to the last second written; before the first second, its header says 0
// bytes.
func TestWAVWriterAbruptEnd(t *testing.T) {
	f := &memFile{}
	w, err := NewWAVWriter(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 2*FrameSamples)
	for i := 0; i < 49; i++ { // 0.98 s
		if err := w.WriteSamples(frame); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := DecodeWAV(bytes.NewReader(f.b)); err == nil || !strings.Contains(err.Error(), "audio must be mono") {
		t.Fatalf("decode of the early file: %v", err) // stereo: refused as announcement, but parsed
	}
	if got := dataSize(f.b); got != 0 {
		t.Fatalf("header says %d bytes before a second of audio", got)
	}
	for i := 0; i < 76; i++ { // 2.5 s in all
		w.WriteSamples(frame)
	}
	if got, want := dataSize(f.b), uint32(2*SampleRate*2*2); got != want {
		t.Fatalf("header says %d bytes after 2.5 s, want %d (2 s)", got, want)
	}
	if got := len(f.b) - wavHeaderSize; got != 125*2*FrameSamples*2 {
		t.Fatalf("file holds %d bytes of samples", got)
	}
	w.Close()
	if got := dataSize(f.b); got != uint32(len(f.b)-wavHeaderSize) {
		t.Fatalf("header says %d bytes after Close, file has %d", got, len(f.b)-wavHeaderSize)
	}
}

func dataSize(file []byte) uint32 {
	return uint32(file[40]) | uint32(file[41])<<8 | uint32(file[42])<<16 | uint32(file[43])<<24
}

func TestWAVWriterStereo(t *testing.T) {
	f := &memFile{}
	w, _ := NewWAVWriter(f, 2)
	w.SyncEvery(0)
	left, right := ramp(160, 100), ramp(80, -100) // right lost half a packet
	if err := w.WriteStereo(left, right); err != nil {
		t.Fatal(err)
	}
	if dataSize(f.b) != 0 {
		t.Fatal("synced with SyncEvery(0)")
	}
	if err := w.Sync(); err != nil || dataSize(f.b) != 640 {
		t.Fatalf("Sync: %v, size %d", err, dataSize(f.b))
	}
	w.Close()
	got := make([]int16, 320)
	for i := range got {
		got[i] = int16(uint16(f.b[wavHeaderSize+2*i]) | uint16(f.b[wavHeaderSize+2*i+1])<<8)
	}
	for i := 0; i < 160; i++ {
		r := int16(0)
		if i < 80 {
			r = right[i]
		}
		if got[2*i] != left[i] || got[2*i+1] != r {
			t.Fatalf("frame %d = %d,%d want %d,%d", i, got[2*i], got[2*i+1], left[i], r)
		}
	}
	mono, _ := NewWAVWriter(&memFile{}, 1)
	if mono.WriteStereo(left, right) == nil {
		t.Fatal("WriteStereo on a mono writer")
	}
	if w2, _ := NewWAVWriter(&memFile{}, 2); w2.WriteSamples(left[:3]) == nil {
		t.Fatal("half a frame accepted")
	}
	if _, err := NewWAVWriter(&memFile{}, 0); err == nil {
		t.Fatal("0 channels accepted")
	}
}

type failingFile struct {
	memFile
	failAfter int
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.failAfter--; f.failAfter < 0 {
		return 0, errors.New("disk full")
	}
	return f.memFile.Write(p)
}

func TestWAVWriterErrorsStick(t *testing.T) {
	if _, err := NewWAVWriter(&failingFile{}, 1); err == nil {
		t.Fatal("header write error lost")
	}
	f := &failingFile{failAfter: 2}
	w, _ := NewWAVWriter(f, 1)
	if err := w.WriteSamples(make([]int16, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(make([]int16, 10)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("write error %v", err)
	}
	if err := w.WriteSamples(make([]int16, 10)); err == nil {
		t.Fatal("write after an error accepted")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after an error succeeded")
	}
	full := &WAVWriter{w: &memFile{}, channels: 1, data: maxWAVData - 2}
	if err := full.WriteSamples(make([]int16, 2)); !errors.Is(err, ErrWAVFull) {
		t.Fatalf("past 4 GiB: %v", err)
	}
}

func TestWAVWriterDoesNotAllocate(t *testing.T) {
	f := &memFile{b: make([]byte, 0, 1<<20)}
	w, _ := NewWAVWriter(f, 2)
	left, right := ramp(160, 0), ramp(160, 1)
	frame := make([]int16, 320)
	w.WriteStereo(left, right)
	if n := testing.AllocsPerRun(200, func() { // crosses several header syncs
		w.WriteStereo(left, right)
		w.WriteSamples(frame)
	}); n != 0 {
		t.Fatalf("recording allocates %v per packet", n)
	}
}
