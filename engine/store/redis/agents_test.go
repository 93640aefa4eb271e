package redis

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/storetest"
	"github.com/switchboard/switchboard/test/redistest"
)

func TestAgentConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunAgents(t, func(t *testing.T) engine.AgentStore { return newTestStore(t, url, Options{}) })
}

// secondNode returns another Store, with a client of its own, on the same
// server and prefix as s: another engine node.
func secondNode(t *testing.T, url string, s *Store) *Store {
	t.Helper()
	o := s.opts
	n, err := New(t.Context(), url, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// TestTwoNodesNeverDoubleBook races two stores, each with its own client
// and connection pool, for one agent over many rounds: in each round
// exactly one call wins, whichever node it runs on, and the next round
// starts once the winner released the agent.
func TestTwoNodesNeverDoubleBook(t *testing.T) {
	url := redistest.URL(t)
	a := newTestStore(t, url, Options{})
	b := secondNode(t, url, a)
	nodes := []engine.AgentStore{a, b}
	ctx := t.Context()
	for _, capacity := range []int{1, 2} {
		id := fmt.Sprintf("ag-%d", capacity)
		if err := a.PutAgent(ctx, &engine.Agent{Tenant: "t1", ID: id, MaxCalls: capacity}); err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1800000000, 0)
		wins := map[string]int{}
		for round := range 150 {
			now = now.Add(time.Second)
			winners := storetest.RaceReserve(t, nodes, "t1", id, 12, now)
			if len(winners) != capacity {
				t.Fatalf("capacity %d, round %d: winners %v", capacity, round, winners)
			}
			for _, w := range winners {
				wins[w]++
				// Release from the other node than the one that reserved.
				if err := nodes[(round+1)%2].Release(ctx, "t1", id, w, now, round%2 == 0); err != nil {
					t.Fatal(err)
				}
			}
			if t.Failed() {
				return
			}
		}
		st, err := b.AgentStates(ctx, "t1", []string{id})
		if err != nil || len(st[0].Calls) != 0 {
			t.Fatalf("capacity %d: state after the rounds %+v, %v", capacity, st, err)
		}
		if len(wins) < 2 {
			t.Logf("capacity %d: only %v ever won", capacity, wins)
		}
	}
}

// hashTag returns the part of a key Redis Cluster hashes.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// TestAgentKeyLayout pins the documented layout of the agent side.
func TestAgentKeyLayout(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx, r, p := t.Context(), s.c, s.opts.Prefix
	now := time.UnixMilli(1800000000123)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutAgent(ctx, &engine.Agent{Tenant: "t1", ID: "ag1", WrapUpSeconds: 5}))
	must(s.PutGroup(ctx, &engine.Group{Tenant: "t1", ID: "g1"}))
	must(s.Reserve(ctx, "t1", "ag1", "c1", now, time.Minute))
	must(s.Reserve(ctx, "t1", "ag1", "c1", now, time.Minute))
	must(s.SetRoundRobinLast(ctx, "t1", "g1", "ag1"))
	must(s.SetSticky(ctx, "t1", "+15550001", "ag1", time.Hour))
	must(s.SetSticky(ctx, "t1", "+15550002", "ag1", time.Hour))
	must(s.SetSticky(ctx, "t1", "+15550002", "ag1", 0))
	_, err := s.JoinQueue(ctx, "t1", "g1", "c2", now, time.Minute, 0)
	must(err)
	must(s.AddDND(ctx, "t1", "+15550003"))

	want := map[string]string{
		p + ":{t:t1}:agents":           "hash",
		p + ":{t:t1}:groups":           "hash",
		p + ":{t:t1}:state:ag1":        "hash",
		p + ":{t:t1}:rr:g1":            "string",
		p + ":{t:t1}:sticky:+15550001": "string",
		p + ":{t:t1}:sticky:+15550002": "string",
		p + ":{t:t1}:queue:joined:g1":  "zset",
		p + ":{t:t1}:queue:lease:g1":   "zset",
		p + ":{t:t1}:dnd":              "set",
	}
	keys, err := r.Keys(ctx, p+":*").Result()
	must(err)
	if len(keys) != len(want) {
		t.Fatalf("keys %v, want %d", keys, len(want))
	}
	for _, k := range keys {
		typ, _ := r.Type(ctx, k).Result()
		if want[k] != typ {
			t.Errorf("key %s of type %s, want %q", k, typ, want[k])
		}
		if hashTag(k) != "t:t1" {
			t.Errorf("key %s is tagged %q, want the tenant's tag", k, hashTag(k))
		}
	}
	if f, _ := r.HGetAll(ctx, p+":{t:t1}:state:ag1").Result(); len(f) != 1 || f["call:c1"] != "1800000060123" {
		t.Fatalf("state hash %v, want one lease call:c1 until now+1m in unix ms", f)
	}
	must(s.Release(ctx, "t1", "ag1", "c1", now, true))
	if f, _ := r.HGetAll(ctx, p+":{t:t1}:state:ag1").Result(); len(f) != 3 || f["last_end"] != "1800000000123" ||
		f["wrap_until"] != "1800000005123" || f["taken"] != "1" {
		t.Fatalf("state hash after release %v", f)
	}
	if ttl, _ := r.PTTL(ctx, p+":{t:t1}:sticky:+15550001").Result(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("sticky TTL %v, want (0, 1h]", ttl)
	}
	if ttl, _ := r.PTTL(ctx, p+":{t:t1}:sticky:+15550002").Result(); ttl != -1 {
		t.Fatalf("sticky TTL after a permanent rebind %v, want none", ttl)
	}
	if sc, _ := r.ZScore(ctx, p+":{t:t1}:queue:joined:g1", "c2").Result(); int64(sc) != now.UnixMilli() {
		t.Fatalf("first-join score %v", sc)
	}
	if sc, _ := r.ZScore(ctx, p+":{t:t1}:queue:lease:g1", "c2").Result(); int64(sc) != now.Add(time.Minute).UnixMilli() {
		t.Fatalf("lease score %v", sc)
	}
	// Empty structures leave no keys behind.
	must(s.LeaveQueue(ctx, "t1", "g1", "c2"))
	must(s.DeleteAgent(ctx, "t1", "ag1"))
	must(s.DeleteGroup(ctx, "t1", "g1"))
	for _, k := range []string{"state:ag1", "queue:joined:g1", "queue:lease:g1", "rr:g1", "agents", "groups"} {
		if n, _ := r.Exists(ctx, p+":{t:t1}:"+k).Result(); n != 0 {
			t.Errorf("key %s left behind", k)
		}
	}
}

