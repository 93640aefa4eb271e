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
	if sa.BytesReceived != sb.BytesSent || sa.Dropped+sb.Dropped+sa.Rejected+sb.Rejected != 0 {
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
	a.SetRemote(addrOf(ph))
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

	if _, err := Bridge(a, a); err == nil {
		t.Fatal("bridged a stream with itself")
	}
	if _, err := Bridge(a, nil); err == nil {
		t.Fatal("bridged a nil stream")
	}
}

func TestInvalidPacketsAreCountedNotForwarded(t *testing.T) {
	p := testPool(t, 41700, 41798)
	a, b := listen(t, p), listen(t, p)
	pa, pb := phone(t), phone(t)
	a.SetRemote(addrOf(pa))
	b.SetRemote(addrOf(pb))
	if _, err := Bridge(a, b); err != nil {
		t.Fatal(err)
	}
	short := rtpPacket(1, "")[:11]
	v1 := rtpPacket(2, "x")
	v1[0] = 0x40 // version 1
	for _, junk := range [][]byte{[]byte("not rtp"), short, v1, {}} {
		pa.WriteToUDPAddrPort(junk, a.LocalAddr())
	}
	eventually(t, "invalid packets counted", func() bool { return a.Stats().Invalid == 4 })
	if st := a.Stats(); st.PacketsReceived != 0 || st.Rejected != 0 || b.Stats().PacketsSent != 0 {
		t.Fatalf("invalid packets were taken: a=%+v b=%+v", st, b.Stats())
	}
	if !a.LastReceived().IsZero() {
		t.Fatal("an invalid packet counts as media received")
	}
}

// fromStranger hands pkt to s's packet path as if it came from another
// IP (neither the SDP address nor its IP). It is injected, not sent: the
// tests bind no address but 127.0.0.1 and ::1.
func fromStranger(s *Stream, pkt []byte) {
	s.handle(pkt, netip.MustParseAddrPort("127.0.0.2:40000"))
}

func TestRejectsStrangersAndBeforeRemote(t *testing.T) {
	p := testPool(t, 41800, 41898)
	a, b := listen(t, p), listen(t, p)
	pa, pb := phone(t), phone(t)
	b.SetRemote(addrOf(pb))
	if _, err := Bridge(a, b); err != nil {
		t.Fatal(err)
	}
	// No SDP yet: nobody is the far end.
	pa.WriteToUDPAddrPort(rtpPacket(1, "early"), a.LocalAddr())
	eventually(t, "reject before SetRemote", func() bool { return a.Stats().Rejected == 1 })

	a.SetRemote(addrOf(pa))
	pa.WriteToUDPAddrPort(rtpPacket(2, "mine"), a.LocalAddr())
	eventually(t, "packet from the SDP address", func() bool { return b.Stats().PacketsSent == 1 })
	// A stranger on another IP, and now (the SDP address was heard) even
	// another port of the SDP IP, is rejected.
	other := phone(t)
	fromStranger(a, rtpPacket(3, "inject"))
	other.WriteToUDPAddrPort(rtpPacket(4, "inject"), a.LocalAddr())
	eventually(t, "strangers rejected", func() bool { return a.Stats().Rejected == 3 })
	if st := a.Stats(); st.PacketsReceived != 1 || b.Stats().PacketsSent != 1 || a.SendAddr() != addrOf(pa) {
		t.Fatalf("a=%+v b=%+v send to %v", st, b.Stats(), a.SendAddr())
	}
	if a.LastReceived().IsZero() {
		t.Fatal("LastReceived not set")
	}
}

func TestLatchesToNATPortOfSDPIP(t *testing.T) {
	p := testPool(t, 41900, 41998)
	a := listen(t, p)
	nat, sdpOnly, sameIP := phone(t), phone(t), phone(t)
	// The SDP names one port; the phone's NAT sends from another of the
	// same IP.
	a.SetRemote(addrOf(sdpOnly))
	nat.WriteToUDPAddrPort(rtpPacket(1, "hello"), a.LocalAddr())
	eventually(t, "latch", func() bool { return a.Stats().PacketsReceived == 1 })
	if a.SendAddr() != addrOf(nat) || a.Remote() != addrOf(sdpOnly) {
		t.Fatalf("send to %v (remote %v), want the latched %v", a.SendAddr(), a.Remote(), addrOf(nat))
	}
	// We now send to the latched source.
	if err := a.WriteRTP(rtpPacket(2, "back")); err != nil {
		t.Fatal(err)
	}
	nat.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	if _, err := nat.Read(buf); err != nil {
		t.Fatalf("latched source got nothing: %v", err)
	}
	// Latched once: another port of the same IP is a stranger, the SDP
	// address itself is still the far end.
	sameIP.WriteToUDPAddrPort(rtpPacket(3, "x"), a.LocalAddr())
	eventually(t, "second port rejected", func() bool { return a.Stats().Rejected == 1 })
	sdpOnly.WriteToUDPAddrPort(rtpPacket(4, "x"), a.LocalAddr())
	nat.WriteToUDPAddrPort(rtpPacket(5, "x"), a.LocalAddr())
	eventually(t, "SDP and latched accepted", func() bool { return a.Stats().PacketsReceived == 3 })

	// The same remote again keeps the latch; a new one starts over.
	a.SetRemote(addrOf(sdpOnly))
	if a.SendAddr() != addrOf(nat) {
		t.Fatal("SetRemote of the same address dropped the latch")
	}
	a.SetRemote(addrOf(sameIP))
	if a.SendAddr() != addrOf(sameIP) {
		t.Fatalf("new remote: send to %v", a.SendAddr())
	}
}

