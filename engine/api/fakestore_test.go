package api

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

// errStoreDown is what fakeStore answers for an operation set to fail.
var errStoreDown = errors.New("fake store: connection refused")

// fakeStore is a map-based engine.AgentStore for these tests. It hands out
// copies, counts the operations it serves and fails the ones named in
// failOn (or every one when failAll is set) with errStoreDown.
type fakeStore struct {
	mu      sync.Mutex
	agents  map[string]map[string]*engine.Agent // tenant → id
	states  map[string]map[string]engine.AgentState
	groups  map[string]map[string]*engine.Group
	dnd     map[string]map[string]bool
	ops     map[string]int
	failOn  map[string]bool
	failAll bool
}

var _ engine.AgentStore = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{
		agents: map[string]map[string]*engine.Agent{},
		states: map[string]map[string]engine.AgentState{},
		groups: map[string]map[string]*engine.Group{},
		dnd:    map[string]map[string]bool{},
		ops:    map[string]int{},
		failOn: map[string]bool{},
	}
}

// op counts an operation and says whether it fails. f.mu is held.
func (f *fakeStore) op(name string) error {
	f.ops[name]++
	if f.failAll || f.failOn[name] {
		return errStoreDown
	}
	return nil
}

func (f *fakeStore) fail(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range names {
		f.failOn[n] = true
	}
}

func (f *fakeStore) setFailAll(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAll = v
}

func (f *fakeStore) resetOps() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = map[string]int{}
}

func (f *fakeStore) opCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.ops {
		n += c
	}
	return n
}

func (f *fakeStore) setState(tenant, id string, st engine.AgentState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.states[tenant] == nil {
		f.states[tenant] = map[string]engine.AgentState{}
	}
	f.states[tenant][id] = st
}

func cloneAgent(a *engine.Agent) *engine.Agent {
	c := *a
	c.Numbers = slices.Clone(a.Numbers)
	return &c
}

func inner[V any](m map[string]map[string]V, tenant string) map[string]V {
	if m[tenant] == nil {
		m[tenant] = map[string]V{}
	}
	return m[tenant]
}

func (f *fakeStore) PutAgent(_ context.Context, a *engine.Agent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("PutAgent"); err != nil {
		return err
	}
	inner(f.agents, a.Tenant)[a.ID] = cloneAgent(a)
	return nil
}

func (f *fakeStore) GetAgents(ctx context.Context, tenant string, ids []string) ([]*engine.Agent, error) {
	out := make([]*engine.Agent, len(ids))
	for i, id := range ids {
		a, err := f.GetAgent(ctx, tenant, id)
		switch {
		case errors.Is(err, engine.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[i] = a
		}
	}
	return out, nil
}

func (f *fakeStore) GetAgent(_ context.Context, tenant, id string) (*engine.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("GetAgent"); err != nil {
		return nil, err
	}
	a, ok := f.agents[tenant][id]
	if !ok {
		return nil, fmt.Errorf("fake store: agent %s: %w", id, engine.ErrNotFound)
	}
	return cloneAgent(a), nil
}

func (f *fakeStore) ListAgents(_ context.Context, tenant string) ([]*engine.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("ListAgents"); err != nil {
		return nil, err
	}
	var out []*engine.Agent
	for _, a := range f.agents[tenant] {
		out = append(out, cloneAgent(a))
	}
	return out, nil
}

func (f *fakeStore) DeleteAgent(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("DeleteAgent"); err != nil {
		return err
	}
	delete(f.agents[tenant], id)
	return nil
}

func (f *fakeStore) AgentStates(_ context.Context, tenant string, ids []string) ([]engine.AgentState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("AgentStates"); err != nil {
		return nil, err
	}
	out := make([]engine.AgentState, len(ids))
	for i, id := range ids {
		st := f.states[tenant][id]
		st.Calls = maps.Clone(st.Calls)
		out[i] = st
	}
	return out, nil
}

func (f *fakeStore) PutGroup(_ context.Context, g *engine.Group) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("PutGroup"); err != nil {
		return err
	}
	c := *g
	c.Members = slices.Clone(g.Members)
	inner(f.groups, g.Tenant)[g.ID] = &c
	return nil
}

