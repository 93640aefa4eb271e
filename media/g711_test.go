package media

import (
	"testing"
)

func TestG711KnownValues(t *testing.T) {
	if got := LinearToUlaw(0); got != 0xFF {
		t.Errorf("μ-law(0) = %#x, want 0xFF", got)
	}
	if got := LinearToAlaw(0); got != 0xD5 {
		t.Errorf("A-law(0) = %#x, want 0xD5", got)
	}
	// The first row of the published decode tables (codes 0x00-0x0F).
	ulaw := []int16{-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
		-23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764}
	alaw := []int16{-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736,
		-7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784}
	for i := range 16 {
		if got := UlawToLinear(byte(i)); got != ulaw[i] {
			t.Errorf("μ-law decode %#02x = %d, want %d", i, got, ulaw[i])
		}
		if got := AlawToLinear(byte(i)); got != alaw[i] {
			t.Errorf("A-law decode %#02x = %d, want %d", i, got, alaw[i])
		}
	}
	for _, c := range []struct {
		codec Codec
		code  byte
		want  int16
	}{
		{PCMU, 0xFF, 0}, {PCMU, 0x7F, 0}, {PCMU, 0xFE, 8}, {PCMU, 0xEF, 132},
		{PCMU, 0x80, 32124}, {PCMU, 0x00, -32124},
		{PCMA, 0xD5, 8}, {PCMA, 0x55, -8}, {PCMA, 0xC5, 264},
		{PCMA, 0xAA, 32256}, {PCMA, 0x2A, -32256},
	} {
		var got [1]int16
		c.codec.Decode(got[:], []byte{c.code})
		if got[0] != c.want {
			t.Errorf("%v decode %#02x = %d, want %d", c.codec, c.code, got[0], c.want)
		}
	}
	for _, c := range []struct {
		in   int16
		u, a byte
	}{
		{32767, 0x80, 0xAA}, {-32768, 0x00, 0x2A}, {-1, 0x7F, 0x55}, {1, 0xFF, 0xD5},
	} {
		if got := LinearToUlaw(c.in); got != c.u {
			t.Errorf("μ-law(%d) = %#x, want %#x", c.in, got, c.u)
		}
		if got := LinearToAlaw(c.in); got != c.a {
			t.Errorf("A-law(%d) = %#x, want %#x", c.in, got, c.a)
		}
	}
}

// The linear inputs where the encoder moves from one segment to the next:
// the last value of segment k and the first of k+1 (positive side).
func TestG711SegmentBoundaries(t *testing.T) {
	// μ-law: segment k starts where x+0x84 reaches 128<<k.
	for k := 1; k < 8; k++ {
		first := int16(128<<k - ulawBias)
		lastCode := byte(((k-1)<<4 | 0x0F) ^ 0xFF)
		firstCode := byte((k << 4) ^ 0xFF)
		if got := LinearToUlaw(first - 1); got != lastCode {
			t.Errorf("μ-law(%d) = %#x, want %#x (end of segment %d)", first-1, got, lastCode, k-1)
		}
		if got := LinearToUlaw(first); got != firstCode {
			t.Errorf("μ-law(%d) = %#x, want %#x (start of segment %d)", first, got, firstCode, k)
		}
		if got, want := UlawToLinear(firstCode), int16(ulawBias*(1<<k-1)); got != want {
			t.Errorf("μ-law decode of segment %d start = %d, want %d", k, got, want)
		}
	}
	// A-law: segment k (k >= 1) starts at 256<<(k-1); segments 0 and 1
	// share a step of 16.
	for k := 1; k < 8; k++ {
		first := int16(256 << (k - 1))
		lastCode := byte(((k-1)<<4 | 0x0F) ^ 0xD5)
		firstCode := byte((k << 4) ^ 0xD5)
		if got := LinearToAlaw(first - 1); got != lastCode {
			t.Errorf("A-law(%d) = %#x, want %#x (end of segment %d)", first-1, got, lastCode, k-1)
		}
		if got := LinearToAlaw(first); got != firstCode {
			t.Errorf("A-law(%d) = %#x, want %#x (start of segment %d)", first, got, firstCode, k)
		}
		step := 16 << max(k-1, 0)
		if got, want := AlawToLinear(firstCode), int16(int(first)+step/2); got != want {
			t.Errorf("A-law decode of segment %d start = %d, want %d", k, got, want)
		}
	}
}

