package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
)

// drain returns the start lines of the messages p received until the
// socket stays quiet briefly. Callers first wait on a counter that says
// everything was sent; loopback delivery is then already done, so the
// quiet period only bounds the read, it is not asserted.
func (p *fakePeer) drain() []string {
	p.t.Helper()
	var got []string
	buf := make([]byte, 65535)
	for {
		p.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return got
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		got = append(got, line)
	}
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func waitStray(t *testing.T, b *Backend, what string, cond func(StrayStats) bool) {
	t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond(b.StrayStats()) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; stray stats %+v", what, b.StrayStats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stray200 is a 200 to an INVITE with the given dialog, naming contact.
func stray200(via, from, to, callID, cseq, contact string) string {
	return fmt.Sprintf("SIP/2.0 200 OK\n%s\nFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: %s\nContact: <sip:x@%s>\nContent-Length: 0\n\n",
		via, from, to, callID, cseq, contact)
}

// Forged 200s (unknown dialogs, or the dialog of a real INVITE sent from
// elsewhere than its trunk) make us send nothing; a real late 200 from
// the trunk is ACKed and hung up once, its retransmissions get one more
// ACK and no second BYE.
func TestStray2xxOnlyFromOurInviteAndTrunk(t *testing.T) {
	trunk, evil, victim := newFakePeer(t), newFakePeer(t), newFakePeer(t)
	b := startBackend(t, fakeTrunk(trunk))
	us := b.LocalAddr()
	via := fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK-gone", us)

	for i := range 3 {
		evil.send(us, stray200(via, "<sip:switchboard@127.0.0.1>;tag=ours", "<sip:1000@127.0.0.1>;tag=theirs",
			fmt.Sprintf("forged-%d", i), "7 INVITE", victim.addr().String()))
	}
	waitStray(t, b, "forged 200s dropped", func(s StrayStats) bool { return s.Dropped == 3 })

	// A real attempt, cancelled: the 200 comes after it ended.
	ctx, cancel := context.WithCancelCause(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := b.Dial(ctx, engine.DialRequest{CallID: "s1", LegID: "s1-1", Number: "1000"}, nil)
		done <- err
	}()
	inv := trunk.recv("INVITE ")
	trunk.send(us, trunk.reply(inv, "180 Ringing", "late", ""))
	cancel(engine.ErrCallStopped)
	cnl := trunk.recv("CANCEL ")
	trunk.send(us, trunk.reply(cnl, "200 OK", "", ""))
	trunk.send(us, trunk.reply(inv, "487 Request Terminated", "late", ""))
	if de := dialErr(t, <-done); de.SIPCode != 487 {
		t.Fatalf("got %v", de)
	}
	trunk.recv("ACK ")

	from, to, callID := header(inv, "From"), header(inv, "To")+";tag=late", header(inv, "Call-ID")
	// Someone who learnt the dialog sends its 200 from elsewhere.
	evil.send(us, stray200(via, from, to, callID, header(inv, "CSeq"), victim.addr().String()))
	waitStray(t, b, "the 200 from another source dropped", func(s StrayStats) bool { return s.Dropped == 4 })
	if s := b.StrayStats(); s.ACKs != 0 || s.BYEs != 0 {
		t.Fatalf("stray stats %+v", s)
	}

	late := stray200(via, from, to, callID, header(inv, "CSeq"), trunk.addr().String())
	trunk.send(us, late)
	ack := trunk.recv("ACK ")
	seq, _, _ := strings.Cut(header(inv, "CSeq"), " ")
	if header(ack, "Call-ID") != callID || header(ack, "CSeq") != seq+" ACK" {
		t.Fatalf("ACK:\n%s", ack)
	}
	bye := trunk.recv("BYE ")
	if header(bye, "Call-ID") != callID || !strings.HasSuffix(header(bye, "CSeq"), " BYE") || header(bye, "CSeq") == seq+" BYE" {
		t.Fatalf("BYE:\n%s", bye)
	}
	trunk.send(us, trunk.reply(bye, "200 OK", "", ""))
	for range 3 {
		trunk.send(us, late)
	}
	waitStray(t, b, "retransmissions handled", func(s StrayStats) bool { return s.Dropped == 6 && s.ACKs == 2 })
	got := trunk.drain()
	if countPrefix(got, "ACK ") != 1 || countPrefix(got, "BYE ") != 0 {
		t.Fatalf("after the retransmitted 200s the trunk got %q", got)
	}
	if s := b.StrayStats(); s.BYEs != 1 {
		t.Fatalf("stray stats %+v", s)
	}
	if got := victim.drain(); len(got) != 0 {
		t.Fatalf("the victim got %q", got)
	}
}

// A 200 dropped by Dial itself (it crossed the CANCEL) is not hung up a
// second time when it is retransmitted.
func TestRetransmittedDroppedAnswerNotByedTwice(t *testing.T) {
	trunk := newFakePeer(t)
	b := startBackend(t, fakeTrunk(trunk))
	us := b.LocalAddr()
	ctx, cancel := context.WithCancelCause(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := b.Dial(ctx, engine.DialRequest{CallID: "s2", LegID: "s2-1", Number: "1000"}, nil)
		done <- err
	}()
	inv := trunk.recv("INVITE ")
	trunk.send(us, trunk.reply(inv, "180 Ringing", "x1", ""))
	cancel(engine.ErrLostRace)
	cnl := trunk.recv("CANCEL ")
	ok := trunk.reply(inv, "200 OK", "x1", trunk.sdp(40100))
	trunk.send(us, ok) // crosses the CANCEL
	trunk.send(us, trunk.reply(cnl, "200 OK", "", ""))
	trunk.recv("ACK ")
	bye := trunk.recv("BYE ")
	trunk.send(us, trunk.reply(bye, "200 OK", "", ""))
	if de := dialErr(t, <-done); de.SIPCode != 200 || !errors.Is(de, engine.ErrLostRace) {
		t.Fatalf("got %v", de)
	}
	for range 3 {
		trunk.send(us, ok)
	}
	waitStray(t, b, "retransmissions handled", func(s StrayStats) bool { return s.ACKs+s.Dropped == 3 })
	got := trunk.drain()
	if countPrefix(got, "BYE ") != 0 || countPrefix(got, "ACK ") > 1 {
		t.Fatalf("retransmitted 200s got %q", got)
	}
}

func TestStrayTableIsBoundedAndExpires(t *testing.T) {
	var tab strayTable
	now := time.Now()
	tr := &Trunk{Name: "t", Host: "127.0.0.1"}
	mk := func(i int) *sentInvite {
		req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "1000", Host: "127.0.0.1"})
		from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: "me", Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
		from.Params.Add("tag", sipmsg.GenerateTagN(16))
		callID := sipmsg.CallIDHeader(fmt.Sprintf("call-%d", i))
		req.AppendHeader(from)
		req.AppendHeader(&sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: "1000", Host: "127.0.0.1"}})
		req.AppendHeader(&callID)
		return tab.add(req, tr, now)
	}
	first := mk(0)
	tab.end(first, now)
	// A flood of unknown answers neither grows nor scans the table.
	for i := range 10000 {
		if tab.lookup(fmt.Sprintf("nope-%d", i), "tag", now) != nil {
			t.Fatal("unknown Call-ID matched")
		}
	}
	if tab.size() != 1 {
		t.Fatalf("size %d", tab.size())
	}
	if tab.lookup("call-0", "wrong", now) != nil || tab.lookup("call-0", first.fromTag, now) != first {
		t.Fatal("lookup by Call-ID and From tag")
	}
	// Forgotten 64*T1 after the attempt ended, not before.
	if tab.lookup("call-0", first.fromTag, now.Add(strayMemory()-time.Second)) == nil {
		t.Fatal("forgotten too early")
	}
	tab.sweep(now.Add(strayMemory() + time.Second))
	if tab.size() != 0 {
		t.Fatalf("size %d after expiry", tab.size())
	}
	// An attempt in flight is kept; past the bound the oldest ended go.
	inFlight := mk(-1)
	for i := range maxSentInvites + 100 {
		tab.end(mk(i+1), now)
	}
	if n := tab.size(); n > maxSentInvites+1 {
		t.Fatalf("size %d over the bound", n)
	}
	if tab.lookup("call--1", inFlight.fromTag, now) != inFlight {
		t.Fatal("attempt in flight forgotten")
	}
}

