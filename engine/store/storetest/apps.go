package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/ivr"
)

// RunApps runs the conformance suite for engine.AppStore against stores
// made by newStore, which follows the same rules as Run's: every subtest
// gets a store of its own, and newStore registers the store's cleanup
// (Close) with t.Cleanup.
//
// The contract it pins down, beyond the comments on engine.AppStore:
//
//   - Apps belong to their tenant: another tenant never sees, changes or
//     deletes them; GetApp and DeleteApp return engine.ErrNotFound for an
//     id the tenant does not have. PutApp replaces the whole record, and
//     every field (the flow and the route included) comes back exactly,
//     times to the nanosecond. ListApps is sorted by id. Every value
//     returned is a copy, and the store keeps no reference to a value
//     passed in. An empty id or number is an error.
//   - A virtual number is held by at most one app over every tenant.
//     PutApp of an app whose number another app holds fails with an error
//     matching engine.ErrNumberTaken and writes nothing: the app keeps its
//     old record and number, if it had one. Putting the holder again,
//     changed or not, succeeds. Changing an app's number frees the old
//     one, and DeleteApp frees the app's number, for any app to take.
//   - AppByNumber finds the app holding a number exactly as GetApp does,
//     whatever its tenant; ErrNotFound for a number no app holds.
//   - Of apps racing for one free number, exactly one wins.
func RunApps(t *testing.T, newStore func(t *testing.T) engine.AppStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s engine.AppStore)
	}{
		{"RoundTrip", testAppRoundTrip},
		{"ReplaceAndDelete", testAppReplaceAndDelete},
		{"Tenants", testAppTenants},
		{"ListSorted", testAppListSorted},
		{"Copies", testAppCopies},
		{"NumberTaken", testAppNumberTaken},
		{"NumberChangeFreesOld", testAppNumberChange},
		{"DeleteFreesNumber", testAppDeleteFreesNumber},
		{"Idempotent", testAppIdempotent},
		{"BadInput", testAppBadInput},
		{"Race", testAppRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// fullApp returns an app with every field set to a non-zero value, its
// flow's and route's included (the store keeps both; that an app has
// exactly one is the API's rule, not the store's).
func fullApp(tenant, id, number string) *engine.App {
	act := func(typ ivr.ActionType, target string) *ivr.Action {
		return &ivr.Action{Type: typ, Target: target, Prompt: "connecting.wav"}
	}
	return &engine.App{
		Tenant: tenant, ID: id, Name: "App " + id, Number: number,
		Flow: &ivr.Flow{ID: "main-line", Start: "main", Menus: []ivr.Menu{{
			ID: "main", Prompt: "main.wav",
			Options: map[string]ivr.Action{"1": *act(ivr.RouteGroup, "sales"), "#": *act(ivr.RouteNumber, "+15550100")},
			Collect: &ivr.Collect{MaxDigits: 2, FirstDigitTimeout: 7, InterDigitTimeout: 2, Terminator: "*"},
			Retries: 2, NoInputPrompt: "no-input.wav", InvalidPrompt: "invalid.wav",
			Fallback: act(ivr.RouteAgent, "operator"),
			Next:     act(ivr.RouteAgent, "nobody"),
		}}},
		Route:                 act(ivr.RouteGroup, "support"),
		RingTime:              25,
		RingTone:              "ringback.wav",
		TimeLimit:             600,
		Record:                true,
		Department:            "Sales",
		CallerLookupURL:       "https://crm.example/lookup",
		CallerLookupTimeoutMS: 800,
		StatusCallback:        "https://crm.example/events",
		CreatedAt:             base,
		UpdatedAt:             base.Add(time.Hour + 11*time.Nanosecond),
	}
}

// plainApp returns an app with a direct route and nothing else.
func plainApp(tenant, id, number string) *engine.App {
	return &engine.App{Tenant: tenant, ID: id, Number: number, Route: &ivr.Action{Type: ivr.RouteGroup, Target: "sales"}, CreatedAt: base, UpdatedAt: base}
}

func putApp(t *testing.T, s engine.AppStore, a *engine.App) {
	t.Helper()
	if err := s.PutApp(t.Context(), a); err != nil {
		t.Fatalf("PutApp(%s/%s, %s): %v", a.Tenant, a.ID, a.Number, err)
	}
}

func getApp(t *testing.T, s engine.AppStore, tenant, id string) *engine.App {
	t.Helper()
	a, err := s.GetApp(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("GetApp(%s/%s): %v", tenant, id, err)
	}
	return a
}

func appByNumber(t *testing.T, s engine.AppStore, number string) *engine.App {
	t.Helper()
	a, err := s.AppByNumber(t.Context(), number)
	if err != nil {
		t.Fatalf("AppByNumber(%s): %v", number, err)
	}
	return a
}

func listApps(t *testing.T, s engine.AppStore, tenant string) []*engine.App {
	t.Helper()
	as, err := s.ListApps(t.Context(), tenant)
	if err != nil {
		t.Fatalf("ListApps(%s): %v", tenant, err)
	}
	return as
}

func appIDs(as []*engine.App) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func assertNoApp(t *testing.T, s engine.AppStore, number string) {
	t.Helper()
	_, err := s.AppByNumber(t.Context(), number)
	assertNotFound(t, "AppByNumber("+number+")", err)
}

func assertTaken(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, engine.ErrNumberTaken) {
		t.Fatalf("%s: got %v, want engine.ErrNumberTaken", what, err)
	}
}

func testAppRoundTrip(t *testing.T, s engine.AppStore) {
	a := fullApp("tenant-a", "app-1", "+15551000")
	requireNonZero(t, "App", reflect.ValueOf(a))
	putApp(t, s, a)
	got := getApp(t, s, "tenant-a", "app-1")
	assertSame(t, "GetApp", got, a)
	if !got.UpdatedAt.Equal(a.UpdatedAt) {
		t.Fatalf("UpdatedAt %v, want %v to the nanosecond", got.UpdatedAt, a.UpdatedAt)
	}
	assertSame(t, "AppByNumber", appByNumber(t, s, "+15551000"), a)
	listed := listApps(t, s, "tenant-a")
	if len(listed) != 1 {
		t.Fatalf("ListApps: %d apps, want 1", len(listed))
	}
	assertSame(t, "ListApps", listed[0], a)
}

func testAppReplaceAndDelete(t *testing.T, s engine.AppStore) {
	ctx := t.Context()
	putApp(t, s, fullApp("tenant-a", "app-1", "15551001"))
	putApp(t, s, fullApp("tenant-a", "app-2", "15551002"))
	// Put replaces the whole record: fields left zero are zero afterwards.
	repl := &engine.App{Tenant: "tenant-a", ID: "app-1", Number: "15551001", Name: "Renamed", Route: &ivr.Action{Type: ivr.RouteAgent, Target: "ag-1"}}
	putApp(t, s, repl)
	assertSame(t, "replaced app", getApp(t, s, "tenant-a", "app-1"), repl)
	assertSame(t, "replaced app by number", appByNumber(t, s, "15551001"), repl)
	assertIDs(t, "apps after replace", appIDs(listApps(t, s, "tenant-a")), []string{"app-1", "app-2"})

	if err := s.DeleteApp(ctx, "tenant-a", "app-1"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	_, err := s.GetApp(ctx, "tenant-a", "app-1")
	assertNotFound(t, "GetApp after delete", err)
	assertNotFound(t, "DeleteApp again", s.DeleteApp(ctx, "tenant-a", "app-1"))
	assertNoApp(t, s, "15551001")
	_, err = s.GetApp(ctx, "tenant-a", "never")
	assertNotFound(t, "GetApp unknown", err)
	assertNoApp(t, s, "15559999")
	assertIDs(t, "apps after delete", appIDs(listApps(t, s, "tenant-a")), []string{"app-2"})

	// The id can be used again.
	putApp(t, s, plainApp("tenant-a", "app-1", "15551003"))
	assertSame(t, "app put after delete", getApp(t, s, "tenant-a", "app-1"), plainApp("tenant-a", "app-1", "15551003"))
}

func testAppTenants(t *testing.T, s engine.AppStore) {
	ctx := t.Context()
	a, b := fullApp("tenant-a", "app-1", "15552001"), fullApp("tenant-b", "app-1", "15552002")
	b.Name = "the other tenant's"
	putApp(t, s, a)
	putApp(t, s, b)
	putApp(t, s, plainApp("tenant-b", "only-b", "15552003"))
	assertSame(t, "tenant-a app", getApp(t, s, "tenant-a", "app-1"), a)
	assertSame(t, "tenant-b app", getApp(t, s, "tenant-b", "app-1"), b)
	assertSame(t, "tenant-b app by number", appByNumber(t, s, "15552002"), b)
	_, err := s.GetApp(ctx, "tenant-a", "only-b")
	assertNotFound(t, "GetApp of another tenant's app", err)
	assertNotFound(t, "DeleteApp of another tenant's app", s.DeleteApp(ctx, "tenant-a", "only-b"))
	assertSame(t, "app after another tenant's delete", appByNumber(t, s, "15552003"), plainApp("tenant-b", "only-b", "15552003"))
	assertIDs(t, "tenant-a apps", appIDs(listApps(t, s, "tenant-a")), []string{"app-1"})
	assertIDs(t, "tenant-c apps", appIDs(listApps(t, s, "tenant-c")), nil)

	if err := s.DeleteApp(ctx, "tenant-a", "app-1"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	assertSame(t, "tenant-b app after tenant-a's delete", getApp(t, s, "tenant-b", "app-1"), b)
	assertSame(t, "tenant-b number after tenant-a's delete", appByNumber(t, s, "15552002"), b)
}

func testAppListSorted(t *testing.T, s engine.AppStore) {
	want := []string{"app-01", "app-02", "app-10", "app-9", "b", "z"}
	for _, i := range []int{3, 0, 5, 1, 4, 2} {
		putApp(t, s, plainApp("tenant-a", want[i], fmt.Sprintf("1555300%d", i)))
	}
	assertIDs(t, "ListApps order", appIDs(listApps(t, s, "tenant-a")), want)
}

func testAppCopies(t *testing.T, s engine.AppStore) {
	a := fullApp("tenant-a", "app-1", "15554001")
	want := fullApp("tenant-a", "app-1", "15554001")
	putApp(t, s, a)
	// The store must not keep what it was given...
	a.Name, a.Route.Target, a.Flow.Menus[0].Prompt = "changed", "changed", "changed"
	a.Flow.Menus[0].Options["1"] = ivr.Action{Type: ivr.Hangup}
	a.Flow.Menus[0].Collect.MaxDigits, a.Flow.Menus[0].Fallback.Target = 9, "changed"
	assertSame(t, "app after changing the value put", getApp(t, s, "tenant-a", "app-1"), want)
	// ...nor hand out what it keeps.
	for _, got := range []*engine.App{getApp(t, s, "tenant-a", "app-1"), appByNumber(t, s, "15554001"), listApps(t, s, "tenant-a")[0]} {
		got.Name, got.Route.Prompt, got.Flow.Start = "changed", "changed", "changed"
		got.Flow.Menus[0].Options["2"] = ivr.Action{Type: ivr.Hangup}
		got.Flow.Menus[0].Next.Type, got.Flow.Menus[0].Collect.Terminator = ivr.Hangup, "none"
		got.Flow.Menus = append(got.Flow.Menus, ivr.Menu{ID: "extra"})
	}
	assertSame(t, "app after changing values read", getApp(t, s, "tenant-a", "app-1"), want)
}

func testAppNumberTaken(t *testing.T, s engine.AppStore) {
	ctx := t.Context()
	a := fullApp("tenant-a", "app-1", "15555001")
	putApp(t, s, a)
	// Another tenant, the same id: refused, nothing written.
	assertTaken(t, "another tenant's app", s.PutApp(ctx, plainApp("tenant-b", "app-1", "15555001")))
	_, err := s.GetApp(ctx, "tenant-b", "app-1")
	assertNotFound(t, "GetApp of the refused app", err)
	assertIDs(t, "tenant-b apps", appIDs(listApps(t, s, "tenant-b")), nil)
	// The same tenant, another id.
	assertTaken(t, "another app of the tenant", s.PutApp(ctx, plainApp("tenant-a", "app-2", "15555001")))
	assertIDs(t, "tenant-a apps", appIDs(listApps(t, s, "tenant-a")), []string{"app-1"})
	// An app moving to a taken number keeps its record and its number.
	b := plainApp("tenant-b", "app-b", "15555002")
	putApp(t, s, b)
	moved := plainApp("tenant-b", "app-b", "15555001")
	moved.Name = "moved"
	assertTaken(t, "moving to a taken number", s.PutApp(ctx, moved))
	assertSame(t, "app refused a move", getApp(t, s, "tenant-b", "app-b"), b)
	assertSame(t, "its number", appByNumber(t, s, "15555002"), b)
	assertSame(t, "the taken number", appByNumber(t, s, "15555001"), a)
}

func testAppNumberChange(t *testing.T, s engine.AppStore) {
	ctx := t.Context()
	putApp(t, s, fullApp("tenant-a", "app-1", "15556001"))
	moved := fullApp("tenant-a", "app-1", "15556002")
	putApp(t, s, moved)
	assertNoApp(t, s, "15556001")
	assertSame(t, "app by its new number", appByNumber(t, s, "15556002"), moved)
	// The old number is free for anyone.
	other := plainApp("tenant-b", "app-x", "15556001")
	putApp(t, s, other)
	assertSame(t, "the freed number's new app", appByNumber(t, s, "15556001"), other)
	// And the new one is the app's.
	assertTaken(t, "taking the moved app's number", s.PutApp(ctx, plainApp("tenant-b", "app-y", "15556002")))
	// Moving back and forth leaves one number held.
	putApp(t, s, fullApp("tenant-a", "app-1", "15556003"))
	putApp(t, s, fullApp("tenant-a", "app-1", "15556002"))
	assertNoApp(t, s, "15556003")
	putApp(t, s, plainApp("tenant-b", "app-y", "15556003"))
}

func testAppDeleteFreesNumber(t *testing.T, s engine.AppStore) {
	ctx := t.Context()
	putApp(t, s, fullApp("tenant-a", "app-1", "15557001"))
	if err := s.DeleteApp(ctx, "tenant-a", "app-1"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	assertNoApp(t, s, "15557001")
	b := plainApp("tenant-b", "app-1", "15557001")
	putApp(t, s, b)
	assertSame(t, "the freed number's new app", appByNumber(t, s, "15557001"), b)
}

func testAppIdempotent(t *testing.T, s engine.AppStore) {
	a := fullApp("tenant-a", "app-1", "15558001")
	for range 3 {
		putApp(t, s, a)
	}
	// Changed, same number: the holder may always write its own app.
	changed := fullApp("tenant-a", "app-1", "15558001")
	changed.Name, changed.Flow, changed.UpdatedAt = "changed", nil, base.Add(2*time.Hour)
	putApp(t, s, changed)
	putApp(t, s, changed)
	assertSame(t, "app after re-puts", getApp(t, s, "tenant-a", "app-1"), changed)
	assertSame(t, "app by number after re-puts", appByNumber(t, s, "15558001"), changed)
	assertIDs(t, "apps after re-puts", appIDs(listApps(t, s, "tenant-a")), []string{"app-1"})
}

func testAppBadInput(t *testing.T, s engine.AppStore) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"PutApp without id", s.PutApp(ctx, &engine.App{Tenant: "tenant-a", Number: "15559001"})},
		{"PutApp without number", s.PutApp(ctx, &engine.App{Tenant: "tenant-a", ID: "app-1"})},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(tc.err, engine.ErrNumberTaken) || errors.Is(tc.err, engine.ErrNotFound) {
			t.Errorf("%s: got %v, want an input error", tc.name, tc.err)
		}
	}
	assertIDs(t, "apps after bad input", appIDs(listApps(t, s, "tenant-a")), nil)
	assertNoApp(t, s, "15559001")
	assertNoApp(t, s, "")
}

func testAppRace(t *testing.T, s engine.AppStore) {
	for round := range 20 {
		number := fmt.Sprintf("1555900%02d", round)
		winners := RaceApps(t, []engine.AppStore{s}, number, 8)
		if len(winners) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, winners)
		}
	}
}