func (f *fakeStore) GetGroup(_ context.Context, tenant, id string) (*engine.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("GetGroup"); err != nil {
		return nil, err
	}
	g, ok := f.groups[tenant][id]
	if !ok {
		return nil, fmt.Errorf("fake store: group %s: %w", id, engine.ErrNotFound)
	}
	c := *g
	c.Members = slices.Clone(g.Members)
	return &c, nil
}

func (f *fakeStore) ListGroups(_ context.Context, tenant string) ([]*engine.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("ListGroups"); err != nil {
		return nil, err
	}
	var out []*engine.Group
	for _, g := range f.groups[tenant] {
		c := *g
		c.Members = slices.Clone(g.Members)
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeStore) DeleteGroup(_ context.Context, tenant, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("DeleteGroup"); err != nil {
		return err
	}
	delete(f.groups[tenant], id)
	return nil
}

// Reserve and Release keep the reservations of AgentStates; the API does
// not call them, the click-to-call tests use them to make agents busy.
func (f *fakeStore) Reserve(_ context.Context, tenant, agentID, callID string, now time.Time, lease time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("Reserve"); err != nil {
		return err
	}
	a, ok := f.agents[tenant][agentID]
	if !ok {
		return engine.ErrAgentNotFound
	}
	st := f.states[tenant][agentID]
	n := 0
	for id, until := range st.Calls {
		if until.After(now) && id != callID {
			n++
		}
	}
	switch {
	case a.Paused:
		return engine.ErrAgentPaused
	case now.Before(st.WrapUpUntil):
		return engine.ErrAgentWrapUp
	case n >= a.Capacity():
		return engine.ErrAgentBusy
	}
	st.Calls = maps.Clone(st.Calls)
	if st.Calls == nil {
		st.Calls = map[string]time.Time{}
	}
	st.Calls[callID] = now.Add(lease)
	inner(f.states, tenant)[agentID] = st
	return nil
}

func (f *fakeStore) Release(_ context.Context, tenant, agentID, callID string, now time.Time, answered bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("Release"); err != nil {
		return err
	}
	st := f.states[tenant][agentID]
	if _, ok := st.Calls[callID]; !ok {
		return nil
	}
	st.Calls = maps.Clone(st.Calls)
	delete(st.Calls, callID)
	if answered {
		st.LastCallEnd = now
		st.CallsTaken++
		if a, ok := f.agents[tenant][agentID]; ok {
			st.WrapUpUntil = now.Add(time.Duration(a.WrapUpSeconds) * time.Second)
		}
	}
	inner(f.states, tenant)[agentID] = st
	return nil
}

func (f *fakeStore) RoundRobinLast(context.Context, string, string) (string, error)  { return "", nil }
func (f *fakeStore) SetRoundRobinLast(context.Context, string, string, string) error { return nil }
func (f *fakeStore) Sticky(context.Context, string, string) (string, error)          { return "", nil }
func (f *fakeStore) SetSticky(context.Context, string, string, string, time.Duration) error {
	return nil
}

func (f *fakeStore) JoinQueue(context.Context, string, string, string, time.Time, time.Duration, int) (int, error) {
	return 0, nil
}
func (f *fakeStore) LeaveQueue(context.Context, string, string, string) error { return nil }

func (f *fakeStore) AddDND(_ context.Context, tenant string, numbers ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("AddDND"); err != nil {
		return err
	}
	for _, n := range numbers {
		inner(f.dnd, tenant)[n] = true
	}
	return nil
}

func (f *fakeStore) RemoveDND(_ context.Context, tenant string, numbers ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("RemoveDND"); err != nil {
		return err
	}
	for _, n := range numbers {
		delete(f.dnd[tenant], n)
	}
	return nil
}

func (f *fakeStore) IsDND(_ context.Context, tenant string, numbers ...string) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("IsDND"); err != nil {
		return nil, err
	}
	out := make([]bool, len(numbers))
	for i, n := range numbers {
		out[i] = f.dnd[tenant][n]
	}
	return out, nil
}

func (f *fakeStore) ListDND(_ context.Context, tenant string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.op("ListDND"); err != nil {
		return nil, err
	}
	return slices.Collect(maps.Keys(f.dnd[tenant])), nil
}
