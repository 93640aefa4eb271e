package redis

import (
	"errors"
	"fmt"
	"testing"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/storetest"
	"github.com/switchboard/switchboard/ivr"
	"github.com/switchboard/switchboard/test/redistest"
)

func TestAppConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunApps(t, func(t *testing.T) engine.AppStore { return newTestStore(t, url, Options{}) })
}

// TestTwoNodesRaceForANumber races two stores, each with its own client
// and connection pool, for free numbers: exactly one app gets each, and
// both nodes then find it by the number.
func TestTwoNodesRaceForANumber(t *testing.T) {
	url := redistest.URL(t)
	a := newTestStore(t, url, Options{})
	b := secondNode(t, url, a)
	for round := range 50 {
		winners := storetest.RaceApps(t, []engine.AppStore{a, b}, fmt.Sprintf("+4420%07d", round), 10)
		if len(winners) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, winners)
		}
	}
}

func routeApp(tenant, id, number string) *engine.App {
	return &engine.App{Tenant: tenant, ID: id, Number: number, Route: &ivr.Action{Type: ivr.RouteGroup, Target: "sales"}}
}

// TestAppKeyLayout pins the documented layout of the apps: one hash per
// tenant and the number index, all under the one hash tag {apps}.
func TestAppKeyLayout(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx, r, p := t.Context(), s.c, s.opts.Prefix
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutApp(ctx, routeApp("t1", "app1", "15550001")))
	must(s.PutApp(ctx, routeApp("t2", "app1", "15550002")))
	keys, err := r.Keys(ctx, p+":*").Result()
	must(err)
	want := map[string]bool{p + ":{apps}:t:t1": true, p + ":{apps}:t:t2": true, p + ":{apps}:numbers": true}
	if len(keys) != len(want) {
		t.Fatalf("keys %v, want %d", keys, len(want))
	}
	for _, k := range keys {
		if typ, _ := r.Type(ctx, k).Result(); !want[k] || typ != "hash" {
			t.Errorf("key %s of type %s is not in the layout", k, typ)
		}
		if hashTag(k) != "apps" {
			t.Errorf("key %s is tagged %q, want apps", k, hashTag(k))
		}
	}
	rec, _ := r.HGet(ctx, p+":{apps}:t:t1", "app1").Result()
	idx, _ := r.HGet(ctx, p+":{apps}:numbers", "15550001").Result()
	if rec == "" || rec != idx {
		t.Fatalf("record %q and index entry %q differ", rec, idx)
	}
	must(s.DeleteApp(ctx, "t1", "app1"))
	must(s.DeleteApp(ctx, "t2", "app1"))
	if n, _ := r.Exists(ctx, p+":{apps}:t:t1", p+":{apps}:t:t2", p+":{apps}:numbers").Result(); n != 0 {
		t.Errorf("%d app keys left behind", n)
	}
}

// TestAppMalformedRecords checks that records that do not decode are
// errors for their readers, never a panic or a silent skip, and that an
// app whose record does not decode can still be replaced and deleted.
func TestAppMalformedRecords(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx, r := t.Context(), s.c
	if err := r.HSet(ctx, s.appsKey("t1"), "bad", "{").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.HSet(ctx, s.appNumbersKey(), "15550009", "[").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.HSet(ctx, s.appNumbersKey(), "15550008", `{"user_id":"t1","app_id":"x","number":"15550007"}`).Err(); err != nil {
		t.Fatal(err)
	}
	_, e1 := s.GetApp(ctx, "t1", "bad")
	_, e2 := s.ListApps(ctx, "t1")
	_, e3 := s.AppByNumber(ctx, "15550009")
	_, e4 := s.AppByNumber(ctx, "15550008")
	for i, err := range []error{e1, e2, e3, e4} {
		if err == nil || errors.Is(err, engine.ErrNotFound) {
			t.Errorf("read %d: got %v, want a decode error", i, err)
		}
	}
	if err := s.PutApp(ctx, routeApp("t1", "bad", "15550001")); err != nil {
		t.Fatalf("PutApp over a malformed record: %v", err)
	}
	if _, err := s.AppByNumber(ctx, "15550001"); err != nil {
		t.Fatalf("AppByNumber after the repair: %v", err)
	}
	if err := r.HSet(ctx, s.appsKey("t1"), "bad", "{").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, "t1", "bad"); err != nil {
		t.Fatalf("DeleteApp of a malformed record: %v", err)
	}
}

// TestAppBadTenant checks that a tenant with a brace is refused.
func TestAppBadTenant(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	_, e1 := s.GetApp(ctx, "a}b", "x")
	_, e2 := s.ListApps(ctx, "{a")
	for i, err := range []error{s.PutApp(ctx, routeApp("a}b", "x", "15550001")), e1, e2, s.DeleteApp(ctx, "{a", "x")} {
		if err == nil {
			t.Errorf("call %d: no error", i)
		}
	}
}

// TestAppRoundTrips pins one round trip per method once the scripts are
// loaded, and that they run again after the server lost them.
func TestAppRoundTrips(t *testing.T) {
	s := newTestStore(t, redistest.URL(t), Options{})
	ctx := t.Context()
	h := &counter{}
	s.c.AddHook(h)
	a := routeApp("t1", "app1", "15550001")
	if err := s.c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	h.n.Store(0)
	if err := s.PutApp(ctx, a); err != nil {
		t.Fatalf("PutApp after SCRIPT FLUSH: %v", err)
	}
	if n := h.n.Load(); n != 2 {
		t.Errorf("cold PutApp took %d round trips, want 2", n)
	}
	if err := s.DeleteApp(ctx, "t1", "none"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("DeleteApp of no app: %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		name string
		fn   func() error
	}{
		{"PutApp", func() error { return s.PutApp(ctx, a) }},
		{"GetApp", func() error { _, err := s.GetApp(ctx, "t1", "app1"); return err }},
		{"ListApps", func() error { _, err := s.ListApps(ctx, "t1"); return err }},
		{"AppByNumber", func() error { _, err := s.AppByNumber(ctx, "15550001"); return err }},
		{"DeleteApp", func() error { return s.DeleteApp(ctx, "t1", "app1") }},
	} {
		h.n.Store(0)
		if err := tc.fn(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := h.n.Load(); n != 1 {
			t.Errorf("%s took %d round trips, want 1", tc.name, n)
		}
	}
	if err := s.c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, "t1", "app1"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("DeleteApp after SCRIPT FLUSH: %v, want ErrNotFound", err)
	}
}
