package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// fakePeer is a hand-driven SIP endpoint on a loopback UDP socket, for
// what sipp cannot script: garbage, unsolicited messages, odd answers.
type fakePeer struct {
	t    *testing.T
	conn *net.UDPConn
}

func newFakePeer(t *testing.T) *fakePeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakePeer{t: t, conn: c}
}

func (p *fakePeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *fakePeer) send(to netip.AddrPort, msg string) {
	p.t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	if _, err := p.conn.WriteToUDPAddrPort([]byte(msg), to); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the first message whose start line begins with start,
// skipping others (retransmissions, provisional responses).
func (p *fakePeer) recv(start string) string {
	p.t.Helper()
	deadline := time.Now().Add(testBound)
	buf := make([]byte, 65535)
	for {
		p.conn.SetReadDeadline(deadline)
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			p.t.Fatalf("waiting for %q: %v", start, err)
		}
		msg := strings.ReplaceAll(string(buf[:n]), "\r\n", "\n")
		if strings.HasPrefix(msg, start) {
			return msg
		}
	}
}

// header returns the value of the first header name in msg.
func header(msg, name string) string {
	for _, l := range strings.Split(msg, "\n") {
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// reply builds a response to req. toTag is added to To when it has none.
func (p *fakePeer) reply(req string, status, toTag, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %s\n", status)
	for _, l := range strings.Split(req, "\n") {
		if l == "" {
			break
		}
		if strings.HasPrefix(strings.ToLower(l), "via:") {
			b.WriteString(l + "\n")
		}
	}
	to := header(req, "To")
	if toTag != "" && !strings.Contains(to, "tag=") {
		to += ";tag=" + toTag
	}
	fmt.Fprintf(&b, "From: %s\nTo: %s\nCall-ID: %s\nCSeq: %s\n", header(req, "From"), to, header(req, "Call-ID"), header(req, "CSeq"))
	fmt.Fprintf(&b, "Contact: <sip:peer@%s>\n", p.addr())
	if body != "" {
		b.WriteString("Content-Type: application/sdp\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(strings.ReplaceAll(body, "\n", "\r\n")), body)
	return b.String()
}

func (p *fakePeer) sdp(port int) string {
	return fmt.Sprintf("v=0\no=peer 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %d RTP/AVP 8 101\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n", port)
}

func fakeTrunk(p *fakePeer) Trunk {
	return Trunk{Name: "fake", Host: "127.0.0.1", Port: int(p.addr().Port())}
}

func TestOptionsInboundInviteUnknownByeAndGarbage(t *testing.T) {
	peer := newFakePeer(t)
	b, logs := startBackendCfg(t, Config{Trunks: []Trunk{fakeTrunk(peer)}})
	us := b.LocalAddr()
	via := fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK-", peer.addr())
	req := func(method, branch, callID, toTag string) string {
		to := "<sip:switchboard@127.0.0.1>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return fmt.Sprintf("%s sip:switchboard@%s SIP/2.0\n%s%s\nFrom: <sip:probe@127.0.0.1>;tag=p1\nTo: %s\nCall-ID: %s\nCSeq: 1 %s\nMax-Forwards: 70\nContact: <sip:probe@%s>\nContent-Length: 0\n\n",
			method, us, via, branch, to, callID, method, peer.addr())
	}

	peer.send(us, req("OPTIONS", "opt1", "g-1", ""))
	if res := peer.recv("SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(header(res, "Allow"), "INVITE") {
		t.Fatalf("OPTIONS answered:\n%s", res)
	}
	peer.send(us, req("INVITE", "inv1", "g-2", ""))
	if res := peer.recv("SIP/2.0 4"); !strings.HasPrefix(res, "SIP/2.0 403") || !strings.Contains(header(res, "To"), "tag=") {
		t.Fatalf("inbound INVITE answered:\n%s", res)
	}
	peer.send(us, req("BYE", "bye1", "g-3", "nosuchdialog"))
	if res := peer.recv("SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 481") {
		t.Fatalf("BYE of no dialog answered:\n%s", res)
	}
	peer.send(us, req("CANCEL", "cancel1", "g-4", ""))
	if res := peer.recv("SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 481") {
		t.Fatalf("CANCEL of nothing answered:\n%s", res)
	}

	for _, junk := range []string{
		"\x00\x01\x02garbage",
		"INVITE sip:x SIP/2.0\nVia: broken\n\n",
		"SIP/2.0 200 OK\nContent-Length: 99999\n\nshort",
		"SIP/2.0 180 Ringing\n" + via + "nosuchtx\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nCall-ID: g-5\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
		"SIP/2.0 486 Busy Here\n" + via + "nosuchtx2\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nCall-ID: g-6\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
		"\r\n\r\n",
		strings.Repeat("A", 3000),
	} {
		peer.send(us, junk)
	}

	// Still serving.
	peer.send(us, req("OPTIONS", "opt2", "g-7", ""))
	if res := peer.recv("SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("OPTIONS after garbage:\n%s", res)
	}

	// Garbage is logged at debug level only, and not in full.
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, " level=ERROR") || strings.Contains(l, " level=WARN") {
			t.Errorf("garbage logged above debug: %s", l)
		}
		if strings.Contains(l, strings.Repeat("A", 1000)) {
			t.Errorf("raw garbage logged in full: %.200s…", l)
		}
	}
	if !strings.Contains(logs.String(), "sipgo_level=ERROR") {
		t.Error("sipgo's parse errors were not passed on at all")
	}
}

func TestAnswerRetransmittedAndGarbageSDP(t *testing.T) {
	peer := newFakePeer(t)
	b := startBackend(t, fakeTrunk(peer))

	// The 200 comes twice; the second is a retransmission and is ACKed.
	done := make(chan error, 1)
	var sess engine.Session
	go func() {
		var err error
		sess, err = b.Dial(testCtx(t), engine.DialRequest{CallID: "g1", LegID: "g1-1", Number: "1000"}, nil)
		done <- err
	}()
	inv := peer.recv("INVITE ")
	ok := peer.reply(inv, "200 OK", "t1", peer.sdp(40000))
	peer.send(b.LocalAddr(), ok)
	if err := <-done; err != nil {
		t.Fatalf("Dial: %v", err)
	}
	peer.recv("ACK ")
	peer.send(b.LocalAddr(), ok)
	peer.recv("ACK ")
	if sess.(*Session).Codec() != PCMA {
		t.Fatalf("codec %v", sess.(*Session).Codec())
	}
	go func() { done <- sess.Hangup(context.Background(), nil) }()
	bye := peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	if err := <-done; err != nil {
		t.Fatalf("Hangup: %v", err)
	}

	// A 200 whose SDP is garbage is ACKed, hung up and reported failed.
	go func() {
		_, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "g2", LegID: "g2-1", Number: "1000"}, nil)
		done <- err
	}()
	inv = peer.recv("INVITE ")
	peer.send(b.LocalAddr(), peer.reply(inv, "200 OK", "t2", "v=0\nthis is not SDP\n"))
	peer.recv("ACK ")
	bye = peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	de := dialErr(t, <-done)
	if de.Disposition != engine.DispFailed || de.Reason != "no usable SDP" || de.SIPCode != 200 {
		t.Fatalf("got %v", de)
	}

	// An answer that picked a codec we did not offer is as bad.
	go func() {
		_, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "g3", LegID: "g3-1", Number: "1000"}, nil)
		done <- err
	}()
	inv = peer.recv("INVITE ")
	peer.send(b.LocalAddr(), peer.reply(inv, "200 OK", "t3", strings.ReplaceAll(peer.sdp(40002), "RTP/AVP 8 101", "RTP/AVP 18")))
	peer.recv("ACK ")
	bye = peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	if de := dialErr(t, <-done); de.Reason != "no usable SDP" {
		t.Fatalf("got %v", de)
	}
}

