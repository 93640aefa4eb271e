package memory

import (
	"context"
	"slices"
	"time"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.NodeLeases = (*Store)(nil)

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
