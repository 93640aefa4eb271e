package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Errors the engine returns to its callers (the HTTP API maps them).
var (
	// ErrDraining: the node is shutting down and takes no new calls.
	ErrDraining = errors.New("engine is draining")
	// ErrCallEnded: the call has already ended.
	ErrCallEnded = errors.New("call has ended")
	// ErrNotOwner: the call is live but owned by another engine node.
	ErrNotOwner = errors.New("call is owned by another node")
	// ErrTooManyCalls: the node is at its live-call limit.
	ErrTooManyCalls = errors.New("too many live calls")
)

// Options configure an Engine. The zero value of every field means its
// default.
type Options struct {
	// NodeID names this engine node in every record it writes; default is
	// a random id.
	NodeID string
	// Retention is how long finished calls are kept; 0 means 7 days, a
	// negative value keeps them forever.
	Retention time.Duration
	// MaxLiveCalls bounds concurrent calls on this node; 0 means 10000.
	MaxLiveCalls int
	// StoreTimeout bounds each store write; 0 means 5 s.
	StoreTimeout time.Duration
	// HangupTimeout bounds the teardown of a call's legs; 0 means 5 s.
	HangupTimeout time.Duration
	// ProgressWriteDelay is how long a leg's progress (dialing, ringing,
	// answered, failed) may wait to be written with the call's next
	// milestone (persist.go); 0 means 100 ms, a negative value writes
	// every change at once.
	ProgressWriteDelay time.Duration
	// Agents holds agents, groups and the shared routing state; nil means
	// Agent and Group targets cannot be rung (their attempts are recorded
	// as skipped).
	Agents AgentStore
	// LogEvents says whether a call's events go to the durable event log
	// (Store writes carry them) — whether anybody will be sent them: its
	// tenant has webhooks, or it has a statusCallback. Nil logs every
	// call's events. Events are published to in-process subscribers
	// either way. Logging costs a stream entry per event and the
	// dispatcher's reading; a call nobody receives events of need not
	// pay it.
	LogEvents func(tenant string, req CallRequest) bool
	// Apps says which app answers a number called in (Inbound); nil
	// refuses every inbound call as a number nobody answers.
	Apps AppStore
	// CallerLookup asks an app's caller lookup URL who an inbound caller
	// is (the callerInformation webhook); nil skips the lookup.
	CallerLookup CallerLookup
	// HoldMusic is the announcement id a caller hears while it waits in a
	// group's line for a free member (shared, or the call's tenant's);
	// empty means the caller hears the ringTone, if any, or silence.
	HoldMusic string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Observer is told what the engine counts and times (metrics); nil
	// observes nothing.
	Observer Observer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Nodes keeps the nodes' leases (StartLiveness): with it, the calls a
	// dead node left live are ended by the others. Nil: a single node.
	Nodes NodeLeases
	// NodeLeaseTTL is how long a node's lease runs after its last renewal
	// (renewed every third of it); 0 means DefaultNodeLeaseTTL.
	NodeLeaseTTL time.Duration
}

