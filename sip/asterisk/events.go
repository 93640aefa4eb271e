package asterisk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"golang.org/x/net/websocket"
)

// One goroutine reads the event WebSocket, decodes each event and hands
// it to the sinks registered under its keys (channel, bridge, playback,
// live recording). A sink never drops: a mailbox is an unbounded queue
// that its consumer drains. Whoever starts an operation registers its
// sink before the REST request that starts it, so no event of it can
// come first.

// sink receives the events of one resource; put must not block.
type sink interface{ put(item any) }

// mailbox is an unbounded queue with a wake-up channel.
type mailbox struct {
	mu   sync.Mutex
	q    []any
	wake chan struct{}
}

func newMailbox() *mailbox { return &mailbox{wake: make(chan struct{}, 1)} }

func (m *mailbox) put(item any) {
	m.mu.Lock()
	m.q = append(m.q, item)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// take returns what is queued and empties the queue.
func (m *mailbox) take() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.q
	m.q = nil
	return q
}

// router maps "kind:id" keys to sinks.
type router struct {
	mu    sync.Mutex
	sinks map[string]sink
}

func rkey(kind, id string) string { return kind + ":" + id }

func (r *router) add(k string, s sink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sinks[k] = s
}

// remove drops k if it still maps to s.
func (r *router) remove(k string, s sink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sinks[k] == s {
		delete(r.sinks, k)
	}
}

// deliver puts ev into every sink its keys name (each sink once) and
// reports whether any took it.
func (r *router) deliver(ev ari.Event) bool {
	var targets []sink
	r.mu.Lock()
	for _, k := range ev.Keys() {
		if k == nil || k.ID == "" {
			continue
		}
		s, ok := r.sinks[rkey(k.Kind, k.ID)]
		if !ok {
			continue
		}
		dup := false
		for _, t := range targets {
			if t == s {
				dup = true
				break
			}
		}
		if !dup {
			targets = append(targets, s)
		}
	}
	r.mu.Unlock()
	for _, s := range targets {
		s.put(ev)
	}
	return len(targets) > 0
}

// dialEvents opens the event WebSocket: URL+"/events?app=<App>", HTTP
// Basic authentication in a header (never in the URL).
func (b *Backend) dialEvents(ctx context.Context) (*websocket.Conn, error) {
	loc := *b.base
	switch loc.Scheme {
	case "https":
		loc.Scheme = "wss"
	default:
		loc.Scheme = "ws"
	}
	loc.Path += "/events"
	loc.RawPath = ""
	loc.RawQuery = url.Values{"app": {b.cfg.app()}, "subscribeAll": {"false"}}.Encode()
	origin := &url.URL{Scheme: b.base.Scheme, Host: b.base.Host}
	cfg, err := websocket.NewConfig(loc.String(), origin.String())
	if err != nil {
		return nil, errorf("event WebSocket %s: %v", redactURL(&loc), err)
	}
	cfg.Header = http.Header{}
	if b.cfg.User != "" {
		cred := base64.StdEncoding.EncodeToString([]byte(b.cfg.User + ":" + b.cfg.Password))
		cfg.Header.Set("Authorization", "Basic "+cred)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.requestTimeout())
	defer cancel()
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		var de *websocket.DialError
		if errors.As(err, &de) {
			err = de.Err
		}
		if errors.Is(err, websocket.ErrBadStatus) {
			// Asterisk answered and refused: a configuration mistake.
			return nil, errorf("event WebSocket %s: %w (wrong URL, user or password, or ARI disabled?)", redactURL(&loc), err)
		}
		return nil, errorf("event WebSocket %s: %w: %v", redactURL(&loc), errUnreachable, err)
	}
	ws.MaxPayloadBytes = 8 << 20
	return ws, nil
}

// errUnreachable: the event WebSocket could not be opened because
// Asterisk did not answer (down, not yet started, network), as opposed to
// Asterisk refusing it.
var errUnreachable = errors.New("Asterisk not reachable")

