package media

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testPool returns a pool over a small range and checks at cleanup that
// every stream was returned.
func testPool(t testing.TB, lo, hi int) *PortPool {
	t.Helper()
	p, err := NewPortPool(PoolConfig{MinPort: lo, MaxPort: hi})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n := p.InUse(); n != 0 {
			t.Errorf("%d streams leaked", n)
		}
	})
	return p
}

func listen(t testing.TB, p *PortPool) *Stream {
	t.Helper()
	s, err := p.Listen(loopback)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// phone is a fake endpoint: a plain loopback UDP socket.
func phone(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort {
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func rtpPacket(seq byte, payload string) []byte {
	p := make([]byte, 12, 12+len(payload))
	p[0] = 0x80 // version 2
	p[1] = 0    // PCMU
	p[3] = seq
	return append(p, payload...)
}

// eventually polls cond until it holds; the deadline only bounds a broken
// test, nothing asserts how fast things happen.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolDefaults(t *testing.T) {
	p, err := NewPortPool(PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := p.Range(); lo != 10000 || hi != 20000 {
		t.Fatalf("default range = %d-%d", lo, hi)
	}
	for _, bad := range []PoolConfig{{MinPort: 20, MaxPort: 10}, {MinPort: 0, MaxPort: 70000}, {MinPort: 41001, MaxPort: 41001}} {
		if _, err := NewPortPool(bad); err == nil {
			t.Errorf("NewPortPool(%+v) accepted", bad)
		}
	}
}

func TestPoolEvenPortsExhaustAndRelease(t *testing.T) {
	p := testPool(t, 41101, 41109) // even ports 41102..41108: four
	var streams []*Stream
	seen := map[int]bool{}
	for {
		s, err := p.Listen(loopback)
		if errors.Is(err, ErrNoPorts) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
		if s.Port()%2 != 0 || s.Port() < 41102 || s.Port() > 41108 || seen[s.Port()] {
			t.Fatalf("bad port %d", s.Port())
		}
		if s.LocalAddr().Port() != uint16(s.Port()) {
			t.Fatalf("LocalAddr %v, port %d", s.LocalAddr(), s.Port())
		}
		seen[s.Port()] = true
	}
	if len(streams) == 0 || len(streams) > 4 {
		t.Fatalf("got %d streams from 4 even ports", len(streams))
	}
	if p.InUse() != len(streams) {
		t.Fatalf("InUse %d, open %d", p.InUse(), len(streams))
	}
	freed := streams[0].Port()
	if err := streams[0].Close(); err != nil {
		t.Fatal(err)
	}
	streams[0].Close() // idempotent
	s, err := p.Listen(loopback)
	if err != nil {
		t.Fatalf("no port after a close: %v", err)
	}
	if s.Port() != freed {
		t.Fatalf("got port %d, only %d was free", s.Port(), freed)
	}
	streams[0] = s
	for _, s := range streams {
		s.Close()
	}
	if p.InUse() != 0 {
		t.Fatalf("InUse %d after closing all", p.InUse())
	}
}

func TestPoolSkipsPortHeldElsewhere(t *testing.T) {
	held, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41202})
	if err != nil {
		t.Skipf("cannot hold port 41202: %v", err)
	}
	defer held.Close()
	p := testPool(t, 41202, 41204)
	s := listen(t, p)
	if s.Port() != 41204 {
		t.Fatalf("got port %d, want 41204 (41202 is held)", s.Port())
	}
	if _, err := p.Listen(loopback); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("want ErrNoPorts, got %v", err)
	}
	s.Close()
	if p.InUse() != 0 {
		t.Fatal("port not returned")
	}
}

