package sip

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/sipptest"
)

func TestMediaTimeoutConfig(t *testing.T) {
	for _, tt := range []struct {
		set, want time.Duration
	}{{0, DefaultMediaTimeout}, {-1, 0}, {300 * time.Millisecond, 300 * time.Millisecond}} {
		if got := (Config{MediaTimeout: tt.set}).mediaTimeout(); got != tt.want {
			t.Errorf("MediaTimeout %v: in force %v, want %v", tt.set, got, tt.want)
		}
	}
}

// The far end answers and sends no RTP: the leg ends with
// engine.ErrMediaTimeout and the far end gets a BYE.
func TestMediaTimeoutHangsUpSilentLeg(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer.xml"})
	b, _ := startBackendCfg(t, Config{MediaTimeout: 300 * time.Millisecond, Trunks: []Trunk{trunkTo("sipp", uas)}})
	sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "m1", LegID: "m1-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	waitDone(t, sess.Context(), "media timeout")
	if cause := context.Cause(sess.Context()); !errors.Is(cause, engine.ErrMediaTimeout) {
		t.Fatalf("cause %v, want ErrMediaTimeout", cause)
	}
	uas.WaitCounts(t, "BYE", func(c sipptest.Counts) bool { return c.Requests["BYE"] == 1 && c.Responses[200] == 2 })
	deadline := time.Now().Add(testBound)
	for b.ActiveSessions() != 0 || b.ActiveStreams() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sessions %d streams %d after the timeout", b.ActiveSessions(), b.ActiveStreams())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A leg whose far end keeps talking outlives many media timeouts.
func TestMediaTimeoutSparesTalkingLeg(t *testing.T) {
	if _, err := os.Stat("/usr/share/sip-tester/g711a.pcap"); err != nil {
		t.Skip("sipp's g711a.pcap is not installed")
	}
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_play.xml"})
	b, _ := startBackendCfg(t, Config{MediaTimeout: 500 * time.Millisecond, Trunks: []Trunk{trunkTo("sipp", uas)}})
	sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "m2", LegID: "m2-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	s := sess.(*Session)
	// 100 packets are 2 s of audio: four media timeouts.
	deadline := time.Now().Add(testBound)
	for s.Stream().Stats().PacketsReceived < 100 {
		if time.Now().After(deadline) || s.Context().Err() != nil {
			t.Fatalf("stats %+v, cause %v", s.Stream().Stats(), context.Cause(s.Context()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Context().Err(); err != nil {
		t.Fatalf("talking leg ended: %v", context.Cause(s.Context()))
	}
	s.Hangup(context.Background(), nil)
}

// A far end that holds the call (a=recvonly, a=inactive) sends nothing
// and is not timed out; once it resumes, silence counts again.
func TestMediaTimeoutSkipsHeldLeg(t *testing.T) {
	peer := newFakePeer(t)
	b, _ := startBackendCfg(t, Config{Trunks: []Trunk{fakeTrunk(peer)}}) // default 60 s
	done := make(chan error, 1)
	var sess engine.Session
	go func() {
		var err error
		sess, err = b.Dial(testCtx(t), engine.DialRequest{CallID: "m3", LegID: "m3-1", Number: "1000"}, nil)
		done <- err
	}()
	inv := peer.recv("INVITE ")
	peer.send(b.LocalAddr(), peer.reply(inv, "200 OK", "h1", peer.sdp(40200)+"a=recvonly\n"))
	if err := <-done; err != nil {
		t.Fatalf("Dial: %v", err)
	}
	peer.recv("ACK ")
	s := sess.(*Session)

	later := time.Now().Add(time.Hour)
	b.checkMedia(later)
	if s.Context().Err() != nil || s.timedOut.Load() {
		t.Fatalf("held leg timed out: %v", context.Cause(s.Context()))
	}

	// Resumed by a re-INVITE: an hour of silence from now is too much.
	body := strings.ReplaceAll(peer.sdp(40200), "\n", "\r\n")
	reinvite := fmt.Sprintf("INVITE sip:switchboard@%s SIP/2.0\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-resume\nFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: 2 INVITE\nContact: <sip:peer@%s>\nMax-Forwards: 70\nContent-Type: application/sdp\nContent-Length: %d\n\n%s",
		b.LocalAddr(), peer.addr(), header(inv, "To")+";tag=h1", header(inv, "From"), header(inv, "Call-ID"), peer.addr(), len(body), peer.sdp(40200))
	peer.send(b.LocalAddr(), reinvite)
	if res := peer.recv("SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("re-INVITE answered:\n%s", res)
	}
	b.checkMedia(time.Now().Add(time.Minute - time.Second))
	if s.Context().Err() != nil {
		t.Fatal("timed out before the media timeout")
	}
	b.checkMedia(time.Now().Add(time.Hour))
	bye := peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	waitDone(t, s.Context(), "media timeout")
	if cause := context.Cause(s.Context()); !errors.Is(cause, engine.ErrMediaTimeout) {
		t.Fatalf("cause %v", cause)
	}
}

func TestMediaTimeoutOff(t *testing.T) {
	peer := newFakePeer(t)
	b, _ := startBackendCfg(t, Config{MediaTimeout: -1, Trunks: []Trunk{fakeTrunk(peer)}})
	done := make(chan error, 1)
	var sess engine.Session
	go func() {
		var err error
		sess, err = b.Dial(testCtx(t), engine.DialRequest{CallID: "m4", LegID: "m4-1", Number: "1000"}, nil)
		done <- err
	}()
	inv := peer.recv("INVITE ")
	peer.send(b.LocalAddr(), peer.reply(inv, "200 OK", "o1", peer.sdp(40210)))
	if err := <-done; err != nil {
		t.Fatalf("Dial: %v", err)
	}
	peer.recv("ACK ")
	b.checkMedia(time.Now().Add(24 * time.Hour))
	if sess.Context().Err() != nil {
		t.Fatal("timed out with the media timeout off")
	}
	go func() { done <- sess.Hangup(context.Background(), nil) }()
	bye := peer.recv("BYE ")
	peer.send(b.LocalAddr(), peer.reply(bye, "200 OK", "", ""))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFarEndSends(t *testing.T) {
	const head = "v=0\r\no=x 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	for body, want := range map[string]bool{
		head + "m=audio 4000 RTP/AVP 0\r\n":                             true,
		head + "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n":               true,
		head + "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n":               false,
		head + "a=inactive\r\nm=audio 4000 RTP/AVP 0\r\n":               false,
		head + "a=inactive\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n": true,
		"garbage": true,
	} {
		if got := farEndSends([]byte(body)); got != want {
			t.Errorf("farEndSends(%q) = %v", body, got)
		}
	}
}