// serve reads events until the connection drops, then reconnects and
// reconciles, until Close. Without a first connection (ws nil: Asterisk
// was not reachable at Start) it begins by reconnecting.
func (b *Backend) serve(ws *websocket.Conn) {
	defer b.wg.Done()
	for {
		var err error = errUnreachable
		if ws != nil {
			err = b.read(ws)
			b.connected.Store(false)
			ws.Close()
		}
		if b.closeCtx.Err() != nil {
			return
		}
		b.log.Warn("ARI event connection lost; reconnecting", "error", err)
		if ws = b.reconnect(); ws == nil {
			return
		}
		b.stats.reconnects.Add(1)
		b.log.Info("ARI event connection restored; reconciling")
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return
		}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			b.reconcile(b.closeCtx)
		}()
	}
}

// reconnect dials until it succeeds (then the connection is the
// backend's) or the backend closes (nil).
func (b *Backend) reconnect() *websocket.Conn {
	lo, hi := b.cfg.reconnect()
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(backoff(attempt, lo, hi))
		select {
		case <-b.closeCtx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if b.beforeReconnect != nil {
			b.beforeReconnect()
		}
		ws, err := b.dialEvents(b.closeCtx)
		if err != nil {
			b.log.Debug("ARI reconnect failed", "attempt", attempt+1, "error", err)
			continue
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			ws.Close()
			return nil
		}
		b.ws = ws
		b.connected.Store(true)
		b.mu.Unlock()
		return ws
	}
}

// backoff is the wait before reconnect attempt n (from 0): uniform in
// [0, min(hi, lo·2^n)] ("full jitter").
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 30 {
		d = min(hi, lo<<n)
	}
	return rand.N(d + 1)
}

// read decodes and dispatches events until the connection fails.
func (b *Backend) read(ws *websocket.Conn) error {
	for {
		var data []byte
		if err := websocket.Message.Receive(ws, &data); err != nil {
			return err
		}
		b.stats.events.Add(1)
		ev, err := ari.DecodeEvent(data)
		if ev == nil || err != nil && !isTypeMismatch(err) {
			b.stats.undecodable.Add(1)
			b.log.Debug("ARI event not decoded", "error", err, "size", len(data))
			continue
		}
		b.dispatch(withTechCause(ev, data))
	}
}

// hangupEvent is a ChannelHangupRequest or ChannelDestroyed with the
// tech_cause Asterisk 20 adds (for chan_pjsip: the SIP status of the
// final response), which the ari models lack.
type hangupEvent struct {
	ari.Event
	cause, techCause int
	causeTxt         string
	farEnd           bool // a ChannelHangupRequest (not a ChannelDestroyed)
}

func withTechCause(ev ari.Event, data []byte) ari.Event {
	var extra struct {
		TechCause int `json:"tech_cause"`
	}
	switch e := ev.(type) {
	case *ari.ChannelDestroyed:
		_ = json.Unmarshal(data, &extra)
		return &hangupEvent{Event: e, cause: e.Cause, causeTxt: e.CauseTxt, techCause: extra.TechCause}
	case *ari.ChannelHangupRequest:
		_ = json.Unmarshal(data, &extra)
		return &hangupEvent{Event: e, cause: e.Cause, techCause: extra.TechCause, farEnd: true}
	}
	return ev
}

// isTypeMismatch: a field of the event had an unexpected JSON type; the
// rest of the event decoded and is used.
func isTypeMismatch(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// dispatch routes one event; a StasisStart that nobody registered for is
// an inbound call (or a stray of ours).
func (b *Backend) dispatch(ev ari.Event) {
	if b.router.deliver(ev) {
		return
	}
	switch e := ev.(type) {
	case *ari.StasisStart:
		b.stasisStart(e)
		return
	case *ari.ApplicationReplaced:
		b.log.Warn("another client took over the Stasis application; its events now go there", "app", e.Application)
	}
	if id := channelOf(ev); id != "" && b.isOrphan(id) {
		b.killOrphan(id)
	}
	b.stats.unrouted.Add(1)
}

// channelOf is the id of the channel an event is about ("" if none).
func channelOf(ev ari.Event) string {
	for _, k := range ev.Keys() {
		if k != nil && k.Kind == ari.ChannelKey {
			return k.ID
		}
	}
	return ""
}

// soft: a hang-up request made by a client (ARI DELETE and the like),
// whose "cause" is the soft-hangup flag, not a Q.850 cause.
func (e *hangupEvent) soft() bool {
	hr, ok := e.Event.(*ari.ChannelHangupRequest)
	return ok && hr.Soft
}
