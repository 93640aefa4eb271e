package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.EventLog = (*Store)(nil)

// The event log: one stream per node, appended to by the writes of the
// calls the node runs (see the package doc, "Event log").

func (s *Store) streamKey(node string) string { return s.opts.Prefix + ":events:{n:" + node + "}" }
func (s *Store) streamLeaseKey(node string) string {
	return s.opts.Prefix + ":events:{n:" + node + "}:lease"
}
func (s *Store) streamsKey() string           { return s.opts.Prefix + ":events:nodes" }
func (s *Store) deadKey(tenant string) string { return s.opts.Prefix + ":{t:" + tenant + "}:dead" }

// streamMaxLen bounds each node's stream (approximately, as XADD MAXLEN ~
// trims): far more than a dispatcher that keeps up ever leaves, so in
// normal operation nothing unacknowledged is trimmed; a backlog beyond it
// (webhooks down for days at full load) loses its oldest entries rather
// than Redis's memory.
const streamMaxLen = 1_000_000

// readGroup and readConsumer: the stream is read through one consumer
// group and one consumer name, whoever holds the stream's lease, so a new
// holder finds the entries its predecessor read but did not acknowledge.
const (
	readGroup    = "webhooks"
	readConsumer = "lease-holder"
	entryField   = "e"
)

// appendLoop is the Lua that appends a write's events after the call's
// hash was written: ARGV from index start holds seq, entry pairs; an event
// whose seq is not above the hash's "eseq" field was appended before (a
// repeated write) and is skipped. KEYS[2] is the stream, KEYS[3] the set
// of nodes with streams; ARGV[2] is the node, ARGV[3] the stream's bound.
const appendLoop = `
local last = tonumber(redis.call('HGET', KEYS[1], 'eseq') or '0')
local n = 0
for i = start, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[i + 1])
    last = seq
    n = n + 1
  end
end
if n > 0 then
  redis.call('HSET', KEYS[1], 'eseq', last)
  redis.call('SADD', KEYS[3], ARGV[2])
end
return 1`

// putEventsScript is putScript and the append in one script: KEYS[1] the
// hash, ARGV[1] the TTL (as putScript), ARGV[4] how many field, value
// arguments follow from ARGV[5], then the events.
var putEventsScript = newScript(`
if redis.call('HEXISTS', KEYS[1], 'call') == 0 then return 0 end
local nf = tonumber(ARGV[4])
for i = 5, 4 + nf, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) elseif ttl == 0 then redis.call('PERSIST', KEYS[1]) end
local start = 5 + nf` + appendLoop)

// createEventsScript is createScript and the append in one script:
// ARGV[1] the call's JSON, then (from ARGV[4]) the events. A repeated
// create appends only what it did not append before.
var createEventsScript = newScript(`
if redis.call('HSETNX', KEYS[1], 'call', ARGV[1]) == 0 then
  if redis.call('HGET', KEYS[1], 'call') ~= ARGV[1] then return 0 end
end
local start = 4` + appendLoop)

// eventArgs returns the seq, entry pairs of a write's events.
func eventArgs(events []engine.Event) ([]any, error) {
	args := make([]any, 0, 2*len(events))
	for _, ev := range events {
		b, err := json.Marshal(engine.LoggedEvent{Event: ev})
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		args = append(args, ev.Seq, string(b))
	}
	return args, nil
}

// eventKeys are the keys of a write with events: the call's hash, its
// node's stream and the set of nodes with streams.
func (s *Store) eventKeys(c *engine.Call) []string {
	return []string{s.callKey(c.ID), s.streamKey(c.Node), s.streamsKey()}
}

// queueClusterEvents appends events with plain XADDs: on a cluster the
// stream is in another slot than the call's hash, so no script can do
// both. The append then goes with the write in its pipeline, so it costs
// no round trip, but it is not atomic with the write and not guarded by
// the hash's "eseq": a repeated write (a retry after a lost reply, the
// pipeline sent again after NOSCRIPT) appends again, and a write the
// script refuses (unknown call, id taken) has appended all the same.
// Delivery is at least once anyway: receivers de-duplicate by event id
// (webhook-id). Waiting for the script's reply to append only after a
// write that succeeded would cost a round trip and lose the events of a
// write whose node dies in between, which is worse than a duplicate.
func (s *Store) queueClusterEvents(ctx context.Context, p goredis.Pipeliner, c *engine.Call, evArgs []any) {
	for i := 0; i < len(evArgs); i += 2 {
		p.XAdd(ctx, &goredis.XAddArgs{Stream: s.streamKey(c.Node), MaxLen: streamMaxLen, Approx: true, Values: []any{entryField, evArgs[i+1]}})
	}
	if len(evArgs) > 0 {
		p.SAdd(ctx, s.streamsKey(), c.Node)
	}
}

