package media

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// relayed is an RTP packet as the other party sends it.
func relayed(ssrc uint32, seq uint16, ts uint32, pt uint8, payload int) []byte {
	p := make([]byte, 12+payload)
	p[0], p[1] = 0x80, pt
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	for i := 12; i < len(p); i++ {
		p[i] = byte(i)
	}
	return p
}

func parse(t *testing.T, b []byte) *rtp.Packet {
	t.Helper()
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		t.Fatalf("not RTP: %v", err)
	}
	return &p
}

// step is one packet through a Packetizer: our own payload (own) or a
// relayed packet, at a time in ms from the start (-1: no clock). Sequence
// numbers and timestamps are relative to the config's first ones.
type step struct {
	own    bool
	at     int
	ssrc   uint32 // relayed: source SSRC, seq, ts, payload type
	inSeq  uint16
	inTs   uint32
	pt     uint8
	drop   bool // Rewrite must refuse it
	seq    uint16
	ts     uint32
	marker bool
}

func TestPacketizerSequences(t *testing.T) {
	const A, B = 0xAAAA, 0xBBBB
	own := func(at int, seq uint16, ts uint32, m bool) step {
		return step{own: true, at: at, seq: seq, ts: ts, marker: m}
	}
	rel := func(at int, ssrc uint32, inSeq uint16, inTs uint32, seq uint16, ts uint32, m bool) step {
		return step{at: at, ssrc: ssrc, inSeq: inSeq, inTs: inTs, seq: seq, ts: ts, marker: m}
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"own audio only", []step{own(0, 0, 0, true), own(20, 1, 160, false), own(40, 2, 320, false), own(60, 3, 480, false)}},
		{"announcement, party, announcement", []step{
			own(0, 0, 0, true), own(20, 1, 160, false),
			rel(40, A, 5000, 90000, 2, 320, true), rel(60, A, 5001, 90160, 3, 480, false),
			own(80, 4, 640, true), own(100, 5, 800, false),
			rel(120, A, 5004, 90640, 6, 960, true), // same party back: still a switch
		}},
		{"party first, then another party", []step{
			rel(0, A, 100, 1000, 0, 0, true), rel(20, A, 101, 1160, 1, 160, false),
			rel(40, B, 7, 77, 2, 320, true), rel(60, B, 8, 237, 3, 480, false),
		}},
		{"source losses and reordering pass through", []step{
			rel(0, A, 100, 1000, 0, 0, true), rel(40, A, 102, 1320, 2, 320, false),
			rel(45, A, 101, 1160, 1, 160, false), rel(60, A, 103, 1480, 3, 480, false),
			own(80, 4, 640, true),
		}},
		{"reordered across the switch is dropped", []step{
			own(0, 0, 0, true), rel(20, A, 500, 3000, 1, 160, true),
			{at: 25, ssrc: A, inSeq: 499, inTs: 2840, drop: true},
			rel(40, A, 501, 3160, 2, 320, false), own(60, 3, 480, true),
		}},
		{"source wraps its sequence and timestamp", []step{
			rel(0, A, 65535, 1<<32-160, 0, 0, true), rel(20, A, 0, 0, 1, 160, false), rel(40, A, 1, 160, 2, 320, false),
		}},
		{"DTMF of the party keeps its timestamp", []step{
			rel(0, A, 10, 8000, 0, 0, true),
			{at: 10, ssrc: A, inSeq: 11, inTs: 8000, pt: 101, seq: 1, ts: 0},
			rel(20, A, 12, 8160, 2, 160, false), own(40, 3, 320, true),
		}},
		{"a pause moves the timestamp by the time that passed", []step{
			own(0, 0, 0, true), own(20, 1, 160, false),
			own(1020, 2, 160+8000, true), // 1 s after the previous packet
			rel(3020, A, 1, 1, 3, 160+8000+16000, true),
			own(3040, 4, 160+8000+16000+160, true),
		}},
		{"jitter under the threshold stays continuous", []step{
			own(0, 0, 0, true), rel(75, A, 1, 1, 1, 160, true), own(150, 2, 320, true),
		}},
		{"no clock: always continuous", []step{
			own(-1, 0, 0, true), own(-1, 1, 160, false), rel(-1, A, 9, 9, 2, 320, true), own(-1, 3, 480, true),
		}},
	} {
		for _, base := range []struct {
			seq uint16
			ts  uint32
		}{{100, 1000}, {65534, 1<<32 - 300}} { // the second wraps both
			t.Run(c.name, func(t *testing.T) {
				cfg := PacketizerConfig{SSRC: 0x5EB0A4D, Seq: base.seq, Timestamp: base.ts, Codec: PCMA}
				p, err := NewPacketizer(cfg)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				payload := bytes.Repeat([]byte{0xD5}, FrameSamples)
				for i, s := range c.steps {
					now := time.Time{}
					if s.at >= 0 {
						now = start.Add(time.Duration(s.at) * time.Millisecond)
					}
					var out []byte
					if s.own {
						out = p.Packetize(nil, payload, now)
					} else {
						pt := s.pt
						if pt == 0 {
							pt = 8
						}
						in := relayed(s.ssrc, s.inSeq, s.inTs, pt, FrameSamples)
						orig := bytes.Clone(in)
						ok := p.Rewrite(in, now)
						if ok == s.drop || (s.drop && !bytes.Equal(in, orig)) {
							t.Fatalf("step %d: Rewrite = %v, want %v (packet left alone)", i, ok, !s.drop)
						}
						if s.drop {
							continue
						}
						if !bytes.Equal(in[12:], orig[12:]) || in[1]&0x7F != pt {
							t.Fatalf("step %d: payload or type changed", i)
						}
						out = in
					}
					h := parse(t, out)
					if h.SSRC != cfg.SSRC || h.SequenceNumber != base.seq+s.seq || h.Timestamp != base.ts+s.ts || h.Marker != s.marker {
						t.Fatalf("step %d: ssrc %#x seq %d ts %d marker %v; want seq %d ts %d marker %v",
							i, h.SSRC, h.SequenceNumber-base.seq, h.Timestamp-base.ts, h.Marker, s.seq, s.ts, s.marker)
					}
					if s.own && (h.PayloadType != 8 || !bytes.Equal(h.Payload, payload)) {
						t.Fatalf("step %d: own packet PT %d, %d bytes", i, h.PayloadType, len(h.Payload))
					}
				}
			})
		}
	}
}

