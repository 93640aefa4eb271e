package asterisk

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/aritest"
)

func TestInbound(t *testing.T) {
	h := start(t, aritest.Options{})
	calls := make(chan engine.InboundCall, 4)
	h.b.OnInbound(func(c engine.InboundCall) { calls <- c })
	next := func() engine.InboundCall {
		select {
		case c := <-calls:
			return c
		case <-time.After(waitFor):
			t.Fatal("no inbound call")
			return nil
		}
	}

	id := h.srv.Inbound("+4930123", "Bob", "7000")
	c := next()
	if c.Caller() != "+4930123" || c.CallerName() != "Bob" || c.Called() != "7000" {
		t.Fatalf("call %q %q %q", c.Caller(), c.CallerName(), c.Called())
	}
	if err := c.Ringing(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ringing(); err != nil {
		t.Fatal(err)
	}
	if n := len(h.requests("POST", "/channels/"+id+"/ring")); n != 1 {
		t.Errorf("%d ring requests", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	es, err := c.Answer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.channel(id).State != "Up" {
		t.Errorf("state %s", h.channel(id).State)
	}
	if _, err := c.Answer(ctx); !errors.Is(err, ErrAlreadyAnswered) {
		t.Errorf("second answer: %v", err)
	}
	if err := c.Reject(486, "busy"); !errors.Is(err, ErrAlreadyAnswered) {
		t.Errorf("reject after answer: %v", err)
	}
	s := es.(*Session)
	if err := s.Play(ctx, engine.Announcement{ID: "welcome.wav"}, engine.PlayOptions{}); err != nil {
		t.Fatal(err)
	}
	h.srv.HangupFar(id, 16)
	waitDone(t, s.Context(), "caller hang-up")
	if !errors.Is(context.Cause(s.Context()), engine.ErrRemoteHangup) {
		t.Errorf("cause %v", context.Cause(s.Context()))
	}

	// Reject maps the SIP status to a hang-up reason.
	for code, want := range map[int]int{486: 17, 404: 1, 503: 34} {
		id := h.srv.Inbound("100", "", "7001")
		c := next()
		if err := c.Reject(code, "test"); err != nil {
			t.Fatal(err)
		}
		h.eventually("rejected channel ended", func() bool { return h.channel(id).Ended })
		if got := h.channel(id).Cause; got != want {
			t.Errorf("reject %d: cause %d, want %d", code, got, want)
		}
		waitDone(t, c.Context(), "rejected call's context")
	}

	// The caller hangs up before the answer.
	id = h.srv.Inbound("100", "", "7002")
	c = next()
	h.srv.HangupFar(id, 16)
	waitDone(t, c.Context(), "caller gave up")
	if !errors.Is(context.Cause(c.Context()), ErrCallerHungUp) {
		t.Errorf("cause %v", context.Cause(c.Context()))
	}
	if _, err := c.Answer(ctx); err == nil {
		t.Error("answered a call the caller gave up")
	}

	// Without a handler the call is refused.
	h.b.OnInbound(nil)
	id = h.srv.Inbound("100", "", "7003")
	h.eventually("refused channel ended", func() bool { return h.channel(id).Ended })
	if got := h.channel(id).Cause; got != 21 {
		t.Errorf("refused with cause %d", got)
	}
	if st := h.b.Stats(); st.Inbound != 5 || st.InboundRefused != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestInboundCalledFromStasisArgs(t *testing.T) {
	// A synthetic StasisStart: the dialplan passed the number as the
	// first argument.
	h := start(t, aritest.Options{})
	calls := make(chan engine.InboundCall, 1)
	h.b.OnInbound(func(c engine.InboundCall) { calls <- c; c.Reject(404, "") })
	ev := mustDecode(t, `{"type":"StasisStart","application":"switchboard","timestamp":"2024-01-02T10:00:00.000+0000","args":["+4930555"],
		"channel":{"id":"in-1","name":"PJSIP/trunk-1","state":"Ring","caller":{"name":"","number":"42"},"dialplan":{"context":"in","exten":"s","priority":1}}}`)
	h.b.dispatch(ev)
	select {
	case c := <-calls:
		if c.Called() != "+4930555" || c.Caller() != "42" {
			t.Errorf("called %q caller %q", c.Called(), c.Caller())
		}
	case <-time.After(waitFor):
		t.Fatal("no call")
	}
}

func mustDecode(t *testing.T, js string) ari.Event {
	t.Helper()
	ev, err := ari.DecodeEvent([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