func TestBridgeForwardsBothWays(t *testing.T) {
	p := testPool(t, 41300, 41398)
	a, b := listen(t, p), listen(t, p)
	phoneA, phoneB := phone(t), phone(t)
	a.SetRemote(addrOf(phoneA))
	b.SetRemote(addrOf(phoneB))
	link, err := Bridge(a, b)
	if err != nil {
		t.Fatal(err)
	}

	// Each phone talks only to its own leg's socket and hears the other
	// phone from that same socket.
	check := func(from, to *net.UDPConn, fromLeg, toLeg *Stream, payload string) {
		t.Helper()
		pkt := rtpPacket(1, payload)
		if _, err := from.WriteToUDPAddrPort(pkt, fromLeg.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		to.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1500)
		n, src, err := to.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%s not received: %v", payload, err)
		}
		if !bytes.Equal(buf[:n], pkt) {
			t.Fatalf("received %q, sent %q", buf[:n], pkt)
		}
		if src != toLeg.LocalAddr() {
			t.Fatalf("packet came from %v, want the leg socket %v", src, toLeg.LocalAddr())
		}
	}
	for i := 0; i < 5; i++ {
		check(phoneA, phoneB, a, b, "hello from A")
		check(phoneB, phoneA, b, a, "hello from B")
	}
	// A counter moves just after its packet left, so the phone may see the
	// packet first.
	eventually(t, "counters", func() bool {
		sa, sb := a.Stats(), b.Stats()
		return sa.PacketsReceived == 5 && sb.PacketsSent == 5 && sb.PacketsReceived == 5 && sa.PacketsSent == 5
	})
	sa, sb := a.Stats(), b.Stats()
	if sa.BytesReceived != sb.BytesSent || sa.Dropped+sb.Dropped != 0 {
		t.Fatalf("stats a=%+v b=%+v", sa, sb)
	}

	// After the link is closed packets are dropped, not forwarded.
	link.Close()
	link.Close()
	if _, err := phoneA.WriteToUDPAddrPort(rtpPacket(9, "late"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "drop after unbridge", func() bool { return a.Stats().Dropped == 1 })
	if got := b.Stats().PacketsSent; got != 5 {
		t.Fatalf("b sent %d after the link closed", got)
	}
}

func TestDropsWithoutSinkOrRemoteAndNonRTP(t *testing.T) {
	p := testPool(t, 41400, 41498)
	a, b := listen(t, p), listen(t, p)
	ph := phone(t)
	ph.WriteToUDPAddrPort(rtpPacket(1, "x"), a.LocalAddr()) // no sink
	eventually(t, "no-sink drop", func() bool { return a.Stats().Dropped == 1 })

	if _, err := Bridge(a, b); err != nil { // b has no remote
		t.Fatal(err)
	}
	ph.WriteToUDPAddrPort(rtpPacket(2, "x"), a.LocalAddr())
	eventually(t, "no-remote drop", func() bool { return b.Stats().Dropped == 1 })
	if err := b.WriteRTP(rtpPacket(3, "x")); !errors.Is(err, ErrNoRemote) {
		t.Fatalf("WriteRTP without remote: %v", err)
	}

	ph.WriteToUDPAddrPort([]byte("not rtp"), a.LocalAddr())
	eventually(t, "non-RTP drop", func() bool { return a.Stats().Dropped == 2 })

	if _, err := Bridge(a, a); err == nil {
		t.Fatal("bridged a stream with itself")
	}
	if _, err := Bridge(a, nil); err == nil {
		t.Fatal("bridged a nil stream")
	}
}

func TestCloseStopsReaderAndIsIdempotent(t *testing.T) {
	p := testPool(t, 41500, 41598)
	s := listen(t, p)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("reader still running after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if p.InUse() != 0 {
		t.Fatal("port not returned")
	}
}

// forwardPair sets up a -> b with b sending to a sink socket nobody reads.
func forwardPair(tb testing.TB) (*Stream, []byte) {
	p := testPool(tb, 41600, 41698)
	a, b := listen(tb, p), listen(tb, p)
	b.SetRemote(addrOf(phone(tb)))
	if _, err := Bridge(a, b); err != nil {
		tb.Fatal(err)
	}
	return a, rtpPacket(1, string(make([]byte, 160))) // 20 ms of G.711
}

func TestForwardPathDoesNotAllocate(t *testing.T) {
	a, pkt := forwardPair(t)
	if n := testing.AllocsPerRun(1000, func() { a.handle(pkt) }); n != 0 {
		t.Fatalf("forward path allocates %v per packet", n)
	}
}

// BenchmarkForward measures the per-packet relay path (counters, sink
// lookup, send from the other leg's socket). Expect 0 allocs/op.
func BenchmarkForward(b *testing.B) {
	a, pkt := forwardPair(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		a.handle(pkt)
	}
}