func TestReInviteGetsOurSDPAgain(t *testing.T) {
	peer := newFakePeer(t)
	b := startBackend(t, fakeTrunk(peer))
	done := make(chan error, 1)
	var sess engine.Session
	go func() {
		var err error
		sess, err = b.Dial(testCtx(t), engine.DialRequest{CallID: "r1", LegID: "r1-1", Number: "1000"}, nil)
		done <- err
	}()
	inv := peer.recv("INVITE ")
	peer.send(b.LocalAddr(), peer.reply(inv, "200 OK", "rt", peer.sdp(40010)))
	if err := <-done; err != nil {
		t.Fatalf("Dial: %v", err)
	}
	s := sess.(*Session)
	peer.recv("ACK ")

	// The far end refreshes the session and moves its RTP port.
	from, to := header(inv, "To")+";tag=rt", header(inv, "From")
	body := strings.ReplaceAll(peer.sdp(40012), "\n", "\r\n")
	reinvite := fmt.Sprintf("INVITE sip:switchboard@%s SIP/2.0\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-re1\nFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: 2 INVITE\nContact: <sip:peer@%s>\nMax-Forwards: 70\nContent-Type: application/sdp\nContent-Length: %d\n\n%s",
		b.LocalAddr(), peer.addr(), from, to, header(inv, "Call-ID"), peer.addr(), len(body), peer.sdp(40012))
	peer.send(b.LocalAddr(), reinvite)
	res := peer.recv("SIP/2.0 ")
	if !strings.HasPrefix(res, "SIP/2.0 200") || !strings.HasSuffix(res, inv[strings.Index(inv, "\n\n")+2:]) {
		t.Fatalf("re-INVITE answered:\n%s", res)
	}
	if s.Stream().Remote().Port() != 40012 {
		t.Fatalf("remote RTP %v after re-INVITE", s.Stream().Remote())
	}
	go func() { done <- sess.Hangup(context.Background(), nil) }()
	bye := peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	if err := <-done; err != nil {
		t.Fatalf("Hangup: %v", err)
	}
}

