package sip

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/sipptest"
)

// testBound only keeps a broken test from hanging; no assertion depends
// on how fast anything happens.
const testBound = 60 * time.Second

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBackend starts a backend on a free loopback port. At cleanup it is
// closed and must have released every RTP port; its log is printed when
// the test failed.
func startBackend(t *testing.T, trunks ...Trunk) *Backend {
	t.Helper()
	b, _ := startBackendCfg(t, Config{Trunks: trunks})
	return b
}

// startBackendCfg is startBackend with more of the configuration; it also
// returns the backend's log (debug level, text).
func startBackendCfg(t *testing.T, cfg Config) (*Backend, *syncBuffer) {
	t.Helper()
	return startBackendTuned(t, cfg, nil)
}

// startBackendTuned is startBackendCfg with tune called on the backend
// before it starts (to shorten its timers).
func startBackendTuned(t *testing.T, cfg Config, tune func(*Backend)) (*Backend, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.RTPPortMin, cfg.RTPPortMax = 42000, 42998
	b, err := New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Ready before Start: %v", err)
	}
	if tune != nil {
		tune(b)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(); err != nil {
		t.Fatalf("Ready after Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if n := b.ActiveStreams(); n != 0 {
			t.Errorf("%d RTP streams leaked", n)
		}
		if n := b.ActiveSessions(); n != 0 {
			t.Errorf("%d sessions leaked", n)
		}
		if t.Failed() || os.Getenv("SIP_TEST_LOG") != "" {
			t.Logf("backend log:\n%s", logs)
		}
	})
	return b, logs
}

func trunkTo(name string, u *sipptest.UAS, prefixes ...string) Trunk {
	return Trunk{Name: name, Host: u.Addr.Addr().String(), Port: int(u.Addr.Port()), Prefixes: prefixes}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	t.Cleanup(cancel)
	return ctx
}

// progressCount counts the progress a Dial reports; ringingFirst is set
// when ringing came before the INVITE was reported written.
type progressCount struct {
	sent, ringing atomic.Int32
	ringingFirst  atomic.Bool
}

func (p *progressCount) fn(pr engine.Progress) {
	switch pr {
	case engine.ProgressSent:
		p.sent.Add(1)
	case engine.ProgressRinging:
		if p.sent.Load() == 0 {
			p.ringingFirst.Store(true)
		}
		p.ringing.Add(1)
	}
}

func dialErr(t *testing.T, err error) *engine.DialError {
	t.Helper()
	var de *engine.DialError
	if !errors.As(err, &de) {
		t.Fatalf("want a *engine.DialError, got %T %v", err, err)
	}
	return de
}

func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(testBound):
		t.Fatalf("%s never happened", what)
	}
}

func TestAnsweredCallThenOurBye(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer.xml", RTPEcho: true})
	b := startBackend(t, trunkTo("sipp", uas))

	var pc progressCount
	sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "c1", LegID: "c1-1", Number: "1000", CallerID: "+15550001"}, pc.fn)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	s := sess.(*Session)
	if pc.ringing.Load() != 1 || pc.sent.Load() != 1 || pc.ringingFirst.Load() {
		t.Fatalf("INVITE written reported %d times, then ringing %d times (ringing first: %v)", pc.sent.Load(), pc.ringing.Load(), pc.ringingFirst.Load())
	}
	if s.Codec() != PCMU {
		t.Fatalf("codec %v, want PCMU (first of the answer)", s.Codec())
	}
	if got := s.Stream().Remote(); got.Port() != uint16(uas.MediaPort) {
		t.Fatalf("remote RTP %v, want port %d", got, uas.MediaPort)
	}
	if b.ActiveStreams() != 1 || b.ActiveSessions() != 1 {
		t.Fatalf("streams %d sessions %d", b.ActiveStreams(), b.ActiveSessions())
	}
	if s.Context().Err() != nil {
		t.Fatal("session ended at once")
	}

	if err := s.Hangup(context.Background(), engine.ErrCallStopped); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	if err := s.Hangup(context.Background(), errors.New("second")); err != nil {
		t.Fatalf("second Hangup: %v", err)
	}
	if cause := context.Cause(s.Context()); !errors.Is(cause, engine.ErrCallStopped) {
		t.Fatalf("cause %v", cause)
	}
	c := uas.WaitCounts(t, "INVITE, ACK, BYE", func(c sipptest.Counts) bool {
		return c.Requests["BYE"] >= 1 && c.Responses[200] >= 2
	})
	if c.Requests["INVITE"] != 1 || c.Requests["ACK"] != 1 || c.Requests["BYE"] != 1 || c.Requests["CANCEL"] != 0 {
		t.Fatalf("sipp received %v", c.Requests)
	}
	if b.ActiveStreams() != 0 || b.ActiveSessions() != 0 {
		t.Fatalf("after hangup: streams %d sessions %d", b.ActiveStreams(), b.ActiveSessions())
	}

	// The INVITE offered both G.711 laws and telephone-event.
	log, _ := os.ReadFile(uas.LogFile)
	if !strings.Contains(string(log), "RTP/AVP 0 8 101") || !strings.Contains(string(log), "a=rtpmap:101 telephone-event/8000") {
		t.Fatalf("offer not as expected:\n%s", log)
	}
	if !strings.Contains(string(log), "From: <sip:+15550001@127.0.0.1>;tag=") {
		t.Fatalf("caller id not presented:\n%s", log)
	}
}

