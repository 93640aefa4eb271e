package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// wavHeaderSize is the canonical 44-byte header EncodeWAV and WAVWriter
// write: RIFF, a 16-byte fmt chunk, the data chunk header.
const wavHeaderSize = 44

// maxWAVData is the most audio a RIFF file can hold: its sizes are 32-bit.
const maxWAVData = 1<<32 - 1 - (wavHeaderSize - 8)

// ErrWAVFull is returned by WAVWriter once the data would pass the 4 GiB
// a RIFF file can describe (about 37 hours of 8 kHz stereo).
var ErrWAVFull = errors.New("media: wav: recording reached the 4 GiB WAV limit")

// wavHeader writes the header of 8 kHz 16-bit PCM with channels channels
// and dataBytes of samples.
func wavHeader(b *[wavHeaderSize]byte, channels int, dataBytes uint32) {
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], dataBytes+wavHeaderSize-8)
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)
	le.PutUint16(b[20:], wavPCM)
	le.PutUint16(b[22:], uint16(channels))
	le.PutUint32(b[24:], SampleRate)
	le.PutUint32(b[28:], uint32(SampleRate*2*channels)) // byte rate
	le.PutUint16(b[32:], uint16(2*channels))            // block align
	le.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	le.PutUint32(b[40:], dataBytes)
}

func checkChannels(channels int) error {
	if channels < 1 || channels > 16 {
		return fmt.Errorf("media: wav: %d channels, want 1 to 16", channels)
	}
	return nil
}

// EncodeWAV writes samples as an 8 kHz 16-bit PCM WAV file with the given
// number of channels; samples are interleaved (left, right, left, ... for
// two channels), so their count is a multiple of channels.
func EncodeWAV(w io.Writer, channels int, samples []int16) error {
	if err := checkChannels(channels); err != nil {
		return err
	}
	if len(samples)%channels != 0 {
		return fmt.Errorf("media: wav: %d samples are not whole frames of %d channels", len(samples), channels)
	}
	if int64(len(samples))*2 > maxWAVData {
		return ErrWAVFull
	}
	var hdr [wavHeaderSize]byte
	wavHeader(&hdr, channels, uint32(len(samples)*2))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	var buf [4096]byte
	for len(samples) > 0 {
		n := min(len(samples), len(buf)/2)
		putSamples(buf[:], samples[:n])
		if _, err := w.Write(buf[:2*n]); err != nil {
			return err
		}
		samples = samples[n:]
	}
	return nil
}

func putSamples(dst []byte, src []int16) {
	for i, s := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], uint16(s))
	}
}

// WAVWriter streams 8 kHz 16-bit PCM to a WAV file, for recordings.
//
// The header goes out first with zero sizes and is rewritten in place
// after every second of audio (SyncEvery) and on Close. A process that
// dies mid-recording therefore leaves a playable file holding all but at
// most the last second of what was written; one that dies within the first
// second leaves a header that says 0 length (the samples are in the file,
// a repair tool reading to its end recovers them). The sizes are written
// with ordinary writes, not synced to disk: surviving a machine crash is
// the caller's business (fsync the file).
type WAVWriter struct {
	w         io.WriteSeeker
	start     int64 // offset of the header in w
	channels  int
	data      int64 // bytes of samples written
	unsynced  int64 // bytes since the header last had the sizes
	syncEvery int64
	buf       []byte
	err       error // sticky: after a failed write nothing more is written
	closed    bool
}

// NewWAVWriter writes a WAV header for channels channels at w's current
// offset and returns a writer for the samples. Close fixes the sizes; it
// does not close w.
func NewWAVWriter(w io.WriteSeeker, channels int) (*WAVWriter, error) {
	if err := checkChannels(channels); err != nil {
		return nil, err
	}
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("media: wav: %w", err)
	}
	var hdr [wavHeaderSize]byte
	wavHeader(&hdr, channels, 0)
	if _, err := w.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("media: wav: %w", err)
	}
	return &WAVWriter{w: w, start: start, channels: channels, syncEvery: int64(SampleRate * 2 * channels)}, nil
}

