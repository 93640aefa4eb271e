package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// chunk and riff build WAV files in the tests.
type chunk struct {
	id   string
	body []byte
}

func riff(form string, chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	b.Write([]byte{0, 0, 0, 0})
	b.WriteString(form)
	for _, c := range chunks {
		b.WriteString(c.id)
		binary.Write(&b, binary.LittleEndian, uint32(len(c.body)))
		b.Write(c.body)
		if len(c.body)%2 == 1 {
			b.WriteByte(0)
		}
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// fmtChunk is a fmt chunk with a consistent block align and byte rate;
// extra bytes follow the 16 standard ones (cbSize and beyond).
func fmtChunk(tag, channels uint16, rate uint32, bits uint16, extra ...byte) chunk {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	align := channels * bits / 8
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(align))
	b = binary.LittleEndian.AppendUint16(b, align)
	b = binary.LittleEndian.AppendUint16(b, bits)
	return chunk{"fmt ", append(b, extra...)}
}

func pcmData(samples ...int16) chunk {
	b := make([]byte, 2*len(samples))
	putSamples(b, samples)
	return chunk{"data", b}
}

var testSamples = []int16{0, 1, -1, 1000, -1000, 32767, -32768, 12345}

func TestDecodeWAVAccepted(t *testing.T) {
	list := chunk{"LIST", []byte("INFOISFT\x05\x00\x00\x00sbox\x00")} // odd size: padded
	g711 := []byte{0xFF, 0x00, 0x80, 0x7F, 0x55}                      // odd: the data chunk is padded
	pcm := testSamples
	for _, c := range []struct {
		name string
		file []byte
		want []int16
	}{
		{"pcm", riff("WAVE", fmtChunk(1, 1, 8000, 16), pcmData(pcm...)), pcm},
		{"pcm with LIST before and after fmt, trailing chunk",
			riff("WAVE", list, fmtChunk(1, 1, 8000, 16), list, pcmData(pcm...), list), pcm},
		{"pcm with cbSize", riff("WAVE", fmtChunk(1, 1, 8000, 16, 0, 0), pcmData(pcm...)), pcm},
		{"μ-law with fact", riff("WAVE", fmtChunk(7, 1, 8000, 8, 0, 0), chunk{"fact", []byte{5, 0, 0, 0}}, chunk{"data", g711}),
			decodeAll(PCMU, g711)},
		{"A-law", riff("WAVE", fmtChunk(6, 1, 8000, 8, 0, 0), chunk{"data", g711}), decodeAll(PCMA, g711)},
	} {
		t.Run(c.name, func(t *testing.T) {
			// One byte at a time too: chunk reads must not rely on a
			// reader filling its buffer.
			for _, r := range []io.Reader{bytes.NewReader(c.file), iotest.OneByteReader(bytes.NewReader(c.file))} {
				a, err := DecodeWAV(r)
				if err != nil {
					t.Fatal(err)
				}
				if !equalSamples(a.Samples, c.want) {
					t.Fatalf("samples %v, want %v", a.Samples, c.want)
				}
			}
		})
	}
}

func decodeAll(c Codec, b []byte) []int16 {
	out := make([]int16, len(b))
	c.Decode(out, b)
	return out
}

func equalSamples(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeWAVRefused(t *testing.T) {
	good := fmtChunk(1, 1, 8000, 16)
	data := pcmData(testSamples...)
	whole := riff("WAVE", good, data)
	badAlign := fmtChunk(1, 1, 8000, 16)
	badAlign.body[12] = 4
	tooLong := riff("WAVE", good, chunk{"data", nil})
	binary.LittleEndian.PutUint32(tooLong[len(tooLong)-4:], uint32(11*60*8000*2))
	for _, c := range []struct {
		name, file, want string
	}{
		{"empty", "", "truncated in the RIFF header"},
		{"short header", "RIFF\x00\x00", "truncated in the RIFF header"},
		{"not RIFF", "OggS\x00\x02\x00\x00\x00\x00\x00\x00", `not a RIFF file (starts with "OggS")`},
		{"RIFX", "RIFX\x00\x00\x00\x24WAVE", "big-endian RIFX"},
		{"RF64", "RF64\xff\xff\xff\xffWAVE", "RF64"},
		{"not WAVE", string(riff("AVI ", good)), `RIFF file is not WAVE but "AVI "`},
		{"no chunks", string(riff("WAVE")), "no fmt chunk"},
		{"no fmt", string(riff("WAVE", chunk{"LIST", []byte("INFO")})), "no fmt chunk"},
		{"data before fmt", string(riff("WAVE", data, good)), "data chunk before the fmt chunk"},
		{"no data", string(riff("WAVE", good)), "no data chunk"},
		{"two fmt", string(riff("WAVE", good, good, data)), "more than one fmt chunk"},
		{"short fmt", string(riff("WAVE", chunk{"fmt ", good.body[:14]}, data)), "fmt chunk is 14 bytes"},
		{"44.1 kHz", string(riff("WAVE", fmtChunk(1, 1, 44100, 16), data)), "sample rate must be 8000 Hz, got 44100"},
		{"16 kHz μ-law", string(riff("WAVE", fmtChunk(7, 1, 16000, 8), data)), "sample rate must be 8000 Hz, got 16000"},
		{"stereo", string(riff("WAVE", fmtChunk(1, 2, 8000, 16), data)), "audio must be mono, got 2 channels"},
		{"8-bit PCM", string(riff("WAVE", fmtChunk(1, 1, 8000, 8), data)), "PCM must be 16-bit, got 8-bit"},
		{"24-bit PCM", string(riff("WAVE", fmtChunk(1, 1, 8000, 24), data)), "PCM must be 16-bit, got 24-bit"},
		{"16-bit μ-law", string(riff("WAVE", fmtChunk(7, 1, 8000, 16), data)), "PCMU must have 8 bits per sample"},
		{"extensible", string(riff("WAVE", fmtChunk(0xFFFE, 1, 8000, 16, 22, 0), data)), "WAVE_FORMAT_EXTENSIBLE is not supported"},
		{"float", string(riff("WAVE", fmtChunk(3, 1, 8000, 32), data)), "32-bit float"},
		{"ADPCM", string(riff("WAVE", fmtChunk(0x11, 1, 8000, 4), data)), "format tag 0x0011 is not supported"},
		{"block align", string(riff("WAVE", badAlign, data)), "block align is 4, want 2"},
		{"empty data", string(riff("WAVE", good, chunk{"data", nil})), "data chunk is empty"},
		{"odd PCM data", string(riff("WAVE", good, chunk{"data", []byte{1, 2, 3}})), "not a whole number of 2-byte samples"},
		{"truncated data", string(whole[:len(whole)-3]), "data chunk says 16 bytes, file ends after 13"},
		{"truncated chunk header", string(riff("WAVE", good)) + "da", "truncated in a chunk header"},
		{"truncated fmt", string(whole[:30]), "truncated in the fmt chunk"},
		{"truncated LIST", string(riff("WAVE", chunk{"LIST", make([]byte, 40)})[:30]), `truncated in chunk "LIST"`},
		{"huge LIST", string(riff("WAVE", chunk{"LIST", make([]byte, maxWAVOther+2)})), "more than 1048576 bytes of chunks"},
		{"11 minutes", string(tooLong), "audio is 11m0s long, the limit is 10m0s"},
		{"streamed, size unset", "RIFF\xff\xff\xff\xffWAVE" + string(riff("WAVE", good)[12:]) + "data\xff\xff\xff\xff\x00\x00",
			"size is unset (0xFFFFFFFF)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeWAV(strings.NewReader(c.file))
			if err == nil {
				t.Fatalf("accepted: %d samples", len(a.Samples))
			}
			if !errors.Is(err, ErrBadWAV) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "media: wav: ") {
				t.Fatalf("error %q, want ErrBadWAV saying %q", err, c.want)
			}
		})
	}
}

