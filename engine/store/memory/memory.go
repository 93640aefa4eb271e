// Package memory is an in-process engine.Store for a single Switchboard
// node and for tests: no dependency, nothing to run, and the same behaviour
// as the Redis store (both pass engine/store/storetest). Records live in
// this process only and are lost when it exits.
//
// Values are cloned on the way in and on the way out, so neither the engine
// nor an API handler can change a stored record by holding a pointer to it.
// Ended calls with a retention expire at a deadline that every read checks;
// a janitor goroutine, stopped by Close, frees the memory of expired calls
// and sticky bindings that nobody reads again.
//
// The Store is also the engine.AgentStore of a single node: agents, groups,
// reservations, round-robin pointers, sticky bindings, waiting lines and
// DND lists, in maps by tenant behind a mutex of their own. Every
// operation is one critical section, so a reservation is decided
// atomically; live-state times are kept to the millisecond like the Redis
// store's, so both behave alike to the millisecond.
//
// The Store is also the engine.EventLog (events.go). CreateCall, SaveCall
// and EndCall append their events to the stream of the call's node in the
// critical section of the write, so a change and its events are one step;
// the call's entry remembers the Seq of its last event, so a repeated
// write appends nothing twice and a refused one (unknown call, id taken,
// a leg of another call) nothing at all. Entry ids are decimal numbers
// that increase per stream. Every stream has one list of entries not yet
// acknowledged: ReadEvents from "" starts at its oldest, and AckEvents
// drops entries from it, so memory holds what the dispatcher has not
// finished, never its history. Nothing bounds that backlog: a node whose
// events nobody reads and acknowledges keeps them all (the engine's
// LogEvents option chooses which calls log theirs). Leases are timed by
// the store's clock (Options.Now); dead letters are kept per tenant until
// taken, with ids that increase across tenants.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/internal/listing"
)

var _ engine.Store = (*Store)(nil)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Now is the clock that retention and sticky periods are measured
	// with; nil means time.Now. Tests inject a fake clock to expire calls
	// and bindings without waiting. (Reservations and waiting lines use
	// the now their callers pass.)
	Now func() time.Time
	// SweepInterval is how often the janitor frees expired calls; 0 means
	// one minute. A negative interval runs no janitor: expired calls are
	// then invisible but only freed when they are read or listed.
	SweepInterval time.Duration
}

// Store is the in-process engine.Store, engine.AgentStore and
// engine.EventLog. Its methods are safe for concurrent use; one mutex
// guards the calls and the event log and another the agent side, which is
// ample for the call rates of one node.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	calls   map[string]*entry
	tenants tenantIndex                    // tenant -> positions of its calls (list.go)
	live    map[string]map[string]struct{} // node -> ids of live calls

	book book // agents, groups and routing memory (agents.go)

	apps appBook // apps and their virtual numbers (apps.go)

	streams map[string]*stream // node -> its event stream (events.go)
	leases  map[string]lease   // node -> who reads its stream
	// nodeLeases: node -> the holder of its node lease (NodeLeases).
	nodeLeases map[string]lease
	appended   chan struct{} // closed (and replaced) at every append
	dead       map[string][]*engine.DeadLetter
	deadSeq    uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// entry is one stored call: its own fields (Legs always nil) and its legs
// by Seq, so that SaveLeg replaces in place and GetCall sorts once.
type entry struct {
	call    *engine.Call
	legs    map[int]*engine.Leg
	expires time.Time // zero: kept until deleted
	// eventSeq is the Seq of the last event appended for the call: a
	// repeated write appends nothing twice.
	eventSeq int
}

// New returns an empty Store and starts its janitor unless
// opts.SweepInterval is negative. Call Close to stop the janitor.
func New(opts Options) *Store {
	s := &Store{
		now:        opts.Now,
		calls:      map[string]*entry{},
		tenants:    tenantIndex{},
		live:       map[string]map[string]struct{}{},
		streams:    map[string]*stream{},
		leases:     map[string]lease{},
		nodeLeases: map[string]lease{},
		appended:   make(chan struct{}),
		dead:       map[string][]*engine.DeadLetter{},
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	every := opts.SweepInterval
	if every == 0 {
		every = time.Minute
	}
	if every < 0 {
		close(s.done)
		return s
	}
	go s.janitor(every)
	return s
}

func (s *Store) janitor(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.sweep()
			s.book.sweep(s.now())
		}
	}
}

// sweep frees every expired call.
func (s *Store) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var expired []string
	for id, e := range s.calls {
		if e.expired(now) {
			expired = append(expired, id)
		}
	}
	s.drop(expired)
}

