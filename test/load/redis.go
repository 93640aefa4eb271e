package main

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisProbe reads the counters of the Redis server the engine uses.
type redisProbe struct {
	c *redis.Client
}

func newRedisProbe(url string) (*redisProbe, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.PoolSize = 1
	return &redisProbe{c: redis.NewClient(opt)}, nil
}

func (r *redisProbe) close() {
	if r != nil {
		r.c.Close()
	}
}

// redisSnapshot is one reading of INFO commandstats and INFO cpu.
type redisSnapshot struct {
	calls map[string]int64 // by command
	cpu   time.Duration    // used_cpu_user + used_cpu_sys of the server
}

func (r *redisProbe) snapshot(ctx context.Context) redisSnapshot {
	if r == nil {
		return redisSnapshot{}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := r.c.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return redisSnapshot{}
	}
	return parseRedisInfo(s)
}

// parseRedisInfo reads "cmdstat_<name>:calls=N,…" and the used_cpu_*
// lines of an INFO answer. The harness's own INFO calls are left out.
func parseRedisInfo(s string) redisSnapshot {
	snap := redisSnapshot{calls: map[string]int64{}}
	var cpu float64
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, fields, ok := strings.Cut(rest, ":")
			if !ok || name == "info" {
				continue
			}
			for _, f := range strings.Split(fields, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					snap.calls[name] = n
				}
			}
			continue
		}
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				cpu += f
			}
		}
	}
	snap.cpu = time.Duration(cpu * float64(time.Second))
	return snap
}

// commandDelta is the commands run between two snapshots, in total and by
// command, busiest first.
func commandDelta(before, after redisSnapshot) (int64, []cmdCount) {
	var total int64
	var by []cmdCount
	for name, n := range after.calls {
		d := n - before.calls[name]
		if d > 0 {
			total += d
			by = append(by, cmdCount{name, d})
		}
	}
	sort.Slice(by, func(i, j int) bool {
		if by[i].n != by[j].n {
			return by[i].n > by[j].n
		}
		return by[i].name < by[j].name
	})
	return total, by
}

// redisPrefix starts every key of the engine's Redis store (its default;
// the engine's configuration does not change it).
const redisPrefix = "sb"

// liveState counts the members of the Redis store's keys of live state
// (see liveKeys) for the node and the tenant of the run.
func (r *redisProbe) liveState(ctx context.Context, node, tenant string) liveKeys {
	var k liveKeys
	if r == nil {
		return k
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	live := redisPrefix + ":live:{n:" + node + "}"
	gone := live + ":gone"
	nodes := redisPrefix + ":live:nodes"
	count := func(key string) (int64, error) {
		typ, err := r.c.Type(ctx, key).Result()
		if err != nil {
			return 0, err
		}
		switch typ {
		case "set":
			return r.c.SCard(ctx, key).Result()
		case "hash":
			return r.c.HLen(ctx, key).Result()
		case "zset":
			return r.c.ZCard(ctx, key).Result()
		case "none":
			return 0, nil
		}
		return 1, nil
	}
	err := r.scan(ctx, redisPrefix+":live:*", func(key string) error {
		n, err := count(key)
		switch key {
		case live:
			k.Live = n
		case gone:
			k.Gone = n
		case nodes:
			k.Nodes = n
		default:
			k.OtherNodes += n
		}
		return err
	})
	if err == nil {
		tag := redisPrefix + ":{t:" + tenant + "}"
		err = r.scan(ctx, tag+":state:*", func(key string) error {
			fields, err := r.c.HKeys(ctx, key).Result()
			for _, f := range fields {
				if strings.HasPrefix(f, "call:") {
					k.Reservations++
				}
			}
			return err
		})
		if err == nil {
			err = r.scan(ctx, tag+":queue:*", func(key string) error {
				n, err := count(key)
				k.Queued += n
				return err
			})
		}
	}
	k.OK = err == nil
	return k
}

// scan calls fn for every key matching pattern.
func (r *redisProbe) scan(ctx context.Context, pattern string, fn func(string) error) error {
	var cursor uint64
	for {
		keys, next, err := r.c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return err
		}
		for _, key := range keys {
			if err := fn(key); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

type cmdCount struct {
	name string
	n    int64
}
