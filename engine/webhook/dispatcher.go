package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// Defaults of Options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultRetryWindow = 24 * time.Hour
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultLeaseTTL    = 15 * time.Second
	DefaultWorkers     = 16
	DefaultMaxPending  = 1000
)

// Tuning that needs no option.
const (
	readBatch      = 100              // entries asked for at once
	readBlock      = time.Second      // how long a read waits for a new entry
	storeTimeout   = 10 * time.Second // one store operation
	storeBackoff   = 5 * time.Second  // ceiling of the waits between store retries
	callbackCache  = 100_000          // calls whose statusCallback is remembered
	userAgent      = "Switchboard"
	maxRedirects   = 3
	maxResponseLen = 64 << 10 // response bytes read (and discarded) to reuse connections
)

// Endpoint is a URL a tenant's events go to and the secret ("whsec_…")
// they are signed with; an empty secret sends them unsigned.
type Endpoint struct {
	URL    string
	Secret string
}

// CallGetter finds a call's record; engine.Store is one.
type CallGetter interface {
	GetCall(ctx context.Context, id string) (*engine.Call, error)
}

// Kind tells a tenant's configured endpoint from a call's statusCallback.
type Kind string

const (
	KindEndpoint Kind = "endpoint"
	KindCallback Kind = "status_callback"
)

// Observer is told what the dispatcher counts, for metrics. It is called
// from many goroutines and must return at once. A nil Options.Observer
// observes nothing.
type Observer interface {
	// Delivered: a target answered 2xx.
	Delivered(k Kind)
	// AttemptFailed: an attempt failed (a status other than 2xx, a
	// timeout, a network error); it is retried unless the event is
	// dead-lettered.
	AttemptFailed(k Kind)
	// DeadLettered: an event was given up for a target and kept as a
	// dead letter.
	DeadLettered(k Kind)
}

type noObserver struct{}

func (noObserver) Delivered(Kind)     {}
func (noObserver) AttemptFailed(Kind) {}
func (noObserver) DeadLettered(Kind)  {}

// Options configure a Dispatcher. A zero value takes the default.
type Options struct {
	// Log is the event log read and acknowledged. Required.
	Log engine.EventLog
	// Node is this node's id: its own stream is the one the engine of
	// this node appends to, and the reader name of every lease. Required.
	Node string
	// Endpoints returns a tenant's webhook endpoints; nil or empty: the
	// tenant's events go to status callbacks only.
	Endpoints func(tenant string) []Endpoint
	// Secret returns the secret a tenant's status callbacks are signed
	// with; nil or "": they go unsigned.
	Secret func(tenant string) string
	// Calls finds the statusCallback of a call whose call.created the
	// dispatcher has not seen (it was acknowledged before a restart, or
	// by another node); nil: such events go to the endpoints only.
	Calls CallGetter
	// Client sends the requests; its CheckRedirect is replaced so that
	// only 307 and 308 to the same scheme and host are followed (at most
	// 3). Nil: a client of its own.
	Client *http.Client
	// Timeout bounds one attempt (10 s).
	Timeout time.Duration
	// RetryWindow is how long an event is retried for a target, from the
	// event's time (or from its re-drive), before it is dead-lettered
	// (24 h).
	RetryWindow time.Duration
	// MinBackoff and MaxBackoff bound the waits between attempts: the
	// n-th wait is drawn uniformly from [0, min(MaxBackoff, MinBackoff ×
	// 2^(n-1))) ("full jitter"; 1 s, 1 h).
	MinBackoff, MaxBackoff time.Duration
	// LeaseTTL is the lease on a stream, renewed every third of it; a
	// node's stream is taken over this long after its reader stopped
	// renewing (15 s).
	LeaseTTL time.Duration
	// Workers bounds the requests in flight at once (16).
	Workers int
	// MaxPending bounds the entries of one stream read and not yet
	// acknowledged: events waiting for a failing target hold their
	// place, and reading stops while this many wait (1000).
	MaxPending int
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Observer counts deliveries, failed attempts and dead letters.
	Observer Observer
}