// EventStreams lists the nodes whose calls have logged events.
func (s *Store) EventStreams(ctx context.Context) ([]string, error) {
	nodes, err := s.c.SMembers(ctx, s.streamsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: event streams: %w", err)
	}
	return nodes, nil
}

var leaseScript = newScript(`
local v = redis.call('GET', KEYS[1])
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`)

var unleaseScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// LeaseStream takes or renews reader's lease on node's stream.
func (s *Store) LeaseStream(ctx context.Context, node, reader string, ttl time.Duration) (bool, error) {
	n, err := leaseScript.Run(ctx, s.c, []string{s.streamLeaseKey(node)}, reader, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return false, fmt.Errorf("redis store: lease stream %s: %w", node, err)
	}
	return n == 1, nil
}

// ReleaseStream gives up reader's lease on node's stream.
func (s *Store) ReleaseStream(ctx context.Context, node, reader string) error {
	if err := unleaseScript.Run(ctx, s.c, []string{s.streamLeaseKey(node)}, reader).Err(); err != nil {
		return fmt.Errorf("redis store: release stream %s: %w", node, err)
	}
	return nil
}

// ensureGroup makes the stream's consumer group (and the stream) unless
// this store made or found it before. The group starts at "0", so a
// stream appended to before its first read is read from its first entry.
func (s *Store) ensureGroup(ctx context.Context, key string) error {
	if _, ok := s.groups.Load(key); ok {
		return nil
	}
	err := s.c.XGroupCreateMkStream(ctx, key, readGroup, "0").Err()
	if err != nil && !goredis.HasErrorPrefix(err, "BUSYGROUP") {
		return err
	}
	s.groups.Store(key, true)
	return nil
}

// ReadEvents returns entries not yet acknowledged after the entry after:
// first those read before and still pending (a restart, a takeover), then
// new ones, waiting up to block for them.
func (s *Store) ReadEvents(ctx context.Context, node, after string, n int, block time.Duration) ([]engine.LoggedEvent, error) {
	key := s.streamKey(node)
	if n <= 0 {
		n = 100
	}
	out, err := s.readEvents(ctx, key, after, n, block)
	if err != nil && goredis.HasErrorPrefix(err, "NOGROUP") {
		// The stream was deleted since this store made its group (by an
		// operator, a flush): make both again and read once more.
		s.groups.Delete(key)
		out, err = s.readEvents(ctx, key, after, n, block)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: read events %s: %w", node, err)
	}
	return out, nil
}

func (s *Store) readEvents(ctx context.Context, key, after string, n int, block time.Duration) ([]engine.LoggedEvent, error) {
	if err := s.ensureGroup(ctx, key); err != nil {
		return nil, err
	}
	read := func(id string, count int, block time.Duration) ([]goredis.XMessage, error) {
		res, err := s.c.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group: readGroup, Consumer: readConsumer, Streams: []string{key, id}, Count: int64(count), Block: block,
		}).Result()
		if errors.Is(err, goredis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var msgs []goredis.XMessage
		for _, st := range res {
			msgs = append(msgs, st.Messages...)
		}
		return msgs, nil
	}
	var out []engine.LoggedEvent
	// keep decodes msgs into out. A pending entry without fields was
	// trimmed from the stream (XADD MAXLEN, a backlog beyond the bound)
	// before it was acknowledged: there is nothing left to deliver, so it
	// is acknowledged and skipped rather than stalling the reader.
	keep := func(msgs []goredis.XMessage) error {
		var gone []string
		for _, m := range msgs {
			if m.Values == nil {
				gone = append(gone, m.ID)
				continue
			}
			le, err := decodeEntry(m)
			if err != nil {
				return err
			}
			out = append(out, le)
		}
		if len(gone) > 0 {
			return s.c.XAck(ctx, key, readGroup, gone...).Err()
		}
		return nil
	}
	// Pending entries first, without waiting: with an id, XREADGROUP
	// returns the consumer's own pending entries after it. A full batch
	// that lost some to trimming is followed by the next, so that what
	// comes back is always the oldest first.
	from := after
	if from == "" {
		from = "0"
	}
	for len(out) < n {
		want := n - len(out)
		msgs, err := read(from, want, -1)
		if err != nil {
			return nil, err
		}
		if err := keep(msgs); err != nil {
			return nil, err
		}
		if len(msgs) < want {
			break
		}
		from = msgs[len(msgs)-1].ID
	}
	if len(out) == n {
		return out, nil
	}
	// Then new entries, to fill the batch; the wait is only for a batch
	// that would be empty. No BLOCK argument at all when not waiting:
	// BLOCK 0 would wait for ever (and so would a block under 1 ms,
	// rounded down to 0).
	wait := time.Duration(-1)
	if len(out) == 0 && block > 0 {
		wait = max(block, time.Millisecond)
	}
	msgs, err := read(">", n-len(out), wait)
	if err != nil {
		return nil, err
	}
	if err := keep(msgs); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeEntry(m goredis.XMessage) (engine.LoggedEvent, error) {
	var le engine.LoggedEvent
	v, _ := m.Values[entryField].(string)
	if err := json.Unmarshal([]byte(v), &le); err != nil {
		return le, fmt.Errorf("decode event entry %s: %w", m.ID, err)
	}
	le.ID = m.ID
	return le, nil
}

