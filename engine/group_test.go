package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
)

// agentEngine is an engine with a memory store holding agents ag1..agN
// whose numbers are 700000N, and group "g" of them in that order.
func agentEngine(t *testing.T, script map[string]string, n int, mutate func(*engine.Agent), group func(*engine.Group)) (*engine.Engine, *fakeBackend, *memory.Store) {
	t.Helper()
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	g := &engine.Group{Tenant: "1", ID: "g", Name: "G", Distribution: "round_robin"}
	for i := 1; i <= n; i++ {
		a := &engine.Agent{Tenant: "1", ID: agentID(i), Name: "Agent " + agentID(i), Numbers: []string{agentNumber(i)},
			CLI: "80000" + agentID(i)[2:], WebLogin: true, CallLogin: true}
		if mutate != nil {
			mutate(a)
		}
		if err := st.PutAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
		g.Members = append(g.Members, engine.Member{AgentID: a.ID, Priority: i})
	}
	if group != nil {
		group(g)
	}
	if err := st.PutGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	b := newFakeBackend(script)
	e := engine.New(st, b, engine.Options{NodeID: "test", Agents: st})
	return e, b, st
}

func agentID(i int) string     { return "ag" + string(rune('0'+i)) }
func agentNumber(i int) string { return "700000" + string(rune('0'+i)) }

func groupSide(retries int) engine.SideRequest {
	return engine.SideRequest{Type: engine.TargetGroup, Values: []string{"g"}, Strategy: dialer.OneByOne, RingTime: 1, RetryCount: retries, WebLogin: "na", CallLogin: "na"}
}

// legsOf lists "agent:disposition" for the legs of one side.
func legsOf(c *engine.Call, side engine.SideName) []string {
	var out []string
	for _, l := range c.Legs {
		if l.Side == side {
			out = append(out, l.AgentID+":"+string(l.Disposition))
		}
	}
	return out
}