func TestManyProvisionalsStillAnswered(t *testing.T) {
	peer := newFakePeer(t)
	b := startBackend(t, fakeTrunk(peer))
	done := make(chan error, 1)
	var sess engine.Session
	var pc progressCount
	go func() {
		var err error
		sess, err = b.Dial(testCtx(t), engine.DialRequest{CallID: "f1", LegID: "f1-1", Number: "1000"}, pc.fn)
		done <- err
	}()
	inv := peer.recv("INVITE ")
	for i := 0; i < 25; i++ {
		status := "180 Ringing"
		if i%2 == 1 {
			status = "183 Session Progress"
		}
		peer.send(b.LocalAddr(), peer.reply(inv, status, "fl", ""))
		time.Sleep(2 * time.Millisecond) // keep them in order (not asserted)
	}
	peer.send(b.LocalAddr(), peer.reply(inv, "200 OK", "fl", peer.sdp(40020)))
	if err := <-done; err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if pc.ringing.Load() != 1 {
		t.Fatalf("ringing reported %d times", pc.ringing.Load())
	}
	peer.recv("ACK ")
	go func() { done <- sess.Hangup(context.Background(), nil) }()
	bye := peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	if err := <-done; err != nil {
		t.Fatalf("Hangup: %v", err)
	}
}

// RFC 3261 9.1: a CANCEL waits for a provisional response.
func TestCancelWaitsForProvisional(t *testing.T) {
	peer := newFakePeer(t)
	b := startBackend(t, fakeTrunk(peer))
	ctx, cancel := context.WithCancelCause(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := b.Dial(ctx, engine.DialRequest{CallID: "f2", LegID: "f2-1", Number: "1000"}, nil)
		done <- err
	}()
	inv := peer.recv("INVITE ")
	cancel(engine.ErrCallStopped) // before any response
	peer.send(b.LocalAddr(), peer.reply(inv, "180 Ringing", "cw", ""))
	cnl := peer.recv("CANCEL ")
	if header(cnl, "Call-ID") != header(inv, "Call-ID") || header(cnl, "Via") != header(inv, "Via") {
		t.Fatalf("CANCEL does not match the INVITE:\n%s", cnl)
	}
	peer.send(b.LocalAddr(), peer.reply(cnl, "200 OK", "", ""))
	peer.send(b.LocalAddr(), peer.reply(inv, "487 Request Terminated", "cw", ""))
	de := dialErr(t, <-done)
	if de.Disposition != engine.DispCanceled || de.SIPCode != 487 || !errors.Is(de, engine.ErrCallStopped) {
		t.Fatalf("got %v", de)
	}
	if ack := peer.recv("ACK "); !strings.Contains(header(ack, "CSeq"), "ACK") {
		t.Fatalf("ACK of the 487:\n%s", ack)
	}
}