func (e *entry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// lookup returns the entry of a call that has not expired, freeing an
// expired one on the way. The caller holds s.mu.
func (s *Store) lookup(id string) *entry {
	e := s.calls[id]
	if e == nil {
		return nil
	}
	if e.expired(s.now()) {
		s.remove(id, e)
		return nil
	}
	return e
}

// remove deletes a call and its index entries. The caller holds s.mu.
func (s *Store) remove(id string, e *entry) {
	delete(s.calls, id)
	delIndex(s.live, e.call.Node, id)
	s.tenants.del(e.call.Tenant, listing.Of(e.call))
}

// drop removes the calls ids, as remove does, with one pass over each
// tenant index they are in. The caller holds s.mu.
func (s *Store) drop(ids []string) {
	gone := map[string]map[listing.Position]bool{}
	for _, id := range ids {
		e := s.calls[id]
		if e == nil {
			continue
		}
		delete(s.calls, id)
		delIndex(s.live, e.call.Node, id)
		if gone[e.call.Tenant] == nil {
			gone[e.call.Tenant] = map[listing.Position]bool{}
		}
		gone[e.call.Tenant][listing.Of(e.call)] = true
	}
	for tenant, ps := range gone {
		s.tenants.delAll(tenant, ps)
	}
}

// put makes c the record of e (stored under c.ID) and moves its index
// entries along: its tenant's, when the tenant or the position changed,
// and its node's live set, which it is in when live. The caller holds
// s.mu.
func (s *Store) put(e *entry, c *engine.Call, live bool) {
	if old := e.call; old == nil {
		s.tenants.add(c.Tenant, listing.Of(c))
	} else {
		delIndex(s.live, old.Node, old.ID)
		if old.Tenant != c.Tenant || listing.Of(old) != listing.Of(c) {
			s.tenants.del(old.Tenant, listing.Of(old))
			s.tenants.add(c.Tenant, listing.Of(c))
		}
	}
	e.call = c
	if live {
		addIndex(s.live, c.Node, c.ID)
	}
}

func addIndex(m map[string]map[string]struct{}, key, id string) {
	set := m[key]
	if set == nil {
		set = map[string]struct{}{}
		m[key] = set
	}
	set[id] = struct{}{}
}

func delIndex(m map[string]map[string]struct{}, key, id string) {
	if set := m[key]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// own returns a copy of c without legs, for storing.
func own(c *engine.Call) *engine.Call {
	cp := c.Clone()
	cp.Legs = nil
	return cp
}

// CreateCall stores a copy of c without its legs. When the id is taken,
// a record that encodes to the same JSON as the stored one is the same
// write repeated and succeeds, changing nothing, as in the Redis store;
// any other record is ErrExists.
func (s *Store) CreateCall(_ context.Context, c *engine.Call, events ...engine.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.lookup(c.ID); e != nil {
		if sameRecord(e.call, c) {
			s.appendLocked(e, c.Node, events)
			return nil
		}
		return fmt.Errorf("memory store: create call %s: %w", c.ID, engine.ErrExists)
	}
	e := &entry{legs: map[int]*engine.Leg{}}
	s.calls[c.ID] = e
	s.put(e, own(c), c.Live())
	s.appendLocked(e, c.Node, events)
	return nil
}

// sameRecord reports whether c's own fields (legs aside) encode to the
// same JSON as the stored record: the Redis store's test, byte for byte.
func sameRecord(stored, c *engine.Call) bool {
	a, err1 := json.Marshal(stored)
	b, err2 := json.Marshal(own(c))
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// SaveCall replaces the call's fields and inserts or replaces the given
// legs, in one critical section, keeping the other legs and any expiry.
func (s *Store) SaveCall(_ context.Context, c *engine.Call, legs []*engine.Leg, events ...engine.Event) error {
	if err := engine.CheckLegs(c, legs); err != nil {
		return fmt.Errorf("memory store: save call %s: %w", c.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(c.ID)
	if e == nil {
		return fmt.Errorf("memory store: save call %s: %w", c.ID, engine.ErrNotFound)
	}
	s.put(e, own(c), c.Live())
	for _, l := range legs {
		e.legs[l.Seq] = l.Clone()
	}
	s.appendLocked(e, c.Node, events)
	return nil
}

// SaveLeg inserts or replaces one leg of a stored call.
func (s *Store) SaveLeg(_ context.Context, l *engine.Leg) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(l.CallID)
	if e == nil {
		return fmt.Errorf("memory store: save leg %s: %w", l.ID, engine.ErrNotFound)
	}
	e.legs[l.Seq] = l.Clone()
	return nil
}

// EndCall stores the final record, takes the call off the live index and
// sets (retention > 0) or clears (0) its expiry.
func (s *Store) EndCall(_ context.Context, c *engine.Call, retention time.Duration, events ...engine.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(c.ID)
	if e == nil {
		return fmt.Errorf("memory store: end call %s: %w", c.ID, engine.ErrNotFound)
	}
	s.put(e, own(c), false)
	for _, l := range c.Legs {
		e.legs[l.Seq] = l.Clone()
	}
	e.expires = time.Time{}
	if retention > 0 {
		e.expires = s.now().Add(retention)
	}
	s.appendLocked(e, c.Node, events)
	return nil
}

// GetCall returns a copy of the call with its legs ordered by Seq.
func (s *Store) GetCall(_ context.Context, id string) (*engine.Call, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(id)
	if e == nil {
		return nil, fmt.Errorf("memory store: get call %s: %w", id, engine.ErrNotFound)
	}
	return e.snapshot(), nil
}

// snapshot returns a deep copy of the call with its legs in Seq order.
func (e *entry) snapshot() *engine.Call {
	c := e.call.Clone()
	c.Legs = make([]*engine.Leg, 0, len(e.legs))
	for _, l := range e.legs {
		c.Legs = append(c.Legs, l.Clone())
	}
	slices.SortFunc(c.Legs, func(a, b *engine.Leg) int { return cmp.Compare(a.Seq, b.Seq) })
	return c
}

// LiveCalls returns, sorted, the ids of the live calls on node (every node
// when node is empty).
func (s *Store) LiveCalls(_ context.Context, node string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for n, set := range s.live {
		if node != "" && n != node {
			continue
		}
		for id := range set {
			if s.lookup(id) != nil {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Ping always succeeds: an in-process map is always there.
func (s *Store) Ping(context.Context) error { return nil }

// Close stops the janitor and waits for it. The store keeps answering
// afterwards (expiry is still checked on read); Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