// TestAgentMalformedRecords checks that data that does not decode is an
// error for every reader, never a panic, a refusal or a silent skip, and
// that a script refusing it writes nothing.
func TestAgentMalformedRecords(t *testing.T) {
	url := redistest.URL(t)
	now := time.UnixMilli(1800000000000)
	for _, tc := range []struct {
		name, key string
		fields    []any
		check     func(s *Store) []error
	}{
		{"agent JSON", "agents", []any{"ag1", "{"}, func(s *Store) []error {
			_, e1 := s.GetAgent(t.Context(), "t1", "ag1")
			_, e2 := s.ListAgents(t.Context(), "t1")
			return []error{e1, e2, s.Reserve(t.Context(), "t1", "ag1", "c9", now, time.Minute)}
		}},
		{"agent null", "agents", []any{"ag1", "null"}, func(s *Store) []error {
			_, e1 := s.GetAgent(t.Context(), "t1", "ag1")
			return []error{e1, s.Reserve(t.Context(), "t1", "ag1", "c9", now, time.Minute)}
		}},
		{"agent of another id", "agents", []any{"ag1", `{"user_id":"t1","id":"ag2"}`}, func(s *Store) []error {
			_, e1 := s.GetAgent(t.Context(), "t1", "ag1")
			_, e2 := s.ListAgents(t.Context(), "t1")
			return []error{e1, e2}
		}},
		{"group JSON", "groups", []any{"g1", "[1"}, func(s *Store) []error {
			_, e1 := s.GetGroup(t.Context(), "t1", "g1")
			_, e2 := s.ListGroups(t.Context(), "t1")
			return []error{e1, e2}
		}},
		{"lease", "state:ag1", []any{"call:old", "1", "call:bad", "soon"}, func(s *Store) []error {
			_, e1 := s.AgentStates(t.Context(), "t1", []string{"ag1"})
			return []error{e1, s.Reserve(t.Context(), "t1", "ag1", "c9", now, time.Minute),
				s.Release(t.Context(), "t1", "ag1", "c9", now, true)}
		}},
		{"wrap_until", "state:ag1", []any{"call:old", "1", "wrap_until", "later"}, func(s *Store) []error {
			_, e1 := s.AgentStates(t.Context(), "t1", []string{"ag1"})
			return []error{e1, s.Reserve(t.Context(), "t1", "ag1", "c9", now, time.Minute)}
		}},
		{"taken", "state:ag1", []any{"taken", "many"}, func(s *Store) []error {
			_, e1 := s.AgentStates(t.Context(), "t1", []string{"ag1"})
			return []error{e1}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, url, Options{})
			if err := s.PutAgent(t.Context(), &engine.Agent{Tenant: "t1", ID: "ag1"}); err != nil {
				t.Fatal(err)
			}
			key := s.tkey("t1", tc.key)
			if err := s.c.HSet(t.Context(), key, tc.fields...).Err(); err != nil {
				t.Fatal(err)
			}
			for i, err := range tc.check(s) {
				if err == nil || errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrAgentNotFound) || errors.Is(err, engine.ErrAgentBusy) {
					t.Errorf("check %d: got %v, want a decode error", i, err)
				}
			}
			if tc.key == "state:ag1" {
				if old, _ := s.c.HExists(t.Context(), key, "call:old").Result(); !old && tc.fields[0] == "call:old" {
					t.Error("a refusing script cleaned an expired lease")
				}
			}
		})
	}

	t.Run("wrong type", func(t *testing.T) {
		s := newTestStore(t, url, Options{})
		ctx := t.Context()
		for _, k := range []string{"rr:g1", "sticky:+1", "queue:joined:g1", "dnd"} {
			s.c.HSet(ctx, s.tkey("t1", k), "x", "y")
		}
		if _, err := s.RoundRobinLast(ctx, "t1", "g1"); err == nil {
			t.Error("RoundRobinLast: no error")
		}
		if _, err := s.Sticky(ctx, "t1", "+1"); err == nil {
			t.Error("Sticky: no error")
		}
		if _, err := s.JoinQueue(ctx, "t1", "g1", "c1", time.Now(), time.Minute, 0); err == nil {
			t.Error("JoinQueue: no error")
		}
		if _, err := s.IsDND(ctx, "t1", "+1"); err == nil {
			t.Error("IsDND: no error")
		}
	})
}