// SyncEvery sets how much audio may be written before the header sizes
// are brought up to date again; the default is one second, 0 or less
// means only on Sync and Close.
func (w *WAVWriter) SyncEvery(d time.Duration) {
	w.syncEvery = int64(d) * SampleRate / int64(time.Second) * int64(2*w.channels)
}

// Channels is the number of channels given to NewWAVWriter.
func (w *WAVWriter) Channels() int { return w.channels }

// Duration is how much audio has been written.
func (w *WAVWriter) Duration() time.Duration {
	return time.Duration(w.data/int64(2*w.channels)) * time.Second / SampleRate
}

// WriteSamples appends interleaved samples, whole frames only (a multiple
// of Channels). After its buffer has grown to the largest write it does not
// allocate.
func (w *WAVWriter) WriteSamples(samples []int16) error {
	if len(samples)%w.channels != 0 {
		return fmt.Errorf("media: wav: %d samples are not whole frames of %d channels", len(samples), w.channels)
	}
	if err := w.reserve(len(samples)); err != nil {
		return err
	}
	putSamples(w.buf, samples)
	return w.write(w.buf[:2*len(samples)])
}

// WriteStereo appends two mono signals as the left and right channels of
// a two-channel recording (one party each). A shorter side is padded with
// silence, so the channels stay aligned when one party's packet is
// missing.
func (w *WAVWriter) WriteStereo(left, right []int16) error {
	if w.channels != 2 {
		return fmt.Errorf("media: wav: WriteStereo on a %d-channel writer", w.channels)
	}
	n := max(len(left), len(right))
	if err := w.reserve(2 * n); err != nil {
		return err
	}
	b := w.buf[:4*n]
	clear(b)
	for i, s := range left {
		binary.LittleEndian.PutUint16(b[4*i:], uint16(s))
	}
	for i, s := range right {
		binary.LittleEndian.PutUint16(b[4*i+2:], uint16(s))
	}
	return w.write(b)
}

// reserve checks the writer can take n more samples and sizes the buffer.
func (w *WAVWriter) reserve(n int) error {
	switch {
	case w.closed:
		return errors.New("media: wav: write after Close")
	case w.err != nil:
		return w.err
	case w.data+int64(2*n) > maxWAVData:
		return ErrWAVFull
	}
	if cap(w.buf) < 2*n {
		w.buf = make([]byte, 2*n)
	}
	w.buf = w.buf[:cap(w.buf)]
	return nil
}

func (w *WAVWriter) write(b []byte) error {
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("media: wav: %w", err)
		return w.err
	}
	w.data += int64(len(b))
	w.unsynced += int64(len(b))
	if w.syncEvery > 0 && w.unsynced >= w.syncEvery {
		return w.Sync()
	}
	return nil
}

// Sync writes the current sizes into the header, so the file is playable
// as it stands.
func (w *WAVWriter) Sync() error {
	if w.err != nil {
		return w.err
	}
	var hdr [wavHeaderSize]byte
	wavHeader(&hdr, w.channels, uint32(w.data))
	end := w.start + wavHeaderSize + w.data
	for _, field := range [][2]int{{4, 8}, {40, 44}} { // RIFF size, data size
		if _, err := w.w.Seek(w.start+int64(field[0]), io.SeekStart); err != nil {
			w.err = fmt.Errorf("media: wav: %w", err)
			return w.err
		}
		if _, err := w.w.Write(hdr[field[0]:field[1]]); err != nil {
			w.err = fmt.Errorf("media: wav: %w", err)
			return w.err
		}
	}
	if _, err := w.w.Seek(end, io.SeekStart); err != nil {
		w.err = fmt.Errorf("media: wav: %w", err)
		return w.err
	}
	w.unsynced = 0
	return nil
}

// Close writes the final sizes. It does not close the underlying writer
// and is idempotent; writes after it fail.
func (w *WAVWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	return w.Sync()
}
