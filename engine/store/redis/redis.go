package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.Store = (*Store)(nil)

// Options configures a Store. The zero value suits a single Redis.
type Options struct {
	// Prefix starts every key; empty means "sb". Give each deployment
	// (and each test) sharing one Redis its own.
	Prefix string
	// MasterName, when set, makes New treat the URL's host as a Redis
	// Sentinel and connect to the master it names (failover).
	MasterName string
	// Cluster makes New treat the URL's host as a seed node of a Redis
	// Cluster.
	Cluster bool
	// IndexRetention, when positive, makes every EndCall trim the call's
	// tenant index of calls created longer ago than this, so that the
	// index stays bounded even when old calls are never listed. Calls
	// past it are no longer listed but remain readable with GetCall until
	// their own retention ends. Set it above the longest retention given
	// to EndCall plus the longest call, or leave it 0 to rely on ListCalls
	// dropping expired calls as it meets them.
	IndexRetention time.Duration
}

// Store is the Redis engine.Store. It is safe for concurrent use.
type Store struct {
	c     goredis.UniversalClient
	owned bool
	opts  Options
	grace time.Duration // before an index entry without its record is removed
	// createInTwoSteps makes CreateCall write the indexes and the record
	// in two round trips, in that order: on a cluster client, where one
	// pipeline would not keep the order (see CreateCall).
	createInTwoSteps bool
	// cluster: keys of different hash tags cannot share a script, so a
	// write's events are appended beside it, not within it (events.go).
	cluster bool
	// groups holds the keys of the event streams whose consumer group
	// this store has made or found (events.go).
	groups sync.Map
}

// staleGrace is how long an index entry without its record is kept (and
// hidden) before the readers remove it: longer than any CreateCall takes
// between indexing a call and writing its record, and than the clocks of
// the nodes differ.
const staleGrace = time.Minute

// New connects to the Redis at url (redis://, rediss:// or unix://, in
// the form goredis.ParseURL accepts) and checks it with PING.
func New(ctx context.Context, url string, opts Options) (*Store, error) {
	po, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	uo, err := universal(po, opts)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	s := NewFromClient(goredis.NewUniversalClient(uo), opts)
	s.owned = true
	if err := s.Ping(ctx); err != nil {
		_ = s.c.Close()
		return nil, err
	}
	return s, nil
}

// universal carries everything ParseURL can set into UniversalOptions, so
// that the same URL can name a single server, a Sentinel or a cluster
// seed, as opts says.
func universal(o *goredis.Options, opts Options) (*goredis.UniversalOptions, error) {
	uo := &goredis.UniversalOptions{
		Addrs:      []string{o.Addr},
		ClientName: o.ClientName,
		DB:         o.DB,
		Protocol:   o.Protocol,
		Username:   o.Username,
		Password:   o.Password,

		MaxRetries:      o.MaxRetries,
		MinRetryBackoff: o.MinRetryBackoff,
		MaxRetryBackoff: o.MaxRetryBackoff,
		DialTimeout:     o.DialTimeout,
		ReadTimeout:     o.ReadTimeout,
		WriteTimeout:    o.WriteTimeout,

		PipelinePoolSize:        o.PipelinePoolSize,
		PipelineReadBufferSize:  o.PipelineReadBufferSize,
		PipelineWriteBufferSize: o.PipelineWriteBufferSize,

		PoolFIFO:              o.PoolFIFO,
		PoolSize:              o.PoolSize,
		MaxConcurrentDials:    o.MaxConcurrentDials,
		PoolTimeout:           o.PoolTimeout,
		MinIdleConns:          o.MinIdleConns,
		MaxIdleConns:          o.MaxIdleConns,
		MaxActiveConns:        o.MaxActiveConns,
		ConnMaxIdleTime:       o.ConnMaxIdleTime,
		ConnMaxLifetime:       o.ConnMaxLifetime,
		ConnMaxLifetimeJitter: o.ConnMaxLifetimeJitter,

		TLSConfig:     o.TLSConfig,
		MasterName:    opts.MasterName,
		IsClusterMode: opts.Cluster,
	}
	if opts.MasterName != "" && opts.Cluster {
		return nil, errors.New("options MasterName and Cluster exclude each other")
	}
	if o.Network == "unix" {
		if opts.MasterName != "" || opts.Cluster {
			return nil, errors.New("a unix socket URL names a single server, not a Sentinel or a cluster")
		}
		// UniversalOptions has no Network: dial the socket ourselves.
		uo.Dialer = func(ctx context.Context, _, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}
	}
	return uo, nil
}