// TestAgentBadTenant checks that a tenant that would break the hash tag
// is refused by every method.
func TestAgentBadTenant(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	now := time.Now()
	for _, tenant := range []string{"a}b", "{a"} {
		_, e1 := s.GetAgent(ctx, tenant, "x")
		_, e2 := s.ListGroups(ctx, tenant)
		_, e3 := s.AgentStates(ctx, tenant, []string{"x"})
		_, e4 := s.JoinQueue(ctx, tenant, "g", "c", now, time.Minute, 0)
		_, e5 := s.Sticky(ctx, tenant, "+1")
		for i, err := range []error{
			s.PutAgent(ctx, &engine.Agent{Tenant: tenant, ID: "x"}), e1, e2, e3, e4, e5,
			s.Reserve(ctx, tenant, "x", "c", now, time.Minute), s.Release(ctx, tenant, "x", "c", now, true),
			s.SetSticky(ctx, tenant, "+1", "x", 0), s.AddDND(ctx, tenant, "+1"),
		} {
			if err == nil || !strings.Contains(err.Error(), "brace") {
				t.Errorf("tenant %q, call %d: got %v", tenant, i, err)
			}
		}
	}
}

// TestScriptsReload checks that the scripts run again after the server
// lost them (restart, failover, SCRIPT FLUSH): EVALSHA falls back to EVAL.
func TestScriptsReload(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	now := time.Now()
	if err := s.PutAgent(ctx, &engine.Agent{Tenant: "t1", ID: "ag1"}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		call := fmt.Sprintf("c%d", i)
		if err := s.Reserve(ctx, "t1", "ag1", call, now, time.Minute); err != nil {
			t.Fatalf("Reserve after SCRIPT FLUSH: %v", err)
		}
		if err := s.c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, "t1", "ag1", call, now, false); err != nil {
			t.Fatalf("Release after SCRIPT FLUSH: %v", err)
		}
		if err := s.c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.JoinQueue(ctx, "t1", "g1", call, now, time.Minute, 0); err != nil {
			t.Fatalf("JoinQueue after SCRIPT FLUSH: %v", err)
		}
	}
}

