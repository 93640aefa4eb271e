package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// reader holds the lease on one stream and delivers its entries: one
// lane per call and target, so that a call's events reach each target
// in order while other calls and other targets go on.
type reader struct {
	d    *Dispatcher
	node string

	mu      sync.Mutex
	lanes   map[string]*lane
	pending int           // entries read and not yet acknowledged
	space   chan struct{} // signalled when pending falls

	wg   sync.WaitGroup // lanes
	acks chan string    // entries done, to acknowledge

	// reads counts reads started; idleRead is the number of the latest
	// read that found nothing new while nothing was pending (Flush).
	reads, idleRead atomic.Uint64
}

// item is one entry being delivered to its targets.
type item struct {
	le        engine.LoggedEvent
	body      []byte
	remaining atomic.Int32
}

// delivery is an item for one target.
type delivery struct {
	it *item
	t  target
}

type target struct {
	url  string
	key  []byte
	kind Kind
}

type lane struct{ q []delivery }

func newReader(d *Dispatcher, node string) *reader {
	return &reader{
		d: d, node: node,
		lanes: map[string]*lane{},
		space: make(chan struct{}, 1),
		acks:  make(chan string, d.opt.MaxPending+readBatch),
	}
}

// run reads and delivers until ctx ends, the lease is lost, or (another
// node's stream) the stream has been drained and idle for a lease period.
func (r *reader) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var lost atomic.Bool
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		r.keepLease(ctx, cancel, &lost)
	}()
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		r.acker(ctx)
	}()

	r.read(ctx)

	cancel()
	r.wg.Wait()   // lanes abandon what they were doing
	close(r.acks) // no more senders: the acker finishes what is done
	<-ackDone
	<-leaseDone
	if !lost.Load() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(parent), storeTimeout)
		if err := r.d.opt.Log.ReleaseStream(rctx, r.node, r.d.opt.Node); err != nil {
			r.d.log.Warn("cannot release event stream", "stream", r.node, "err", err)
		}
		rcancel()
	}
}

// keepLease renews the lease every third of its TTL and cancels the
// reader when it was taken, or could not be renewed in time.
func (r *reader) keepLease(ctx context.Context, cancel context.CancelFunc, lost *atomic.Bool) {
	ttl := r.d.opt.LeaseTTL
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		lctx, lcancel := context.WithTimeout(ctx, ttl/3)
		ok, err := r.d.opt.Log.LeaseStream(lctx, r.node, r.d.opt.Node, ttl)
		lcancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && ok:
			renewed = time.Now()
			continue
		case err == nil:
			r.d.log.Warn("another reader took the event stream; stopping", "stream", r.node)
		case time.Since(renewed) < ttl*2/3:
			r.d.log.Warn("cannot renew the lease on the event stream; retrying", "stream", r.node, "err", err)
			continue
		default:
			r.d.log.Error("could not renew the lease on the event stream in time; stopping", "stream", r.node, "err", err)
		}
		lost.Store(true)
		cancel()
		return
	}
}

// read is the reading loop.
func (r *reader) read(ctx context.Context) {
	foreign := r.node != r.d.opt.Node
	after := ""
	var idleSince time.Time
	failures := 0
	for ctx.Err() == nil {
		r.mu.Lock()
		room := r.d.opt.MaxPending - r.pending
		r.mu.Unlock()
		if room <= 0 {
			select {
			case <-ctx.Done():
				return
			case <-r.space:
			}
			continue
		}
		n := r.reads.Add(1)
		started := time.Now()
		rctx, cancel := context.WithTimeout(ctx, readBlock+storeTimeout)
		entries, err := r.d.opt.Log.ReadEvents(rctx, r.node, after, min(readBatch, room), readBlock)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			r.d.log.Warn("cannot read the event stream", "stream", r.node, "err", err)
			sleep(ctx, r.storeWait(failures))
			continue
		}
		failures = 0
		if len(entries) == 0 {
			r.mu.Lock()
			idle := r.pending == 0
			r.mu.Unlock()
			if !idle {
				idleSince = time.Time{}
			} else {
				r.idleRead.Store(n)
				if idleSince.IsZero() {
					idleSince = time.Now()
				}
				if foreign && time.Since(idleSince) >= r.d.opt.LeaseTTL {
					r.d.log.Info("drained the event stream of another node; giving it back", "stream", r.node)
					return
				}
			}
			if time.Since(started) < readBlock/10 {
				// A log that does not wait for new entries.
				sleep(ctx, readBlock/10)
			}
			continue
		}
		idleSince = time.Time{}
		for _, le := range entries {
			if err := r.dispatch(ctx, le); err != nil {
				return
			}
			after = le.ID
		}
	}
}