// NewFromClient returns a Store on an existing client. The caller keeps
// the client: Close does not close it.
func NewFromClient(c goredis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "sb"
	}
	_, cluster := c.(*goredis.ClusterClient)
	return &Store{c: c, opts: opts, grace: staleGrace, createInTwoSteps: cluster, cluster: cluster}
}

func (s *Store) callKey(id string) string { return s.opts.Prefix + ":{c:" + id + "}" }
func (s *Store) tenantKey(tenant string) string {
	return s.opts.Prefix + ":{t:" + tenant + "}:calls"
}
func (s *Store) liveKey(node string) string { return s.opts.Prefix + ":live:{n:" + node + "}" }
func (s *Store) nodesKey() string           { return s.opts.Prefix + ":live:nodes" }
func (s *Store) goneKey(node string) string {
	return s.opts.Prefix + ":live:{n:" + node + "}:gone"
}

// callField holds the call's own fields; legField one leg's. Zero-padding
// makes the field names sort in Seq order wherever they are sorted as text
// (tools, dumps); hash fields have no order, so GetCall sorts by the Seq
// inside each record.
const callField = "call"

func legField(seq int) string { return fmt.Sprintf("leg:%06d", seq) }

// putScript writes whole fields of an existing call's hash. KEYS[1] is the
// hash; ARGV[1] is the TTL in ms (>0 sets it, 0 clears it, -1 keeps it);
// the rest are field, value pairs. It returns 0, writing nothing, when the
// call is not there (never created, or expired).
var putScript = newScript(`
if redis.call('HEXISTS', KEYS[1], 'call') == 0 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) elseif ttl == 0 then redis.call('PERSIST', KEYS[1]) end
return 1`)

const keepTTL = -1

// callJSON encodes the call's own fields; legs have fields of their own.
func callJSON(c *engine.Call) (string, error) {
	own := *c
	own.Legs = nil
	b, err := json.Marshal(&own)
	return string(b), err
}

// appendLegs appends the field, value pairs of legs to putScript's args.
func appendLegs(args []any, legs []*engine.Leg) ([]any, error) {
	for _, l := range legs {
		b, err := json.Marshal(l)
		if err != nil {
			return nil, fmt.Errorf("leg %d: %w", l.Seq, err)
		}
		args = append(args, legField(l.Seq), string(b))
	}
	return args, nil
}

// createScript stores a new call. KEYS[1] is the hash, ARGV[1] the call's
// JSON. It returns 1 when it stored the record, and also when the hash
// already holds this very JSON: that is our own write, repeated by a
// go-redis retry after its reply was lost (or by a caller retrying after
// an error), and must not turn into ErrExists for a record that is there.
// It returns 0, writing nothing, when the id holds another record.
var createScript = newScript(`
if redis.call('HSETNX', KEYS[1], 'call', ARGV[1]) == 1 then return 1 end
if redis.call('HGET', KEYS[1], 'call') == ARGV[1] then return 1 end
return 0`)