// Dispatcher delivers the events of the event log to webhooks. See the
// package documentation.
type Dispatcher struct {
	opt    Options
	log    *slog.Logger
	obs    Observer
	client *http.Client
	sem    chan struct{}

	running atomic.Bool

	mu      sync.Mutex
	readers map[string]*reader // stream (node) → the reader holding its lease

	cbMu      sync.Mutex
	callbacks map[string]string // call id → its statusCallback ("" for none)

	keyMu sync.Mutex
	keys  map[string][]byte // secret → key (nil for a bad secret)
}

// New returns a Dispatcher; Run starts it.
func New(opt Options) (*Dispatcher, error) {
	if opt.Log == nil {
		return nil, errors.New("webhook: Options.Log is required")
	}
	if opt.Node == "" {
		return nil, errors.New("webhook: Options.Node is required")
	}
	setDefault(&opt.Timeout, DefaultTimeout)
	setDefault(&opt.RetryWindow, DefaultRetryWindow)
	setDefault(&opt.MinBackoff, DefaultMinBackoff)
	setDefault(&opt.MaxBackoff, DefaultMaxBackoff)
	setDefault(&opt.LeaseTTL, DefaultLeaseTTL)
	setDefault(&opt.Workers, DefaultWorkers)
	setDefault(&opt.MaxPending, DefaultMaxPending)
	opt.MaxBackoff = max(opt.MaxBackoff, opt.MinBackoff)
	d := &Dispatcher{
		opt:       opt,
		log:       opt.Logger,
		obs:       opt.Observer,
		sem:       make(chan struct{}, opt.Workers),
		readers:   map[string]*reader{},
		callbacks: map[string]string{},
		keys:      map[string][]byte{},
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("component", "webhooks")
	if d.obs == nil {
		d.obs = noObserver{}
	}
	if opt.Client != nil {
		c := *opt.Client
		d.client = &c
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opt.Workers
		t.DialContext = (&net.Dialer{Timeout: opt.Timeout, KeepAlive: 30 * time.Second}).DialContext
		d.client = &http.Client{Transport: t}
	}
	d.client.CheckRedirect = checkRedirect
	return d, nil
}

func setDefault[T time.Duration | int](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// checkRedirect follows a redirect only when it keeps the method and the
// body (307, 308) and stays on the scheme and host of the endpoint; any
// other redirect is the answer, a failed attempt.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects || req.Response == nil {
		return http.ErrUseLastResponse
	}
	switch req.Response.StatusCode {
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return http.ErrUseLastResponse
	}
	if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// Run delivers events until ctx ends: it holds the lease on this node's
// stream and, from one lease period after it started (so that nodes
// starting together each get their own), takes over the streams of other
// nodes whose leases expired, giving each back once it has been drained
// and idle for a lease period (its own node, when it runs again, reads it
// from then on). When ctx ends, attempts in flight are abandoned and the
// leases given up; what was not acknowledged is read again by the next
// reader. Run may be called once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("webhook: Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	// Other nodes' streams are left alone for a lease period first, so
	// that nodes starting together each get their own.
	foreignFrom := time.Now().Add(d.opt.LeaseTTL)
	scan := func() {
		nodes, err := d.listStreams(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("cannot list event streams", "err", err)
		}
		for _, node := range nodes {
			if ctx.Err() != nil {
				return
			}
			if node != d.opt.Node && time.Now().Before(foreignFrom) {
				continue
			}
			d.mu.Lock()
			_, held := d.readers[node]
			d.mu.Unlock()
			if held {
				continue
			}
			lctx, cancel := context.WithTimeout(ctx, storeTimeout)
			ok, err := d.opt.Log.LeaseStream(lctx, node, d.opt.Node, d.opt.LeaseTTL)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("cannot lease event stream", "stream", node, "err", err)
				}
				continue
			}
			if !ok {
				continue
			}
			r := newReader(d, node)
			d.mu.Lock()
			d.readers[node] = r
			d.mu.Unlock()
			if node != d.opt.Node {
				d.log.Info("took over the event stream of another node", "stream", node)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.run(ctx)
				d.mu.Lock()
				delete(d.readers, node)
				d.mu.Unlock()
			}()
		}
	}
	scan()
	tick := time.NewTicker(d.opt.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			scan()
		}
	}
}