// storeWait is the wait before the n-th retry of a store operation.
func (r *reader) storeWait(n int) time.Duration {
	d := min(100*time.Millisecond<<min(n, 10), storeBackoff)
	return d/2 + rand64N(d/2)
}

// dispatch puts an entry in the lanes of its targets, or acknowledges it
// at once when it has none. It fails only when ctx ends.
func (r *reader) dispatch(ctx context.Context, le engine.LoggedEvent) error {
	targets, err := r.d.targets(ctx, le)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.pending++
	r.mu.Unlock()
	if len(targets) == 0 {
		r.acks <- le.ID
		return nil
	}
	body, err := Body(le.Event)
	if err != nil {
		// Cannot happen with the engine's types; nothing could ever be sent.
		r.d.log.Error("cannot encode an event; dropped", "event_id", le.Event.ID, "err", err)
		r.acks <- le.ID
		return nil
	}
	it := &item{le: le, body: body}
	it.remaining.Store(int32(len(targets)))
	call := le.Event.CallID
	if call == "" {
		call = le.ID
	}
	for _, t := range targets {
		key := call + "\x00" + t.url
		r.mu.Lock()
		l := r.lanes[key]
		start := l == nil
		if start {
			l = &lane{}
			r.lanes[key] = l
		}
		l.q = append(l.q, delivery{it: it, t: t})
		r.mu.Unlock()
		if start {
			r.wg.Add(1)
			go r.runLane(ctx, key, l)
		}
	}
	return nil
}

// runLane delivers a lane's queue in order, one at a time.
func (r *reader) runLane(ctx context.Context, key string, l *lane) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(l.q) == 0 || ctx.Err() != nil {
			delete(r.lanes, key)
			r.mu.Unlock()
			return
		}
		dl := l.q[0]
		l.q[0] = delivery{}
		l.q = l.q[1:]
		r.mu.Unlock()
		if !r.d.deliver(ctx, dl) {
			continue // abandoned: ctx ended
		}
		if dl.it.remaining.Add(-1) == 0 {
			r.acks <- dl.it.le.ID
		}
	}
}

// acker acknowledges done entries in batches until r.acks is closed.
func (r *reader) acker(ctx context.Context) {
	for id := range r.acks {
		batch := []string{id}
	more:
		for len(batch) < readBatch {
			select {
			case id, ok := <-r.acks:
				if !ok {
					break more
				}
				batch = append(batch, id)
			default:
				break more
			}
		}
		r.ack(ctx, batch)
	}
}

// ack acknowledges a batch, retrying while the reader runs and a few
// times after it stopped; entries it could not acknowledge are delivered
// again by the next reader.
func (r *reader) ack(ctx context.Context, ids []string) {
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		err := r.d.opt.Log.AckEvents(actx, r.node, ids...)
		cancel()
		if err == nil {
			r.mu.Lock()
			r.pending -= len(ids)
			r.mu.Unlock()
			select {
			case r.space <- struct{}{}:
			default:
			}
			return
		}
		if ctx.Err() != nil && n >= 3 {
			r.d.log.Error("cannot acknowledge delivered events; they will be delivered again", "stream", r.node, "count", len(ids), "err", err)
			return
		}
		r.d.log.Warn("cannot acknowledge delivered events; retrying", "stream", r.node, "err", err)
		w := r.storeWait(n)
		if ctx.Err() != nil {
			w = min(w, time.Second)
		}
		time.Sleep(w)
	}
}

