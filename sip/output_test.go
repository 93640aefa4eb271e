package sip

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/switchboard/switchboard/media"
)

func TestMixQueue(t *testing.T) {
	q := newRing[byte](mixQueueFrames * media.FrameSamples)
	dst := make([]byte, media.FrameSamples)
	if n := q.pop(dst); n != 0 {
		t.Fatalf("empty queue gave %d", n)
	}
	q.push(fill(1, 100))
	q.push(fill(2, 100))
	if n := q.pop(dst); n != 160 || dst[99] != 1 || dst[100] != 2 || dst[159] != 2 {
		t.Fatalf("pop %d: %v", n, dst[95:105])
	}
	if n := q.pop(dst); n != 40 || dst[0] != 2 {
		t.Fatalf("rest %d", n)
	}
	// Full: the oldest codes go, across the ring's end.
	for i := range 10 {
		q.push(fill(byte(10+i), media.FrameSamples))
	}
	if q.n != len(q.buf) || q.dropped != 6*media.FrameSamples {
		t.Fatalf("queue %d codes, %d dropped", q.n, q.dropped)
	}
	for i := range mixQueueFrames {
		if n := q.pop(dst); n != 160 || !bytes.Equal(dst, fill(byte(16+i), 160)) {
			t.Fatalf("frame %d: %d codes of %d", i, n, dst[0])
		}
	}
	q.push(fill(7, 2000)) // longer than the queue: its end is kept
	if q.n != len(q.buf) || q.pop(dst) != 160 || dst[0] != 7 {
		t.Fatal("oversized push")
	}
	q.reset()
	if q.pop(dst) != 0 {
		t.Fatal("reset queue not empty")
	}
}

// relayPair is two unit sessions bridged, each sending to a socket nobody
// reads, and a packet of a's far end.
func relayPair(tb testing.TB) (a, b *Session, pkt []byte) {
	pool, err := media.NewPortPool(media.PoolConfig{MinPort: 43100, MaxPort: 43198})
	if err != nil {
		tb.Fatal(err)
	}
	sink := func() netip.AddrPort {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		return c.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	be := &Backend{}
	a = unitSession(tb, be, pool, PCMA, 101, sink())
	b = unitSession(tb, be, pool, PCMA, 96, sink())
	br, err := be.Bridge(a, b)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { br.Close() })
	pkt = append([]byte{0x80, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1}, fill(0x55, media.FrameSamples)...)
	return a, b, pkt
}

// farEnd makes pkt the far end's packet number i (the relay rewrites the
// header of the last one in place).
func farEnd(pkt []byte, pt uint8, i uint32) {
	be := binary.BigEndian
	pkt[1] = pt
	be.PutUint16(pkt[2:], uint16(i))
	be.PutUint32(pkt[4:], i*media.FrameSamples)
	be.PutUint32(pkt[8:], 0x1234)
}

// The relay path, bridged and mixing, and a played frame do not allocate.
func TestMediaPathsDoNotAllocate(t *testing.T) {
	a, b, pkt := relayPair(t)
	in := &input{s: a}
	var i uint32
	step := func() {
		i++
		farEnd(pkt, 8, i)
		if err := in.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Fatalf("relay allocates %v per packet", n)
	}
	ev := append(make([]byte, 12), media.DTMFEvent{Event: 1, Duration: 160}.Append(nil)...)
	ev[0] = 0x80
	a.OnDTMF(func(rune) {})
	if n := testing.AllocsPerRun(1000, func() { i++; farEnd(ev, 101, i); in.WriteRTP(ev) }); n != 0 {
		t.Fatalf("telephone-event relay allocates %v per packet", n)
	}
	p := &playback{player: media.NewPlayer(fill(0xAA, 10*media.FrameSamples), media.PCMA), loop: true, mix: true, preempted: make(chan struct{})}
	b.out.start(p)
	if n := testing.AllocsPerRun(1000, func() { step(); b.out.tick(p) }); n != 0 {
		t.Fatalf("mixing allocates %v per packet", n)
	}
	b.out.stop(p)
}

// BenchmarkRelay is the per-packet work of a bridge once the far end's
// packet was read and accepted (media.BenchmarkForward measures that
// part): "stream" is what the bridge did before every packet went through
// the leg's output (media.Bridge: send from the other leg's socket as is);
// "output" is what it does now (payload type mapping, the output's mutex,
// Packetizer.Rewrite, send); "muted" a packet that arrives while an
// announcement plays. Expect 0 allocs/op.
func BenchmarkRelay(b *testing.B) {
	b.Run("stream", func(b *testing.B) {
		_, y, pkt := relayPair(b)
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			i++
			farEnd(pkt, 8, i)
			y.stream.WriteRTP(pkt)
		}
	})
	b.Run("output", func(b *testing.B) {
		x, _, pkt := relayPair(b)
		in := &input{s: x}
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			i++
			farEnd(pkt, 8, i)
			in.WriteRTP(pkt)
		}
	})
	b.Run("muted", func(b *testing.B) {
		x, y, pkt := relayPair(b)
		y.out.start(&playback{player: media.NewPlayer(nil, media.PCMA), preempted: make(chan struct{})})
		in := &input{s: x}
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			i++
			farEnd(pkt, 8, i)
			in.WriteRTP(pkt)
		}
	})
}

// BenchmarkPlayback is the per-packet work of speaking on a leg, one 20 ms
// tick each: "play" sends the next frame of an announcement (the party
// hears only it); "mix" lays the next frame over the other party's queued
// audio (a time-limit alert), the relayed packet included. Expect 0
// allocs/op.
func BenchmarkPlayback(b *testing.B) {
	b.Run("play", func(b *testing.B) {
		_, y, _ := relayPair(b)
		p := &playback{player: media.NewPlayer(fill(0xAA, 50*media.FrameSamples), media.PCMA), loop: true, preempted: make(chan struct{})}
		y.out.start(p)
		defer y.out.stop(p)
		b.ReportAllocs()
		for b.Loop() {
			y.out.tick(p)
		}
	})
	b.Run("mix", func(b *testing.B) {
		x, y, pkt := relayPair(b)
		in := &input{s: x}
		p := &playback{player: media.NewPlayer(fill(0xAA, 50*media.FrameSamples), media.PCMA), loop: true, mix: true, preempted: make(chan struct{})}
		y.out.start(p)
		defer y.out.stop(p)
		b.ReportAllocs()
		var i uint32
		for b.Loop() {
			i++
			farEnd(pkt, 8, i)
			in.WriteRTP(pkt)
			y.out.tick(p)
		}
	})
}
