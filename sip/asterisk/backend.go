package asterisk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/net/websocket"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.Backend = (*Backend)(nil)

// Errors of the backend's lifecycle and of its sessions' ends.
var (
	ErrNotStarted = errors.New("asterisk: backend not started")
	ErrClosed     = errors.New("asterisk: backend closed")
	// ErrDisconnected: the event WebSocket is down (Ready, Dial).
	ErrDisconnected = errors.New("asterisk: event connection to Asterisk is down")
	// ErrChannelGone is the cause of a session (and the error of a dial)
	// whose channel was found gone when the event connection came back:
	// it ended while the backend could not hear it.
	ErrChannelGone = errors.New("asterisk: channel gone while the event connection was down")
	// ErrLocalHangup is a Session's cause when Hangup got a nil cause.
	ErrLocalHangup = errors.New("asterisk: hung up")
)

// Stats are the backend's counters since New.
type Stats struct {
	// Events is how many events the WebSocket delivered; Unrouted how many
	// concerned nothing this backend holds ("events for nobody");
	// Undecodable how many did not decode.
	Events, Unrouted, Undecodable uint64
	// Reconnects counts the event WebSocket's reconnections, Reconciles
	// the reconciliations that followed and completed; ReconciledEnds the
	// sessions, dials and inbound calls they ended because their channel
	// was gone.
	Reconnects, Reconciles, ReconciledEnds uint64
	// Inbound counts the calls offered to the OnInbound handler,
	// InboundRefused those hung up because no handler was set.
	Inbound, InboundRefused uint64
}

type counters struct {
	events, unrouted, undecodable atomic.Uint64
	reconnects, reconciles        atomic.Uint64
	reconciled                    atomic.Uint64
	inbound, inboundRefused       atomic.Uint64
}

// Backend drives calls on an Asterisk through ARI (engine.Backend).
type Backend struct {
	cfg    Config
	log    *slog.Logger
	base   *url.URL
	c      *client
	router router

	// closeCtx is cancelled (cause ErrClosed) by Close: dials in flight,
	// the reconnect loop and inbound offers derive from it.
	closeCtx    context.Context
	closeCancel context.CancelCauseFunc

	mu      sync.Mutex
	started bool
	closed  bool
	ws      *websocket.Conn
	legs    map[string]*Session // channels held: dialing, offered, up, snoops
	bridges map[string]*Bridge
	plays   map[string]*mailbox  // playbacks under way, by id
	orphans map[string]time.Time // channels that may exist and could not be hung up
	dials   sync.WaitGroup       // added to only while not closed
	wg      sync.WaitGroup       // reader, reconcile, event loops, inbound handlers

	connected atomic.Bool
	onInbound atomic.Pointer[func(engine.InboundCall)]
	stats     counters

	// offerTimeout bounds how long an inbound call stays offered;
	// teardown how long a leg hung up by us waits for its
	// ChannelDestroyed. Fields, so tests can shorten them.
	offerTimeout, teardown time.Duration
	// beforeReconnect, when set, is called before each reconnect attempt
	// (tests hold the connection down with it).
	beforeReconnect func()
}

// New checks cfg and builds a backend; Start connects it.
func New(cfg Config, logger *slog.Logger) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	base, _ := cfg.baseURL() // Validate checked it
	b := &Backend{
		cfg:          cfg,
		log:          logger.With("component", "asterisk"),
		base:         base,
		c:            newClient(base, cfg.User, cfg.Password, cfg.requestTimeout()),
		legs:         map[string]*Session{},
		bridges:      map[string]*Bridge{},
		plays:        map[string]*mailbox{},
		orphans:      map[string]time.Time{},
		offerTimeout: DefaultOfferTimeout,
		teardown:     2 * cfg.requestTimeout(),
	}
	b.router.sinks = map[string]sink{}
	b.closeCtx, b.closeCancel = context.WithCancelCause(context.Background())
	return b, nil
}

