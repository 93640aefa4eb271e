package conformance

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/sip/asterisk"
	"github.com/switchboard/switchboard/test/aritest"
)

// eventGate stands between the backend and the ARI server: REST passes
// through, and the event WebSocket passes through until the gate is
// closed; while closed, every attempt to open it is refused (503), so the
// backend keeps retrying with its backoff and the connection stays down
// for as long as the test wants, however fast the backend retries.
type eventGate struct {
	closed  atomic.Bool
	refused atomic.Int64 // event connections refused while closed
	url     string       // the ARI base through the gate
}

func newEventGate(t *testing.T, ariURL string) *eventGate {
	t.Helper()
	target, err := url.Parse(ariURL)
	if err != nil {
		t.Fatal(err)
	}
	g := &eventGate{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") && g.closed.Load() {
			g.refused.Add(1)
			http.Error(w, "event connection held down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL + target.Path
	return g
}

// sessionsBackend is a backend that keeps the sessions it answered, by
// the number dialed, so a test can read why each one ended. Sessions and
// bridges are the backend's own.
type sessionsBackend struct {
	engine.Backend
	mu       sync.Mutex
	sessions map[string]engine.Session
}

func (b *sessionsBackend) Dial(ctx context.Context, req engine.DialRequest, progress func(engine.Progress)) (engine.Session, error) {
	s, err := b.Backend.Dial(ctx, req, progress)
	if s != nil {
		b.mu.Lock()
		b.sessions[req.Number] = s
		b.mu.Unlock()
	}
	return s, err
}

// cause is why the session answered at number ended, nil while it is up.
func (b *sessionsBackend) cause(number string) error {
	b.mu.Lock()
	s := b.sessions[number]
	b.mu.Unlock()
	if s == nil {
		return errors.New("no session answered at " + number)
	}
	return context.Cause(s.Context())
}

// poll waits, up to bound, until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The event WebSocket drops in the middle of two bridged calls and stays
// down while one call's to party hangs up; its events are lost. Once the
// connection is back, the reconciliation ends that call (its channel is
// gone), the other call goes on as if nothing happened and is hung up by
// its own events, and nothing is left up on Asterisk.
func TestAsteriskWebSocketDropMidCall(t *testing.T) {
	const app = "switchboard"
	srv := aritest.Start(t, aritest.Options{
		Far: func(string) aritest.Far { return aritest.Far{Ring: time.Millisecond, Answer: true} },
	})
	gate := newEventGate(t, srv.URL())
	b := startARIBackend(t, asterisk.Config{
		URL:      gate.url,
		User:     "switchboard",
		Password: "secret",
		Trunks:   []asterisk.Trunk{{Name: "phones", Endpoint: ariEndpoint}},
		// Retries come fast; the gate, not the backoff, decides how long
		// the connection stays down.
		ReconnectMin: 5 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond,
	})
	sessions := &sessionsBackend{Backend: b, sessions: map[string]engine.Session{}}
	s := newSuite(t, &Harness{Backend: sessions})
	tmpl := endpointTemplate(ariEndpoint)

	// upChannel is the id of the answered channel to number still up.
	upChannel := func(number string) string {
		t.Helper()
		var id string
		poll(t, "an answered channel to "+number, func() bool {
			for _, c := range srv.Channels() {
				if c.Endpoint == tmpl.endpoint(number) && c.SnoopOf == "" && c.State == "Up" && !c.Ended {
					id = c.ID
					return true
				}
			}
			return false
		})
		return id
	}

	call1 := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 10, 0, "6300001"),
		To:   numbers(dialer.OneByOne, 10, 0, "6300002"),
	})
	call2 := s.originate(engine.CallRequest{
		From: numbers(dialer.OneByOne, 10, 0, "6300011"),
		To:   numbers(dialer.OneByOne, 10, 0, "6300012"),
	})
	for _, id := range []string{call1, call2} {
		c := s.bridged(id)
		s.expect(c, c.BridgedAt != nil && c.Live(), "call %s: want bridged", id)
	}
	to1, from2 := upChannel("6300002"), upChannel("6300011")
	if n := srv.Connected(app); n != 1 {
		t.Fatalf("%d event connections before the drop", n)
	}

	// The connection drops and is held down: the backend notices, and
	// its attempts to reconnect are refused.
	gate.closed.Store(true)
	srv.DropWebSockets()
	poll(t, "the backend seeing the connection down", func() bool {
		return b.Ready() != nil && srv.Connected(app) == 0 && gate.refused.Load() >= 1
	})

	// Call 1's to party hangs up meanwhile: no one hears it.
	if err := srv.HangupFar(to1, 16); err != nil {
		t.Fatal(err)
	}
	if ch, ok := srv.Channel(to1); !ok || !ch.Ended {
		t.Fatalf("channel %s not hung up: %+v", to1, ch)
	}
	// The gate is still closed, so nothing can have told the engine.
	if c, err := s.e.Get(s.ctx, tenant, call1); err != nil || !c.Live() {
		t.Fatalf("call 1 ended while the event connection was down: %v %s", err, describe(c))
	}
	if st := b.Stats(); st.Reconnects != 0 || st.Reconciles != 0 {
		t.Fatalf("reconnected through a closed gate: %+v", st)
	}

	// The connection comes back.
	gate.closed.Store(false)
	poll(t, "reconnected and reconciled", func() bool {
		return b.Ready() == nil && srv.Connected(app) == 1 && b.Stats().Reconciles >= 1
	})

	// Call 1 ends: its to channel was found gone. The record names the
	// to side and says why: the channel was gone while the event
	// connection was down (nobody heard who hung up).
	c1 := s.ended(call1)
	s.expect(c1, c1.State == engine.StateEnded && c1.EndedAt != nil, "call 1: want ended")
	s.expect(c1, c1.Outcome == engine.OutcomeCompleted && c1.HangupBy == engine.HangupTo, "call 1: want completed, ended on the to side")
	s.expect(c1, strings.Contains(c1.Reason, asterisk.ErrChannelGone.Error()),
		"call 1: the reason does not say the channel was gone while the event connection was down")
	if err := sessions.cause("6300002"); !errors.Is(err, asterisk.ErrChannelGone) {
		t.Errorf("call 1's to session ended with %v, want %v", err, asterisk.ErrChannelGone)
	}
	for _, l := range c1.Legs {
		s.expect(c1, l.State == engine.LegEnded && l.EndedAt != nil, "call 1: leg %s/%s not ended", l.Side, l.Number)
	}

	// Call 2 went on through the drop, bridged, and its events still
	// arrive: its from party hangs up.
	c2, err := s.e.Get(s.ctx, tenant, call2)
	if err != nil {
		t.Fatal(err)
	}
	s.expect(c2, c2.Live() && c2.State == engine.StateBridged && c2.BridgedAt != nil, "call 2: want still bridged")
	var bridge2 aritest.Bridge
	for _, br := range srv.Bridges() {
		for _, ch := range br.Channels {
			if ch == from2 {
				bridge2 = br
			}
		}
	}
	if bridge2.Destroyed || len(bridge2.Channels) != 2 {
		t.Fatalf("call 2's bridge on Asterisk: %+v", bridge2)
	}
	if err := srv.HangupFar(from2, 16); err != nil {
		t.Fatal(err)
	}
	c2 = s.ended(call2)
	s.expect(c2, c2.Outcome == engine.OutcomeCompleted && c2.HangupBy == engine.HangupFrom, "call 2: want completed, hung up by from")
	for _, l := range c2.Legs {
		s.expect(c2, l.State == engine.LegEnded && l.EndedAt != nil, "call 2: leg %s/%s not ended", l.Side, l.Number)
	}

	// Nothing is left up on Asterisk.
	var left []string
	deadline := time.Now().Add(bound)
	for {
		left = left[:0]
		for _, c := range srv.Channels() {
			if !c.Ended {
				left = append(left, "channel "+c.ID+" ("+c.Endpoint+")")
			}
		}
		for _, br := range srv.Bridges() {
			if !br.Destroyed {
				left = append(left, "bridge "+br.ID)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left up on Asterisk: %v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// One reconnect, one reconciliation, which ended one session: call
	// 1's to leg.
	if st := b.Stats(); st.Reconnects != 1 || st.Reconciles != 1 || st.ReconciledEnds != 1 {
		t.Errorf("stats %+v: want one reconnect, one reconciliation ending one session", st)
	}
}
