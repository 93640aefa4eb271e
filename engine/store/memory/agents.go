package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.AgentStore = (*Store)(nil)

// book is the agent side of the store: agents, groups, their live state
// and the routing memory, by tenant. It has its own mutex, so reserving
// agents never waits for call writes; no method holds both.
type book struct {
	mu      sync.Mutex
	tenants map[string]*tenantBook
}

type tenantBook struct {
	agents map[string]*engine.Agent
	groups map[string]*engine.Group
	states map[string]*liveState
	rr     map[string]string             // group id -> agent id last offered
	sticky map[string]binding            // customer number -> binding
	queues map[string]map[string]*waiter // group id -> call id -> entry
	dnd    map[string]struct{}           // numbers
}

// liveState is an agent's live state with its times as unix milliseconds,
// the precision the Redis store keeps; 0 is unset.
type liveState struct {
	calls     map[string]int64 // call id -> lease deadline
	wrapUntil int64
	lastEnd   int64
	taken     int64
}

// tenant returns the tenant's book, creating it when create is set; nil
// otherwise when the tenant has nothing. The caller holds b.mu.
func (b *book) tenant(tenant string, create bool) *tenantBook {
	tb := b.tenants[tenant]
	if tb == nil && create {
		if b.tenants == nil {
			b.tenants = map[string]*tenantBook{}
		}
		tb = &tenantBook{
			agents: map[string]*engine.Agent{},
			groups: map[string]*engine.Group{},
			states: map[string]*liveState{},
			rr:     map[string]string{},
			sticky: map[string]binding{},
			queues: map[string]map[string]*waiter{},
			dnd:    map[string]struct{}{},
		}
		b.tenants[tenant] = tb
	}
	return tb
}

func cloneAgent(a *engine.Agent) *engine.Agent {
	cp := *a
	cp.Numbers = slices.Clone(a.Numbers)
	return &cp
}

func cloneGroup(g *engine.Group) *engine.Group {
	cp := *g
	cp.Members = slices.Clone(g.Members)
	return &cp
}

// PutAgent stores a copy of a, replacing the agent of that id.
func (s *Store) PutAgent(_ context.Context, a *engine.Agent) error {
	if a.ID == "" {
		return errors.New("memory store: put agent: empty id")
	}
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	s.book.tenant(a.Tenant, true).agents[a.ID] = cloneAgent(a)
	return nil
}

// GetAgent returns a copy of the agent.
func (s *Store) GetAgent(_ context.Context, tenant, id string) (*engine.Agent, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	if tb := s.book.tenant(tenant, false); tb != nil {
		if a := tb.agents[id]; a != nil {
			return cloneAgent(a), nil
		}
	}
	return nil, fmt.Errorf("memory store: get agent %s/%s: %w", tenant, id, engine.ErrNotFound)
}

// GetAgents returns copies of the agents of ids, nil where there is none.
func (s *Store) GetAgents(_ context.Context, tenant string, ids []string) ([]*engine.Agent, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	out := make([]*engine.Agent, len(ids))
	if tb := s.book.tenant(tenant, false); tb != nil {
		for i, id := range ids {
			if a := tb.agents[id]; a != nil {
				out[i] = cloneAgent(a)
			}
		}
	}
	return out, nil
}

// ListAgents returns copies of the tenant's agents sorted by id.
func (s *Store) ListAgents(_ context.Context, tenant string) ([]*engine.Agent, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil {
		return nil, nil
	}
	var out []*engine.Agent
	for _, id := range slices.Sorted(maps.Keys(tb.agents)) {
		out = append(out, cloneAgent(tb.agents[id]))
	}
	return out, nil
}

// DeleteAgent removes the agent and what its live state says about its
// past calls; its reservations stay until released or expired.
func (s *Store) DeleteAgent(_ context.Context, tenant, id string) error {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil || tb.agents[id] == nil {
		return fmt.Errorf("memory store: delete agent %s/%s: %w", tenant, id, engine.ErrNotFound)
	}
	delete(tb.agents, id)
	if st := tb.states[id]; st != nil {
		st.wrapUntil, st.lastEnd, st.taken = 0, 0, 0
		tb.tidyState(id)
	}
	return nil
}

// PutGroup stores a copy of g, replacing the group of that id.
func (s *Store) PutGroup(_ context.Context, g *engine.Group) error {
	if g.ID == "" {
		return errors.New("memory store: put group: empty id")
	}
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	s.book.tenant(g.Tenant, true).groups[g.ID] = cloneGroup(g)
	return nil
}

// GetGroup returns a copy of the group.
func (s *Store) GetGroup(_ context.Context, tenant, id string) (*engine.Group, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	if tb := s.book.tenant(tenant, false); tb != nil {
		if g := tb.groups[id]; g != nil {
			return cloneGroup(g), nil
		}
	}
	return nil, fmt.Errorf("memory store: get group %s/%s: %w", tenant, id, engine.ErrNotFound)
}

