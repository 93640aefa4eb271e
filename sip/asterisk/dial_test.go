package asterisk

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/aritest"
)

func TestDialAnswered(t *testing.T) {
	h := start(t, aritest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var prog []engine.Progress
	es, err := h.b.Dial(ctx, engine.DialRequest{CallID: "c1", LegID: "l1", Number: "1000", CallerName: `Al"ice`},
		func(p engine.Progress) { prog = append(prog, p) })
	if err != nil {
		t.Fatal(err)
	}
	s := es.(*Session)
	if want := []engine.Progress{engine.ProgressSent, engine.ProgressRinging}; !slices.Equal(prog, want) {
		t.Errorf("progress %v, want %v", prog, want)
	}
	ch := h.channel(s.ChannelID())
	if ch.Endpoint != "PJSIP/1000@carrier" || ch.State != "Up" || ch.CallerNumber != "5550100" || ch.CallerName != "Alice" {
		t.Errorf("channel %+v", ch)
	}
	orig := h.requests("POST", "/channels/"+s.ChannelID())
	if len(orig) != 1 || orig[0].Query.Get("app") != "switchboard" || orig[0].Query.Get("appArgs") != dialArg {
		t.Fatalf("originate requests %+v", orig)
	}
	if h.b.Ready() != nil {
		t.Fatal(h.b.Ready())
	}
	cause := errors.New("done talking")
	if err := s.Hangup(context.Background(), cause); err != nil {
		t.Fatal(err)
	}
	if err := s.Hangup(context.Background(), nil); err != nil { // idempotent
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(s.Context()), cause) {
		t.Errorf("cause %v", context.Cause(s.Context()))
	}
	h.eventually("channel ended", func() bool { return h.channel(s.ChannelID()).Ended })
	if d := h.requests("DELETE", "/channels/"+s.ChannelID()); len(d) != 1 || d[0].Query.Get("reason") != "normal" {
		t.Errorf("hang-up requests %+v", d)
	}
}

func TestDialFailures(t *testing.T) {
	far := map[string]aritest.Far{
		"1017": {Ring: 10 * time.Millisecond, Cause: 17},
		"1034": {Ring: 10 * time.Millisecond, Cause: 34},
		"1001": {Cause: 1},
		"1019": {Ring: 10 * time.Millisecond, Cause: 19},
		"1021": {Ring: 10 * time.Millisecond, Cause: 21},
		"9021": {Ring: 10 * time.Millisecond, Cause: 21},
		"9017": {Ring: 10 * time.Millisecond, Cause: 17},
		"9034": {Ring: 10 * time.Millisecond, Cause: 34},
	}
	h := start(t, aritest.Options{Far: func(endpoint string) aritest.Far {
		for n, f := range far {
			if strings.Contains(endpoint, "/"+n) {
				return f
			}
		}
		return aritest.Far{Answer: true}
	}})
	for _, tc := range []struct {
		number string
		want   engine.Disposition
		sip    int
	}{
		{"1017", engine.DispBusy, 486},
		{"1034", engine.DispCongestion, 503},
		{"1001", engine.DispFailed, 404},
		{"1019", engine.DispNoAnswer, 480},
		// chan_pjsip reports 403 for cause 21: failed, as 403 is natively.
		{"1021", engine.DispFailed, 403},
		// chan_sip: no SIP status; the Q.850 cause decides.
		{"9021", engine.DispRejected, 0},
		{"9017", engine.DispBusy, 0},
		{"9034", engine.DispCongestion, 0},
	} {
		t.Run(tc.number, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			s, err := h.b.Dial(ctx, engine.DialRequest{Number: tc.number}, nil)
			var de *engine.DialError
			if s != nil || !errors.As(err, &de) {
				t.Fatalf("dial: %v %v", s, err)
			}
			if de.Disposition != tc.want || de.SIPCode != tc.sip {
				t.Errorf("got %v, want %s (%d)", de, tc.want, tc.sip)
			}
		})
	}
	// Nothing routes a bad number; nothing is sent.
	before := len(h.srv.Requests())
	_, err := h.b.Dial(context.Background(), engine.DialRequest{Number: "1/2"}, nil)
	var de *engine.DialError
	if !errors.As(err, &de) || de.Disposition != engine.DispFailed || len(h.srv.Requests()) != before {
		t.Errorf("bad number: %v", err)
	}
}

