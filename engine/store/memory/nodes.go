package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard/switchboard/engine"
)

var (
	_ engine.NodeLeases = (*Store)(nil)
	_ engine.CallTaker  = (*Store)(nil)
)

// LeaseNode takes or renews holder's lease on node.
func (s *Store) LeaseNode(_ context.Context, node, holder string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if l, ok := s.nodeLeases[node]; ok && l.reader != holder && now.Before(l.expires) {
		return false, nil
	}
	s.nodeLeases[node] = lease{reader: holder, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseNode gives up holder's lease on node.
func (s *Store) ReleaseNode(_ context.Context, node, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.nodeLeases[node]; ok && l.reader == holder {
		delete(s.nodeLeases, node)
	}
	return nil
}

// LiveNodes lists, sorted, the nodes with live calls.
func (s *Store) LiveNodes(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var nodes []string
	for n, set := range s.live {
		if len(set) > 0 {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	return nodes, nil
}

// TakeCall replaces the call's own record, moving it to c.Node's live
// calls, if it is live and owned by from.
func (s *Store) TakeCall(_ context.Context, c *engine.Call, from string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(c.ID)
	switch {
	case e == nil:
		return fmt.Errorf("memory store: take call %s: %w", c.ID, engine.ErrNotFound)
	case !e.call.Live() || e.call.Node != from:
		return fmt.Errorf("memory store: take call %s from %s: %w", c.ID, from, engine.ErrNotOwner)
	}
	s.put(e, own(c), c.Live())
	return nil
}
