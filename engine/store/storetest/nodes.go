package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// NodeStore is a store that keeps node leases, and moves calls between
// nodes, too.
type NodeStore interface {
	engine.Store
	engine.NodeLeases
	engine.CallTaker
}

// RunNodeLeases runs the conformance suite of node leases (the engine's
// liveness of nodes sharing a store). Every subtest gets a store of its
// own. The contract: a lease is exclusive while it runs, renewed only by
// its holder (and then for the new ttl), released only by it, and goes to
// the next holder once its ttl has passed; leases are per node; LiveNodes
// includes every node with a live call; TakeCall moves a call only while
// it is live on the node it is taken from.
func RunNodeLeases(t *testing.T, newStore func(t *testing.T) NodeStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, NodeStore)
	}{
		{"LeasesAreExclusive", testNodeLeasesExclusive},
		{"LeasesExpire", testNodeLeasesExpire},
		{"LiveNodes", testLiveNodes},
		{"TakeCall", testTakeCall},
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

func testTakeCall(t *testing.T, s NodeStore) {
	ctx := t.Context()
	c := fullCall("take-1", "tenant-a", "node-x", base)
	c.State, c.EndedAt, c.Outcome, c.HangupBy = engine.StateBridged, nil, "", ""
	mustCreate(t, s, c)

	taken := c.Clone()
	taken.Node, taken.Reason = "node-y", "adopted"
	if err := s.TakeCall(ctx, taken, "node-x"); err != nil {
		t.Fatalf("TakeCall: %v", err)
	}
	got := mustGet(t, s, c.ID)
	if got.Node != "node-y" || got.Reason != "adopted" || !got.Live() {
		t.Fatalf("after TakeCall: node %s, reason %q, state %s", got.Node, got.Reason, got.State)
	}
	assertIDs(t, "node-y's live calls", mustLive(t, s, "node-y"), []string{c.ID})
	assertIDs(t, "node-x's live calls", mustLive(t, s, "node-x"), nil)

	// A second taker from the old node finds it is not node-x's any more.
	again := c.Clone()
	again.Node = "node-z"
	if err := s.TakeCall(ctx, again, "node-x"); !errors.Is(err, engine.ErrNotOwner) {
		t.Fatalf("a second TakeCall from node-x: %v", err)
	}
	if got := mustGet(t, s, c.ID); got.Node != "node-y" {
		t.Fatalf("a refused TakeCall wrote: node %s", got.Node)
	}
	assertIDs(t, "node-z's live calls", mustLive(t, s, "node-z"), nil)

	// An ended call is nobody's to take; a missing one is not found.
	ended := mustGet(t, s, c.ID)
	ended.State = engine.StateEnded
	mustEnd(t, s, ended, 0)
	late := c.Clone()
	late.Node = "node-z"
	if err := s.TakeCall(ctx, late, "node-y"); !errors.Is(err, engine.ErrNotOwner) {
		t.Fatalf("TakeCall of an ended call: %v", err)
	}
	missing := fullCall("take-missing", "tenant-a", "node-x", base)
	if err := s.TakeCall(ctx, missing, "node-x"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("TakeCall of no call: %v", err)
	}
}