// CreateCall indexes the call, then stores it if its id is free or
// already holds the identical record. The indexes are in other slots than
// the hash and only createScript, on the hash alone, decides whether the
// id was free, so the two are separate commands, indexes first. Indexing
// first means a failure in between leaves only index hints without a
// record, which readers drop, never a record that no index leads to
// (Recover could not end it). ZADD NX keeps a rejected duplicate from
// moving the existing call in its tenant's listing; its other hints fail
// the readers' checks (tenant, node) and are dropped.
//
// On a single server or a Sentinel's master this is one round trip: one
// pipeline, the index writes and then the script, which the server runs
// in the order sent. A cluster client splits a pipeline by node and sends
// the parts concurrently, so the script could run before the index writes
// on their nodes; there it takes two round trips, the index pipeline and
// then the script (with the XADDs of the events beside it, see
// queueClusterEvents).
func (s *Store) CreateCall(ctx context.Context, c *engine.Call, events ...engine.Event) error {
	js, err := callJSON(c)
	if err != nil {
		return fmt.Errorf("redis store: create call %s: %w", c.ID, err)
	}
	evArgs, err := eventArgs(events)
	if err != nil {
		return fmt.Errorf("redis store: create call %s: %w", c.ID, err)
	}
	index := func(p goredis.Pipeliner) {
		p.ZAddNX(ctx, s.tenantKey(c.Tenant), goredis.Z{Score: float64(c.CreatedAt.UnixMilli()), Member: c.ID})
		s.queueLive(ctx, p, c)
	}
	keys := []string{s.callKey(c.ID)}
	script, args := createScript, []any{js}
	if len(events) > 0 && !s.cluster {
		keys = s.eventKeys(c)
		script, args = createEventsScript, append([]any{js, c.Node, streamMaxLen}, evArgs...)
	}
	var create *goredis.Cmd
	if s.createInTwoSteps {
		if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error { index(p); return nil }); err != nil {
			return fmt.Errorf("redis store: create call %s: index: %w", c.ID, err)
		}
		if !s.cluster || len(events) == 0 {
			create = script.Run(ctx, s.c, keys, args...)
		} else {
			// The events go beside the record, in its pipeline (see
			// queueClusterEvents): still two round trips in all.
			err = s.pipeline(ctx, func(p goredis.Pipeliner) {
				create = script.EvalSha(ctx, p, keys, args...)
				s.queueClusterEvents(ctx, p, c, evArgs)
			})
			if err != nil && create.Err() == nil {
				return fmt.Errorf("redis store: create call %s: events: %w", c.ID, err)
			}
		}
	} else {
		err = s.pipeline(ctx, func(p goredis.Pipeliner) {
			index(p)
			create = script.EvalSha(ctx, p, keys, args...)
		})
		if err != nil {
			if create.Err() == nil {
				// An index write failed after all, though the record
				// went in: report it, so that the caller retries the
				// whole (which finds its own record) or fails the call.
				return fmt.Errorf("redis store: create call %s: index: %w", c.ID, err)
			}
			return fmt.Errorf("redis store: create call %s: %w", c.ID, err)
		}
	}
	n, err := create.Int()
	if err != nil {
		return fmt.Errorf("redis store: create call %s: %w", c.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: create call %s: %w", c.ID, engine.ErrExists)
	}
	return nil
}

// queueLive puts the call in its node's live set while it is live and
// takes it out once it has ended.
func (s *Store) queueLive(ctx context.Context, p goredis.Pipeliner, c *engine.Call) {
	if c.Live() {
		p.SAdd(ctx, s.liveKey(c.Node), c.ID)
		p.SAdd(ctx, s.nodesKey(), c.Node)
	} else {
		p.SRem(ctx, s.liveKey(c.Node), c.ID)
	}
}

// SaveCall replaces the call's own fields and the given legs' fields in
// one run of putScript, so atomically, and keeps its live index in step
// with its state: one pipeline, one round trip, however many legs.
func (s *Store) SaveCall(ctx context.Context, c *engine.Call, legs []*engine.Leg, events ...engine.Event) error {
	if err := engine.CheckLegs(c, legs); err != nil {
		return fmt.Errorf("redis store: save call %s: %w", c.ID, err)
	}
	js, err := callJSON(c)
	if err != nil {
		return fmt.Errorf("redis store: save call %s: %w", c.ID, err)
	}
	fields, err := appendLegs([]any{callField, js}, legs)
	if err != nil {
		return fmt.Errorf("redis store: save call %s: %w", c.ID, err)
	}
	var put *goredis.Cmd
	var qerr error
	err = s.pipeline(ctx, func(p goredis.Pipeliner) {
		put, qerr = s.queuePut(ctx, p, c, keepTTL, fields, events)
		s.queueLive(ctx, p, c)
	})
	if qerr != nil {
		return fmt.Errorf("redis store: save call %s: %w", c.ID, qerr)
	}
	return s.written("save call", c.ID, put, err)
}

// SaveLeg replaces one leg's field in its call's hash: one script, one
// round trip.
func (s *Store) SaveLeg(ctx context.Context, l *engine.Leg) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("redis store: save leg %s: %w", l.ID, err)
	}
	put := putScript.Run(ctx, s.c, []string{s.callKey(l.CallID)}, keepTTL, legField(l.Seq), string(b))
	return s.written("save leg", l.ID, put, put.Err())
}