func TestBusy(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_busy.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	_, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "c2", LegID: "c2-1", Number: "1000"}, nil)
	de := dialErr(t, err)
	if de.Disposition != engine.DispBusy || de.SIPCode != 486 {
		t.Fatalf("got %v", de)
	}
	uas.WaitCounts(t, "ACK of the 486", func(c sipptest.Counts) bool { return c.Requests["ACK"] == 1 })
}

func TestRejected(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_reject.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	_, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "c3", LegID: "c3-1", Number: "1000"}, nil)
	de := dialErr(t, err)
	if de.Disposition != engine.DispRejected || de.SIPCode != 603 {
		t.Fatalf("got %v", de)
	}
}

func TestNoAnswerRingTimeoutCancels(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_noanswer.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	ctx, cancel := context.WithTimeoutCause(testCtx(t), 300*time.Millisecond, engine.ErrRingTimeout)
	defer cancel()
	var pc progressCount
	_, err := b.Dial(ctx, engine.DialRequest{CallID: "c4", LegID: "c4-1", Number: "1000"}, pc.fn)
	de := dialErr(t, err)
	if de.Disposition != engine.DispNoAnswer || de.SIPCode != 487 || !errors.Is(err, engine.ErrRingTimeout) {
		t.Fatalf("got %v", de)
	}
	if pc.ringing.Load() != 1 {
		t.Fatalf("ringing reported %d times", pc.ringing.Load())
	}
	c := uas.WaitCounts(t, "CANCEL and the ACK of the 487", func(c sipptest.Counts) bool {
		return c.Requests["CANCEL"] == 1 && c.Requests["ACK"] == 1
	})
	if c.Responses[487] != 1 || c.Requests["BYE"] != 0 {
		t.Fatalf("sipp counts %+v", c)
	}
}

func TestCanceledByEngine(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_delay.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	ctx, cancel := context.WithCancelCause(testCtx(t))
	_, err := b.Dial(ctx, engine.DialRequest{CallID: "c5", LegID: "c5-1", Number: "1000"}, func(p engine.Progress) {
		if p == engine.ProgressRinging {
			cancel(engine.ErrLostRace) // another leg answered while this one rang
		}
	})
	de := dialErr(t, err)
	if de.Disposition != engine.DispCanceled || de.SIPCode != 487 || !errors.Is(err, engine.ErrLostRace) {
		t.Fatalf("got %v", de)
	}
	uas.WaitCounts(t, "CANCEL", func(c sipptest.Counts) bool {
		return c.Requests["CANCEL"] == 1 && c.Requests["ACK"] == 1 && c.Responses[487] == 1
	})
}

func TestDelayedAnswer(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_delay.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "c6", LegID: "c6-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	sess.Hangup(context.Background(), nil)
	if cause := context.Cause(sess.Context()); !errors.Is(cause, ErrLocalHangup) {
		t.Fatalf("cause %v", cause)
	}
	uas.WaitCounts(t, "BYE", func(c sipptest.Counts) bool { return c.Requests["BYE"] == 1 && c.Requests["CANCEL"] == 0 })
}