func TestPacketizerRejects(t *testing.T) {
	if _, err := NewPacketizer(PacketizerConfig{Codec: 9}); err == nil {
		t.Fatal("accepted a codec that is not G.711")
	}
	cfg := RandomPacketizerConfig(PCMU)
	p, _ := NewPacketizer(cfg)
	if p.SSRC() != cfg.SSRC || p.Codec() != PCMU || p.NextSeq() != cfg.Seq {
		t.Fatal("accessors")
	}
	v1 := relayed(1, 1, 1, 0, 10)
	v1[0] = 0x40
	for _, bad := range [][]byte{nil, make([]byte, 11), v1} {
		if p.Rewrite(bad, time.Time{}) {
			t.Fatalf("rewrote % x", bad)
		}
	}
	if p.NextSeq() != cfg.Seq {
		t.Fatal("a refused packet took a sequence number")
	}
}

func TestRTPPayload(t *testing.T) {
	plain := relayed(1, 1, 1, 0, 160)
	csrc := append([]byte{0x82}, plain[1:]...) // two CSRCs: 8 bytes of the payload
	ext := relayed(1, 1, 1, 0, 20)
	ext[0] |= 0x10
	binary.BigEndian.PutUint16(ext[14:], 2) // 4+8 bytes of extension
	pad := relayed(1, 1, 1, 0, 20)
	pad[0] |= 0x20
	pad[len(pad)-1] = 4
	short := relayed(1, 1, 1, 0, 2)
	short[0] |= 0x10
	for _, c := range []struct {
		pkt  []byte
		want int
	}{{plain, 160}, {csrc, 152}, {ext, 8}, {pad, 16}, {short, -1}, {relayed(1, 1, 1, 0, 0), 0}, {plain[:11], -1}} {
		got := -1
		if pl, ok := rtpPayload(c.pkt); ok {
			got = len(pl)
		}
		if got != c.want {
			t.Errorf("rtpPayload(% x...) = %d, want %d", c.pkt[:2], got, c.want)
		}
	}
}

func TestPacketizerDoesNotAllocate(t *testing.T) {
	p, _ := NewPacketizer(PacketizerConfig{Codec: PCMU})
	buf := make([]byte, 0, 12+FrameSamples)
	payload := make([]byte, FrameSamples)
	pkt := relayed(7, 1, 1, 0, FrameSamples)
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() {
		p.Packetize(buf[:0], payload, now)
		p.Rewrite(pkt, now)
	}); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

func BenchmarkPacketize(b *testing.B) {
	p, _ := NewPacketizer(PacketizerConfig{Codec: PCMU})
	buf := make([]byte, 0, 12+FrameSamples)
	payload := make([]byte, FrameSamples)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		p.Packetize(buf[:0], payload, now)
	}
}
