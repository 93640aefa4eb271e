package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/internal/listing"
)

// maxWindow bounds how many candidates one window reads when a filter
// rejects many of them.
const maxWindow = 1000

// ListCalls walks the tenant index newest first in windows of candidates,
// reads each window's hashes in one pipeline and keeps the calls that pass
// the filters, until it has one call more than the page needs (which tells
// whether there is a next page) or the index runs out.
func (s *Store) ListCalls(ctx context.Context, q engine.CallQuery) (engine.CallPage, error) {
	limit := listing.PageSize(q)
	var cur *listing.Position
	if q.Cursor != "" {
		p, err := listing.ParseCursor(q.Cursor)
		if err != nil {
			return engine.CallPage{}, fmt.Errorf("redis store: list calls: %w", err)
		}
		cur = &p
	}
	// Scores are whole milliseconds; the exact Since/Until test is made on
	// each record, so the score range only has to contain the answer.
	lo, hi := listing.MSRange(q)

	key := s.tenantKey(q.Tenant)
	var (
		calls  []*engine.Call
		places []listing.Position
		stale  []any
		window = limit + 1
	)
walk:
	for {
		cands, more, err := s.window(ctx, key, cur, lo, hi, window)
		if err != nil {
			return engine.CallPage{}, fmt.Errorf("redis store: list calls of %s: %w", q.Tenant, err)
		}
		if len(cands) == 0 {
			break
		}
		recs, err := s.fetch(ctx, cands)
		if err != nil {
			return engine.CallPage{}, fmt.Errorf("redis store: list calls of %s: %w", q.Tenant, err)
		}
		for i, c := range recs {
			if c == nil || c.Tenant != q.Tenant {
				stale = append(stale, cands[i].ID)
				continue
			}
			if !listing.Matches(c, q) {
				continue
			}
			calls, places = append(calls, c), append(places, cands[i])
			if len(calls) > limit {
				break walk
			}
		}
		if !more {
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
	var page engine.CallPage
	if len(calls) > limit {
		calls, page.NextCursor = calls[:limit], places[limit-1].Cursor()
	}
	page.Calls = calls
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
// empty) and keeps the ids whose record is there, live and on that node;
// the others are stale index entries, which it removes.
func (s *Store) LiveCalls(ctx context.Context, node string) ([]string, error) {
	nodes := []string{node}
	if node == "" {
		var err error
		if nodes, err = s.c.SMembers(ctx, s.nodesKey()).Result(); err != nil {
			return nil, fmt.Errorf("redis store: live calls: nodes: %w", err)
		}
	}
	sets := make([]*goredis.StringSliceCmd, len(nodes))
	if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, n := range nodes {
			sets[i] = p.SMembers(ctx, s.liveKey(n))
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
	if len(members) == 0 {
		return nil, nil
	}
	recs := make([]*goredis.StringCmd, len(members))
	if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, m := range members {
			recs[i] = p.HGet(ctx, s.callKey(m.id), callField)
		}
		return nil
	}); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: live calls of %q: %w", node, err)
	}

	var ids []string
	var stale []member
	for i, m := range members {
		js, err := recs[i].Result()
		if errors.Is(err, goredis.Nil) {
			stale = append(stale, m)
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
	if len(stale) > 0 {
		// Housekeeping only, as in ListCalls.
		_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, m := range stale {
				p.SRem(ctx, s.liveKey(m.node), m.id)
			}
			return nil
		})
	}
	slices.Sort(ids)
	return ids, nil
}