func (o *Options) init() {
	if o.NodeID == "" {
		o.NodeID = "node-" + randomID(8)
	}
	switch {
	case o.Retention == 0:
		o.Retention = 7 * 24 * time.Hour
	case o.Retention < 0:
		o.Retention = 0
	}
	if o.MaxLiveCalls == 0 {
		o.MaxLiveCalls = 10000
	}
	if o.StoreTimeout == 0 {
		o.StoreTimeout = 5 * time.Second
	}
	if o.HangupTimeout == 0 {
		o.HangupTimeout = 5 * time.Second
	}
	if o.ProgressWriteDelay == 0 {
		o.ProgressWriteDelay = defaultProgressWriteDelay
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Engine runs calls: one goroutine per live call.
type Engine struct {
	opt     Options
	store   Store
	backend Backend
	log     *slog.Logger
	events  *eventHub

	mu       sync.Mutex
	live     map[string]*callRun
	draining bool
	wg       sync.WaitGroup

	// holder names this process in node leases (nodes.go); leaseLost is
	// set while this node does not hold its own lease, and it takes no
	// calls then.
	holderOnce sync.Once
	holder     string
	leaseLost  atomic.Bool
	// recoverPending: Recover left this node's old calls for later, its
	// backend (one that can adopt) not being ready.
	recoverPending atomic.Bool
}

// New returns an engine that records in store and dials through backend.
func New(store Store, backend Backend, opt Options) *Engine {
	opt.init()
	return &Engine{
		opt:     opt,
		store:   store,
		backend: backend,
		log:     opt.Logger,
		events:  newEventHub(),
		live:    make(map[string]*callRun),
	}
}

// NodeID is the id this node writes into its records.
func (e *Engine) NodeID() string { return e.opt.NodeID }

// Recover takes over every call the store still lists as live for this
// node: a previous process with this node id died with them. On a
// backend whose calls outlive their node (Adopter) bridged calls are
// adopted and carried on, and when that backend is not ready yet they
// wait for it (liveness recovers them); every other call is ended with a
// record (native SIP dialogs die with their process). Run it once at
// start-up, after StartLiveness and before taking calls.
func (e *Engine) Recover(ctx context.Context) (int, error) {
	ids, err := e.store.LiveCalls(ctx, e.opt.NodeID)
	if err != nil {
		return 0, fmt.Errorf("recover: list live calls: %w", err)
	}
	if _, ok := e.backend.(Adopter); ok && len(ids) > 0 && e.backend.Ready() != nil {
		// Their channels may still be up, and cannot be looked at now:
		// liveness recovers them once the backend is ready.
		e.recoverPending.Store(true)
		e.log.Warn("calls left live by a previous run kept until the backend is ready", "calls", len(ids))
		return 0, nil
	}
	e.recoverPending.Store(false)
	n, err := e.endLeftCalls(ctx, e.opt.NodeID, ids, "engine node restarted while the call was live", "engine node restarted", nil)
	if err != nil {
		return n, fmt.Errorf("recover: %w", err)
	}
	return n, nil
}

// Originate validates nothing (engine/api did) and starts a call: the
// record is in the store before Originate returns, so the call id the
// caller hands out can always be looked up.
func (e *Engine) Originate(ctx context.Context, tenant string, req CallRequest) (*Call, error) {
	started := time.Now() // latency is timed on the real clock, whatever opt.Now is
	run, err := e.admit(ctx, &Call{
		Tenant:    tenant,
		Request:   req,
		Direction: DirectionOutbound,
		State:     StateDialingFrom,
	}, started)
	if err != nil {
		return nil, err
	}
	snapshot := run.call.Clone()
	go run.run(run.clickToCall)
	return snapshot, nil
}

// admit takes a new call c (its id, node and creation time are set here)
// as live and writes its record with the call.created event; the caller
// starts its goroutine. ErrDraining or ErrTooManyCalls when the node takes
// no more calls.
func (e *Engine) admit(ctx context.Context, c *Call, started time.Time) (*callRun, error) {
	e.mu.Lock()
	if e.draining {
		e.mu.Unlock()
		return nil, ErrDraining
	}
	if e.leaseLost.Load() {
		e.mu.Unlock()
		return nil, ErrNodeLeaseLost
	}
	if len(e.live) >= e.opt.MaxLiveCalls {
		e.mu.Unlock()
		return nil, ErrTooManyCalls
	}
	c.ID, c.Node, c.CreatedAt = NewCallID(e.opt.Now()), e.opt.NodeID, e.opt.Now().UTC()
	run := newCallRun(e, c)
	run.started = started
	e.live[c.ID] = run
	e.wg.Add(1)
	e.mu.Unlock()

	run.mu.Lock()
	created := Event{Type: EventCallCreated, Time: c.CreatedAt}
	c.stamp(&created)
	created.Call = c.Clone()
	run.mu.Unlock()

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opt.StoreTimeout)
	run.logEvents = e.opt.LogEvents == nil || e.opt.LogEvents(c.Tenant, c.Request)
	err := e.store.CreateCall(wctx, c, run.logged(created)...)
	cancel()
	e.storeErr("create_call", err)
	if err != nil {
		e.mu.Lock()
		delete(e.live, c.ID)
		e.mu.Unlock()
		e.wg.Done()
		return nil, fmt.Errorf("record call: %w", err)
	}
	e.events.publish(created)
	e.opt.Observer.CallStarted()
	return run, nil
}

// Get returns a tenant's call, live or finished. Another tenant's call is
// ErrNotFound.
func (e *Engine) Get(ctx context.Context, tenant, id string) (*Call, error) {
	c, err := e.store.GetCall(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Tenant != tenant {
		return nil, ErrNotFound
	}
	return c, nil
}

// List returns a page of the tenant's calls, newest first.
func (e *Engine) List(ctx context.Context, q CallQuery) (CallPage, error) {
	return e.store.ListCalls(ctx, q)
}

// Hangup stops a tenant's call: every leg is hung up or cancelled, and the
// record says the API ended it. It returns once the stop is requested;
// the record follows when the call goroutine has torn the legs down.
func (e *Engine) Hangup(ctx context.Context, tenant, id string) error {
	run, err := e.liveRun(ctx, tenant, id)
	if err != nil {
		return err
	}
	run.stop(HangupAPI, errHangupByAPI)
	return nil
}

// Wait blocks until the call has ended on this node (or ctx is done).
func (e *Engine) Wait(ctx context.Context, id string) error {
	e.mu.Lock()
	run := e.live[id]
	e.mu.Unlock()
	if run == nil {
		return nil
	}
	select {
	case <-run.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LiveCalls is how many calls this node is running.
func (e *Engine) LiveCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.live)
}

// Draining reports whether the node has stopped taking calls.
func (e *Engine) Draining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.draining
}

// Ready reports whether the engine can take calls: not draining, store and
// backend ready.
func (e *Engine) Ready(ctx context.Context) error {
	if e.Draining() {
		return ErrDraining
	}
	if e.leaseLost.Load() {
		return ErrNodeLeaseLost
	}
	if err := e.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := e.backend.Ready(); err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	return nil
}

// Drain stops taking calls and waits for live calls to finish. When ctx
// ends first, the calls still live are hung up with a record saying the
// node shut down, and Drain waits for those records to be written.
func (e *Engine) Drain(ctx context.Context) {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	e.stopAll(errShutdown)
	<-done
}

// Subscribe returns the events of one call (every call when callID is
// empty) as they happen on this node, and a function that ends the
// subscription. Slow subscribers lose events rather than slow calls down;
// the record in the store is the source of truth.
func (e *Engine) Subscribe(callID string) (<-chan Event, func()) {
	return e.events.subscribe(callID)
}

func (e *Engine) forget(id string) {
	e.mu.Lock()
	delete(e.live, id)
	e.mu.Unlock()
	e.wg.Done()
}

var (
	errHangupByAPI = errors.New("hung up through the API")
	errShutdown    = errors.New("engine node shut down")
)

// NewCallID returns a call id in the spirit of the spec's examples
// ("kn5skxr6161770885161627785"): lowercase base36, 26 characters, a
// random head and a time-ordered tail, so ids are unique across nodes
// without coordination.
func NewCallID(now time.Time) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [10]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, 0, 26)
	for i := 0; i < 7; i++ {
		out = append(out, alphabet[int(b[i])%36])
	}
	ts := fmt.Sprintf("%019d", now.UnixNano())
	out = append(out, ts...)
	return string(out[:26])
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
