package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/test/redistest"
	"github.com/switchboard/switchboard/test/sipptest"
)

// agentsYAML configures agents a1..aN on numbers 100000N (the answering
// sipp, prefix 1) and group g of them, round robin.
func agentsYAML(n int, extra string) string {
	var b strings.Builder
	b.WriteString("agents:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {user_id: %q, id: a%d, name: Agent %d, numbers: [\"100000%d\"], cli: \"800000%d\", web_login: true, call_login: true}\n", tenant, i, i, i, i)
	}
	b.WriteString("groups:\n  - {user_id: \"1\", id: g, name: G, distribution: round_robin, members: [")
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "{agent_id: a%d}", i)
	}
	b.WriteString("]}\n")
	b.WriteString(extra)
	return b.String()
}

// answeredAgent is the agent of the call's answered leg on side.
func (c call) answeredAgent(side string) string {
	for _, l := range c.Legs {
		if l.Side == side && l.Disposition == "answered" {
			return l.AgentID
		}
	}
	return ""
}

func TestGroupHuntsByRoundRobinOverSIP(t *testing.T) {
	answer := answerUAS(t)
	n := startNodeWith(t, "", agentsYAML(3, ""), trunk{"1", answer})
	var got []string
	for i := 0; i < 4; i++ {
		id := n.clickToCall(params("fromType", "Group", "from", "g", "to", "1000009", "timeLimit", "1"))
		c := n.waitState(id, "ended")
		if c.Outcome != "completed" {
			t.Fatalf("call %d: %+v", i, c)
		}
		got = append(got, c.answeredAgent("from"))
	}
	if strings.Join(got, ",") != "a1,a2,a3,a1" {
		t.Fatalf("agents in order %v, want a1,a2,a3,a1", got)
	}
	answer.WaitCounts(t, "8 calls torn down", func(s sipptest.Counts) bool { return s.Requests["BYE"] == 8 })
}

func TestLoginFiltersSkipAgents(t *testing.T) {
	answer := answerUAS(t)
	extra := "  - {user_id: \"1\", id: off, name: Off, numbers: [\"1000005\"], web_login: false, call_login: true}\n"
	yaml := strings.Replace(agentsYAML(1, ""), "groups:", extra+"groups:", 1)
	n := startNodeWith(t, "", yaml, trunk{"1", answer})
	id := n.clickToCall(params("fromType", "Agent", "from", "off,a1", "fromWebLogin", "yes", "to", "1000009", "timeLimit", "1"))
	c := n.waitState(id, "ended")
	if len(c.Legs) < 2 || c.Legs[0].AgentID != "off" || c.Legs[0].Disposition != "skipped" || c.Legs[0].Reason != "not web-logged-in" {
		t.Fatalf("legs %+v", c.Legs)
	}
	if c.answeredAgent("from") != "a1" {
		t.Fatalf("answered by %q", c.answeredAgent("from"))
	}
	// The skipped agent's phone never rang: only a1 and the customer did.
	answer.WaitCounts(t, "two INVITEs", func(s sipptest.Counts) bool { return s.Requests["BYE"] == 2 && s.Requests["INVITE"] == 2 })
}

