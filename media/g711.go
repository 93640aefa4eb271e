package media

import (
	"fmt"
	"math/bits"
	"strings"
)

// Telephony audio as the RTP path carries it: 8 kHz, one channel, G.711.
const (
	// SampleRate is the only rate the media package handles, in Hz; one
	// G.711 byte is one sample, so the RTP clock runs at this rate too.
	SampleRate = 8000
	// FrameSamples is one 20 ms packet: 160 samples, 160 bytes of G.711.
	FrameSamples = SampleRate / 50
)

// Codec is a G.711 variant. Its value is its static RTP payload type
// (RFC 3551), so a Codec can be written straight into an RTP header.
type Codec uint8

// The two G.711 laws.
const (
	PCMU Codec = 0 // G.711 μ-law (North America, Japan)
	PCMA Codec = 8 // G.711 A-law (the rest of the world)
)

// ParseCodec maps an SDP rtpmap encoding name ("PCMU", "PCMA", any case,
// an optional "/8000" clock) to its Codec.
func ParseCodec(name string) (Codec, error) {
	n, _, _ := strings.Cut(strings.TrimSpace(name), "/")
	switch strings.ToUpper(n) {
	case "PCMU":
		return PCMU, nil
	case "PCMA":
		return PCMA, nil
	}
	return 0, fmt.Errorf("media: codec %q is not G.711 (PCMU or PCMA)", name)
}

// Valid reports whether c is PCMU or PCMA. Methods of an invalid Codec
// convert nothing.
func (c Codec) Valid() bool { return c == PCMU || c == PCMA }

// PayloadType is c's static RTP payload type: 0 for PCMU, 8 for PCMA.
func (c Codec) PayloadType() uint8 { return uint8(c) }

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// Silence is the code of digital silence: 0xFF in μ-law, 0xD5 in A-law
// (the smallest positive level; A-law has no zero).
func (c Codec) Silence() byte {
	if c == PCMA {
		return 0xD5
	}
	return 0xFF
}

// Encode converts linear samples to G.711 codes, one byte per sample, and
// returns how many it wrote: min(len(dst), len(src)), 0 for an invalid
// codec. It does not allocate.
func (c Codec) Encode(dst []byte, src []int16) int {
	switch c {
	case PCMU:
		return EncodeUlaw(dst, src)
	case PCMA:
		return EncodeAlaw(dst, src)
	}
	return 0
}

// Decode converts G.711 codes to linear samples and returns how many it
// wrote: min(len(dst), len(src)), 0 for an invalid codec. It does not
// allocate.
func (c Codec) Decode(dst []int16, src []byte) int {
	var t *[256]int16
	switch c {
	case PCMU:
		t = &ulawTable
	case PCMA:
		t = &alawTable
	default:
		return 0
	}
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = t[b]
	}
	return n
}

// μ-law (ITU-T G.711 §3, the Sun/CCITT reference algorithm on 16-bit
// input): the magnitude, clipped and biased by 0x84, falls in one of eight
// segments; the code is sign, segment and the four bits after the leading
// one, all inverted.
const (
	ulawBias = 0x84
	ulawClip = 32635
)

// LinearToUlaw encodes one 16-bit linear sample as μ-law. 0 encodes to
// 0xFF; encoding is symmetric (LinearToUlaw(-x) == LinearToUlaw(x)^0x80).
func LinearToUlaw(s int16) byte {
	mag, mask := int(s), 0xFF
	if mag < 0 {
		mag, mask = -mag, 0x7F
	}
	mag = min(mag, ulawClip) + ulawBias // 0x84..0x7FFF: 8 to 15 bits
	seg := bits.Len(uint(mag)) - 8
	code := seg<<4 | (mag>>(seg+3))&0x0F
	return byte(code ^ mask)
}

// UlawToLinear decodes one μ-law code. Both zeros (0xFF and 0x7F) decode
// to 0; the extremes are ±32124.
func UlawToLinear(u byte) int16 { return ulawTable[u] }

func ulawDecode(u byte) int16 {
	u = ^u
	t := (int(u&0x0F)<<3 + ulawBias) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// A-law (ITU-T G.711 §2, the Sun/CCITT reference algorithm): the 13-bit
// magnitude falls in one of eight segments (the first two share a step);
// the code is sign, segment and four bits, with the even bits inverted
// (XOR 0x55).

// LinearToAlaw encodes one 16-bit linear sample as A-law. 0 encodes to
// 0xD5.
func LinearToAlaw(s int16) byte {
	pcm, mask := int(s)>>3, 0xD5
	if pcm < 0 {
		pcm, mask = -pcm-1, 0x55
	}
	// pcm is now 0..0xFFF: bits.Len is 0..12.
	seg := max(bits.Len(uint(pcm))-5, 0)
	var code int
	if seg == 0 {
		code = (pcm >> 1) & 0x0F
	} else {
		code = seg<<4 | (pcm>>seg)&0x0F
	}
	return byte(code ^ mask)
}

// AlawToLinear decodes one A-law code. There is no zero: 0xD5 decodes to
// 8 and 0x55 to -8; the extremes are ±32256.
func AlawToLinear(a byte) int16 { return alawTable[a] }

func alawDecode(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// Decode tables: G.711 decoding is a lookup.
var ulawTable, alawTable = func() (u, a [256]int16) {
	for i := range 256 {
		u[i], a[i] = ulawDecode(byte(i)), alawDecode(byte(i))
	}
	return u, a
}()

// EncodeUlaw is PCMU.Encode.
func EncodeUlaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = LinearToUlaw(s)
	}
	return n
}

// EncodeAlaw is PCMA.Encode.
func EncodeAlaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = LinearToAlaw(s)
	}
	return n
}