// ListGroups returns copies of the tenant's groups sorted by id.
func (s *Store) ListGroups(_ context.Context, tenant string) ([]*engine.Group, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil {
		return nil, nil
	}
	var out []*engine.Group
	for _, id := range slices.Sorted(maps.Keys(tb.groups)) {
		out = append(out, cloneGroup(tb.groups[id]))
	}
	return out, nil
}

// DeleteGroup removes the group and its round-robin pointer.
func (s *Store) DeleteGroup(_ context.Context, tenant, id string) error {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil || tb.groups[id] == nil {
		return fmt.Errorf("memory store: delete group %s/%s: %w", tenant, id, engine.ErrNotFound)
	}
	delete(tb.groups, id)
	delete(tb.rr, id)
	return nil
}

// AgentStates returns copies of the agents' live state as stored (leases
// that ran out stay until a Reserve or Release of the agent cleans them).
func (s *Store) AgentStates(_ context.Context, tenant string, ids []string) ([]engine.AgentState, error) {
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	out := make([]engine.AgentState, len(ids))
	if tb == nil {
		return out, nil
	}
	for i, id := range ids {
		if st := tb.states[id]; st != nil {
			out[i] = st.export()
		}
	}
	return out, nil
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func (st *liveState) export() engine.AgentState {
	out := engine.AgentState{WrapUpUntil: msTime(st.wrapUntil), LastCallEnd: msTime(st.lastEnd), CallsTaken: st.taken}
	if len(st.calls) > 0 {
		out.Calls = make(map[string]time.Time, len(st.calls))
		for id, until := range st.calls {
			out.Calls[id] = msTime(until)
		}
	}
	return out
}

// clean drops the leases that ran out by now and returns how many live
// leases other calls than callID hold, and whether callID holds one.
func (st *liveState) clean(now int64, callID string) (others int, mine bool) {
	for id, until := range st.calls {
		switch {
		case until <= now:
			delete(st.calls, id)
		case id == callID:
			mine = true
		default:
			others++
		}
	}
	return others, mine
}

// tidyState forgets an agent's live state once it says nothing.
func (tb *tenantBook) tidyState(id string) {
	if st := tb.states[id]; st != nil && len(st.calls) == 0 && st.wrapUntil == 0 && st.lastEnd == 0 && st.taken == 0 {
		delete(tb.states, id)
	}
}

// checkLease refuses leases that would end before they begin: stores keep
// deadlines to the millisecond.
func checkLease(op, callID string, lease time.Duration) error {
	if callID == "" {
		return fmt.Errorf("memory store: %s: empty call id", op)
	}
	if lease < time.Millisecond {
		return fmt.Errorf("memory store: %s for call %s: lease %v is under 1ms", op, callID, lease)
	}
	return nil
}

// Reserve offers the agent to the call; see engine.AgentStore and the
// contract in storetest.RunAgents.
func (s *Store) Reserve(_ context.Context, tenant, agentID, callID string, now time.Time, lease time.Duration) error {
	if err := checkLease("reserve agent "+agentID, callID, lease); err != nil {
		return err
	}
	nowMs, until := now.UnixMilli(), now.Add(lease).UnixMilli()
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil {
		return engine.ErrAgentNotFound
	}
	a, st := tb.agents[agentID], tb.states[agentID]
	others, mine := 0, false
	if st != nil {
		others, mine = st.clean(nowMs, callID)
		defer tb.tidyState(agentID)
	}
	switch {
	case a == nil:
		return engine.ErrAgentNotFound
	case mine: // a renewal: the call holds the agent already
	case a.Paused:
		return engine.ErrAgentPaused
	case st != nil && nowMs < st.wrapUntil:
		return engine.ErrAgentWrapUp
	case others >= a.Capacity():
		return engine.ErrAgentBusy
	}
	if st == nil {
		st = &liveState{}
		tb.states[agentID] = st
	}
	if st.calls == nil {
		st.calls = map[string]int64{}
	}
	st.calls[callID] = until
	return nil
}

// Release ends the call's reservation; an answered call counts for the
// agent (when the agent still exists) and starts its wrap-up.
func (s *Store) Release(_ context.Context, tenant, agentID, callID string, now time.Time, answered bool) error {
	nowMs := now.UnixMilli()
	s.book.mu.Lock()
	defer s.book.mu.Unlock()
	tb := s.book.tenant(tenant, false)
	if tb == nil || tb.states[agentID] == nil {
		return nil
	}
	st := tb.states[agentID]
	defer tb.tidyState(agentID)
	if _, mine := st.clean(nowMs, callID); !mine {
		return nil
	}
	delete(st.calls, callID)
	if a := tb.agents[agentID]; a != nil && answered {
		st.lastEnd = nowMs
		st.taken++
		// No wrap-up stamps no deadline: a reservation whose clock was read
		// a moment before this release must not find the agent in wrap-up.
		// A wrap-up still running from an earlier call is left alone, one
		// that is over is dropped.
		switch {
		case a.WrapUpSeconds > 0:
			st.wrapUntil = nowMs + int64(a.WrapUpSeconds)*1000
		case st.wrapUntil <= nowMs:
			st.wrapUntil = 0
		}
	}
	return nil
}