// listStreams returns this node's stream first, then every other one.
func (d *Dispatcher) listStreams(ctx context.Context) ([]string, error) {
	lctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	nodes, err := d.opt.Log.EventStreams(lctx)
	out := []string{d.opt.Node}
	for _, n := range nodes {
		if n != d.opt.Node && n != "" {
			out = append(out, n)
		}
	}
	return out, err
}

// Flush waits until every event of this node's stream has been delivered
// or dead-lettered and acknowledged — the engine having drained, nothing
// new comes — or until ctx ends (ctx.Err() is returned). Call it while
// Run runs.
func (d *Dispatcher) Flush(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var mark uint64
	var seen *reader
	for {
		d.mu.Lock()
		r := d.readers[d.opt.Node]
		d.mu.Unlock()
		if r != nil {
			if r != seen {
				seen, mark = r, r.reads.Load()
			} else if r.idleRead.Load() > mark {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// ListDeadLetters returns a tenant's dead letters (see
// engine.EventLog.ListDeadLetters).
func (d *Dispatcher) ListDeadLetters(ctx context.Context, tenant, cursor string, limit int) ([]*engine.DeadLetter, string, error) {
	return d.opt.Log.ListDeadLetters(ctx, tenant, cursor, limit)
}

// Redrive takes a tenant's dead letter and appends its event to this
// node's stream again, for its target only, with a new retry window from
// now. The dead letter is put back when the event cannot be appended.
// engine.ErrNotFound when the tenant has no dead letter with that id.
func (d *Dispatcher) Redrive(ctx context.Context, tenant, id string) (*engine.DeadLetter, error) {
	dl, err := d.opt.Log.TakeDeadLetter(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	err = d.opt.Log.AppendEvents(ctx, d.opt.Node, engine.LoggedEvent{Event: dl.Event, Target: dl.Target, Redriven: &now})
	if err != nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		if perr := d.opt.Log.PutDeadLetter(pctx, dl); perr != nil {
			d.log.Error("re-drive failed and the dead letter could not be put back: it is lost",
				"user_id", tenant, "dead_letter", id, "event_id", dl.Event.ID, "err", perr)
		}
		return nil, err
	}
	d.log.Info("dead letter re-driven", "user_id", tenant, "dead_letter", id, "event_id", dl.Event.ID, "target", logURL(dl.Target))
	return dl, nil
}

// key returns the HMAC key of a secret, nil for none or a bad one (that
// is logged once).
func (d *Dispatcher) key(secret string) []byte {
	if secret == "" {
		return nil
	}
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	k, ok := d.keys[secret]
	if !ok {
		var err error
		if k, err = ParseSecret(secret); err != nil {
			d.log.Error("a webhook secret is not valid: requests go unsigned", "err", err)
		}
		d.keys[secret] = k
	}
	return k
}

// backoff is the wait after the n-th failed attempt: full jitter.
func (d *Dispatcher) backoff(n int) time.Duration {
	ceiling := d.opt.MinBackoff
	for i := 1; i < n && ceiling <= d.opt.MaxBackoff/2; i++ {
		ceiling *= 2
	}
	return rand.N(min(ceiling, d.opt.MaxBackoff))
}

// sleep waits for d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// drain reads and discards a response body, bounded, so the connection
// can be reused.
func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, maxResponseLen))
	_ = r.Close()
}