func TestAgentSideSkipsByLoginFilterAndFallsThroughBusy(t *testing.T) {
	e, _, st := agentEngine(t, map[string]string{agentNumber(2): "busy"}, 3, func(a *engine.Agent) {
		if a.ID == "ag1" {
			a.WebLogin = false
		}
	}, nil)
	c, err := e.Originate(context.Background(), "1", engine.CallRequest{
		From: engine.SideRequest{Type: engine.TargetAgent, Values: []string{"ag1", "ag2", "ag3"}, Strategy: dialer.OneByOne, RingTime: 1, WebLogin: "yes", CallLogin: "na"},
		To:   side(dialer.OneByOne, 0, "5550001"), TimeLimit: 1, TimeLimitHangup: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := finished(t, e, c.ID)
	want := []string{"ag1:skipped", "ag2:busy", "ag3:answered"}
	if !equal(legsOf(got, engine.SideFrom), want) {
		t.Fatalf("from legs %v, want %v", legsOf(got, engine.SideFrom), want)
	}
	if r := got.Legs[0].Reason; r != "not web-logged-in" {
		t.Fatalf("skip reason %q", r)
	}
	states, _ := st.AgentStates(context.Background(), "1", []string{"ag2", "ag3"})
	if len(states[0].Calls) != 0 || len(states[1].Calls) != 0 {
		t.Fatalf("reservations left: %+v", states)
	}
	if states[1].CallsTaken != 1 || states[0].CallsTaken != 0 {
		t.Fatalf("calls taken: %+v", states)
	}
}

func TestGroupRoundRobinContinuesAfterTheLastAgentOffered(t *testing.T) {
	e, _, _ := agentEngine(t, nil, 3, nil, nil)
	var order []string
	for i := 0; i < 4; i++ {
		c, err := e.Originate(context.Background(), "1", engine.CallRequest{
			From: groupSide(0), To: side(dialer.OneByOne, 0, "5550001"), TimeLimit: 1, TimeLimitHangup: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		got := finished(t, e, c.ID)
		order = append(order, legsOf(got, engine.SideFrom)...)
		if got.Legs[0].GroupID != "g" || got.Legs[0].Routing != "round_robin" {
			t.Fatalf("leg %+v", got.Legs[0])
		}
	}
	want := []string{"ag1:answered", "ag2:answered", "ag3:answered", "ag1:answered"}
	if !equal(order, want) {
		t.Fatalf("offers %v, want %v", order, want)
	}
}

func TestGroupCallWaitsForAFreeAgent(t *testing.T) {
	e, b, _ := agentEngine(t, nil, 1, nil, nil)
	first, _ := e.Originate(context.Background(), "1", engine.CallRequest{From: groupSide(0), To: side(dialer.OneByOne, 0, "5550001"), QueueTimeout: 30})
	waitBridged(t, e, b, first.ID)
	second, _ := e.Originate(context.Background(), "1", engine.CallRequest{From: groupSide(0), To: side(dialer.OneByOne, 0, "5550002"), QueueTimeout: 30, TimeLimit: 1, TimeLimitHangup: true})
	// The second call finds ag1 busy and waits; it is recorded as skipped.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _ := e.Get(context.Background(), "1", second.ID)
		if len(c.Legs) > 0 && c.Legs[0].Disposition == engine.DispSkipped {
			if !strings.Contains(c.Legs[0].Reason, "busy") {
				t.Fatalf("skip reason %q", c.Legs[0].Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second call never skipped the busy agent: %+v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Hangup(context.Background(), "1", first.ID); err != nil {
		t.Fatal(err)
	}
	got := finished(t, e, second.ID)
	if got.Outcome != engine.OutcomeCompleted || !equal(legsOf(got, engine.SideFrom), []string{"ag1:skipped", "ag1:answered"}) {
		t.Fatalf("second call %s %v", got.Outcome, legsOf(got, engine.SideFrom))
	}
}

func TestQueueTimeoutEndsTheHuntWithAReason(t *testing.T) {
	e, _, _ := agentEngine(t, nil, 1, func(a *engine.Agent) { a.Paused = true }, nil)
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{From: groupSide(0), To: side(dialer.OneByOne, 0, "5550001"), QueueTimeout: 1})
	got := finished(t, e, c.ID)
	last := got.Legs[len(got.Legs)-1]
	if got.Outcome != engine.OutcomeFromUnanswered || last.Disposition != engine.DispSkipped || !strings.Contains(last.Reason, "queue timeout") {
		t.Fatalf("outcome %s, last leg %+v", got.Outcome, last)
	}
	if got.Legs[0].Reason != "paused" {
		t.Fatalf("first leg %+v", got.Legs[0])
	}
}

func TestStickyCustomerReachesTheirAgent(t *testing.T) {
	e, _, st := agentEngine(t, nil, 3, nil, nil)
	call := func(customer string, policy string) *engine.Call {
		c, err := e.Originate(context.Background(), "1", engine.CallRequest{
			From: side(dialer.OneByOne, 0, customer), To: engine.SideRequest{Type: engine.TargetGroup, Values: []string{"g"}, Strategy: dialer.OneByOne, RingTime: 1},
			Sticky: "yes", StickyTimeType: "day", StickyTimeValue: 1, StickyAgentBusy: policy, QueueTimeout: 5, TimeLimit: 1, TimeLimitHangup: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return finished(t, e, c.ID)
	}
	first := call("5551111", "")
	agent := first.Legs[len(first.Legs)-1].AgentID
	// Other calls move the round-robin pointer on; the customer still
	// reaches the same agent.
	call("5552222", "")
	again := call("5551111", "")
	l := again.Legs[len(again.Legs)-1]
	if l.AgentID != agent || l.Routing != "sticky hit" {
		t.Fatalf("sticky customer reached %s (%s), want %s", l.AgentID, l.Routing, agent)
	}
	if bound, _ := st.Sticky(context.Background(), "1", "5551111"); bound != agent {
		t.Fatalf("binding %q", bound)
	}
}

func TestStickyAgentBusyPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy      string
		wantAgent   string // who takes the second call
		wantBinding string // the customer's binding afterwards
	}{
		{"retryNewSticky", "ag2", "ag2"},
		{"retryTemp", "ag2", "ag1"},
		{"retrySame", "ag1", "ag1"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			e, b, st := agentEngine(t, nil, 2, nil, nil)
			ctx := context.Background()
			st.SetSticky(ctx, "1", "5551111", "ag1", time.Hour)
			// ag1 is on another call.
			busy, _ := e.Originate(ctx, "1", engine.CallRequest{From: engine.SideRequest{Type: engine.TargetAgent, Values: []string{"ag1"}, RingTime: 1}, To: side(dialer.OneByOne, 0, "5559999")})
			waitBridged(t, e, b, busy.ID)
			c, err := e.Originate(ctx, "1", engine.CallRequest{
				From: side(dialer.OneByOne, 0, "5551111"), To: engine.SideRequest{Type: engine.TargetGroup, Values: []string{"g"}, RingTime: 1},
				Sticky: "yes", StickyAgentBusy: tc.policy, QueueTimeout: 20, TimeLimit: 1, TimeLimitHangup: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.policy == "retrySame" {
				// retrySame waits for ag1: once the call is waiting, free ag1.
				waitFor(t, e, c.ID, func(c *engine.Call) bool { return len(c.Legs) > 1 && c.Legs[1].Disposition == engine.DispSkipped })
				e.Hangup(ctx, "1", busy.ID)
			}
			got := finished(t, e, c.ID)
			e.Hangup(ctx, "1", busy.ID)
			last := got.Legs[len(got.Legs)-1]
			if last.AgentID != tc.wantAgent || last.Disposition != engine.DispAnswered {
				t.Fatalf("second call legs %v", legsOf(got, engine.SideTo))
			}
			if bound, _ := st.Sticky(ctx, "1", "5551111"); bound != tc.wantBinding {
				t.Fatalf("binding %q, want %q", bound, tc.wantBinding)
			}
		})
	}
}

func TestToAllGroupRingsEveryEligibleMember(t *testing.T) {
	e, b, st := agentEngine(t, map[string]string{agentNumber(1): "noanswer", agentNumber(3): "noanswer"}, 3, nil, func(g *engine.Group) { g.Distribution = "ring_all" })
	c, _ := e.Originate(context.Background(), "1", engine.CallRequest{From: groupSide(0), To: side(dialer.OneByOne, 0, "5550001"), TimeLimit: 1, TimeLimitHangup: true})
	got := finished(t, e, c.ID)
	want := map[string]engine.Disposition{"ag1": engine.DispCanceled, "ag2": engine.DispAnswered, "ag3": engine.DispCanceled}
	for _, l := range got.Legs {
		if l.Side == engine.SideFrom && want[l.AgentID] != l.Disposition {
			t.Fatalf("legs %v", legsOf(got, engine.SideFrom))
		}
	}
	if len(b.dialed()) != 4 {
		t.Fatalf("dialed %v", b.dialed())
	}
	states, _ := st.AgentStates(context.Background(), "1", []string{"ag1", "ag2", "ag3"})
	for i, s := range states {
		if len(s.Calls) != 0 {
			t.Fatalf("agent %d still reserved: %+v", i+1, s)
		}
	}
}

func TestAgentDeletedDuringACallLeaksNothing(t *testing.T) {
	e, b, st := agentEngine(t, nil, 1, nil, nil)
	ctx := context.Background()
	c, _ := e.Originate(ctx, "1", engine.CallRequest{From: groupSide(0), To: side(dialer.OneByOne, 0, "5550001")})
	waitBridged(t, e, b, c.ID)
	if err := st.DeleteAgent(ctx, "1", "ag1"); err != nil {
		t.Fatal(err)
	}
	e.Hangup(ctx, "1", c.ID)
	got := finished(t, e, c.ID)
	if got.Outcome != engine.OutcomeCompleted {
		t.Fatalf("outcome %s", got.Outcome)
	}
	states, _ := st.AgentStates(ctx, "1", []string{"ag1"})
	if len(states[0].Calls) != 0 {
		t.Fatalf("reservation leaked: %+v", states[0])
	}
}

// waitFor polls the call's record until cond holds.
func waitFor(t *testing.T, e *engine.Engine, id string, cond func(*engine.Call) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := e.Get(context.Background(), "1", id)
		if err == nil && cond(c) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: condition never held; last %+v", id, c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A member the login filter excludes is not "free" for the waiting caller:
// the call waits out its queue timeout instead of spinning through passes.
func TestWaitingRespectsTheLoginFilter(t *testing.T) {
	e, b, _ := agentEngine(t, nil, 2, func(a *engine.Agent) {
		if a.ID == "ag2" {
			a.WebLogin = false
		}
	}, nil)
	ctx := context.Background()
	busy, _ := e.Originate(ctx, "1", engine.CallRequest{From: engine.SideRequest{Type: engine.TargetAgent, Values: []string{"ag1"}, RingTime: 1}, To: side(dialer.OneByOne, 0, "5559999")})
	waitBridged(t, e, b, busy.ID)
	sr := groupSide(0)
	sr.WebLogin = "yes"
	c, _ := e.Originate(ctx, "1", engine.CallRequest{From: sr, To: side(dialer.OneByOne, 0, "5550001"), QueueTimeout: 1})
	got := finished(t, e, c.ID)
	e.Hangup(ctx, "1", busy.ID)
	if got.Outcome != engine.OutcomeFromUnanswered || len(got.Legs) > 4 {
		t.Fatalf("outcome %s with %d legs: %v", got.Outcome, len(got.Legs), legsOf(got, engine.SideFrom))
	}
}

// The bound agent was free but did not answer: the customer keeps their
// agent (retrySame), though another member took this call.
func TestStickyBindingSurvivesAMissedCall(t *testing.T) {
	e, _, st := agentEngine(t, map[string]string{agentNumber(1): "noanswer"}, 2, nil, nil)
	ctx := context.Background()
	st.SetSticky(ctx, "1", "5551111", "ag1", time.Hour)
	c, _ := e.Originate(ctx, "1", engine.CallRequest{
		From: side(dialer.OneByOne, 0, "5551111"), To: engine.SideRequest{Type: engine.TargetGroup, Values: []string{"g"}, RingTime: 1},
		Sticky: "yes", StickyAgentBusy: "retrySame", TimeLimit: 1, TimeLimitHangup: true,
	})
	got := finished(t, e, c.ID)
	if !equal(legsOf(got, engine.SideTo), []string{"ag1:noanswer", "ag2:answered"}) {
		t.Fatalf("legs %v", legsOf(got, engine.SideTo))
	}
	if bound, _ := st.Sticky(ctx, "1", "5551111"); bound != "ag1" {
		t.Fatalf("binding moved to %q", bound)
	}
}

// max_wait bounds callers who wait, not callers who ring a free member.
func TestMaxWaitCountsOnlyWaitingCallers(t *testing.T) {
	e, _, _ := agentEngine(t, nil, 2, nil, func(g *engine.Group) { g.MaxWait = 1 })
	ctx := context.Background()
	var ids []string
	for i := 0; i < 2; i++ {
		c, err := e.Originate(ctx, "1", engine.CallRequest{From: groupSide(0), To: side(dialer.OneByOne, 0, "555000"+string(rune('1'+i))), QueueTimeout: 10, TimeLimit: 1, TimeLimitHangup: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	agents := map[string]bool{}
	for _, id := range ids {
		got := finished(t, e, id)
		if got.Outcome != engine.OutcomeCompleted {
			t.Fatalf("call %s: %s %v", id, got.Outcome, legsOf(got, engine.SideFrom))
		}
		for _, l := range got.Legs {
			if l.Disposition == engine.DispAnswered && l.AgentID != "" {
				agents[l.AgentID] = true
			}
		}
	}
	if len(agents) != 2 {
		t.Fatalf("both calls should have had their own agent: %v", agents)
	}
}