// TestAgentRoundTrips pins the round trips of every AgentStore method, as
// the package comment states them, once the scripts are loaded.
func TestAgentRoundTrips(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	now := time.Now()
	h := &counter{}
	s.c.AddHook(h)
	ag := &engine.Agent{Tenant: "t1", ID: "ag1", MaxCalls: 2, WrapUpSeconds: 1}
	g := &engine.Group{Tenant: "t1", ID: "g1"}

	// The first run of each script on a server without it is EVALSHA,
	// NOSCRIPT, then EVAL.
	if err := s.PutAgent(ctx, ag); err != nil {
		t.Fatal(err)
	}
	h.n.Store(0)
	if err := s.Reserve(ctx, "t1", "ag1", "cold", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := h.n.Load(); n != 2 {
		t.Errorf("cold Reserve took %d round trips, want 2", n)
	}
	if err := s.Release(ctx, "t1", "ag1", "cold", now, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinQueue(ctx, "t1", "g1", "cold", now, time.Minute, 0); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		want int64
		fn   func() error
	}{
		{"PutAgent", 1, func() error { return s.PutAgent(ctx, ag) }},
		{"GetAgent", 1, func() error { _, err := s.GetAgent(ctx, "t1", "ag1"); return err }},
		{"GetAgents", 1, func() error { _, err := s.GetAgents(ctx, "t1", []string{"ag1", "nobody"}); return err }},
		{"ListAgents", 1, func() error { _, err := s.ListAgents(ctx, "t1"); return err }},
		{"PutGroup", 1, func() error { return s.PutGroup(ctx, g) }},
		{"GetGroup", 1, func() error { _, err := s.GetGroup(ctx, "t1", "g1"); return err }},
		{"ListGroups", 1, func() error { _, err := s.ListGroups(ctx, "t1"); return err }},
		{"Reserve", 1, func() error { return s.Reserve(ctx, "t1", "ag1", "c1", now, time.Minute) }},
		{"Reserve renewal", 1, func() error { return s.Reserve(ctx, "t1", "ag1", "c1", now, time.Minute) }},
		{"AgentStates", 1, func() error { _, err := s.AgentStates(ctx, "t1", []string{"ag1", "ag2", "ag3"}); return err }},
		{"AgentStates of none", 0, func() error { _, err := s.AgentStates(ctx, "t1", nil); return err }},
		{"Release", 1, func() error { return s.Release(ctx, "t1", "ag1", "c1", now, true) }},
		{"SetRoundRobinLast", 1, func() error { return s.SetRoundRobinLast(ctx, "t1", "g1", "ag1") }},
		{"RoundRobinLast", 1, func() error { _, err := s.RoundRobinLast(ctx, "t1", "g1"); return err }},
		{"SetSticky", 1, func() error { return s.SetSticky(ctx, "t1", "+1", "ag1", time.Hour) }},
		{"SetSticky permanent", 1, func() error { return s.SetSticky(ctx, "t1", "+1", "ag1", 0) }},
		{"Sticky", 1, func() error { _, err := s.Sticky(ctx, "t1", "+1"); return err }},
		{"JoinQueue", 1, func() error { _, err := s.JoinQueue(ctx, "t1", "g1", "c1", now, time.Minute, 5); return err }},
		{"LeaveQueue", 1, func() error { return s.LeaveQueue(ctx, "t1", "g1", "c1") }},
		{"AddDND", 1, func() error { return s.AddDND(ctx, "t1", "+1", "+2") }},
		{"IsDND", 1, func() error { _, err := s.IsDND(ctx, "t1", "+1", "+3"); return err }},
		{"ListDND", 1, func() error { _, err := s.ListDND(ctx, "t1"); return err }},
		{"RemoveDND", 1, func() error { return s.RemoveDND(ctx, "t1", "+1") }},
		{"DeleteGroup", 1, func() error { return s.DeleteGroup(ctx, "t1", "g1") }},
		{"DeleteAgent", 1, func() error { return s.DeleteAgent(ctx, "t1", "ag1") }},
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
