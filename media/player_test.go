package media

import (
	"bytes"
	"testing"
	"time"
)

func TestPlayerFrames(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		audio := &Audio{Samples: ramp(2*FrameSamples+30, -100)} // 2 frames and a bit
		enc := audio.Encode(c)
		p := NewPlayer(enc, c)
		if p.Remaining() != 43750*time.Microsecond {
			t.Fatalf("Remaining %v", p.Remaining())
		}
		var got [][]byte
		for {
			f, ok := p.Next()
			if !ok {
				break
			}
			if len(f) != FrameSamples {
				t.Fatalf("frame of %d bytes", len(f))
			}
			got = append(got, bytes.Clone(f))
		}
		if len(got) != 3 || !p.Done() || p.Remaining() != 0 {
			t.Fatalf("%d frames", len(got))
		}
		if !bytes.Equal(bytes.Join(got, nil)[:len(enc)], enc) {
			t.Fatal("frames differ from the announcement")
		}
		if tail := got[2][30:]; !bytes.Equal(tail, bytes.Repeat([]byte{c.Silence()}, len(tail))) {
			t.Fatalf("%v: last frame padded with % x", c, tail[:4])
		}
		p.Rewind()
		if f, ok := p.Next(); !ok || !bytes.Equal(f, enc[:FrameSamples]) {
			t.Fatal("Rewind")
		}
	}
	empty := NewPlayer(nil, PCMU)
	if _, ok := empty.Next(); ok || !empty.Done() {
		t.Fatal("an empty announcement played")
	}
}

func TestPlayerDoesNotAllocate(t *testing.T) {
	p := NewPlayer(make([]byte, 10*FrameSamples+1), PCMA)
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := p.Next(); !ok {
			p.Rewind()
		}
	}); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