func TestG711RoundTrips(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		want := b
		if b == 0x7F { // μ-law's negative zero comes back positive
			want = 0xFF
		}
		if got := LinearToUlaw(UlawToLinear(b)); got != want {
			t.Errorf("μ-law %#02x -> %d -> %#02x", b, UlawToLinear(b), got)
		}
		if got := LinearToAlaw(AlawToLinear(b)); got != b {
			t.Errorf("A-law %#02x -> %d -> %#02x", b, AlawToLinear(b), got)
		}
	}
	// Every 16-bit input: decoding its code is monotonic in the input,
	// within half a quantisation step of it (inside the clip range), and
	// the encoders are symmetric about zero.
	prevU, prevA := int16(-32768), int16(-32768)
	for x := -32768; x <= 32767; x++ {
		s := int16(x)
		u, a := LinearToUlaw(s), LinearToAlaw(s)
		du, da := UlawToLinear(u), AlawToLinear(a)
		if du < prevU || da < prevA {
			t.Fatalf("not monotonic at %d: μ %d after %d, A %d after %d", x, du, prevU, da, prevA)
		}
		prevU, prevA = du, da
		segU := int(^u&0x70) >> 4
		if abs(x) <= ulawClip && abs(int(du)-x) > 4<<segU {
			t.Fatalf("μ-law error at %d: decodes to %d (segment %d)", x, du, segU)
		}
		segA := int((a^0x55)&0x70) >> 4
		if abs(int(da)-x) > 8<<max(segA-1, 0) {
			t.Fatalf("A-law error at %d: decodes to %d (segment %d)", x, da, segA)
		}
		if x > 0 && LinearToUlaw(-s) != u^0x80 {
			t.Fatalf("μ-law not symmetric at %d", x)
		}
		if x >= 0 && LinearToAlaw(-s-1) != a^0x80 {
			t.Fatalf("A-law not symmetric at %d", x)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestCodec(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Codec
	}{{"PCMU", PCMU}, {"pcma/8000", PCMA}, {" PCMU/8000 ", PCMU}} {
		got, err := ParseCodec(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCodec(%q) = %v, %v", c.in, got, err)
		}
	}
	if _, err := ParseCodec("G729"); err == nil {
		t.Error("ParseCodec(G729) accepted")
	}
	if PCMU.PayloadType() != 0 || PCMA.PayloadType() != 8 || PCMU.String() != "PCMU" || PCMA.String() != "PCMA" {
		t.Error("payload types or names")
	}
	if bad := Codec(18); bad.Valid() || bad.Encode(make([]byte, 4), make([]int16, 4)) != 0 ||
		bad.Decode(make([]int16, 4), make([]byte, 4)) != 0 || bad.String() != "Codec(18)" {
		t.Error("an invalid codec converted something")
	}
	if PCMU.Silence() != LinearToUlaw(0) || PCMA.Silence() != LinearToAlaw(0) {
		t.Error("silence codes")
	}
	src := []int16{0, 1000, -1000, 32767}
	for _, c := range []Codec{PCMU, PCMA} {
		enc := make([]byte, 3) // shorter than src: converts 3
		if n := c.Encode(enc, src); n != 3 {
			t.Fatalf("%v Encode wrote %d", c, n)
		}
		dec := make([]int16, 8)
		if n := c.Decode(dec, enc); n != 3 {
			t.Fatalf("%v Decode wrote %d", c, n)
		}
		if n := testing.AllocsPerRun(100, func() { c.Encode(enc, src); c.Decode(dec, enc) }); n != 0 {
			t.Fatalf("%v allocates %v", c, n)
		}
	}
}

func BenchmarkG711(b *testing.B) {
	src := make([]int16, FrameSamples)
	for i := range src {
		src[i] = int16(i * 397)
	}
	enc := make([]byte, FrameSamples)
	for _, c := range []Codec{PCMU, PCMA} {
		b.Run(c.String()+"/encode", func(b *testing.B) {
			b.SetBytes(FrameSamples)
			for b.Loop() {
				c.Encode(enc, src)
			}
		})
		b.Run(c.String()+"/decode", func(b *testing.B) {
			b.SetBytes(FrameSamples)
			for b.Loop() {
				c.Decode(src, enc)
			}
		})
	}
}
