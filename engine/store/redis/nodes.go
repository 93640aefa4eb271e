package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
)

var (
	_ engine.NodeLeases = (*Store)(nil)
	_ engine.CallTaker  = (*Store)(nil)
)

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

// takeCallScript replaces a call's own record if it is live and owned by
// ARGV[1]: 1 when written, 0 when there is no call, -1 when it is not
// (or no longer) that node's live call.
var takeCallScript = newScript(`
local js = redis.call('HGET', KEYS[1], 'call')
if not js then return 0 end
local ok, c = pcall(cjson.decode, js)
if not ok or type(c) ~= 'table' then return redis.error_reply('malformed record of call ' .. KEYS[1]) end
if c.node ~= ARGV[1] or c.state == 'ended' then return -1 end
redis.call('HSET', KEYS[1], 'call', ARGV[2])
return 1`)

// TakeCall moves a live call from node from to c.Node: the compare and
// set in one script on the call's hash and, in the same pipeline (one
// round trip), the call added to the new node's live index. When the take
// fails that entry is a stale one, which LiveCalls drops (the record is
// not live on that node), as it drops the old node's.
func (s *Store) TakeCall(ctx context.Context, c *engine.Call, from string) error {
	js, err := callJSON(c)
	if err != nil {
		return fmt.Errorf("redis store: take call %s: %w", c.ID, err)
	}
	var take *goredis.Cmd
	err = s.pipeline(ctx, func(p goredis.Pipeliner) {
		take = takeCallScript.EvalSha(ctx, p, []string{s.callKey(c.ID)}, from, js)
		s.queueLive(ctx, p, c)
	})
	if err != nil {
		return fmt.Errorf("redis store: take call %s: %w", c.ID, err)
	}
	n, err := take.Int()
	switch {
	case err != nil:
		return fmt.Errorf("redis store: take call %s: %w", c.ID, err)
	case n == 0:
		return fmt.Errorf("redis store: take call %s: %w", c.ID, engine.ErrNotFound)
	case n < 0:
		return fmt.Errorf("redis store: take call %s from %s: %w", c.ID, from, engine.ErrNotOwner)
	}
	return nil
}
