package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxAudioDuration bounds the audio DecodeWAV accepts: an announcement
// longer than this is refused before it is read.
const MaxAudioDuration = 10 * time.Minute

// maxWAVOther bounds the bytes of chunks other than fmt and data (LIST,
// fact, bext...) DecodeWAV skips before it gives up on a file.
const maxWAVOther = 1 << 20

// ErrBadWAV is matched (errors.Is) by every refusal of DecodeWAV that is
// about the file's content; its message says what is wrong and what is
// accepted. Errors of the reader itself are returned wrapped as they are.
var ErrBadWAV = errors.New("media: unsupported or broken WAV")

type wavError string

func (e wavError) Error() string        { return "media: wav: " + string(e) }
func (e wavError) Is(target error) bool { return target == ErrBadWAV }

func badWAV(format string, args ...any) error { return wavError(fmt.Sprintf(format, args...)) }

// WAVE format tags of the fmt chunk.
const (
	wavPCM        = 1
	wavFloat      = 3
	wavAlaw       = 6
	wavUlaw       = 7
	wavExtensible = 0xFFFE
)

// Audio is 8 kHz mono 16-bit linear audio, what an announcement is held as
// once decoded.
type Audio struct {
	Samples []int16
}

// Duration is how long the audio plays.
func (a *Audio) Duration() time.Duration {
	return time.Duration(len(a.Samples)) * time.Second / SampleRate
}

// Encode converts the audio to c once, for playback on every leg that
// negotiated c (see Player). It returns nil for an invalid codec.
func (a *Audio) Encode(c Codec) []byte {
	if !c.Valid() {
		return nil
	}
	out := make([]byte, len(a.Samples))
	c.Encode(out, a.Samples)
	return out
}

// DecodeWAV reads a RIFF/WAVE file holding 8000 Hz mono audio as 16-bit
// PCM (format 1), A-law (6) or μ-law (7), and returns it as linear
// samples. Chunks other than fmt and data (LIST, fact, ...) are skipped,
// odd-sized chunks are padded as RIFF says, and reading stops at the end of
// the data chunk. Anything else is refused with an error matching
// ErrBadWAV that says why: another rate, channel count or sample size,
// compressed or extensible formats, a missing or truncated chunk, audio
// longer than MaxAudioDuration. The RIFF size field is not checked (a
// recorder that stopped abruptly leaves it wrong).
func DecodeWAV(r io.Reader) (*Audio, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, truncated(err, "in the RIFF header")
	}
	switch id := string(hdr[:4]); id {
	case "RIFF":
	case "RIFX":
		return nil, badWAV("big-endian RIFX files are not supported")
	case "RF64":
		return nil, badWAV("RF64 files are not supported")
	default:
		return nil, badWAV("not a RIFF file (starts with %q)", id)
	}
	if form := string(hdr[8:12]); form != "WAVE" {
		return nil, badWAV("RIFF file is not WAVE but %q", form)
	}
	var (
		f     *wavFormat
		other int64
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) && f == nil {
				return nil, badWAV("no fmt chunk")
			}
			if errors.Is(err, io.EOF) {
				return nil, badWAV("no data chunk")
			}
			return nil, truncated(err, "in a chunk header")
		}
		id, size := string(ch[:4]), int64(binary.LittleEndian.Uint32(ch[4:]))
		switch id {
		case "fmt ":
			if f != nil {
				return nil, badWAV("more than one fmt chunk")
			}
			var err error
			if f, err = readFormat(r, size); err != nil {
				return nil, err
			}
		case "data":
			if f == nil {
				return nil, badWAV("data chunk before the fmt chunk")
			}
			return f.readData(r, size)
		default:
			size += size & 1
			if other += size; other > maxWAVOther {
				return nil, badWAV("more than %d bytes of chunks other than fmt and data", maxWAVOther)
			}
			if _, err := io.CopyN(io.Discard, r, size); err != nil {
				return nil, truncated(err, fmt.Sprintf("in chunk %q", id))
			}
		}
	}
}

