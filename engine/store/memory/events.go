package memory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// stream is one node's event stream: entries in the order appended, with
// ids that increase.
type stream struct {
	next    uint64
	entries []engine.LoggedEvent
}

// appendLocked appends a write's events to the node's stream, skipping
// those the call already logged (a repeated write): events carry their
// call's Seq. s.mu must be held.
func (s *Store) appendLocked(e *entry, node string, events []engine.Event) {
	for _, ev := range events {
		if ev.Seq <= e.eventSeq {
			continue
		}
		e.eventSeq = ev.Seq
		s.appendEntryLocked(node, engine.LoggedEvent{Event: ev})
	}
}

// cloneEvent copies the snapshots an event points to.
func cloneEvent(ev engine.Event) engine.Event {
	if ev.Call != nil {
		ev.Call = ev.Call.Clone()
	}
	if ev.Leg != nil {
		ev.Leg = ev.Leg.Clone()
	}
	return ev
}

var _ engine.EventLog = (*Store)(nil)

// The read side of the event log. Entries are dropped once acknowledged,
// so a stream holds only what its reader has not finished; leases are
// timed by the store's clock; a reader waiting in ReadEvents is woken by
// the next append.

type lease struct {
	reader  string
	expires time.Time
}

// EventStreams lists the nodes with a stream.
func (s *Store) EventStreams(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nodes := make([]string, 0, len(s.streams))
	for n := range s.streams {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	return nodes, nil
}

// LeaseStream takes or renews reader's lease on node's stream.
func (s *Store) LeaseStream(_ context.Context, node, reader string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.leases[node]; ok && l.reader != reader && now.Before(l.expires) {
		return false, nil
	}
	s.leases[node] = lease{reader: reader, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseStream gives up reader's lease.
func (s *Store) ReleaseStream(_ context.Context, node, reader string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[node]; ok && l.reader == reader {
		delete(s.leases, node)
	}
	return nil
}

// ReadEvents returns up to n unacknowledged entries after the entry
// after, waiting up to block for one.
func (s *Store) ReadEvents(ctx context.Context, node, after string, n int, block time.Duration) ([]engine.LoggedEvent, error) {
	if n <= 0 {
		n = 100
	}
	var from uint64
	if after != "" {
		v, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("memory store: read events: bad entry id %q", after)
		}
		from = v
	}
	deadline := time.Now().Add(block)
	for {
		s.mu.Lock()
		var out []engine.LoggedEvent
		if st := s.streams[node]; st != nil {
			for _, le := range st.entries {
				id, _ := strconv.ParseUint(le.ID, 10, 64)
				if id > from {
					out = append(out, cloneEntry(le))
					if len(out) == n {
						break
					}
				}
			}
		}
		wake := s.appended
		s.mu.Unlock()
		wait := time.Until(deadline)
		if len(out) > 0 || wait <= 0 {
			return out, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// AckEvents drops acknowledged entries.
func (s *Store) AckEvents(_ context.Context, node string, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[node]
	if st == nil || len(ids) == 0 {
		return nil
	}
	done := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		done[id] = struct{}{}
	}
	st.entries = slices.DeleteFunc(st.entries, func(le engine.LoggedEvent) bool {
		_, ok := done[le.ID]
		return ok
	})
	return nil
}

// AppendEvents appends entries to node's stream.
func (s *Store) AppendEvents(_ context.Context, node string, entries ...engine.LoggedEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, le := range entries {
		s.appendEntryLocked(node, le)
	}
	return nil
}

// appendEntryLocked appends one entry and wakes waiting readers.
func (s *Store) appendEntryLocked(node string, le engine.LoggedEvent) {
	st := s.streams[node]
	if st == nil {
		st = &stream{}
		s.streams[node] = st
	}
	st.next++
	le = cloneEntry(le)
	le.ID = strconv.FormatUint(st.next, 10)
	st.entries = append(st.entries, le)
	close(s.appended)
	s.appended = make(chan struct{})
}

func cloneEntry(le engine.LoggedEvent) engine.LoggedEvent {
	le.Event = cloneEvent(le.Event)
	if le.Redriven != nil {
		t := *le.Redriven
		le.Redriven = &t
	}
	return le
}

// PutDeadLetter keeps d and sets d.ID.
func (s *Store) PutDeadLetter(_ context.Context, d *engine.DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadSeq++
	d.ID = strconv.FormatUint(s.deadSeq, 10)
	cp := *d
	cp.Event = cloneEvent(d.Event)
	s.dead[d.Tenant] = append(s.dead[d.Tenant], &cp)
	return nil
}

// ListDeadLetters pages through a tenant's dead letters, oldest first.
func (s *Store) ListDeadLetters(_ context.Context, tenant, cursor string, limit int) ([]*engine.DeadLetter, string, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var after uint64
	if cursor != "" {
		v, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("memory store: list dead letters: %w", engine.ErrBadCursor)
		}
		after = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*engine.DeadLetter
	next := ""
	for _, d := range s.dead[tenant] {
		id, _ := strconv.ParseUint(d.ID, 10, 64)
		if id <= after {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		cp := *d
		cp.Event = cloneEvent(d.Event)
		out = append(out, &cp)
	}
	return out, next, nil
}

// TakeDeadLetter removes and returns a tenant's dead letter.
func (s *Store) TakeDeadLetter(_ context.Context, tenant, id string) (*engine.DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range s.dead[tenant] {
		if d.ID == id {
			s.dead[tenant] = slices.Delete(s.dead[tenant], i, i+1)
			return d, nil
		}
	}
	return nil, fmt.Errorf("memory store: take dead letter %s: %w", id, engine.ErrNotFound)
}