func TestAnswerCrossingCancelIsDropped(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_cancel_race.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	ctx, cancel := context.WithCancelCause(testCtx(t))
	_, err := b.Dial(ctx, engine.DialRequest{CallID: "c7", LegID: "c7-1", Number: "1000"}, func(p engine.Progress) {
		if p == engine.ProgressRinging {
			cancel(engine.ErrLostRace)
		}
	})
	de := dialErr(t, err)
	if de.Disposition != engine.DispCanceled || de.SIPCode != 200 || !errors.Is(err, engine.ErrLostRace) {
		t.Fatalf("got %v", de)
	}
	c := uas.WaitCounts(t, "ACK and BYE of the late 200", func(c sipptest.Counts) bool {
		return c.Requests["ACK"] == 1 && c.Requests["BYE"] == 1
	})
	if c.Requests["CANCEL"] != 1 || c.Requests["INVITE"] != 1 {
		t.Fatalf("sipp counts %+v", c)
	}
}

func TestAnswerWithoutSDPIsDropped(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_nosdp.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	_, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "c8", LegID: "c8-1", Number: "1000"}, nil)
	de := dialErr(t, err)
	if de.Disposition != engine.DispFailed || de.Reason != "no usable SDP" {
		t.Fatalf("got %v", de)
	}
	uas.WaitCounts(t, "ACK and BYE", func(c sipptest.Counts) bool {
		return c.Requests["ACK"] == 1 && c.Requests["BYE"] == 1
	})
}

func TestFarEndHangup(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_bye.xml", Duration: 200 * time.Millisecond})
	b := startBackend(t, trunkTo("sipp", uas))
	sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "c9", LegID: "c9-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	waitDone(t, sess.Context(), "far-end BYE")
	if cause := context.Cause(sess.Context()); !errors.Is(cause, engine.ErrRemoteHangup) {
		t.Fatalf("cause %v, want ErrRemoteHangup", cause)
	}
	if err := sess.Hangup(context.Background(), engine.ErrCallStopped); err != nil {
		t.Fatalf("Hangup after remote hangup: %v", err)
	}
	if cause := context.Cause(sess.Context()); !errors.Is(cause, engine.ErrRemoteHangup) {
		t.Fatalf("cause changed to %v", cause)
	}
	c := uas.WaitCounts(t, "200 to its BYE", func(c sipptest.Counts) bool { return c.ReceivedResponses[200] == 1 })
	if c.SentRequests["BYE"] != 1 || c.Requests["BYE"] != 0 {
		t.Fatalf("sipp counts %+v", c)
	}
	if b.ActiveStreams() != 0 {
		t.Fatalf("%d streams after remote hangup", b.ActiveStreams())
	}
}

