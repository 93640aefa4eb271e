package memory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/internal/listing"
)

// checkIndex fails unless every tenant's positions are strictly oldest
// first and are exactly those of the calls held for the tenant.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string][]listing.Position{}
	for _, e := range s.calls {
		want[e.call.Tenant] = append(want[e.call.Tenant], listing.Of(e.call))
	}
	if len(s.tenants) != len(want) {
		t.Fatalf("index has %d tenants, calls have %d", len(s.tenants), len(want))
	}
	for tenant, ps := range want {
		slices.SortFunc(ps, ascending)
		if got := s.tenants[tenant]; !slices.Equal(got, ps) {
			t.Fatalf("tenant %s: index %v, want %v", tenant, got, ps)
		}
	}
}

// TestTenantIndex runs random creations (late ones among them), saves
// that move a call in time or to another tenant, ends, expiries, sweeps
// and listings, and checks after each that the tenant index is in order
// and matches the calls held, and that a listing walk returns the held
// calls of the tenant newest first.
func TestTenantIndex(t *testing.T) {
	clk := &clock{now: time.Unix(1800000000, 0)}
	s := New(Options{Now: clk.Now, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Unix(1700000000, 0)
	var made []*engine.Call
	tenants := []string{"t1", "t2", "t3"}
	for step := range 3000 {
		switch op := rng.IntN(10); {
		case op < 5 || len(made) == 0:
			// Mostly in order, some late, several per millisecond.
			created := at.Add(time.Duration(step)*time.Millisecond/3 - time.Duration(rng.IntN(4))*time.Duration(rng.IntN(50))*time.Millisecond)
			c := &engine.Call{ID: fmt.Sprintf("c%04d", rng.IntN(100000)), Tenant: tenants[rng.IntN(3)], Node: "n",
				State: engine.StateBridged, CreatedAt: created}
			if err := s.CreateCall(ctx, c); err == nil {
				made = append(made, c)
			}
		case op < 7:
			c := made[rng.IntN(len(made))].Clone()
			if rng.IntN(2) == 0 {
				c.CreatedAt = c.CreatedAt.Add(time.Duration(rng.IntN(200)-100) * time.Millisecond)
			} else {
				c.Tenant = tenants[rng.IntN(3)]
			}
			_ = s.SaveCall(ctx, c, nil)
		case op < 8:
			c := made[rng.IntN(len(made))].Clone()
			c.State = engine.StateEnded
			_ = s.EndCall(ctx, c, time.Duration(rng.IntN(3))*time.Second)
		case op < 9:
			clk.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			if rng.IntN(2) == 0 {
				s.sweep()
			}
		default:
			walkTenant(t, s, tenants[rng.IntN(3)], 1+rng.IntN(40))
		}
		checkIndex(t, s)
	}
	for _, tenant := range tenants {
		walkTenant(t, s, tenant, 7)
	}
	checkIndex(t, s)
}

// walkTenant lists a tenant to the end and compares with its held calls
// that have not expired, newest first.
func walkTenant(t *testing.T, s *Store, tenant string, limit int) {
	t.Helper()
	var want []string
	s.mu.Lock()
	var ps []listing.Position
	for _, e := range s.calls {
		if e.call.Tenant == tenant && !e.expired(s.now()) {
			ps = append(ps, listing.Of(e.call))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(ps, listing.Position.Compare)
	for _, p := range ps {
		want = append(want, p.ID)
	}
	var got []string
	q := engine.CallQuery{Tenant: tenant, Limit: limit}
	for {
		page, err := s.ListCalls(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Calls {
			got = append(got, c.ID)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walk of %s by %d: %v, want %v", tenant, limit, got, want)
	}
}
