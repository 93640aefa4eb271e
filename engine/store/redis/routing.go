package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
)

// RoundRobinLast reads the group's pointer: one GET.
func (s *Store) RoundRobinLast(ctx context.Context, tenant, groupID string) (string, error) {
	op := "round-robin pointer of " + tenant + "/" + groupID
	if err := checkTenant(op, tenant); err != nil {
		return "", err
	}
	id, err := s.c.Get(ctx, s.rrKey(tenant, groupID)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis store: %s: %w", op, err)
	}
	return id, nil
}

// SetRoundRobinLast writes the group's pointer (one SET), or deletes it
// for an empty agent id (one DEL).
func (s *Store) SetRoundRobinLast(ctx context.Context, tenant, groupID, agentID string) error {
	op := "set round-robin pointer of " + tenant + "/" + groupID
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	var err error
	if agentID == "" {
		err = s.c.Del(ctx, s.rrKey(tenant, groupID)).Err()
	} else {
		err = s.c.Set(ctx, s.rrKey(tenant, groupID), agentID, 0).Err()
	}
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return nil
}

// Sticky reads the number's binding: one GET. Redis expires the binding.
func (s *Store) Sticky(ctx context.Context, tenant, number string) (string, error) {
	op := "sticky agent of " + tenant + "/" + number
	if err := checkTenant(op, tenant); err != nil {
		return "", err
	}
	id, err := s.c.Get(ctx, s.stickyKey(tenant, number)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis store: %s: %w", op, err)
	}
	return id, nil
}

// SetSticky binds the number: one SET, with PX ttl, or without expiry for
// ttl 0 (which also removes an earlier TTL); one DEL for an empty agent id.
func (s *Store) SetSticky(ctx context.Context, tenant, number, agentID string, ttl time.Duration) error {
	op := "set sticky agent of " + tenant + "/" + number
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("redis store: %s: negative ttl %v", op, ttl)
	}
	var err error
	switch {
	case agentID == "":
		err = s.c.Del(ctx, s.stickyKey(tenant, number)).Err()
	default:
		// ttl 0 is a SET without expiry; a positive one is at least 1ms.
		if ttl > 0 {
			ttl = max(ttl, time.Millisecond)
		}
		err = s.c.Set(ctx, s.stickyKey(tenant, number), agentID, ttl).Err()
	}
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return nil
}

// joinScript adds a call to a group's line or refreshes its entry.
// KEYS[1] is the line's first-join ZSET, KEYS[2] its lease ZSET; ARGV is
// call id, now (unix ms), lease deadline (unix ms) and maxWait. It drops
// the entries whose lease ran out by now, answers -1 when the call is not
// in the line and maxWait (>0) calls are, else records the call and
// answers its rank: calls that joined earlier, ties by call id, are ahead.
var joinScript = newScript(`
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
for _, id in ipairs(gone) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local max = tonumber(ARGV[4])
  if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then return -1 end
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return redis.call('ZRANK', KEYS[1], ARGV[1])`)

// JoinQueue runs joinScript: one round trip.
func (s *Store) JoinQueue(ctx context.Context, tenant, groupID, callID string, now time.Time, lease time.Duration, maxWait int) (int, error) {
	op := "join queue " + tenant + "/" + groupID
	if err := checkTenant(op, tenant); err != nil {
		return 0, err
	}
	if err := checkLease(op, callID, lease); err != nil {
		return 0, err
	}
	keys := []string{s.joinedKey(tenant, groupID), s.leaseKey(tenant, groupID)}
	rank, err := joinScript.Run(ctx, s.c, keys, callID, ms(now), ms(now.Add(lease)), max(maxWait, 0)).Int()
	if err != nil {
		return 0, fmt.Errorf("redis store: %s for call %s: %w", op, callID, err)
	}
	if rank < 0 {
		return 0, engine.ErrQueueFull
	}
	return rank, nil
}

// LeaveQueue removes the call from both sets of the line in one MULTI.
func (s *Store) LeaveQueue(ctx context.Context, tenant, groupID, callID string) error {
	op := "leave queue " + tenant + "/" + groupID
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRem(ctx, s.joinedKey(tenant, groupID), callID)
		p.ZRem(ctx, s.leaseKey(tenant, groupID), callID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis store: %s for call %s: %w", op, callID, err)
	}
	return nil
}

func members(numbers []string) []any {
	out := make([]any, len(numbers))
	for i, n := range numbers {
		out[i] = n
	}
	return out
}

// AddDND adds numbers to the tenant's DND set: one SADD (none without
// numbers).
func (s *Store) AddDND(ctx context.Context, tenant string, numbers ...string) error {
	op := "add DND numbers of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	if len(numbers) == 0 {
		return nil
	}
	if err := s.c.SAdd(ctx, s.dndKey(tenant), members(numbers)...).Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return nil
}

// RemoveDND removes numbers from the tenant's DND set: one SREM.
func (s *Store) RemoveDND(ctx context.Context, tenant string, numbers ...string) error {
	op := "remove DND numbers of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	if len(numbers) == 0 {
		return nil
	}
	if err := s.c.SRem(ctx, s.dndKey(tenant), members(numbers)...).Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return nil
}

// IsDND asks about every number at once: one SMISMEMBER (Redis 6.2+).
func (s *Store) IsDND(ctx context.Context, tenant string, numbers ...string) ([]bool, error) {
	op := "check DND numbers of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	if len(numbers) == 0 {
		return []bool{}, nil
	}
	got, err := s.c.SMIsMember(ctx, s.dndKey(tenant), members(numbers)...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	if len(got) != len(numbers) {
		return nil, fmt.Errorf("redis store: %s: %d answers for %d numbers", op, len(got), len(numbers))
	}
	return got, nil
}

// ListDND reads the tenant's DND set (one SMEMBERS), sorted.
func (s *Store) ListDND(ctx context.Context, tenant string) ([]string, error) {
	op := "list DND numbers of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	got, err := s.c.SMembers(ctx, s.dndKey(tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	slices.Sort(got)
	return got, nil
}