// truncated turns an end of input into a refusal and wraps any other
// reader error.
func truncated(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badWAV("file is truncated %s", where)
	}
	return fmt.Errorf("media: wav: reading: %w", err)
}

// wavFormat is an accepted fmt chunk: mono 8 kHz, 16-bit PCM or G.711.
type wavFormat struct {
	codec Codec // for format 6 and 7
	pcm   bool  // 16-bit linear
}

func (f *wavFormat) bytesPerSample() int64 {
	if f.pcm {
		return 2
	}
	return 1
}

func readFormat(r io.Reader, size int64) (*wavFormat, error) {
	if size < 16 {
		return nil, badWAV("fmt chunk is %d bytes, need at least 16", size)
	}
	if size > 1024 {
		return nil, badWAV("fmt chunk is %d bytes, too long", size)
	}
	b := make([]byte, size+size&1)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, truncated(err, "in the fmt chunk")
	}
	le := binary.LittleEndian
	tag, channels, rate := le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint32(b[4:])
	align, bits := le.Uint16(b[12:]), le.Uint16(b[14:])
	var f wavFormat
	switch tag {
	case wavPCM:
		f.pcm = true
	case wavUlaw:
		f.codec = PCMU
	case wavAlaw:
		f.codec = PCMA
	case wavExtensible:
		return nil, badWAV("WAVE_FORMAT_EXTENSIBLE is not supported: save as plain 16-bit PCM, μ-law or A-law")
	case wavFloat:
		return nil, badWAV("32-bit float audio is not supported: need 16-bit PCM, μ-law or A-law")
	default:
		return nil, badWAV("format tag %#04x is not supported: need 16-bit PCM (1), A-law (6) or μ-law (7)", tag)
	}
	if channels != 1 {
		return nil, badWAV("audio must be mono, got %d channels", channels)
	}
	if rate != SampleRate {
		return nil, badWAV("sample rate must be %d Hz, got %d", SampleRate, rate)
	}
	switch {
	case f.pcm && bits != 16:
		return nil, badWAV("PCM must be 16-bit, got %d-bit", bits)
	case !f.pcm && bits != 8:
		return nil, badWAV("%v must have 8 bits per sample, got %d", f.codec, bits)
	}
	if int64(align) != f.bytesPerSample() {
		return nil, badWAV("block align is %d, want %d for %d-bit mono", align, f.bytesPerSample(), bits)
	}
	return &f, nil
}

// readData reads size bytes of samples. Memory grows with what actually
// arrives, so a header that lies about its size costs nothing.
func (f *wavFormat) readData(r io.Reader, size int64) (*Audio, error) {
	bps := f.bytesPerSample()
	switch limit := int64(MaxAudioDuration/time.Second) * SampleRate * bps; {
	case size == 0:
		return nil, badWAV("data chunk is empty")
	case size == 0xFFFFFFFF:
		return nil, badWAV("data chunk size is unset (0xFFFFFFFF): the file was streamed and never finalised")
	case size > limit:
		d := time.Duration(size/bps) * time.Second / SampleRate
		return nil, badWAV("audio is %v long, the limit is %v", d.Round(time.Second), MaxAudioDuration)
	case size%bps != 0:
		return nil, badWAV("data chunk of %d bytes is not a whole number of %d-byte samples", size, bps)
	}
	samples := make([]int16, 0, min(size/bps, 1<<16))
	var buf [4096]byte
	for done := int64(0); done < size; {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-done)])
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, badWAV("file is truncated: data chunk says %d bytes, file ends after %d", size, done+int64(n))
			}
			return nil, fmt.Errorf("media: wav: reading: %w", err)
		}
		done += int64(n)
		if f.pcm {
			for i := 0; i+1 < n; i += 2 {
				samples = append(samples, int16(binary.LittleEndian.Uint16(buf[i:])))
			}
			continue
		}
		at := len(samples)
		samples = append(samples, make([]int16, n)...)
		f.codec.Decode(samples[at:], buf[:n])
	}
	return &Audio{Samples: samples}, nil
}