func TestDecodeWAVReaderError(t *testing.T) {
	boom := errors.New("disk on fire")
	file := riff("WAVE", fmtChunk(1, 1, 8000, 16), pcmData(testSamples...))
	_, err := DecodeWAV(io.MultiReader(bytes.NewReader(file[:50]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errors.Is(err, ErrBadWAV) {
		t.Fatalf("error %v, want the reader's", err)
	}
}

func TestAudio(t *testing.T) {
	a := &Audio{Samples: make([]int16, 12000)}
	if d := a.Duration(); d != 1500*time.Millisecond {
		t.Fatalf("Duration %v", d)
	}
	a.Samples[0] = 1000
	for _, c := range []Codec{PCMU, PCMA} {
		g := a.Encode(c)
		var first [1]byte
		c.Encode(first[:], []int16{1000})
		if len(g) != 12000 || g[0] != first[0] || g[1] != c.Silence() {
			t.Fatalf("%v: %d bytes, starting % x", c, len(g), g[:2])
		}
	}
	if a.Encode(Codec(3)) != nil {
		t.Fatal("encoded to an invalid codec")
	}
}

func TestEncodeWAVRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := EncodeWAV(&b, 1, testSamples); err != nil {
		t.Fatal(err)
	}
	a, err := DecodeWAV(&b)
	if err != nil || !equalSamples(a.Samples, testSamples) {
		t.Fatalf("round trip: %v, %v", a, err)
	}
	b.Reset()
	if err := EncodeWAV(&b, 2, testSamples); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeWAV(&b); err == nil || !strings.Contains(err.Error(), "mono") {
		t.Fatalf("a stereo file was not refused as such: %v", err)
	}
	if EncodeWAV(io.Discard, 3, testSamples) == nil || EncodeWAV(io.Discard, 0, nil) == nil {
		t.Fatal("accepted samples that are not whole frames, or 0 channels")
	}
}

// FuzzDecodeWAV: whatever the bytes, DecodeWAV returns audio or an error,
// never panics, and what it accepts survives a round trip.
func FuzzDecodeWAV(f *testing.F) {
	f.Add(riff("WAVE", fmtChunk(1, 1, 8000, 16), pcmData(testSamples...)))
	f.Add(riff("WAVE", chunk{"LIST", []byte("INFOx")}, fmtChunk(7, 1, 8000, 8, 0, 0), chunk{"data", []byte{1, 2, 3}}))
	f.Add(riff("WAVE", fmtChunk(6, 1, 8000, 8), chunk{"data", []byte{0xD5}}))
	f.Add(riff("WAVE", fmtChunk(0xFFFE, 1, 8000, 16, 22, 0), pcmData(1)))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, file []byte) {
		a, err := DecodeWAV(bytes.NewReader(file))
		if err != nil {
			return
		}
		if len(a.Samples) == 0 || a.Duration() > MaxAudioDuration {
			t.Fatalf("accepted %d samples", len(a.Samples))
		}
		var b bytes.Buffer
		if err := EncodeWAV(&b, 1, a.Samples); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeWAV(&b)
		if err != nil || !equalSamples(again.Samples, a.Samples) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
