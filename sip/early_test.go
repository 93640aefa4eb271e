package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/sipptest"
)

// The callee's carrier plays ringback (183 with SDP, then RTP) and never
// answers: the caller, already answered, hears it while the callee rings.
func TestEarlyMediaReachesPeerWhileRinging(t *testing.T) {
	if _, err := os.Stat("/usr/share/sip-tester/g711a.pcap"); err != nil {
		t.Skip("sipp's g711a.pcap is not installed")
	}
	caller := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_play.xml"}) // answers PCMA
	callee := sipptest.Start(t, sipptest.Options{Scenario: "uas_early_media.xml"})
	b := startBackend(t, trunkTo("from", caller, "1"), trunkTo("to", callee, "2"))
	peer, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "e1", LegID: "e1-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial from: %v", err)
	}
	p := peer.(*Session)
	defer p.Hangup(context.Background(), nil)

	ctx, cancel := context.WithCancelCause(testCtx(t))
	done := make(chan error, 1)
	var pc progressCount
	go func() {
		_, err := b.Dial(ctx, engine.DialRequest{CallID: "e1", LegID: "e1-2", Number: "2000", Peer: peer}, pc.fn)
		done <- err
	}()
	deadline := time.Now().Add(testBound)
	for p.Stream().Stats().PacketsSent < 10 {
		select {
		case err := <-done:
			t.Fatalf("the ringing leg ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no early media reached the caller; peer stats %+v", p.Stream().Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the leg stopped ringing: %v", err)
	default: // still ringing: the caller heard the callee's carrier meanwhile
	}
	if pc.ringing.Load() != 1 {
		t.Fatalf("ringing reported %d times", pc.ringing.Load())
	}

	cancel(engine.ErrRingTimeout)
	de := dialErr(t, <-done)
	if de.Disposition != engine.DispNoAnswer || de.SIPCode != 487 {
		t.Fatalf("got %v", de)
	}
	callee.WaitCounts(t, "CANCEL and ACK", func(c sipptest.Counts) bool {
		return c.Requests["CANCEL"] == 1 && c.Requests["ACK"] == 1
	})
	if p.early.Load() != nil {
		t.Fatal("the peer is still claimed by the cancelled leg's early media")
	}
	if n := b.ActiveStreams(); n != 1 {
		t.Fatalf("%d streams open, want the caller's only", n)
	}
	if err := p.Hangup(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// rtpPhone is a far end's RTP socket.
type rtpPhone struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
}

func newRTPPhone(t *testing.T) *rtpPhone {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rtpPhone{t: t, conn: c}
}

func (r *rtpPhone) port() int { return int(r.conn.LocalAddr().(*net.UDPAddr).Port) }

// send sends one PCMA packet whose payload is tag.
func (r *rtpPhone) send(to netip.AddrPort, tag string) {
	r.seq++
	pkt := []byte{0x80, 8, byte(r.seq >> 8), byte(r.seq), 0, 0, 0, 0, 0, 0, 0, 1}
	if _, err := r.conn.WriteToUDPAddrPort(append(pkt, tag...), to); err != nil {
		r.t.Fatal(err)
	}
}

// sendUntil sends packets tagged tag until cond holds.
func (r *rtpPhone) sendUntil(to netip.AddrPort, tag, what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("gave up waiting for %s", what)
		}
		r.send(to, tag)
		time.Sleep(5 * time.Millisecond)
	}
}

// payloads drains what the phone received, as payload tags.
func (r *rtpPhone) payloads() []string {
	var got []string
	buf := make([]byte, 1500)
	for {
		r.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := r.conn.Read(buf)
		if err != nil {
			return got
		}
		if n > 12 {
			got = append(got, string(buf[12:n]))
		}
	}
}

// offerRTP is our RTP address from the SDP of an INVITE.
func offerRTP(t *testing.T, inv string) netip.AddrPort {
	t.Helper()
	for _, l := range strings.Split(inv, "\n") {
		if rest, ok := strings.CutPrefix(l, "m=audio "); ok {
			p, err := strconv.Atoi(strings.Fields(rest)[0])
			if err == nil {
				return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p))
			}
		}
	}
	t.Fatalf("no m=audio in:\n%s", inv)
	return netip.AddrPort{}
}

func tagged(got []string, prefix string) int {
	n := 0
	for _, g := range got {
		if strings.HasPrefix(g, prefix) {
			n++
		}
	}
	return n
}

