package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// NodeStore is a store that keeps node leases too.
type NodeStore interface {
	engine.Store
	engine.NodeLeases
}

// RunNodeLeases runs the conformance suite of node leases (the engine's
// liveness of nodes sharing a store). Every subtest gets a store of its
// own. The contract: a lease is exclusive while it runs, renewed only by
// its holder (and then for the new ttl), released only by it, and goes to
// the next holder once its ttl has passed; leases are per node; LiveNodes
// includes every node with a live call.
func RunNodeLeases(t *testing.T, newStore func(t *testing.T) NodeStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, NodeStore)
	}{
		{"LeasesAreExclusive", testNodeLeasesExclusive},
		{"LeasesExpire", testNodeLeasesExpire},
		{"LiveNodes", testLiveNodes},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func leaseNode(t *testing.T, s NodeStore, node, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.LeaseNode(t.Context(), node, holder, ttl)
	if err != nil {
		t.Fatalf("LeaseNode(%s, %s): %v", node, holder, err)
	}
	return ok
}

func testNodeLeasesExclusive(t *testing.T, s NodeStore) {
	if !leaseNode(t, s, "node-a", "a/1", time.Minute) {
		t.Fatal("a free lease was refused")
	}
	if leaseNode(t, s, "node-a", "b/1", time.Minute) {
		t.Fatal("a running lease went to another holder")
	}
	if !leaseNode(t, s, "node-a", "a/1", time.Minute) {
		t.Fatal("the holder could not renew")
	}
	if !leaseNode(t, s, "node-b", "b/1", time.Minute) {
		t.Fatal("a lease on another node was refused")
	}
	if err := s.ReleaseNode(t.Context(), "node-a", "b/1"); err != nil {
		t.Fatal(err)
	}
	if leaseNode(t, s, "node-a", "b/1", time.Minute) {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := s.ReleaseNode(t.Context(), "node-a", "a/1"); err != nil {
		t.Fatal(err)
	}
	if !leaseNode(t, s, "node-a", "a/2", time.Minute) {
		t.Fatal("a released lease was refused")
	}
}

func testNodeLeasesExpire(t *testing.T, s NodeStore) {
	// A renewal sets the new ttl: a short lease renewed for a minute does
	// not run out with its first ttl.
	if !leaseNode(t, s, "node-a", "a/1", 50*time.Millisecond) || !leaseNode(t, s, "node-a", "a/1", time.Minute) {
		t.Fatal("lease or renewal refused")
	}
	time.Sleep(150 * time.Millisecond)
	if leaseNode(t, s, "node-a", "b/1", time.Minute) {
		t.Fatal("a lease renewed for a minute ran out with its first ttl")
	}
	// A lease not renewed goes to the next holder once its ttl passed.
	if !leaseNode(t, s, "node-b", "a/1", 50*time.Millisecond) {
		t.Fatal("a free lease was refused")
	}
	eventually(t, "node-b's lease taken over", func() (bool, error) {
		return s.LeaseNode(t.Context(), "node-b", "b/1", time.Minute)
	})
	if leaseNode(t, s, "node-b", "a/1", time.Minute) {
		t.Fatal("the old holder renewed a lease taken over")
	}
}

func testLiveNodes(t *testing.T, s NodeStore) {
	for _, c := range []*engine.Call{
		fullCall("live-1", "tenant-a", "node-x", base),
		fullCall("live-2", "tenant-b", "node-y", base),
	} {
		c.State, c.EndedAt, c.Outcome, c.HangupBy = engine.StateDialingFrom, nil, "", ""
		mustCreate(t, s, c)
	}
	nodes, err := s.LiveNodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node-x", "node-y"} {
		if !slices.Contains(nodes, want) {
			t.Fatalf("LiveNodes %v lacks %s", nodes, want)
		}
	}
}