func TestStickyCustomerAndBusyStickyAgentPolicies(t *testing.T) {
	answer := answerUAS(t)
	n := startNodeWith(t, "", agentsYAML(2, ""), trunk{"1", answer})
	sticky := func(customer, policy string, extra ...string) string {
		p := params("from", customer, "toType", "Group", "to", "g", "sticky", "yes", "stickyTimeType", "hour", "stickyTimeValue", "2", "queueTimeout", "10")
		if policy != "" {
			p.Set("stickyAgentBusy", policy)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			p.Set(extra[i], extra[i+1])
		}
		return n.clickToCall(p)
	}
	// The first call binds the customer to whoever takes it (a1, the round
	// robin's first); a call from someone else moves the pointer on.
	first := n.waitState(sticky("1000100", "", "timeLimit", "1"), "ended")
	if first.answeredAgent("to") != "a1" {
		t.Fatalf("first call agent %q", first.answeredAgent("to"))
	}
	n.waitState(sticky("1000200", "", "timeLimit", "1"), "ended")
	again := n.waitState(sticky("1000100", "", "timeLimit", "1"), "ended")
	last := again.Legs[len(again.Legs)-1]
	if last.AgentID != "a1" || last.Routing != "sticky hit" {
		t.Fatalf("returning customer reached %s (%s)", last.AgentID, last.Routing)
	}

	// a1 is busy on a long call: retryNewSticky moves the customer to a2
	// (and binds them there), retryTemp lends a2 without rebinding,
	// retrySame waits for a1.
	hold := n.clickToCall(params("fromType", "Agent", "from", "a1", "to", "1000300"))
	n.waitState(hold, "bridged")
	temp := n.waitState(sticky("1000100", "retryTemp", "timeLimit", "1"), "ended")
	if temp.answeredAgent("to") != "a2" {
		t.Fatalf("retryTemp: agent %q", temp.answeredAgent("to"))
	}
	same := sticky("1000100", "retrySame", "timeLimit", "1")
	c := n.waitLegs(same, func(c call) bool {
		return len(c.Legs) > 1 && c.Legs[1].AgentID == "a1" && c.Legs[1].Disposition == "skipped"
	})
	if c.State == "ended" {
		t.Fatalf("retrySame did not wait: %+v", c)
	}
	if code := n.hangup(hold); code != http.StatusAccepted {
		t.Fatalf("hang up a1's call: HTTP %d", code)
	}
	if got := n.waitState(same, "ended"); got.answeredAgent("to") != "a1" {
		t.Fatalf("retrySame: agent %q, legs %v", got.answeredAgent("to"), got.legs())
	}
	hold = n.clickToCall(params("fromType", "Agent", "from", "a1", "to", "1000300"))
	n.waitState(hold, "bridged")
	moved := n.waitState(sticky("1000100", "retryNewSticky", "timeLimit", "1"), "ended")
	if moved.answeredAgent("to") != "a2" {
		t.Fatalf("retryNewSticky: agent %q", moved.answeredAgent("to"))
	}
	n.hangup(hold)
	n.waitState(hold, "ended")
	// Now bound to a2: a2 answers even though a1 is free.
	back := n.waitState(sticky("1000100", "", "timeLimit", "1"), "ended")
	if back.answeredAgent("to") != "a2" {
		t.Fatalf("after retryNewSticky the customer reached %q", back.answeredAgent("to"))
	}
}

// Many simultaneous calls through two engine nodes sharing one Redis: no
// agent ever rings or talks on two calls at once, and the round robin
// shares the calls fairly.
func TestTwoNodesNeverDoubleBookAnAgent(t *testing.T) {
	url := redistest.URL(t)
	answer := answerUAS(t)
	// A group id of its own, so another test's state in a shared Redis
	// cannot interfere.
	group := fmt.Sprintf("g%d", time.Now().UnixNano())
	yaml := strings.Replace(agentsYAML(3, ""), "id: g,", "id: "+group+",", 1)
	nodes := []*node{
		startNodeWith(t, url, yaml, trunk{"1", answer}),
		startNodeWith(t, url, yaml, trunk{"1", answer}),
	}
	var mu sync.Mutex
	var ids []string
	burst := func(calls int) {
		var wg sync.WaitGroup
		for i := 0; i < calls; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				n := nodes[i%2]
				id := n.clickToCall(params("fromType", "Group", "from", group, "to", fmt.Sprintf("10009%02d", i), "timeLimit", "1", "queueTimeout", "30"))
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		mu.Lock()
		pending := append([]string(nil), ids...)
		mu.Unlock()
		for _, id := range pending {
			nodes[0].waitState(id, "ended")
		}
	}
	for i := 0; i < 4; i++ {
		burst(3) // as many calls as agents
	}
	burst(6) // twice as many: three wait in line

	share := map[string]int{}
	type span struct {
		call     string
		from, to time.Time
	}
	spans := map[string][]span{}
	for _, id := range ids {
		c, _ := nodes[1].get(id) // read through the other node: one shared store
		if c.Outcome != "completed" {
			t.Fatalf("call %s: %s (%v)", id, c.Outcome, c.legs())
		}
		share[c.answeredAgent("from")]++
		for _, l := range c.Legs {
			if l.AgentID == "" || l.Disposition == "skipped" || l.LegEndedAt == nil {
				continue
			}
			spans[l.AgentID] = append(spans[l.AgentID], span{id, l.CreatedAt, *l.LegEndedAt})
		}
	}
	for agent, ss := range spans {
		for i := range ss {
			for j := i + 1; j < len(ss); j++ {
				if ss[i].from.Before(ss[j].to) && ss[j].from.Before(ss[i].to) {
					t.Fatalf("agent %s double-booked: calls %s and %s overlap", agent, ss[i].call, ss[j].call)
				}
			}
		}
	}
	lo, hi := len(ids), 0
	for _, a := range []string{"a1", "a2", "a3"} {
		lo, hi = min(lo, share[a]), max(hi, share[a])
	}
	if hi-lo > 1 {
		t.Fatalf("unfair shares %v", share)
	}
}

// waitLegs polls the record until cond holds.
func (n *node) waitLegs(id string, cond func(call) bool) call {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, code := n.get(id)
		if code == 200 && cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("call %s: condition never held; last %+v", id, c)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