// Two legs ring for one caller with early media: the first to send is
// heard, the other is not. The other answers: from then on no early media
// reaches the caller, and after Bridge the caller hears the answered leg,
// each packet once.
func TestEarlyMediaFirstLegThenAnswerAndBridge(t *testing.T) {
	from, to1, to2 := newFakePeer(t), newFakePeer(t), newFakePeer(t)
	callerRTP, rtp1, rtp2 := newRTPPhone(t), newRTPPhone(t), newRTPPhone(t)
	tr := func(name string, p *fakePeer, prefix string) Trunk {
		tr := fakeTrunk(p)
		tr.Name, tr.Prefixes = name, []string{prefix}
		return tr
	}
	b := startBackend(t, tr("from", from, "1"), tr("to1", to1, "2"), tr("to2", to2, "3"))
	us := b.LocalAddr()

	type result struct {
		s   engine.Session
		err error
	}
	dial := func(num string, peer engine.Session, ctx context.Context) chan result {
		ch := make(chan result, 1)
		go func() {
			s, err := b.Dial(ctx, engine.DialRequest{CallID: "e2", LegID: "e2-" + num, Number: num, Peer: peer}, nil)
			ch <- result{s, err}
		}()
		return ch
	}
	ch := dial("1000", nil, testCtx(t))
	inv := from.recv("INVITE ")
	from.send(us, from.reply(inv, "200 OK", "f", from.sdp(callerRTP.port())))
	r := <-ch
	if r.err != nil {
		t.Fatalf("Dial from: %v", r.err)
	}
	from.recv("ACK ")
	p := r.s.(*Session)

	ctx1, cancel1 := context.WithCancelCause(testCtx(t))
	ch1, ch2 := dial("2000", p, ctx1), dial("3000", p, testCtx(t))
	inv1, inv2 := to1.recv("INVITE "), to2.recv("INVITE ")
	leg1, leg2 := offerRTP(t, inv1), offerRTP(t, inv2)
	to1.send(us, to1.reply(inv1, "183 Session Progress", "a", to1.sdp(rtp1.port())))
	to2.send(us, to2.reply(inv2, "183 Session Progress", "b", to2.sdp(rtp2.port())))

	// Leg 1 sends first and is heard; leg 2 is not.
	rtp1.sendUntil(leg1, "one", "leg 1's early media relayed", func() bool { return p.Stream().Stats().PacketsSent > 0 })
	rtp2.sendUntil(leg2, "two", "leg 2's early media refused", func() bool { return p.earlyRefused.Load() > 0 })
	got := callerRTP.payloads()
	if tagged(got, "one") == 0 || tagged(got, "two") != 0 {
		t.Fatalf("the caller heard %q", got)
	}

	// Leg 2 answers: leg 1, still ringing, is no longer heard.
	to2.send(us, to2.reply(inv2, "200 OK", "b", to2.sdp(rtp2.port())))
	r2 := <-ch2
	if r2.err != nil {
		t.Fatalf("Dial leg 2: %v", r2.err)
	}
	to2.recv("ACK ")
	s2 := r2.s.(*Session)
	refused := p.earlyRefused.Load()
	rtp1.sendUntil(leg1, "late", "leg 1 refused after the answer", func() bool { return p.earlyRefused.Load() > refused })
	rtp2.sendUntil(leg2, "unbridged", "leg 2 dropped before Bridge", func() bool { return s2.Stream().Stats().Dropped > 0 })

	br, err := b.Bridge(p, s2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		rtp2.send(leg2, fmt.Sprintf("talk-%d", i))
	}
	refused = p.earlyRefused.Load()
	rtp1.sendUntil(leg1, "late", "leg 1 refused after Bridge", func() bool { return p.earlyRefused.Load() > refused })
	deadline := time.Now().Add(testBound)
	for s2.Stream().Stats().PacketsReceived < 5 || p.Stream().Stats().PacketsSent < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("bridge did not relay: %+v", p.Stream().Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	got = callerRTP.payloads()
	for i := range 5 {
		if n := tagged(got, fmt.Sprintf("talk-%d", i)); n != 1 {
			t.Fatalf("talk-%d heard %d times: %q", i, n, got)
		}
	}
	if tagged(got, "late") != 0 || tagged(got, "unbridged") != 0 {
		t.Fatalf("the caller heard %q", got)
	}

	// Leg 1 lost: cancelled.
	cancel1(engine.ErrLostRace)
	cnl := to1.recv("CANCEL ")
	to1.send(us, to1.reply(cnl, "200 OK", "", ""))
	to1.send(us, to1.reply(inv1, "487 Request Terminated", "a", ""))
	if r1 := <-ch1; !errors.Is(r1.err, engine.ErrLostRace) {
		t.Fatalf("leg 1: %v", r1.err)
	}
	to1.recv("ACK ")
	if e := p.early.Load(); e == nil || e.peer != nil {
		t.Fatalf("bridged caller not sealed: %+v", e)
	}
	br.Close()
	if e := p.early.Load(); e != nil {
		t.Fatalf("caller still sealed after the bridge closed: %+v", e)
	}

	for _, x := range []struct {
		s    engine.Session
		peer *fakePeer
	}{{p, from}, {s2, to2}} {
		done := make(chan error, 1)
		go func() { done <- x.s.Hangup(context.Background(), nil) }()
		bye := x.peer.recv("BYE ")
		x.peer.send(us, x.peer.reply(bye, "200 OK", "", ""))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
