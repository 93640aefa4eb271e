package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/internal/listing"
)

// tenantIndex holds the positions of each tenant's calls, oldest first
// (the reverse of a listing). Calls are created in about that order, so
// adding one is an append, or a binary search and a short move for one
// that arrives late; a page is a binary search and a scan backwards from
// there, whatever the tenant holds. Every position in it is that of a
// call in Store.calls, of that tenant.
type tenantIndex map[string][]listing.Position

// ascending orders positions oldest first.
func ascending(a, b listing.Position) int { return b.Compare(a) }

func (x tenantIndex) add(tenant string, p listing.Position) {
	ps := x[tenant]
	if n := len(ps); n == 0 || ascending(ps[n-1], p) < 0 {
		x[tenant] = append(ps, p)
		return
	}
	if i, found := slices.BinarySearchFunc(ps, p, ascending); !found {
		x[tenant] = slices.Insert(ps, i, p)
	}
}

func (x tenantIndex) del(tenant string, p listing.Position) {
	ps := x[tenant]
	i, found := slices.BinarySearchFunc(ps, p, ascending)
	if !found {
		return
	}
	x.set(tenant, slices.Delete(ps, i, i+1))
}

// delAll removes every position in gone in one pass.
func (x tenantIndex) delAll(tenant string, gone map[listing.Position]bool) {
	x.set(tenant, slices.DeleteFunc(x[tenant], func(p listing.Position) bool { return gone[p] }))
}

// set stores a tenant's positions after a removal, forgetting a tenant
// without calls and giving back the memory of a slice that shrank to a
// quarter of its capacity.
func (x tenantIndex) set(tenant string, ps []listing.Position) {
	switch {
	case len(ps) == 0:
		delete(x, tenant)
	case cap(ps) > 64 && len(ps) < cap(ps)/4:
		x[tenant] = slices.Clone(ps)
	default:
		x[tenant] = ps
	}
}

// ListCalls returns a page of the tenant's calls ordered by CreatedAt's
// unix millisecond and then id, both descending, like the Redis store's
// index. The cursor is the position of the page's last call, so a walk
// neither repeats nor skips calls whatever is created meanwhile. It finds
// the page's first candidate by binary search (after the cursor, not
// after Until) and hands the candidates to a listing.Walk from there to
// the walk's end or the range's start (Since, After).
func (s *Store) ListCalls(_ context.Context, q engine.CallQuery) (engine.CallPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var after *engine.Call
	if q.After != "" {
		if e := s.calls[q.After]; e != nil && !e.expired(now) {
			after = e.call
		}
	}
	w, err := listing.NewWalk(q, after)
	if err != nil {
		return engine.CallPage{}, fmt.Errorf("memory store: list calls: %w", err)
	}
	lo, hi := w.Range()

	ps := s.tenants[q.Tenant]
	end := len(ps) // the candidates are ps[:end]
	if cur := w.Cursor(); cur != nil {
		end, _ = slices.BinarySearchFunc(ps, *cur, ascending)
	}
	end = sort.Search(end, func(i int) bool { return ps[i].MS > hi })

	legs := listing.NeedsLegs(q)
	var expired []string
	i := end - 1
	for ; i >= 0 && ps[i].MS >= lo; i-- {
		e := s.calls[ps[i].ID]
		if e == nil {
			continue // never: every position is a held call's
		}
		if e.expired(now) {
			expired = append(expired, ps[i].ID)
			continue
		}
		// The walk only looks at the records (the page is copied
		// below): no copy of each candidate.
		c := e.call
		if legs {
			c = e.shallow()
		}
		if !w.Add(ps[i], c) {
			i--
			break
		}
	}
	// Freed after the scan, which they would move under its feet.
	s.drop(expired)
	page, err := w.Page(i >= 0 && ps[i].MS >= lo)
	if err != nil {
		return engine.CallPage{}, fmt.Errorf("memory store: list calls: %w", err)
	}
	for j, c := range page.Calls {
		page.Calls[j] = s.calls[c.ID].snapshot()
	}
	return page, nil
}

// shallow returns the call with its legs, sharing the stored records: for
// a look under s.mu, never to hand out.
func (e *entry) shallow() *engine.Call {
	c := *e.call
	c.Legs = make([]*engine.Leg, 0, len(e.legs))
	for _, l := range e.legs {
		c.Legs = append(c.Legs, l)
	}
	return &c
}