// targets are where an entry goes: its Target alone when set, else the
// tenant's endpoints and the call's statusCallback. It fails only when
// ctx ends.
func (d *Dispatcher) targets(ctx context.Context, le engine.LoggedEvent) ([]target, error) {
	ev := le.Event
	var eps []Endpoint
	if d.opt.Endpoints != nil {
		eps = d.opt.Endpoints(ev.Tenant)
	}
	if le.Target != "" {
		for _, ep := range eps {
			if ep.URL == le.Target {
				return []target{{url: ep.URL, key: d.key(ep.Secret), kind: KindEndpoint}}, nil
			}
		}
		return []target{{url: le.Target, key: d.key(d.secret(ev.Tenant)), kind: KindCallback}}, nil
	}
	ts := make([]target, 0, len(eps)+1)
	for _, ep := range eps {
		if !slices.ContainsFunc(ts, func(t target) bool { return t.url == ep.URL }) {
			ts = append(ts, target{url: ep.URL, key: d.key(ep.Secret), kind: KindEndpoint})
		}
	}
	cb, err := d.callback(ctx, ev)
	if err != nil {
		return nil, err
	}
	// A callback that is also an endpoint of the tenant gets each event once.
	if cb != "" && !slices.ContainsFunc(ts, func(t target) bool { return t.url == cb }) {
		ts = append(ts, target{url: cb, key: d.key(d.secret(ev.Tenant)), kind: KindCallback})
	}
	return ts, nil
}

func (d *Dispatcher) secret(tenant string) string {
	if d.opt.Secret == nil {
		return ""
	}
	return d.opt.Secret(tenant)
}

// callback returns the statusCallback of ev's call: from the event when
// it carries the call, else as remembered from an earlier event, else
// from the call's record (read once per call). It fails only when ctx
// ends; a call whose record is gone has none.
func (d *Dispatcher) callback(ctx context.Context, ev engine.Event) (string, error) {
	if ev.Call != nil {
		cb := ev.Call.Request.StatusCallback
		d.remember(ev, cb)
		return cb, nil
	}
	d.cbMu.Lock()
	cb, ok := d.callbacks[ev.CallID]
	d.cbMu.Unlock()
	if ok || d.opt.Calls == nil || ev.CallID == "" {
		d.remember(ev, cb)
		return cb, nil
	}
	for n := 1; ; n++ {
		gctx, cancel := context.WithTimeout(ctx, storeTimeout)
		c, err := d.opt.Calls.GetCall(gctx, ev.CallID)
		cancel()
		switch {
		case err == nil:
			d.remember(ev, c.Request.StatusCallback)
			return c.Request.StatusCallback, nil
		case errors.Is(err, engine.ErrNotFound):
			d.remember(ev, "")
			return "", nil
		case ctx.Err() != nil:
			return "", ctx.Err()
		}
		d.log.Warn("cannot read a call's record for its statusCallback; retrying", "call_id", ev.CallID, "err", err)
		w := min(100*time.Millisecond<<min(n, 10), storeBackoff)
		if !sleep(ctx, w/2+rand64N(w/2)) {
			return "", ctx.Err()
		}
	}
}

// remember keeps a call's statusCallback until its call.ended.
func (d *Dispatcher) remember(ev engine.Event, cb string) {
	d.cbMu.Lock()
	defer d.cbMu.Unlock()
	if ev.Type == engine.EventCallEnded {
		delete(d.callbacks, ev.CallID)
		return
	}
	if len(d.callbacks) >= callbackCache {
		clear(d.callbacks) // read again from the records when needed
	}
	d.callbacks[ev.CallID] = cb
}

