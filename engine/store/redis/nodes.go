package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.NodeLeases = (*Store)(nil)

// nodeLeaseKey holds the holder of node's lease, expiring with it.
func (s *Store) nodeLeaseKey(node string) string {
	return s.opts.Prefix + ":node:{n:" + node + "}:lease"
}

// LeaseNode takes or renews holder's lease on node (the stream leases'
// script: SET NX PX, or PEXPIRE for the holder itself).
func (s *Store) LeaseNode(ctx context.Context, node, holder string, ttl time.Duration) (bool, error) {
	n, err := leaseScript.Run(ctx, s.c, []string{s.nodeLeaseKey(node)}, holder, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return false, fmt.Errorf("redis store: lease node %s: %w", node, err)
	}
	return n == 1, nil
}

// ReleaseNode deletes node's lease if holder holds it.
func (s *Store) ReleaseNode(ctx context.Context, node, holder string) error {
	if err := unleaseScript.Run(ctx, s.c, []string{s.nodeLeaseKey(node)}, holder).Err(); err != nil {
		return fmt.Errorf("redis store: release node %s: %w", node, err)
	}
	return nil
}

// LiveNodes lists the nodes that ever indexed a live call (the node set
// CreateCall adds to).
func (s *Store) LiveNodes(ctx context.Context) ([]string, error) {
	nodes, err := s.c.SMembers(ctx, s.nodesKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: live nodes: %w", err)
	}
	return nodes, nil
}