// AckEvents acknowledges entries and deletes them from the stream.
func (s *Store) AckEvents(ctx context.Context, node string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	key := s.streamKey(node)
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAck(ctx, key, readGroup, ids...)
		p.XDel(ctx, key, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis store: ack events %s: %w", node, err)
	}
	return nil
}

// AppendEvents appends entries to node's stream.
func (s *Store) AppendEvents(ctx context.Context, node string, entries ...engine.LoggedEvent) error {
	if len(entries) == 0 {
		return nil
	}
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, le := range entries {
			le.ID = ""
			b, err := json.Marshal(le)
			if err != nil {
				return err
			}
			p.XAdd(ctx, &goredis.XAddArgs{Stream: s.streamKey(node), MaxLen: streamMaxLen, Approx: true, Values: []any{entryField, string(b)}})
		}
		p.SAdd(ctx, s.streamsKey(), node)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis store: append events %s: %w", node, err)
	}
	return nil
}

// PutDeadLetter keeps d in its tenant's dead letters and sets d.ID.
func (s *Store) PutDeadLetter(ctx context.Context, d *engine.DeadLetter) error {
	d.ID = ""
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("redis store: put dead letter: %w", err)
	}
	id, err := s.c.XAdd(ctx, &goredis.XAddArgs{Stream: s.deadKey(d.Tenant), Values: []any{entryField, string(b)}}).Result()
	if err != nil {
		return fmt.Errorf("redis store: put dead letter: %w", err)
	}
	d.ID = id
	return nil
}

// ListDeadLetters pages through a tenant's dead letters, oldest first.
func (s *Store) ListDeadLetters(ctx context.Context, tenant, cursor string, limit int) ([]*engine.DeadLetter, string, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	start := "-"
	if cursor != "" {
		if !validStreamID(cursor) {
			return nil, "", fmt.Errorf("redis store: list dead letters: %w", engine.ErrBadCursor)
		}
		start = "(" + cursor
	}
	msgs, err := s.c.XRangeN(ctx, s.deadKey(tenant), start, "+", int64(limit+1)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("redis store: list dead letters: %w", err)
	}
	next := ""
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	out := make([]*engine.DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		d, err := decodeDead(m)
		if err != nil {
			return nil, "", fmt.Errorf("redis store: list dead letters: %w", err)
		}
		out = append(out, d)
	}
	return out, next, nil
}

var takeScript = newScript(`
local r = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #r == 0 then return false end
redis.call('XDEL', KEYS[1], ARGV[1])
return r[1][2][2]`)

// TakeDeadLetter removes and returns one of a tenant's dead letters.
func (s *Store) TakeDeadLetter(ctx context.Context, tenant, id string) (*engine.DeadLetter, error) {
	if !validStreamID(id) {
		return nil, fmt.Errorf("redis store: take dead letter %s: %w", id, engine.ErrNotFound)
	}
	v, err := takeScript.Run(ctx, s.c, []string{s.deadKey(tenant)}, id).Text()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: take dead letter %s: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: take dead letter %s: %w", id, err)
	}
	return decodeDead(goredis.XMessage{ID: id, Values: map[string]any{entryField: v}})
}

func decodeDead(m goredis.XMessage) (*engine.DeadLetter, error) {
	v, _ := m.Values[entryField].(string)
	d := new(engine.DeadLetter)
	if err := json.Unmarshal([]byte(v), d); err != nil {
		return nil, fmt.Errorf("decode dead letter %s: %w", m.ID, err)
	}
	d.ID = m.ID
	return d, nil
}

// validStreamID accepts "<ms>-<seq>", the ids Redis gives stream entries.
func validStreamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}