func TestNoLatchOnceSDPAddressHeard(t *testing.T) {
	p := testPool(t, 41000, 41048)
	a := listen(t, p)
	ph, sameIP := phone(t), phone(t)
	a.SetRemote(addrOf(ph))
	ph.WriteToUDPAddrPort(rtpPacket(1, "x"), a.LocalAddr())
	eventually(t, "SDP packet", func() bool { return a.Stats().PacketsReceived == 1 })
	sameIP.WriteToUDPAddrPort(rtpPacket(2, "x"), a.LocalAddr())
	eventually(t, "late latch refused", func() bool { return a.Stats().Rejected == 1 })
	if a.SendAddr() != addrOf(ph) {
		t.Fatalf("send to %v", a.SendAddr())
	}
}

func TestLatchesToPublicIPOfNATedPhone(t *testing.T) {
	p := testPool(t, 41050, 41098)
	a := listen(t, p)
	pub := phone(t)
	private := netip.MustParseAddrPort("192.168.1.20:4000")
	a.SetRemoteNAT(private, addrOf(pub).Addr())
	fromStranger(a, rtpPacket(1, "x"))
	eventually(t, "stranger rejected", func() bool { return a.Stats().Rejected == 1 })
	pub.WriteToUDPAddrPort(rtpPacket(2, "x"), a.LocalAddr())
	eventually(t, "latched to the public address", func() bool { return a.Stats().PacketsReceived == 1 })
	if a.SendAddr() != addrOf(pub) || a.Remote() != private {
		t.Fatalf("send to %v, remote %v", a.SendAddr(), a.Remote())
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

// forwardPair sets up a -> b with b sending to a sink socket nobody reads;
// it returns a, the far end's address of a and a packet.
func forwardPair(tb testing.TB) (*Stream, netip.AddrPort, []byte) {
	p := testPool(tb, 41600, 41698)
	a, b := listen(tb, p), listen(tb, p)
	src := addrOf(phone(tb))
	a.SetRemote(src)
	b.SetRemote(addrOf(phone(tb)))
	if _, err := Bridge(a, b); err != nil {
		tb.Fatal(err)
	}
	return a, src, rtpPacket(1, string(make([]byte, 160))) // 20 ms of G.711
}

func TestForwardPathDoesNotAllocate(t *testing.T) {
	a, src, pkt := forwardPair(t)
	if n := testing.AllocsPerRun(1000, func() { a.handle(pkt, src) }); n != 0 {
		t.Fatalf("forward path allocates %v per packet", n)
	}
	// Neither does rejecting a stranger or an invalid packet.
	evil := netip.MustParseAddrPort("127.0.0.2:9")
	if n := testing.AllocsPerRun(1000, func() { a.handle(pkt, evil); a.handle(pkt[:5], src) }); n != 0 {
		t.Fatalf("reject path allocates %v per packet", n)
	}
	if st := a.Stats(); st.Rejected == 0 || st.Invalid == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkForward measures the per-packet relay path (counters, sink
// lookup, send from the other leg's socket). Expect 0 allocs/op.
func BenchmarkForward(b *testing.B) {
	a, src, pkt := forwardPair(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		a.handle(pkt, src)
	}
}

type sinkFunc func([]byte) error

func (f sinkFunc) WriteRTP(pkt []byte) error { return f(pkt) }

func TestSinkErrDroppedIsCounted(t *testing.T) {
	p := testPool(t, 41700, 41710)
	a := listen(t, p)
	src := addrOf(phone(t))
	a.SetRemote(src)
	pkt := rtpPacket(1, "x")
	var ret error
	a.SetSink(sinkFunc(func([]byte) error { return ret }))
	a.handle(pkt, src) // passed on
	ret = errors.New("the sink's own failure")
	a.handle(pkt, src) // not the stream's business
	ret = ErrDropped
	a.handle(pkt, src)
	a.handle(pkt, src)
	if st := a.Stats(); st.PacketsReceived != 4 || st.Dropped != 2 {
		t.Fatalf("stats %+v, want 4 received and 2 dropped", st)
	}
}
