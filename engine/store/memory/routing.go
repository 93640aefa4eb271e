package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// RoundRobinLast returns the agent last offered a call of the group.
func (s *Store) RoundRobinLast(_ context.Context, tenant, groupID string) (string, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	if tb := s.book.tenant(tenant, false); tb != nil {
		return tb.rr[groupID], nil
	}
	return "", nil
}

// SetRoundRobinLast records the agent last offered a call of the group;
// an empty id forgets it.
func (s *Store) SetRoundRobinLast(_ context.Context, tenant, groupID, agentID string) error {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, agentID != "")
	switch {
	case tb == nil:
	case agentID == "":
		delete(tb.rr, groupID)
	default:
		tb.rr[groupID] = agentID
	}
	return nil
}

// binding is a sticky binding; a zero expires is permanent.
type binding struct {
	agentID string
	expires time.Time
}

func (b binding) expired(now time.Time) bool {
	return !b.expires.IsZero() && !now.Before(b.expires)
}

// Sticky returns the agent bound to the number, measuring the binding's
// period with the store's clock (Options.Now).
func (s *Store) Sticky(_ context.Context, tenant, number string) (string, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil {
		return "", nil
	}
	b, ok := tb.sticky[number]
	if !ok {
		return "", nil
	}
	if b.expired(s.now()) {
		delete(tb.sticky, number)
		return "", nil
	}
	return b.agentID, nil
}

// SetSticky binds the number to the agent for ttl (0: permanent), or
// removes the binding when agentID is empty.
func (s *Store) SetSticky(_ context.Context, tenant, number, agentID string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("memory store: set sticky %s/%s: negative ttl %v", tenant, number, ttl)
	}
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, agentID != "")
	switch {
	case tb == nil:
	case agentID == "":
		delete(tb.sticky, number)
	default:
		b := binding{agentID: agentID}
		if ttl > 0 {
			b.expires = s.now().Add(ttl)
		}
		tb.sticky[number] = b
	}
	return nil
}

// sweep frees the sticky bindings that have expired; the janitor runs it.
func (b *book) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, tb := range b.tenants {
		for n, bd := range tb.sticky {
			if bd.expired(now) {
				delete(tb.sticky, n)
			}
		}
	}
}

// waiter is one call in a group's waiting line, times in unix ms.
type waiter struct {
	joined, until int64
}

// JoinQueue adds the call to the group's line or refreshes its entry, and
// returns how many live entries are ahead of it.
func (s *Store) JoinQueue(_ context.Context, tenant, groupID, callID string, now time.Time, lease time.Duration, maxWait int) (int, error) {
	if err := checkLease("join queue "+groupID, callID, lease); err != nil {
		return 0, err
	}
	nowMs, until := now.UnixMilli(), now.Add(lease).UnixMilli()
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, true)
	line := tb.queues[groupID]
	for id, w := range line {
		if w.until <= nowMs {
			delete(line, id)
		}
	}
	if me := line[callID]; me != nil {
		me.until = until
		return ahead(line, callID), nil
	}
	if maxWait > 0 && len(line) >= maxWait {
		if len(line) == 0 {
			delete(tb.queues, groupID)
		}
		return 0, engine.ErrQueueFull
	}
	if line == nil {
		line = map[string]*waiter{}
		tb.queues[groupID] = line
	}
	line[callID] = &waiter{joined: nowMs, until: until}
	return ahead(line, callID), nil
}

// ahead counts the entries of line that sort before callID's: by first
// join, then by call id.
func ahead(line map[string]*waiter, callID string) int {
	me := line[callID]
	n := 0
	for id, w := range line {
		if c := cmp.Compare(w.joined, me.joined); c < 0 || c == 0 && id < callID {
			n++
		}
	}
	return n
}

// LeaveQueue removes the call from the group's line.
func (s *Store) LeaveQueue(_ context.Context, tenant, groupID, callID string) error {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil {
		return nil
	}
	if line := tb.queues[groupID]; line != nil {
		delete(line, callID)
		if len(line) == 0 {
			delete(tb.queues, groupID)
		}
	}
	return nil
}

// AddDND adds numbers to the tenant's do-not-disturb list.
func (s *Store) AddDND(_ context.Context, tenant string, numbers ...string) error {
	if len(numbers) == 0 {
		return nil
	}
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, true)
	for _, n := range numbers {
		tb.dnd[n] = struct{}{}
	}
	return nil
}

// RemoveDND removes numbers from the tenant's do-not-disturb list.
func (s *Store) RemoveDND(_ context.Context, tenant string, numbers ...string) error {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	if tb := s.book.tenant(tenant, false); tb != nil {
		for _, n := range numbers {
			delete(tb.dnd, n)
		}
	}
	return nil
}

// IsDND reports, for each number, whether the tenant lists it.
func (s *Store) IsDND(_ context.Context, tenant string, numbers ...string) ([]bool, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	out := make([]bool, len(numbers))
	if tb := s.book.tenant(tenant, false); tb != nil {
		for i, n := range numbers {
			_, out[i] = tb.dnd[n]
		}
	}
	return out, nil
}

// ListDND returns the tenant's do-not-disturb numbers, sorted.
func (s *Store) ListDND(_ context.Context, tenant string) ([]string, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	if tb := s.book.tenant(tenant, false); tb != nil {
		return slices.Sorted(maps.Keys(tb.dnd)), nil
	}
	return nil, nil
}