func TestStrayDecisions(t *testing.T) {
	var tab strayTable
	inv := &sentInvite{callID: "c", fromTag: "f"}
	// An answer nobody took: ACK and BYE once, then one more ACK.
	for i, want := range []strayAction{strayAckBye, strayAck, strayDrop, strayDrop} {
		if got := tab.decide(inv, "fork", false); got != want {
			t.Fatalf("fork, #%d: %v, want %v", i, got, want)
		}
	}
	// The answer Dial took is never hung up here, even before its
	// session is registered; its ACKs are bounded.
	tab.answer(inv, "mine")
	for i := range maxLiveAcks {
		if got := tab.decide(inv, "mine", false); got != strayAck {
			t.Fatalf("taken answer, #%d: %v", i, got)
		}
	}
	if got := tab.decide(inv, "mine", true); got != strayDrop {
		t.Fatalf("past the bound: %v", got)
	}
	// Once its session was hung up: no BYE, at most one more ACK.
	inv2 := &sentInvite{callID: "c2", fromTag: "f"}
	tab.answer(inv2, "x")
	tab.byed(inv2, "x")
	if a, b := tab.decide(inv2, "x", false), tab.decide(inv2, "x", false); a != strayAck || b != strayDrop {
		t.Fatalf("after hang-up: %v then %v", a, b)
	}
	// Forks are bounded.
	inv3 := &sentInvite{callID: "c3", fromTag: "f"}
	for i := range maxStrayDialogs {
		tab.decide(inv3, fmt.Sprint(i), false)
	}
	if got := tab.decide(inv3, "one too many", false); got != strayDrop {
		t.Fatalf("fork past the bound: %v", got)
	}
}