// RaceApps has n goroutines, spread over the stores in turn, put apps
// race-0 … race-(n-1) (of tenants race-t0, race-t1, … in turn) with the
// same free number at the same instant. It checks that every loser got
// ErrNumberTaken and wrote nothing, and that AppByNumber answers the
// winner on every store, and returns the winners' "tenant/id". Store
// tests use it to race several stores (engine nodes) sharing one backend.
func RaceApps(t *testing.T, stores []engine.AppStore, number string, n int) []string {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		losers  []*engine.App
		start   = make(chan struct{})
	)
	for i := range n {
		s := stores[i%len(stores)]
		a := plainApp(fmt.Sprintf("race-t%d", i%3), fmt.Sprintf("race-%d-%s", i, number), number)
		wg.Go(func() {
			<-start
			err := s.PutApp(t.Context(), a)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, a.Tenant+"/"+a.ID)
			case errors.Is(err, engine.ErrNumberTaken):
				losers = append(losers, a)
			default:
				t.Errorf("PutApp of %s/%s: got %v, want nil or ErrNumberTaken", a.Tenant, a.ID, err)
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(winners)
	for _, a := range losers {
		if _, err := stores[0].GetApp(t.Context(), a.Tenant, a.ID); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("loser %s/%s: GetApp answered %v, want ErrNotFound", a.Tenant, a.ID, err)
		}
	}
	if len(winners) == 1 {
		for _, s := range stores {
			got, err := s.AppByNumber(t.Context(), number)
			if err != nil || got.Tenant+"/"+got.ID != winners[0] {
				t.Errorf("AppByNumber(%s) after the race: %v, %v; want %s", number, got, err, winners[0])
			}
		}
	}
	return winners
}
