package memory

import (
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/storetest"
)

func TestAppConformance(t *testing.T) {
	storetest.RunApps(t, func(t *testing.T) engine.AppStore {
		s := New(Options{SweepInterval: 100 * time.Millisecond})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestAppsLeaveNothingBehind checks that deleted apps and freed numbers
// leave no entries in the maps.
func TestAppsLeaveNothingBehind(t *testing.T) {
	s := New(Options{SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	a := &engine.App{Tenant: "t", ID: "a", Number: "15550001"}
	if err := s.PutApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.Number = "15550002"
	if err := s.PutApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, "t", "a"); err != nil {
		t.Fatal(err)
	}
	if len(s.apps.tenants) != 0 || len(s.apps.numbers) != 0 {
		t.Fatalf("left behind: tenants %v, numbers %v", s.apps.tenants, s.apps.numbers)
	}
}
