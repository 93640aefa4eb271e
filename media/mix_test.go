package media

import (
	"bytes"
	"testing"
)

func TestMixLinear(t *testing.T) {
	a := []int16{1000, 32000, -32000, 0, 5, 7}
	b := []int16{-400, 32000, -32000, 32767}
	dst := make([]int16, 8)
	if n := MixLinear(dst, a, b); n != 6 {
		t.Fatalf("mixed %d", n)
	}
	want := []int16{600, 32767, -32768, 32767, 5, 7} // saturated, then a alone
	if !equalSamples(dst[:6], want) {
		t.Fatalf("got %v, want %v", dst[:6], want)
	}
	if n := MixLinear(a, a, b); n != 6 || !equalSamples(a, want) { // in place
		t.Fatalf("in place: %v", a)
	}
	if n := MixLinear(dst[:2], want, b); n != 2 {
		t.Fatalf("short dst: %d", n)
	}
}

// Every pair of codes: the mix is the G.711 code of the saturated sum of
// the two decoded samples, within half a step, and does not depend on the
// order.
func TestMixAllPairs(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		var a, b, ab, ba [256]byte
		for x := range 256 {
			for y := range 256 {
				a[y], b[y] = byte(x), byte(y)
			}
			Mix(c, ab[:], a[:], b[:])
			Mix(c, ba[:], b[:], a[:])
			for y := range 256 {
				if ab[y] != ba[y] {
					t.Fatalf("%v: mix(%#x,%#x) = %#x, reversed %#x", c, x, y, ab[y], ba[y])
				}
				var sample [2]int16
				c.Decode(sample[:], []byte{byte(x), byte(y)})
				sum := int(sample[0]) + int(sample[1])
				want := min(max(sum, -32768), 32767)
				var got [1]int16
				c.Decode(got[:], ab[y:y+1])
				if abs(int(got[0])-want) > halfStep(c, ab[y], want) {
					t.Fatalf("%v: mix(%#x,%#x) decodes to %d, sum %d", c, x, y, got[0], sum)
				}
				if (want > 0 && got[0] < 0) || (want < 0 && got[0] > 0) {
					t.Fatalf("%v: mix(%#x,%#x) = %d has the wrong sign for %d", c, x, y, got[0], sum)
				}
			}
		}
	}
}

// halfStep is the largest error encoding x as code may make: half the
// step of code's segment, or for μ-law the distance to its largest level
// when x is beyond the encoder's clip.
func halfStep(c Codec, code byte, x int) int {
	if c == PCMU {
		if abs(x) > ulawClip {
			return abs(x) - 32124
		}
		return 4 << ((^code & 0x70) >> 4)
	}
	return 8 << max(int((code^0x55)&0x70)>>4-1, 0)
}

func TestMixKnown(t *testing.T) {
	// μ-law silence adds nothing; full scale saturates instead of
	// wrapping to the other sign.
	a := make([]byte, 5)
	PCMU.Encode(a, []int16{0, 1000, -1000, 20000, -20000})
	silence := bytes.Repeat([]byte{0xFF}, 5)
	out := make([]byte, 5)
	Mix(PCMU, out, a, silence)
	if !bytes.Equal(out, a) {
		t.Fatalf("mix with silence % x, want % x", out, a)
	}
	loud := []byte{0x80, 0x00, 0x80}
	Mix(PCMU, out, loud, loud)
	if !bytes.Equal(out[:3], []byte{0x80, 0x00, 0x80}) {
		t.Fatalf("full scale mixed to % x", out[:3])
	}
	alaw := []byte{0xAA, 0x2A}
	Mix(PCMA, out, alaw, alaw)
	if !bytes.Equal(out[:2], alaw) {
		t.Fatalf("A-law full scale mixed to % x", out[:2])
	}
	// An announcement shorter than the packet: the rest is the party.
	party := []byte{1, 2, 3, 4, 5, 6}
	ann := []byte{0xFF, 0xFF}
	if n := Mix(PCMU, party, party, ann); n != 6 || !bytes.Equal(party, []byte{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("in place with a short b: %d, % x", n, party)
	}
	if Mix(Codec(2), out, a, a) != 0 {
		t.Fatal("mixed with an invalid codec")
	}
}

func TestMixDoesNotAllocate(t *testing.T) {
	a, b, dst := make([]byte, FrameSamples), make([]byte, FrameSamples), make([]byte, FrameSamples)
	if n := testing.AllocsPerRun(100, func() { Mix(PCMA, dst, a, b) }); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}

func BenchmarkMix(b *testing.B) {
	x, y, dst := make([]byte, FrameSamples), make([]byte, FrameSamples), make([]byte, FrameSamples)
	for i := range x {
		x[i], y[i] = byte(i), byte(3*i)
	}
	b.SetBytes(FrameSamples)
	for b.Loop() {
		Mix(PCMU, dst, x, y)
	}
}
