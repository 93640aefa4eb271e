package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/internal/listing"
)

// maxWindow bounds how many candidates one window reads when a filter
// rejects many of them.
const maxWindow = 1000

// ListCalls walks the tenant index newest first in windows of candidates,
// reads each window's hashes in one pipeline and hands the calls it finds
// to a listing.Walk (filters, skip to a numbered page, the page, the
// count) until the walk has what it needs or the index runs out. Windows
// start at the page's size plus one and double up to maxWindow.
func (s *Store) ListCalls(ctx context.Context, q engine.CallQuery) (engine.CallPage, error) {
	var after *engine.Call
	if q.After != "" {
		recs, err := s.fetch(ctx, []listing.Position{{ID: q.After}})
		if err != nil {
			return engine.CallPage{}, fmt.Errorf("redis store: list calls of %s: after: %w", q.Tenant, err)
		}
		after = recs[0]
	}
	w, err := listing.NewWalk(q, after)
	if err != nil {
		return engine.CallPage{}, fmt.Errorf("redis store: list calls: %w", err)
	}
	cur := w.Cursor()
	// Scores are whole milliseconds; the exact Since/Until/After test is
	// made on each record, so the score range only has to contain the
	// answer.
	lo, hi := w.Range()

	key := s.tenantKey(q.Tenant)
	// Entries without their record are stale, but one scored less than
	// the grace ago may belong to a CreateCall that has written its index
	// entries and not yet its record: such an entry is hidden, not
	// removed.
	settled := time.Now().Add(-s.grace).UnixMilli()
	var (
		stale  []any
		window = listing.PageSize(q) + 1
		more   bool // the index holds candidates after the last one handed to the walk
	)
walk:
	for {
		cands, winMore, err := s.window(ctx, key, cur, lo, hi, window)
		if err != nil {
			return engine.CallPage{}, fmt.Errorf("redis store: list calls of %s: %w", q.Tenant, err)
		}
		if len(cands) == 0 {
			more = false
			break
		}
		recs, err := s.fetch(ctx, cands)
		if err != nil {
			return engine.CallPage{}, fmt.Errorf("redis store: list calls of %s: %w", q.Tenant, err)
		}
		for i, c := range recs {
			if c == nil || c.Tenant != q.Tenant {
				if cands[i].MS < settled {
					stale = append(stale, cands[i].ID)
				}
				continue
			}
			if !w.Add(cands[i], c) {
				more = i < len(cands)-1
				if !more && winMore {
					// The window ended with the walk: look whether
					// anything follows.
					next, _, err := s.window(ctx, key, &cands[i], lo, hi, 1)
					if err != nil {
						return engine.CallPage{}, fmt.Errorf("redis store: list calls of %s: %w", q.Tenant, err)
					}
					more = len(next) > 0
				}
				break walk
			}
		}
		if !winMore {
			more = false
			break
		}
		cur = &cands[len(cands)-1]
		window = min(window*2, maxWindow)
	}
	if len(stale) > 0 {
		// Housekeeping only: the page is right without it, and a
		// failure here would show on the next command anyway.
		_ = s.c.ZRem(ctx, key, stale...).Err()
	}
	page, err := w.Page(more)
	if err != nil {
		return engine.CallPage{}, fmt.Errorf("redis store: list calls of %s: %w", q.Tenant, err)
	}
	return page, nil
}

// window returns, in listing order, up to n index entries after cur (from
// the newest when cur is nil) with scores in [lo, hi], and whether more
// may follow. Entries sharing cur's score come first, read whole and kept
// when their id sorts below cur's: an offset would go wrong when entries
// of that millisecond come or go between two pages.
func (s *Store) window(ctx context.Context, key string, cur *listing.Position, lo, hi int64, n int) ([]listing.Position, bool, error) {
	bound := func(v int64) string {
		switch v {
		case math.MinInt64:
			return "-inf"
		case math.MaxInt64:
			return "+inf"
		}
		return strconv.FormatInt(v, 10)
	}
	top := bound(hi)
	var same *goredis.StringSliceCmd
	var rest *goredis.ZSliceCmd
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if cur != nil && cur.MS <= hi {
			ms := strconv.FormatInt(cur.MS, 10)
			top = "(" + ms
			if cur.MS >= lo {
				same = p.ZRangeByScore(ctx, key, &goredis.ZRangeBy{Min: ms, Max: ms})
			}
		}
		rest = p.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Min: bound(lo), Max: top, Count: int64(n)})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	var out []listing.Position
	if same != nil {
		ids := same.Val() // ascending by id
		for i := len(ids) - 1; i >= 0; i-- {
			if ids[i] < cur.ID {
				out = append(out, listing.Position{MS: cur.MS, ID: ids[i]})
			}
		}
	}
	zs := rest.Val()
	for _, z := range zs {
		id, _ := z.Member.(string)
		out = append(out, listing.Position{MS: int64(z.Score), ID: id})
	}
	return out, len(zs) == n, nil
}