func TestDialOriginateRefused(t *testing.T) {
	h := start(t, aritest.Options{}, func(c *Config) {
		c.Trunks = []Trunk{{Name: "bad", Endpoint: "Nope/{number}"}}
	})
	_, err := h.b.Dial(context.Background(), engine.DialRequest{Number: "1000"}, func(p engine.Progress) {
		if p == engine.ProgressSent {
			t.Error("ProgressSent for a refused originate")
		}
	})
	var de *engine.DialError
	if !errors.As(err, &de) || de.Disposition != engine.DispFailed || de.Reason != "originate failed" {
		t.Fatalf("got %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode < 400 || ae.Message == "" {
		t.Errorf("not an API error: %v", err)
	}
	t.Log(err)
}

func TestDialCancelled(t *testing.T) {
	h := start(t, aritest.Options{Far: func(string) aritest.Far { return aritest.Far{Never: true} }})
	for _, tc := range []struct {
		cause  error
		want   engine.Disposition
		reason string
	}{
		{engine.ErrRingTimeout, engine.DispNoAnswer, "no_answer"},
		{engine.ErrLostRace, engine.DispCanceled, "answered_elsewhere"},
		{engine.ErrCallStopped, engine.DispCanceled, "normal"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			var id string
			ringing := make(chan struct{})
			type result struct {
				s   engine.Session
				err error
			}
			done := make(chan result, 1)
			go func() {
				s, err := h.b.Dial(ctx, engine.DialRequest{Number: "2000"}, func(p engine.Progress) {
					if p == engine.ProgressRinging {
						close(ringing)
					}
				})
				done <- result{s, err}
			}()
			select {
			case <-ringing:
			case <-time.After(waitFor):
				t.Fatal("no ringing")
			}
			cancel(tc.cause)
			var r result
			select {
			case r = <-done:
			case <-time.After(waitFor):
				t.Fatal("dial did not return")
			}
			var de *engine.DialError
			if r.s != nil || !errors.As(r.err, &de) || de.Disposition != tc.want || !errors.Is(de, tc.cause) {
				t.Fatalf("got %v %v", r.s, r.err)
			}
			for _, c := range h.srv.Channels() {
				if c.Endpoint == "PJSIP/2000@carrier" && !c.Ended {
					id = c.ID
				}
			}
			if id != "" {
				h.eventually("channel hung up", func() bool { return h.channel(id).Ended })
			}
			dels := h.requests("DELETE", "")
			if len(dels) == 0 || dels[len(dels)-1].Query.Get("reason") != tc.reason {
				t.Errorf("hang-up %+v, want reason %s", dels, tc.reason)
			}
		})
	}
}

func TestRemoteHangup(t *testing.T) {
	h := start(t, aritest.Options{})
	s, _ := h.dial("1000")
	if err := h.srv.HangupFar(s.ChannelID(), 16); err != nil {
		t.Fatal(err)
	}
	waitDone(t, s.Context(), "remote hang-up")
	if !errors.Is(context.Cause(s.Context()), engine.ErrRemoteHangup) {
		t.Fatalf("cause %v", context.Cause(s.Context()))
	}
	if err := s.Hangup(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(h.requests("DELETE", "/channels/"+s.ChannelID())); n != 0 {
		t.Errorf("%d DELETEs of a channel the far end hung up", n)
	}
}

func TestBridge(t *testing.T) {
	h := start(t, aritest.Options{})
	a, _ := h.dial("1000")
	b, _ := h.dial("1001")
	br, err := h.b.Bridge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	id := br.(*Bridge).ID()
	bridge := func() aritest.Bridge {
		for _, x := range h.srv.Bridges() {
			if x.ID == id {
				return x
			}
		}
		t.Fatalf("no bridge %s", id)
		return aritest.Bridge{}
	}
	// Not native_rtp, where Asterisk would pass key presses on at the RTP
	// layer without telling the application.
	if got := bridge(); got.Type != "mixing" || len(got.Channels) != 2 || got.Technology != "simple_bridge" {
		t.Fatalf("bridge %+v", got)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if !bridge().Destroyed || a.Context().Err() != nil || b.Context().Err() != nil {
		t.Fatalf("bridge %+v, sessions %v %v", bridge(), a.Context().Err(), b.Context().Err())
	}
	// A bridge ends with either session.
	br2, err := h.b.Bridge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	id = br2.(*Bridge).ID()
	h.srv.HangupFar(b.ChannelID(), 16)
	h.eventually("bridge destroyed", func() bool { return bridge().Destroyed })
	if a.Context().Err() != nil {
		t.Fatal("the other session ended")
	}
	if _, err := h.b.Bridge(a, b); err == nil {
		t.Fatal("bridged an ended session")
	}
}

func TestCloseHangsUpWhatItHolds(t *testing.T) {
	h := start(t, aritest.Options{Far: func(endpoint string) aritest.Far {
		if strings.Contains(endpoint, "/3000") {
			return aritest.Far{Never: true}
		}
		return aritest.Far{Answer: true}
	}})
	s, _ := h.dial("1000")
	ringing := make(chan struct{})
	dialDone := make(chan error, 1)
	go func() {
		_, err := h.b.Dial(context.Background(), engine.DialRequest{Number: "3000"}, func(p engine.Progress) {
			if p == engine.ProgressRinging {
				close(ringing)
			}
		})
		dialDone <- err
	}()
	<-ringing
	calls := make(chan engine.InboundCall, 1)
	h.b.OnInbound(func(c engine.InboundCall) { calls <- c })
	in := h.srv.Inbound("100", "", "7000")
	<-calls
	// Someone else's channel, not ours.
	other := h.srv.Inbound("200", "", "7000")
	_ = other

	if err := h.b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-dialDone; err == nil {
		t.Error("dial survived Close")
	}
	for _, c := range h.srv.Channels() {
		if c.ID == other {
			continue
		}
		if !c.Ended {
			t.Errorf("channel %s (%s) still up", c.ID, c.Endpoint)
		}
	}
	if h.channel(in).Cause != 34 {
		t.Errorf("offered call rejected with cause %d", h.channel(in).Cause)
	}
	if !errors.Is(context.Cause(s.Context()), ErrClosed) {
		t.Errorf("session cause %v", context.Cause(s.Context()))
	}
	if !errors.Is(h.b.Ready(), ErrClosed) {
		t.Errorf("ready %v", h.b.Ready())
	}
}