// Start connects the event WebSocket (ctx bounds this first connection
// only) and keeps it connected in the background until Close: when it
// drops, it is reconnected with backoff and what happened meanwhile is
// reconciled (see the package doc). An Asterisk that refuses the
// connection (wrong URL, user or password) is an error; one that cannot
// be reached yet (down, still starting) is not: the backend starts
// disconnected (Ready is ErrDisconnected, dials fail at once) and
// connects as soon as Asterisk answers, so a node may start before its
// Asterisk.
func (b *Backend) Start(ctx context.Context) error {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case b.started:
		b.mu.Unlock()
		return errors.New("asterisk: backend already started")
	}
	b.mu.Unlock()
	ws, err := b.dialEvents(ctx)
	if err != nil && !errors.Is(err, errUnreachable) {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		if ws != nil {
			ws.Close()
		}
		return ErrClosed
	}
	b.started = true
	b.ws = ws
	b.connected.Store(ws != nil)
	b.wg.Add(1)
	b.mu.Unlock()
	go b.serve(ws)
	if ws == nil {
		b.log.Warn("ARI not reachable; started disconnected, connecting in the background", "url", redactURL(b.base), "app", b.cfg.app(), "error", err)
		return nil
	}
	b.log.Info("ARI connected", "url", redactURL(b.base), "app", b.cfg.app())
	return nil
}

// Ready is nil while the event WebSocket is connected.
func (b *Backend) Ready() error {
	if b.connected.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case !b.started:
		return ErrNotStarted
	}
	return ErrDisconnected
}

// Stats returns the backend's counters.
func (b *Backend) Stats() Stats {
	return Stats{
		Events:         b.stats.events.Load(),
		Unrouted:       b.stats.unrouted.Load(),
		Undecodable:    b.stats.undecodable.Load(),
		Reconnects:     b.stats.reconnects.Load(),
		Reconciles:     b.stats.reconciles.Load(),
		ReconciledEnds: b.stats.reconciled.Load(),
		Inbound:        b.stats.inbound.Load(),
		InboundRefused: b.stats.inboundRefused.Load(),
	}
}

// Close cancels the dials in flight (their channels are hung up), rejects
// the inbound calls still offered, hangs up the sessions and snoop
// channels this backend created or answered, destroys its bridges, and
// stops its goroutines. Channels it does not hold are left alone. It is
// idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.connected.Store(false)
	legs := make([]*Session, 0, len(b.legs))
	for _, s := range b.legs {
		legs = append(legs, s)
	}
	bridges := make([]*Bridge, 0, len(b.bridges))
	for _, br := range b.bridges {
		bridges = append(bridges, br)
	}
	b.mu.Unlock()

	b.closeCancel(ErrClosed) // dials cancel themselves and hang up
	var wg sync.WaitGroup
	for _, br := range bridges {
		wg.Add(1)
		go func() { defer wg.Done(); br.Close() }()
	}
	for _, s := range legs {
		if s.kind == kindDial && !s.up.Load() {
			continue // its Dial hangs it up
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ic := s.offer.Load(); ic != nil && !s.up.Load() {
				ic.end(rejectReason(503), ErrClosed)
				return
			}
			s.Hangup(context.Background(), ErrClosed)
		}()
	}
	wg.Wait()
	b.dials.Wait()

	b.mu.Lock()
	ws := b.ws
	b.ws = nil
	legs = legs[:0]
	for _, s := range b.legs {
		legs = append(legs, s)
	}
	b.mu.Unlock()
	if ws != nil {
		ws.Close()
	}
	for _, s := range legs {
		s.stopLoop()
	}
	b.wg.Wait()
	b.log.Info("ARI backend closed")
	return nil
}

// beginDial counts a dial in flight, or says why none can start.
func (b *Backend) beginDial() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case !b.started:
		return ErrNotStarted
	case !b.connected.Load():
		return ErrDisconnected
	}
	b.dials.Add(1)
	return nil
}

// newID is a channel, bridge or playback id of ours.
func newID() string { return "sb-" + uuid.NewString() }

// orphan remembers a channel that may exist although we could not hang
// it up (an originate whose answer was lost, a failed DELETE): any event
// of it, or the next reconcile that finds it, hangs it up.
func (b *Backend) orphan(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.orphans[id] = time.Now()
}

func (b *Backend) isOrphan(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.orphans[id]
	return ok
}

// killOrphan hangs an orphan up (in the background) and forgets it once
// that worked.
func (b *Backend) killOrphan(id string) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.requestTimeout())
		defer cancel()
		if err := b.c.hangup(ctx, id, "normal"); err != nil {
			b.log.Warn("hanging up an orphan channel failed", "channel_id", id, "error", err)
			return
		}
		b.log.Info("orphan channel hung up", "channel_id", id)
		b.mu.Lock()
		delete(b.orphans, id)
		b.mu.Unlock()
	}()
}

func errorf(format string, a ...any) error { return fmt.Errorf("asterisk: "+format, a...) }