// EndCall writes the final record and its TTL atomically, takes the call
// off the live index and refreshes (and optionally trims) the tenant
// index, in one round trip.
func (s *Store) EndCall(ctx context.Context, c *engine.Call, retention time.Duration, events ...engine.Event) error {
	js, err := callJSON(c)
	if err != nil {
		return fmt.Errorf("redis store: end call %s: %w", c.ID, err)
	}
	ttl := int64(0)
	if retention > 0 {
		ttl = max(retention.Milliseconds(), 1)
	}
	fields, err := appendLegs([]any{callField, js}, c.Legs)
	if err != nil {
		return fmt.Errorf("redis store: end call %s: %w", c.ID, err)
	}
	var put *goredis.Cmd
	var qerr error
	err = s.pipeline(ctx, func(p goredis.Pipeliner) {
		put, qerr = s.queuePut(ctx, p, c, ttl, fields, events)
		tk := s.tenantKey(c.Tenant)
		p.ZAdd(ctx, tk, goredis.Z{Score: float64(c.CreatedAt.UnixMilli()), Member: c.ID})
		p.SRem(ctx, s.liveKey(c.Node), c.ID)
		if s.opts.IndexRetention > 0 {
			oldest := time.Now().Add(-s.opts.IndexRetention).UnixMilli()
			p.ZRemRangeByScore(ctx, tk, "-inf", "("+strconv.FormatInt(oldest, 10))
		}
	})
	if qerr != nil {
		return fmt.Errorf("redis store: end call %s: %w", c.ID, qerr)
	}
	return s.written("end call", c.ID, put, err)
}

// queuePut queues the write of a call's fields (field, value pairs) with
// the TTL rule of putScript, and its events: in the same script on a
// single server or Sentinel, beside it on a cluster.
func (s *Store) queuePut(ctx context.Context, p goredis.Pipeliner, c *engine.Call, ttl int64, fields []any, events []engine.Event) (*goredis.Cmd, error) {
	if len(events) == 0 {
		return putScript.EvalSha(ctx, p, []string{s.callKey(c.ID)}, append([]any{ttl}, fields...)...), nil
	}
	evArgs, err := eventArgs(events)
	if err != nil {
		return nil, err
	}
	if s.cluster {
		put := putScript.EvalSha(ctx, p, []string{s.callKey(c.ID)}, append([]any{ttl}, fields...)...)
		s.queueClusterEvents(ctx, p, c, evArgs)
		return put, nil
	}
	args := append([]any{ttl, c.Node, streamMaxLen, len(fields)}, fields...)
	return putEventsScript.EvalSha(ctx, p, s.eventKeys(c), append(args, evArgs...)...), nil
}

// written turns a putScript result into the method's error.
func (s *Store) written(op, id string, put *goredis.Cmd, err error) error {
	if err != nil {
		return fmt.Errorf("redis store: %s %s: %w", op, id, err)
	}
	n, err := put.Int()
	if err != nil {
		return fmt.Errorf("redis store: %s %s: %w", op, id, err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: %s %s: %w", op, id, engine.ErrNotFound)
	}
	return nil
}

// GetCall reads the call's hash in one HGETALL.
func (s *Store) GetCall(ctx context.Context, id string) (*engine.Call, error) {
	m, err := s.c.HGetAll(ctx, s.callKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: get call %s: %w", id, err)
	}
	c, err := decodeCall(id, m)
	if err != nil {
		return nil, fmt.Errorf("redis store: get call %s: %w", id, err)
	}
	return c, nil
}

// decodeCall rebuilds a call from its hash. A hash without the call field
// is no call (ErrNotFound); a field that does not decode is an error.
func decodeCall(id string, m map[string]string) (*engine.Call, error) {
	js, ok := m[callField]
	if !ok {
		return nil, engine.ErrNotFound
	}
	var c engine.Call
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		return nil, fmt.Errorf("decode call: %w", err)
	}
	if c.ID != id {
		return nil, fmt.Errorf("decode call: record holds id %q", c.ID)
	}
	c.Legs = nil
	for f, v := range m {
		if !strings.HasPrefix(f, "leg:") {
			continue
		}
		l := new(engine.Leg)
		if err := json.Unmarshal([]byte(v), l); err != nil {
			return nil, fmt.Errorf("decode %s: %w", f, err)
		}
		c.Legs = append(c.Legs, l)
	}
	slices.SortFunc(c.Legs, func(a, b *engine.Leg) int { return cmp.Compare(a.Seq, b.Seq) })
	return &c, nil
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis store: ping: %w", err)
	}
	return nil
}

// Close closes the client if New made it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("redis store: close: %w", err)
	}
	return nil
}
