package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

// nodeLeases stands between an engine and the store's node leases: while
// frozen, the node's renewals of its own lease report success and never
// reach the store, and it takes no other node's (from the store's side,
// the node stopped, as a crashed one does); while failing, they fail as
// with a store out of reach.
type nodeLeases struct {
	engine.NodeLeases
	frozen, failing atomic.Bool
}

func (n *nodeLeases) LeaseNode(ctx context.Context, node, holder string, ttl time.Duration) (bool, error) {
	switch {
	case n.frozen.Load():
		return strings.HasPrefix(holder, node+"/"), nil
	case n.failing.Load():
		return false, errors.New("store unreachable")
	}
	return n.NodeLeases.LeaseNode(ctx, node, holder, ttl)
}

func (n *nodeLeases) ReleaseNode(ctx context.Context, node, holder string) error {
	if n.frozen.Load() {
		return nil
	}
	return n.NodeLeases.ReleaseNode(ctx, node, holder)
}

const testLeaseTTL = 300 * time.Millisecond

// liveNode is an engine with liveness on st, its leases behind a
// nodeLeases.
func liveNode(t *testing.T, st *memory.Store, id string, b *fakeBackend) (*engine.Engine, *nodeLeases) {
	t.Helper()
	nl := &nodeLeases{NodeLeases: st}
	e := engine.New(st, b, engine.Options{NodeID: id, Agents: st, Nodes: nl, NodeLeaseTTL: testLeaseTTL})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := e.StartLiveness(ctx); err != nil {
		t.Fatal(err)
	}
	return e, nl
}

func storedCall(t *testing.T, st *memory.Store, id string, cond func(*engine.Call) bool) *engine.Call {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := st.GetCall(context.Background(), id)
		if err == nil && cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: %+v %v", id, c, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A node that stops renewing its lease (it crashed) leaves its calls live
// in the store; another node ends them with a record that says why, and
// gives their agents back.
func TestDeadNodesCallsAreEndedByAnother(t *testing.T) {
	_, _, st := agentEngine(t, nil, 1, nil, nil)
	ba := newFakeBackend(nil)
	a, aLeases := liveNode(t, st, "node-a", ba)
	c, err := a.Originate(context.Background(), "1", engine.CallRequest{From: engine.SideRequest{Type: engine.TargetGroup, Values: []string{"g"}, Strategy: dialer.OneByOne, RingTime: 5}, To: side(dialer.OneByOne, 0, "5550001")})
	if err != nil {
		t.Fatal(err)
	}
	sessions := waitBridged(t, a, ba, c.ID)
	liveNode(t, st, "node-b", newFakeBackend(nil))

	aLeases.frozen.Store(true) // node-a is gone, as far as the store can tell
	got := storedCall(t, st, c.ID, func(c *engine.Call) bool { return !c.Live() })
	if got.Outcome != engine.OutcomeCompleted || got.HangupBy != engine.HangupSystem || !strings.Contains(got.Reason, "engine node node-a stopped renewing its lease") {
		t.Fatalf("record: %s by %s: %q", got.Outcome, got.HangupBy, got.Reason)
	}
	for _, l := range got.Legs {
		if l.State != engine.LegEnded || l.Disposition != engine.DispAnswered || l.EndedAt == nil || !strings.Contains(l.Reason, "node-a gone") {
			t.Fatalf("leg %s: %s %s %q", l.ID, l.State, l.Disposition, l.Reason)
		}
	}
	states, err := st.AgentStates(context.Background(), "1", []string{"ag1"})
	if err != nil || len(states[0].Calls) != 0 {
		t.Fatalf("ag1 still reserved: %+v %v", states, err)
	}
	if live, _ := st.LiveCalls(context.Background(), "node-a"); len(live) != 0 {
		t.Fatalf("node-a still has live calls %v", live)
	}
	for _, s := range sessions {
		s.remoteHangup()
	}
}

// A node that cannot renew its lease within the lease time stops its own
// calls (others may have ended them already), takes no calls until it
// holds its lease again, and then takes calls again.
func TestNodeThatLostItsLeaseStopsItsCalls(t *testing.T) {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	b := newFakeBackend(nil)
	e, leases := liveNode(t, st, "node-a", b)
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "5550001"), To: side(dialer.OneByOne, 0, "5550002")})
	if err != nil {
		t.Fatal(err)
	}
	waitBridged(t, e, b, c.ID)

	leases.failing.Store(true)
	got := finished(t, e, c.ID)
	if got.HangupBy != engine.HangupSystem || !strings.Contains(got.Reason, engine.ErrNodeLeaseLost.Error()) {
		t.Fatalf("record: %s by %s: %q", got.Outcome, got.HangupBy, got.Reason)
	}
	if err := e.Ready(context.Background()); !errors.Is(err, engine.ErrNodeLeaseLost) {
		t.Fatalf("ready while the lease is lost: %v", err)
	}
	if _, err := e.Originate(context.Background(), "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "5550001"), To: side(dialer.OneByOne, 0, "5550002")}); !errors.Is(err, engine.ErrNodeLeaseLost) {
		t.Fatalf("a call taken while the lease is lost: %v", err)
	}

	leases.failing.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for e.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("never ready again: %v", e.Ready(context.Background()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	again, err := e.Originate(context.Background(), "1", engine.CallRequest{From: side(dialer.OneByOne, 0, "5550001"), To: side(dialer.OneByOne, 0, "5550002"), TimeLimit: 1, TimeLimitHangup: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := finished(t, e, again.ID); got.Outcome != engine.OutcomeCompleted {
		t.Fatalf("call after the lease came back: %s %q", got.Outcome, got.Reason)
	}
}

// Two processes under one node id would mix up their calls: the second
// one's StartLiveness refuses while the first keeps renewing.
func TestStartLivenessRefusesANodeIDInUse(t *testing.T) {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	liveNode(t, st, "node-a", newFakeBackend(nil))
	twin := engine.New(st, newFakeBackend(nil), engine.Options{NodeID: "node-a", Nodes: st, NodeLeaseTTL: testLeaseTTL})
	if err := twin.StartLiveness(context.Background()); !errors.Is(err, engine.ErrNodeIDInUse) {
		t.Fatalf("StartLiveness of a twin: %v", err)
	}
}

// A node stopped in order gives its lease back, so a successor under its
// id starts at once.
func TestLivenessReleasesTheLeaseOnStop(t *testing.T) {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	first := engine.New(st, newFakeBackend(nil), engine.Options{NodeID: "node-a", Nodes: st, NodeLeaseTTL: time.Hour})
	ctx, stop := context.WithCancel(context.Background())
	if err := first.StartLiveness(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := st.LeaseNode(context.Background(), "node-a", "successor", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped node kept its lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