// deliver sends one event to one target until it is delivered or
// dead-lettered (true), or ctx ends (false).
func (d *Dispatcher) deliver(ctx context.Context, dl delivery) bool {
	le := dl.it.le
	start := le.Event.Time
	if le.Redriven != nil {
		start = *le.Redriven
	}
	deadline := start.Add(d.opt.RetryWindow)
	for n := 1; ; n++ {
		status, err := d.attempt(ctx, dl)
		if err == nil && status >= 200 && status < 300 {
			d.obs.Delivered(dl.t.kind)
			if n > 1 {
				d.log.Info("webhook delivered after retries", "event_id", le.Event.ID, "target", logURL(dl.t.url), "attempts", n)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		d.obs.AttemptFailed(dl.t.kind)
		why := failure(status, err)
		if status == http.StatusGone {
			return d.deadLetter(ctx, dl, n, why+": the receiver asked for no more deliveries; not retried")
		}
		now := time.Now()
		if !now.Before(deadline) {
			return d.deadLetter(ctx, dl, n, why)
		}
		wait := min(d.backoff(n), deadline.Sub(now))
		if n == 1 || n%10 == 0 {
			d.log.Warn("webhook attempt failed; retrying", "event_id", le.Event.ID, "target", logURL(dl.t.url), "attempt", n, "err", why, "retry_in", wait.Round(time.Millisecond))
		} else {
			d.log.Debug("webhook attempt failed; retrying", "event_id", le.Event.ID, "target", logURL(dl.t.url), "attempt", n, "err", why, "retry_in", wait.Round(time.Millisecond))
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// attempt makes one request; the status is 0 when there was no answer.
func (d *Dispatcher) attempt(ctx context.Context, dl delivery) (int, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-d.sem }()
	actx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, dl.t.url, bytes.NewReader(dl.it.body))
	if err != nil {
		return 0, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	signedHeaders(h, dl.t.key, dl.it.le.Event.ID, time.Now(), dl.it.body)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp.Body)
	return resp.StatusCode, nil
}

// failure describes a failed attempt for logs and dead letters.
func failure(status int, err error) string {
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is shown apart
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return "no answer within the timeout"
		}
		return err.Error()
	case status >= 300 && status < 400:
		return fmt.Sprintf("HTTP %d %s (redirects are followed only as 307/308 to the same host)", status, http.StatusText(status))
	}
	return fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
}

// deadLetter keeps the delivery as a dead letter (true), retrying the
// store until ctx ends (false: the entry stays unacknowledged).
func (d *Dispatcher) deadLetter(ctx context.Context, dl delivery, attempts int, why string) bool {
	ev := dl.it.le.Event
	letter := &engine.DeadLetter{ // the store gives it its ID
		Tenant:    ev.Tenant,
		Target:    dl.t.url,
		Event:     ev,
		Attempts:  attempts,
		LastError: why,
		FailedAt:  time.Now().UTC(),
	}
	for n := 1; ; n++ {
		pctx, cancel := context.WithTimeout(ctx, storeTimeout)
		err := d.opt.Log.PutDeadLetter(pctx, letter)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		d.log.Warn("cannot keep a dead letter; retrying", "event_id", ev.ID, "err", err)
		w := min(100*time.Millisecond<<min(n, 10), storeBackoff)
		if !sleep(ctx, w/2+rand64N(w/2)) {
			return false
		}
	}
	d.obs.DeadLettered(dl.t.kind)
	d.log.Warn("webhook dead-lettered", "user_id", ev.Tenant, "event_id", ev.ID, "dead_letter", letter.ID,
		"target", logURL(dl.t.url), "attempts", attempts, "err", why)
	return true
}

// logURL shows a URL without credentials, query or fragment.
func logURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

func rand64N(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