// fetch reads the hashes of the candidates in one pipeline. A nil call
// means the hash is gone (expired) and the index entry is stale.
func (s *Store) fetch(ctx context.Context, cands []listing.Position) ([]*engine.Call, error) {
	cmds := make([]*goredis.MapStringStringCmd, len(cands))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range cands {
			cmds[i] = p.HGetAll(ctx, s.callKey(c.ID))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*engine.Call, len(cands))
	for i, cmd := range cmds {
		c, err := decodeCall(cands[i].ID, cmd.Val())
		switch {
		case errors.Is(err, engine.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("call %s: %w", cands[i].ID, err)
		default:
			out[i] = c
		}
	}
	return out, nil
}

// LiveCalls reads the live set of node (of every known node when node is
// empty) and keeps the ids whose record is there, live and on that node.
// An id whose record is ended or on another node is a stale entry, which
// it removes. An id without a record may be a call whose CreateCall has
// indexed it and not yet written the record, so sweepScript removes it
// only when a LiveCalls found it so at least the grace earlier too.
func (s *Store) LiveCalls(ctx context.Context, node string) ([]string, error) {
	nodes := []string{node}
	if node == "" {
		var err error
		if nodes, err = s.c.SMembers(ctx, s.nodesKey()).Result(); err != nil {
			return nil, fmt.Errorf("redis store: live calls: nodes: %w", err)
		}
	}
	sets := make([]*goredis.StringSliceCmd, len(nodes))
	sighted := make([]*goredis.IntCmd, len(nodes))
	if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, n := range nodes {
			sets[i] = p.SMembers(ctx, s.liveKey(n))
			sighted[i] = p.HLen(ctx, s.goneKey(n))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("redis store: live calls of %q: %w", node, err)
	}
	type member struct{ node, id string }
	var members []member
	for i, cmd := range sets {
		for _, id := range cmd.Val() {
			members = append(members, member{nodes[i], id})
		}
	}
	recs := make([]*goredis.StringCmd, len(members))
	if len(members) > 0 {
		if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, m := range members {
				recs[i] = p.HGet(ctx, s.callKey(m.id), callField)
			}
			return nil
		}); err != nil && !errors.Is(err, goredis.Nil) {
			return nil, fmt.Errorf("redis store: live calls of %q: %w", node, err)
		}
	}

	var ids []string
	var stale []member
	missing := map[string][]any{} // node -> ids without a record
	for i, m := range members {
		js, err := recs[i].Result()
		if errors.Is(err, goredis.Nil) {
			missing[m.node] = append(missing[m.node], m.id)
			continue
		}
		var head struct {
			Node  string           `json:"node"`
			State engine.CallState `json:"state"`
		}
		if err == nil {
			err = json.Unmarshal([]byte(js), &head)
		}
		if err != nil {
			return nil, fmt.Errorf("redis store: live calls: call %s: %w", m.id, err)
		}
		if head.Node != m.node || head.State == engine.StateEnded {
			stale = append(stale, m)
			continue
		}
		ids = append(ids, m.id)
	}
	var sweep []string
	for i, n := range nodes {
		if len(missing[n]) > 0 || sighted[i].Val() > 0 {
			sweep = append(sweep, n)
		}
	}
	if len(stale) > 0 || len(sweep) > 0 {
		// Housekeeping only, as in ListCalls.
		_ = s.pipeline(ctx, func(p goredis.Pipeliner) {
			for _, m := range stale {
				p.SRem(ctx, s.liveKey(m.node), m.id)
			}
			for _, n := range sweep {
				args := append([]any{s.grace.Milliseconds()}, missing[n]...)
				sweepScript.EvalSha(ctx, p, []string{s.liveKey(n), s.goneKey(n)}, args...)
			}
		})
	}
	slices.Sort(ids)
	return ids, nil
}

// sweepScript removes from a live set the ids that two LiveCalls found
// without a record at least the grace apart. KEYS[1] is the live set,
// KEYS[2] its sightings hash (id: Redis time in ms when an id was first
// found without a record); ARGV[1] is the grace in ms and the rest are
// the ids of the set found without a record just now. A sighting of an id
// not among them is forgotten (its record came, or it left the set), so
// the hash holds no more than the set's records that are missing. The
// times come from the Redis clock (TIME; scripts replicate their effects
// since Redis 5), so the nodes' clocks do not matter. It returns how many
// ids it removed.
var sweepScript = newScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[1])
local missing = {}
for i = 2, #ARGV do missing[ARGV[i]] = true end
local seen = redis.call('HKEYS', KEYS[2])
for _, id in ipairs(seen) do
  if not missing[id] then redis.call('HDEL', KEYS[2], id) end
end
local removed = 0
for i = 2, #ARGV do
  local first = tonumber(redis.call('HGET', KEYS[2], ARGV[i]))
  if not first then
    redis.call('HSET', KEYS[2], ARGV[i], now)
  elseif now - first >= grace then
    redis.call('SREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    removed = removed + 1
  end
end
return removed`)
