package sipptest

import (
	"encoding/binary"
	"testing"

	"github.com/switchboard/switchboard/media"
)

// The capture of keys holds RTP that Switchboard's own detector reads as
// those keys, once each.
func TestKeysPcapCarriesTheKeys(t *testing.T) {
	const keys = "19*#0"
	b := KeysPcap(keys)
	if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		t.Fatal("no pcap magic")
	}
	det := media.NewDTMFDetector(101)
	var got []rune
	for off := 24; off < len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		frame := b[off+16 : off+16+n]
		if frame[23] != 17 {
			t.Fatalf("packet at %d is not UDP", off)
		}
		if k, ok := det.Detect(frame[42:]); ok {
			got = append(got, k)
		}
		off += 16 + n
	}
	if string(got) != keys {
		t.Fatalf("detected %q, want %q", string(got), keys)
	}
}
