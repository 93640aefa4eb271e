package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/storetest"
	"github.com/switchboard/switchboard/test/redistest"
)

// newTestStore returns a store on url with a key prefix of the test's own,
// and deletes the test's keys afterwards so a shared server stays clean.
func newTestStore(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	opts.Prefix = redistest.Prefix(t)
	s, err := New(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := s.c.Scan(ctx, 0, opts.Prefix+":*", 500).Iterator()
		for iter.Next(ctx) {
			s.c.Del(ctx, iter.Val())
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.Run(t, func(t *testing.T) engine.Store { return newTestStore(t, url, Options{}) })
}

func call(id string) *engine.Call {
	return &engine.Call{ID: id, Tenant: "t1", Node: "n1", State: engine.StateDialingFrom, CreatedAt: time.Now().UTC()}
}

// TestKeyLayout pins the documented key layout, which operators read with
// redis-cli and which a rolling upgrade must keep.
func TestKeyLayout(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx, r, p := t.Context(), s.c, s.opts.Prefix
	c := call("c1")
	if err := s.CreateCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLeg(ctx, &engine.Leg{ID: "c1-7", CallID: "c1", Seq: 7}); err != nil {
		t.Fatal(err)
	}
	fields, err := r.HKeys(ctx, p+":{c:c1}").Result()
	slices.Sort(fields)
	if err != nil || len(fields) != 2 || fields[0] != "call" || fields[1] != "leg:000007" {
		t.Fatalf("hash fields %v, %v; want [call leg:000007]", fields, err)
	}
	if sc, err := r.ZScore(ctx, p+":{t:t1}:calls", "c1").Result(); err != nil || int64(sc) != c.CreatedAt.UnixMilli() {
		t.Fatalf("tenant index score %v, %v; want %d", sc, err, c.CreatedAt.UnixMilli())
	}
	if ok, _ := r.SIsMember(ctx, p+":live:{n:n1}", "c1").Result(); !ok {
		t.Fatal("c1 not in its node's live set")
	}
	if ok, _ := r.SIsMember(ctx, p+":live:nodes", "n1").Result(); !ok {
		t.Fatal("n1 not in the node set")
	}
	c.State = engine.StateEnded
	if err := s.EndCall(ctx, c, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := r.PTTL(ctx, p+":{c:c1}").Result(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL after EndCall %v, want (0, 1h]", ttl)
	}
	if ok, _ := r.SIsMember(ctx, p+":live:{n:n1}", "c1").Result(); ok {
		t.Fatal("c1 still in its node's live set after EndCall")
	}
	// A leg written after the end keeps the retention.
	if err := s.SaveLeg(ctx, &engine.Leg{ID: "c1-8", CallID: "c1", Seq: 8}); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := r.PTTL(ctx, p+":{c:c1}").Result(); ttl <= 0 {
		t.Fatalf("TTL after a late SaveLeg %v, want it kept", ttl)
	}
}

// TestMalformedRecords checks that a record Redis holds but that does not
// decode is an error for every reader, never a panic or a silent skip.
func TestMalformedRecords(t *testing.T) {
	url := redistest.URL(t)
	for _, tc := range []struct {
		name   string
		fields []any
	}{
		{"bad call JSON", []any{"call", "{not json"}},
		{"call of another id", []any{"call", `{"callid":"other","user_id":"t1","node":"n1"}`}},
		{"call is null", []any{"call", "null"}},
		{"bad leg JSON", []any{"call", `{"callid":"c1","user_id":"t1","node":"n1"}`, "leg:000001", "[1,"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, url, Options{})
			ctx := t.Context()
			if err := s.CreateCall(ctx, call("c1")); err != nil {
				t.Fatal(err)
			}
			if err := s.c.HSet(ctx, s.callKey("c1"), tc.fields...).Err(); err != nil {
				t.Fatal(err)
			}
			_, err := s.GetCall(ctx, "c1")
			if err == nil || errors.Is(err, engine.ErrNotFound) {
				t.Fatalf("GetCall: got %v, want a decode error", err)
			}
			if _, err := s.ListCalls(ctx, engine.CallQuery{Tenant: "t1"}); err == nil {
				t.Fatal("ListCalls: no error")
			}
		})
	}
	t.Run("live index", func(t *testing.T) {
		s := newTestStore(t, url, Options{})
		ctx := t.Context()
		if err := s.CreateCall(ctx, call("c1")); err != nil {
			t.Fatal(err)
		}
		s.c.HSet(ctx, s.callKey("c1"), "call", "{")
		if _, err := s.LiveCalls(ctx, ""); err == nil {
			t.Fatal("LiveCalls: no error")
		}
	})
}

// TestStaleIndexEntries checks that index entries without a record behind
// them are hidden at once and removed by the readers once they are older
// than the grace: by score in a tenant index, and for a live set when two
// LiveCalls found them so at least the grace apart.
func TestStaleIndexEntries(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{}) // grace: a minute
	ctx, r := t.Context(), s.c
	if err := s.CreateCall(ctx, call("real")); err != nil {
		t.Fatal(err)
	}
	r.ZAdd(ctx, s.tenantKey("t1"), goredis.Z{Score: 1, Member: "ghost"},
		goredis.Z{Score: float64(time.Now().UnixMilli()), Member: "young"})
	r.SAdd(ctx, s.liveKey("n1"), "ghost")
	list := func(wantEntries int64) {
		t.Helper()
		page, err := s.ListCalls(ctx, engine.CallQuery{Tenant: "t1"})
		if err != nil || len(page.Calls) != 1 || page.Calls[0].ID != "real" {
			t.Fatalf("ListCalls: %v, %v; want only real", page.Calls, err)
		}
		if n, _ := r.ZCard(ctx, s.tenantKey("t1")).Result(); n != wantEntries {
			t.Fatalf("tenant index holds %d entries, want %d", n, wantEntries)
		}
	}
	live := func(wantGhost bool) {
		t.Helper()
		ids, err := s.LiveCalls(ctx, "n1")
		if err != nil || len(ids) != 1 || ids[0] != "real" {
			t.Fatalf("LiveCalls: %v, %v; want [real]", ids, err)
		}
		if ok, _ := r.SIsMember(ctx, s.liveKey("n1"), "ghost").Result(); ok != wantGhost {
			t.Fatalf("ghost in the live set: %v, want %v", ok, wantGhost)
		}
	}
	list(2) // the old ghost goes at once, the young one stays
	live(true)
	if ok, _ := r.HExists(ctx, prefixed(s, "live:{n:n1}:gone"), "ghost").Result(); !ok {
		t.Fatal("no sighting of the ghost recorded")
	}
	live(true) // found again, but within the grace
	// With a grace of 100 ms, both are past it.
	s.grace = 100 * time.Millisecond
	time.Sleep(s.grace + 50*time.Millisecond)
	list(1)
	live(false)
	if n, _ := r.Exists(ctx, prefixed(s, "live:{n:n1}:gone")).Result(); n != 0 {
		t.Fatal("sightings kept after the ghost was removed")
	}
	// A sighting of an id whose record came is forgotten.
	r.SAdd(ctx, s.liveKey("n1"), "late")
	if _, err := s.LiveCalls(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	late := call("late")
	if err := s.CreateCall(ctx, late); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.LiveCalls(ctx, ""); err != nil || !slices.Equal(ids, []string{"late", "real"}) {
		t.Fatalf("LiveCalls: %v, %v; want [late real]", ids, err)
	}
	if n, _ := r.Exists(ctx, prefixed(s, "live:{n:n1}:gone")).Result(); n != 0 {
		t.Fatal("sighting of a call whose record came kept")
	}
}

// loadScripts loads every script of the package into the server, as the
// first use of each would.
func loadScripts(t *testing.T, s *Store) {
	t.Helper()
	for _, sc := range scripts {
		if err := sc.Load(t.Context(), s.c).Err(); err != nil {
			t.Fatalf("load script: %v", err)
		}
	}
}

// prefixed returns the key named rest under the store's prefix.
func prefixed(s *Store, rest string) string { return s.opts.Prefix + ":" + rest }

func TestIndexRetention(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{IndexRetention: time.Hour})
	ctx := t.Context()
	old, recent := call("old"), call("recent")
	old.CreatedAt = time.Now().Add(-2 * time.Hour)
	for _, c := range []*engine.Call{old, recent} {
		if err := s.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	recent.State = engine.StateEnded
	if err := s.EndCall(ctx, recent, 0); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListCalls(ctx, engine.CallQuery{Tenant: "t1"})
	if err != nil || len(page.Calls) != 1 || page.Calls[0].ID != "recent" {
		t.Fatalf("ListCalls: %v, %v; want only recent", page.Calls, err)
	}
	if _, err := s.GetCall(ctx, "old"); err != nil {
		t.Fatalf("GetCall of a call past the index retention: %v", err)
	}
}

// counter counts what go-redis sends: one per command outside a pipeline,
// one per pipeline. Each is one network round trip. The handshake go-redis
// runs on each new connection (HELLO, CLIENT SETINFO, ...) passes through
// the hooks too; it is not the store's doing and is not counted.
type counter struct{ n atomic.Int64 }

func handshake(cmds ...goredis.Cmder) bool {
	for _, c := range cmds {
		switch c.Name() {
		case "hello", "auth", "select", "client", "readonly":
		default:
			return false
		}
	}
	return true
}

func (c *counter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *counter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !handshake(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if !handshake(cmds...) {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// TestRoundTrips counts the round trips of each operation on a server
// that holds the scripts already (the first use of a script on a server
// that lacks it costs more: see TestScriptCacheFlushed).
func TestRoundTrips(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	loadScripts(t, s)
	h := &counter{}
	s.c.AddHook(h)
	c := call("rt")
	l := &engine.Leg{ID: "rt-1", CallID: "rt", Seq: 1}
	taken := c.Clone()
	taken.Reason = "another record"
	for _, tc := range []struct {
		name string
		want int64
		fn   func() error
	}{
		{"Ping", 1, func() error { return s.Ping(ctx) }},
		{"CreateCall", 1, func() error { return s.CreateCall(ctx, c) }},
		{"CreateCall taken", 1, func() error {
			if err := s.CreateCall(ctx, taken); !errors.Is(err, engine.ErrExists) {
				return fmt.Errorf("got %v, want ErrExists", err)
			}
			return nil
		}},
		{"CreateCall in two steps (cluster)", 2, func() error {
			s.createInTwoSteps = true
			defer func() { s.createInTwoSteps = false }()
			return s.CreateCall(ctx, call("rt-cluster"))
		}},
		{"SaveLeg", 1, func() error { return s.SaveLeg(ctx, l) }},
		{"SaveCall", 1, func() error { return s.SaveCall(ctx, c, nil) }},
		{"SaveCall with legs", 1, func() error {
			l2 := &engine.Leg{ID: "rt-2", CallID: "rt", Seq: 2}
			l3 := &engine.Leg{ID: "rt-3", CallID: "rt", Seq: 3}
			return s.SaveCall(ctx, c, []*engine.Leg{l, l2, l3})
		}},
		{"SaveCall with a leg of another call", 0, func() error {
			if err := s.SaveCall(ctx, c, []*engine.Leg{&engine.Leg{ID: "x-1", CallID: "x", Seq: 1}}); err == nil {
				return errors.New("no error")
			}
			return nil
		}},
		{"SaveCall with legs and events", 1, func() error {
			l2 := &engine.Leg{ID: "rt-2", CallID: "rt", Seq: 2}
			evs := []engine.Event{{ID: "rt-e1", Seq: 1, Type: engine.EventLegAnswered, CallID: "rt", Leg: l2}, {ID: "rt-e2", Seq: 2, Type: engine.EventBridged, CallID: "rt"}}
			return s.SaveCall(ctx, c, []*engine.Leg{l, l2}, evs...)
		}},
		{"CreateCall with an event", 1, func() error {
			cc := call("rt-ev")
			return s.CreateCall(ctx, cc, engine.Event{ID: "rt-ev-e1", Seq: 1, Type: engine.EventCallCreated, CallID: cc.ID, Call: cc})
		}},
		{"GetCall", 1, func() error { _, err := s.GetCall(ctx, "rt"); return err }},
		{"LiveCalls node", 2, func() error { _, err := s.LiveCalls(ctx, "n1"); return err }},
		{"LiveCalls all", 3, func() error { _, err := s.LiveCalls(ctx, ""); return err }},
		{"ListCalls", 2, func() error { _, err := s.ListCalls(ctx, engine.CallQuery{Tenant: "t1"}); return err }},
		{"EndCall", 1, func() error {
			end := c.Clone()
			end.State, end.Legs = engine.StateEnded, []*engine.Leg{l}
			return s.EndCall(ctx, end, time.Hour)
		}},
	} {
		h.n.Store(0)
		if err := tc.fn(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := h.n.Load(); n != tc.want {
			t.Errorf("%s took %d round trips, want %d", tc.name, n, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	ctx := t.Context()
	for _, url := range []string{"http://localhost", "redis://localhost/notadb", "redis://localhost?bogus=1"} {
		if _, err := New(ctx, url, Options{}); err == nil {
			t.Errorf("New(%q): no error", url)
		}
	}
	if _, err := New(ctx, "redis://localhost", Options{Cluster: true, MasterName: "m"}); err == nil {
		t.Error("New with both Cluster and MasterName: no error")
	}
	// Port 1 on loopback refuses at once: New must fail its PING.
	if _, err := New(ctx, "redis://127.0.0.1:1?max_retries=-1", Options{}); err == nil {
		t.Error("New with nothing listening: no error")
	}
}

// replayHook sends every command that writes the hash of call id twice,
// as go-redis does when the first reply is lost on the way back (a
// connection reset after the server ran it): the caller sees only the
// answer to the second.
type replayHook struct {
	key     string
	replays atomic.Int64
}

func (h *replayHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *replayHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if slices.Contains(cmd.Args(), any(h.key)) {
			if err := next(ctx, cmd); err != nil {
				return err
			}
			h.replays.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook sends a pipeline with such a command twice, whole,
// as go-redis does when the connection fails before the replies are in.
func (h *replayHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			if slices.Contains(cmd.Args(), any(h.key)) {
				if err := next(ctx, cmds); err != nil {
					return err
				}
				h.replays.Add(1)
				break
			}
		}
		return next(ctx, cmds)
	}
}

// TestCreateCallRetried checks that a CreateCall whose reply was lost and
// that go-redis sent again succeeds: the record there is its own. (It
// used to answer ErrExists, failing an origination whose record was
// stored and live.) Both ways of CreateCall: one pipeline, and the two
// steps of a cluster.
func TestCreateCallRetried(t *testing.T) {
	url := redistest.URL(t)
	for _, twoSteps := range []bool{false, true} {
		t.Run(fmt.Sprintf("two steps %v", twoSteps), func(t *testing.T) {
			s := newTestStore(t, url, Options{})
			s.createInTwoSteps = twoSteps
			loadScripts(t, s)
			ctx := t.Context()
			c := call("retried")
			h := &replayHook{key: s.callKey(c.ID)}
			s.c.AddHook(h)
			if err := s.CreateCall(ctx, c); err != nil {
				t.Fatalf("CreateCall sent twice: %v", err)
			}
			if h.replays.Load() != 1 {
				t.Fatalf("the hash write was replayed %d times, want 1", h.replays.Load())
			}
			got, err := s.GetCall(ctx, c.ID)
			if err != nil || got.Node != c.Node || !got.CreatedAt.Equal(c.CreatedAt) {
				t.Fatalf("GetCall: %+v, %v", got, err)
			}
			if ids, err := s.LiveCalls(ctx, "n1"); err != nil || !slices.Equal(ids, []string{c.ID}) {
				t.Fatalf("LiveCalls: %v, %v; want [%s]", ids, err, c.ID)
			}
			// Another record under the id is still refused, replayed or not.
			other := c.Clone()
			other.Node = "n2"
			if err := s.CreateCall(ctx, other); !errors.Is(err, engine.ErrExists) {
				t.Fatalf("CreateCall of another record: got %v, want ErrExists", err)
			}
		})
	}
}

// TestCreateInTwoStepsOnCluster checks that a cluster client, which runs
// the parts of a pipeline on different nodes concurrently, gets the
// two-step CreateCall, and other clients the one pipeline.
func TestCreateInTwoStepsOnCluster(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    goredis.UniversalClient
		want bool
	}{
		{"single", goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}), false},
		{"sentinel", goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}), false},
		{"cluster", goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), true},
	} {
		if got := NewFromClient(tc.c, Options{}).createInTwoSteps; got != tc.want {
			t.Errorf("%s: createInTwoSteps %v, want %v", tc.name, got, tc.want)
		}
		_ = tc.c.Close()
	}
}

// TestScriptCacheFlushed flushes the server's script cache (SCRIPT FLUSH,
// as after a restart or a failover to a replica that never ran the
// scripts) before every write: each still succeeds, loading or sending
// its script again, and the record holds every write.
func TestScriptCacheFlushed(t *testing.T) {
	url := redistest.URL(t)
	s := newTestStore(t, url, Options{})
	ctx := t.Context()
	h := &counter{}
	s.c.AddHook(h)
	flush := func() {
		t.Helper()
		if err := s.c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		h.n.Store(0)
	}
	// A private server sees no other client load the scripts between the
	// flush and the write, so the round trips are known: a pipeline goes
	// once, gets NOSCRIPT, loads the script and goes again; a lone script
	// goes as EVALSHA, then as EVAL.
	private := os.Getenv(redistest.EnvURL) == ""
	c := call("flushed")
	l1 := &engine.Leg{ID: "flushed-1", CallID: c.ID, Seq: 1, State: engine.LegAnswered}
	l2 := &engine.Leg{ID: "flushed-2", CallID: c.ID, Seq: 2, State: engine.LegDialing}
	l3 := &engine.Leg{ID: "flushed-3", CallID: c.ID, Seq: 3, State: engine.LegRinging}
	end := c.Clone()
	end.State = engine.StateEnded
	end.Legs = []*engine.Leg{l1, l2}
	for _, step := range []struct {
		name   string
		trips  int64
		write  func() error
		cached *goredis.Script // loaded again after the write
	}{
		{"CreateCall", 3, func() error { return s.CreateCall(ctx, c) }, createScript},
		{"SaveCall with legs", 3, func() error {
			c.State = engine.StateDialingTo
			return s.SaveCall(ctx, c, []*engine.Leg{l1, l2})
		}, putScript},
		{"SaveLeg", 2, func() error { return s.SaveLeg(ctx, l3) }, putScript},
		{"CreateCall in two steps", 3, func() error {
			s.createInTwoSteps = true
			defer func() { s.createInTwoSteps = false }()
			return s.CreateCall(ctx, call("flushed-cluster"))
		}, createScript},
		{"EndCall", 3, func() error { return s.EndCall(ctx, end, time.Hour) }, putScript},
		{"Reserve", 2, func() error {
			if err := s.PutAgent(ctx, &engine.Agent{Tenant: "t1", ID: "a1", MaxCalls: 1}); err != nil {
				return err
			}
			h.n.Store(0)
			return s.Reserve(ctx, "t1", "a1", c.ID, time.Unix(1800000000, 0), time.Minute)
		}, reserveScript},
	} {
		flush()
		if err := step.write(); err != nil {
			t.Fatalf("%s after SCRIPT FLUSH: %v", step.name, err)
		}
		if n := h.n.Load(); private && n != step.trips {
			t.Errorf("%s after SCRIPT FLUSH took %d round trips, want %d", step.name, n, step.trips)
		}
		if ok, err := s.c.ScriptExists(ctx, step.cached.Hash()).Result(); err != nil || !ok[0] {
			t.Errorf("%s: script not cached again: %v, %v", step.name, ok, err)
		}
	}
	got, err := s.GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != engine.StateEnded || len(got.Legs) != 3 || got.Legs[0].State != engine.LegAnswered ||
		got.Legs[1].State != engine.LegDialing || got.Legs[2].State != engine.LegRinging {
		t.Fatalf("GetCall after the writes: %+v", got)
	}
	if ttl, _ := s.c.PTTL(ctx, s.callKey(c.ID)).Result(); ttl <= 0 {
		t.Fatalf("TTL after EndCall %v, want it set", ttl)
	}
	// The housekeeping script of LiveCalls: it notes a sighting of an id
	// in the live set without its record.
	s.c.SAdd(ctx, s.liveKey("n1"), "ghost")
	flush()
	if _, err := s.LiveCalls(ctx, "n1"); err != nil {
		t.Fatalf("LiveCalls after SCRIPT FLUSH: %v", err)
	}
	if ok, _ := s.c.HExists(ctx, s.goneKey("n1"), "ghost").Result(); !ok {
		t.Fatal("LiveCalls after SCRIPT FLUSH: no sighting of the ghost recorded")
	}
}

// BenchmarkPerCall is the store's cost of one call against a real
// redis-server on loopback (round trips dominate).
func BenchmarkPerCall(b *testing.B) {
	url := redistest.URL(b)
	s, err := New(context.Background(), url, Options{Prefix: redistest.Prefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchPerCall(b, s)
}

func TestEventLogConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunEventLog(t, func(t *testing.T) storetest.EventStore { return newTestStore(t, url, Options{}) })
}

func TestNodeLeasesConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunNodeLeases(t, func(t *testing.T) storetest.NodeStore { return newTestStore(t, url, Options{}) })
}
