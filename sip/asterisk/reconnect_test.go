package asterisk

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/aritest"
)

func TestReconnectKeepsLiveCall(t *testing.T) {
	h := start(t, aritest.Options{})
	s, _ := h.dial("1000")
	keys := make(chan rune, 4)
	s.OnDTMF(func(d rune) { keys <- d })
	h.srv.DropWebSockets()
	h.eventually("reconnected and reconciled", func() bool { return h.b.Stats().Reconciles >= 1 && h.b.Ready() == nil })
	h.eventually("server sees the app", func() bool { return h.srv.Connected("switchboard") == 1 })
	if s.Context().Err() != nil {
		t.Fatalf("the call ended: %v", context.Cause(s.Context()))
	}
	h.srv.Press(s.ChannelID(), "7")
	select {
	case d := <-keys:
		if d != '7' {
			t.Errorf("key %q", d)
		}
	case <-time.After(waitFor):
		t.Fatal("events did not resume")
	}
	h.srv.HangupFar(s.ChannelID(), 16)
	waitDone(t, s.Context(), "remote hang-up after reconnect")
	if !errors.Is(context.Cause(s.Context()), engine.ErrRemoteHangup) {
		t.Errorf("cause %v", context.Cause(s.Context()))
	}
	if st := h.b.Stats(); st.ReconciledEnds != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestReconnectEndsGoneChannels(t *testing.T) {
	h := start(t, aritest.Options{Far: func(endpoint string) aritest.Far {
		if strings.Contains(endpoint, "/3000") {
			return aritest.Far{Never: true}
		}
		return aritest.Far{Answer: true}
	}})
	gate := make(chan struct{})
	h.b.beforeReconnect = func() { <-gate }
	s, _ := h.dial("1000")

	// A dial rings while the connection drops, and its far end gives up.
	type result struct {
		s   engine.Session
		err error
	}
	ringing := make(chan struct{})
	dialDone := make(chan result, 1)
	go func() {
		s, err := h.b.Dial(context.Background(), engine.DialRequest{Number: "3000"}, func(p engine.Progress) {
			if p == engine.ProgressRinging {
				close(ringing)
			}
		})
		dialDone <- result{s, err}
	}()
	select {
	case <-ringing:
	case <-time.After(waitFor):
		t.Fatal("no ringing")
	}
	var dialing string
	for _, c := range h.srv.Channels() {
		if c.Endpoint == "PJSIP/3000@carrier" {
			dialing = c.ID
		}
	}

	h.srv.DropWebSockets()
	h.eventually("disconnected", func() bool { return h.b.Ready() != nil })
	if !errors.Is(h.b.Ready(), ErrDisconnected) {
		t.Errorf("ready: %v", h.b.Ready())
	}
	if _, err := h.b.Dial(context.Background(), engine.DialRequest{Number: "1000"}, nil); err == nil {
		t.Error("dialed while disconnected")
	}
	h.srv.HangupFar(s.ChannelID(), 16)
	h.srv.HangupFar(dialing, 17)
	close(gate)

	waitDone(t, s.Context(), "session ended by reconcile")
	if !errors.Is(context.Cause(s.Context()), ErrChannelGone) {
		t.Errorf("cause %v", context.Cause(s.Context()))
	}
	select {
	case r := <-dialDone:
		var de *engine.DialError
		if r.s != nil || !errors.As(r.err, &de) || de.Disposition != engine.DispFailed || !errors.Is(de, ErrChannelGone) {
			t.Errorf("dial: %v %v", r.s, r.err)
		}
	case <-time.After(waitFor):
		t.Fatal("dial did not end")
	}
	if st := h.b.Stats(); st.ReconciledEnds != 2 || st.Reconnects < 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestBadCredentials(t *testing.T) {
	srv := aritest.Start(t, aritest.Options{User: testUser, Password: testPassword})
	logs := &logBuffer{}
	b, err := New(Config{URL: srv.URL(), User: testUser, Password: "wrong-" + testPassword,
		Trunks: []Trunk{{Name: "t", Endpoint: "PJSIP/{number}@t"}}}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err = b.Start(ctx)
	if err == nil {
		t.Fatal("started with a wrong password")
	}
	if strings.Contains(err.Error(), testPassword) || strings.Contains(logs.String(), testPassword) {
		t.Fatalf("the password leaked: %v\n%s", err, logs.String())
	}
	if !errors.Is(b.Ready(), ErrNotStarted) {
		t.Errorf("ready: %v", b.Ready())
	}
	// A REST call with a wrong password is a typed error without it.
	err = b.c.do(ctx, "GET", "/channels", url.Values{}, nil, nil)
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), testPassword) {
		t.Errorf("REST: %v", err)
	}
}

// An Asterisk that cannot be reached at Start (down, still starting) is
// not an error: the backend starts disconnected, refuses dials, and
// connects once Asterisk answers.
func TestStartBeforeAsterisk(t *testing.T) {
	srv := aritest.Start(t, aritest.Options{User: testUser, Password: testPassword})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there yet
	b, err := New(Config{URL: "http://" + addr + "/ari", User: testUser, Password: testPassword,
		Trunks:       []Trunk{{Name: "carrier", Endpoint: "PJSIP/{number}@carrier"}},
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start with Asterisk down: %v", err)
	}
	if !errors.Is(b.Ready(), ErrDisconnected) {
		t.Fatalf("ready: %v", b.Ready())
	}
	if _, err := b.Dial(context.Background(), engine.DialRequest{Number: "1000"}, nil); err == nil {
		t.Fatal("dialed with Asterisk down")
	}

	// Asterisk comes up at the address: a forwarder to the test server.
	up, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	t.Cleanup(func() { up.Close() })
	target := strings.TrimSuffix(strings.TrimPrefix(srv.URL(), "http://"), "/ari")
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go io.Copy(s, c)
				io.Copy(c, s)
			}()
		}
	}()
	deadline := time.Now().Add(waitFor)
	for b.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("never connected: %v", b.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	s, err := b.Dial(ctx, engine.DialRequest{Number: "1000"}, nil)
	if err != nil {
		t.Fatalf("dial once connected: %v", err)
	}
	s.Hangup(ctx, nil)
}