func TestBridgeRelaysBothWays(t *testing.T) {
	if _, err := os.Stat("/usr/share/sip-tester/g711a.pcap"); err != nil {
		t.Skip("sipp's g711a.pcap is not installed")
	}
	talker := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_play.xml"})
	echo := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer.xml", RTPEcho: true})
	b := startBackend(t, trunkTo("talker", talker, "1"), trunkTo("echo", echo, "2"))
	ctx := testCtx(t)

	a, err := b.Dial(ctx, engine.DialRequest{CallID: "c10", LegID: "c10-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial a: %v", err)
	}
	defer a.Hangup(context.Background(), nil)
	sa := a.(*Session)
	if sa.Codec() != PCMA {
		t.Fatalf("talker codec %v", sa.Codec())
	}
	bb, err := b.Dial(ctx, engine.DialRequest{CallID: "c10", LegID: "c10-2", Number: "2000", Peer: a}, nil)
	if err != nil {
		t.Fatalf("Dial b: %v", err)
	}
	defer bb.Hangup(context.Background(), nil)
	sb := bb.(*Session)
	if sb.Codec() != PCMA {
		t.Fatalf("peer leg codec %v, want the talker's PCMA", sb.Codec())
	}
	log, _ := os.ReadFile(echo.LogFile)
	if !strings.Contains(string(log), "RTP/AVP 8 101") || strings.Contains(string(log), "RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime") {
		t.Fatalf("peer leg did not offer the peer's codec only:\n%s", log)
	}

	br, err := b.Bridge(a, bb)
	if err != nil {
		t.Fatalf("Bridge: %v", err)
	}
	deadline := time.Now().Add(testBound)
	for {
		x, y := sa.Stream().Stats(), sb.Stream().Stats()
		// talker -> a -> b -> echo -> b -> a -> talker
		if x.PacketsReceived > 0 && y.PacketsSent > 0 && y.PacketsReceived > 0 && x.PacketsSent > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RTP did not flow both ways: a=%+v b=%+v", x, y)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	br.Close()
	if err := a.Hangup(context.Background(), engine.ErrCallStopped); err != nil {
		t.Fatalf("hangup a: %v", err)
	}
	if err := bb.Hangup(context.Background(), engine.ErrCallStopped); err != nil {
		t.Fatalf("hangup b: %v", err)
	}
	// The engine records these when the legs end.
	ma, mb := sa.MediaStats(), sb.MediaStats()
	if ma.PacketsIn == 0 || ma.PacketsOut == 0 || mb.PacketsIn == 0 || mb.PacketsOut == 0 || ma.BytesIn == 0 || mb.BytesOut == 0 {
		t.Fatalf("media stats a=%+v b=%+v", ma, mb)
	}
	// The backend's totals add each leg's stream up as it closes.
	x, y := sa.Stream().Stats(), sb.Stream().Stats()
	if got := b.Stats().RTP; got.PacketsReceived != x.PacketsReceived+y.PacketsReceived ||
		got.PacketsSent != x.PacketsSent+y.PacketsSent || got.BytesSent != x.BytesSent+y.BytesSent {
		t.Fatalf("backend RTP totals %+v, streams a=%+v b=%+v", got, x, y)
	}
	talker.WaitCounts(t, "BYE", func(c sipptest.Counts) bool { return c.Requests["BYE"] == 1 })
	echo.WaitCounts(t, "BYE", func(c sipptest.Counts) bool { return c.Requests["BYE"] == 1 })
}

func TestCloseHangsUpLiveCalls(t *testing.T) {
	uas := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer.xml"})
	b := startBackend(t, trunkTo("sipp", uas))
	sess, err := b.Dial(testCtx(t), engine.DialRequest{CallID: "c11", LegID: "c11-1", Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if cause := context.Cause(sess.Context()); !errors.Is(cause, ErrClosed) {
		t.Fatalf("cause %v", cause)
	}
	if err := b.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready after Close: %v", err)
	}
	_, err = b.Dial(testCtx(t), engine.DialRequest{CallID: "c11", LegID: "c11-2", Number: "1000"}, nil)
	if de := dialErr(t, err); de.Disposition != engine.DispFailed {
		t.Fatalf("dial after close: %v", de)
	}
	uas.WaitCounts(t, "BYE", func(c sipptest.Counts) bool { return c.Requests["BYE"] == 1 })
}

// The From of a dialed leg carries the caller's name (an inbound caller's,
// from its INVITE or the lookup) only in a form that needs no escaping:
// what reaches the wire parses back to the same name.
func TestInviteFromDisplayName(t *testing.T) {
	tr := Trunk{Name: "a", Host: "127.0.0.1", Port: 5999}
	b := startBackend(t, tr)
	for _, tc := range []struct{ name, want string }{
		{"", ""},
		{"Ada Lovelace", "Ada Lovelace"},
		{`Mallory" <sip:evil@example.test>;x="`, "Mallory <sip:evil@example.test>;x="},
		{"back\\slash\r\nInjected: yes", "backslashInjected: yes"},
		{"Zoë Ångström", "Zoë Ångström"},
		{strings.Repeat("é", 80), strings.Repeat("é", 64)},
	} {
		inv := b.newInvite(&tr, "1000", "+15550001", tc.name, []byte("v=0\r\n"))
		parsed, err := sipmsg.ParseMessage([]byte(inv.String()))
		if err != nil {
			t.Fatalf("%q: the INVITE does not parse back: %v", tc.name, err)
		}
		from := parsed.(*sipmsg.Request).From()
		if from.DisplayName != tc.want || from.Address.User != "+15550001" {
			t.Errorf("%q: From display name %q user %q, want %q and +15550001", tc.name, from.DisplayName, from.Address.User, tc.want)
		}
	}
}
