package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/test/sipptest"
)

// inboundYAML configures agents a1, a2 in the sticky round-robin group
// sales and a3 in support (phones 100000N, the answering sipp), and an
// app on 5550100 whose menu plays a beep and routes 1 to sales, 2 to
// support; the app on 5550200 routes straight to a3.
const inboundYAML = `agents:
  - {user_id: "1", id: a1, name: Agent 1, numbers: ["1000001"], web_login: true, call_login: true}
  - {user_id: "1", id: a2, name: Agent 2, numbers: ["1000002"], web_login: true, call_login: true}
  - {user_id: "1", id: a3, name: Agent 3, numbers: ["1000003"], web_login: true, call_login: true}
groups:
  - {user_id: "1", id: sales, name: Sales, distribution: round_robin, sticky: true, members: [{agent_id: a1}, {agent_id: a2}]}
  - {user_id: "1", id: support, name: Support, distribution: round_robin, members: [{agent_id: a3}]}
apps:
  - user_id: "1"
    id: hotline
    name: Hotline
    number: "5550100"
    ring_time: 10
    flow:
      id: hotline-menu
      start: main
      menus:
        - id: main
          prompt: beep.wav
          options:
            "1": {type: route_group, target: sales}
            "2": {type: route_group, target: support}
  - {user_id: "1", id: direct, number: "5550200", route: {type: route_agent, target: a3}}
`

// inboundCall is the part of an inbound call's record the tests read.
type inboundCall struct {
	CallID    string `json:"callid"`
	Direction string `json:"direction"`
	App       string `json:"app_id"`
	Caller    string `json:"caller"`
	Called    string `json:"called"`
	Outcome   string `json:"outcome"`
	HangupBy  string `json:"hangup_by"`
	IVR       []struct {
		Event  string `json:"event"`
		Digits string `json:"digits"`
	} `json:"ivr"`
	Legs []struct {
		Inbound     bool   `json:"inbound"`
		Side        string `json:"side"`
		AgentID     string `json:"agent_id"`
		GroupID     string `json:"group_id"`
		Number      string `json:"number"`
		CallerID    string `json:"caller_id"`
		DTMF        string `json:"dtmf"`
		Disposition string `json:"disposition"`
	} `json:"legs"`
	Attempts []struct {
		ID          string `json:"attemptId"`
		Seq         int    `json:"seq"`
		To          string `json:"to"`
		AgentID     string `json:"agent_id"`
		Group       string `json:"group"`
		Disposition string `json:"disposition"`
	} `json:"attempts"`
}

// agent is the agent of the call's answered to leg.
func (c inboundCall) agent() string {
	for _, l := range c.Legs {
		if l.Side == "to" && l.Disposition == "answered" {
			return l.AgentID
		}
	}
	return ""
}

// inboundCalls lists the tenant's inbound calls, newest first, once
// none of them is live any more.
func (n *node) inboundCalls(want int) []inboundCall {
	n.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := n.do(http.MethodGet, "/v1/calls?direction=inbound&limit=100", "", nil)
		if code != http.StatusOK {
			n.t.Fatalf("list calls: HTTP %d %s", code, body)
		}
		var page struct {
			Calls []inboundCall `json:"calls"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			n.t.Fatal(err)
		}
		done := len(page.Calls) == want
		for _, c := range page.Calls {
			done = done && c.Outcome != ""
		}
		if done {
			return page.Calls
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("want %d ended inbound calls, have %s", want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// callIn places a call from caller to number with sipp, pressing keys
// after the prompt, and waits for sipp to hang up.
func (n *node) callIn(caller, number, keys string) {
	n.t.Helper()
	res := sipptest.RunUAC(n.t, sipptest.UACOptions{
		Scenario: "uac_inbound_keys.xml", Target: n.sip, Service: number, Keys: keys,
		Vars: map[string]string{"caller": caller, "prompt_ms": "1200", "talk_ms": "1500"},
	})
	if !res.OK {
		n.t.Fatalf("sipp caller %s: %s\n%s", caller, res.Output, res.Messages)
	}
}

// Callers meet the IVR over real SIP and choose with RFC 4733 keys: the
// menu routes to the group the key names, round-robin spreads the sales
// calls, a caller comes back to their sticky agent, and every call's log
// has its caller, its keys, its IVR path and every transfer attempt.
func TestInboundIVRRoutesToGroupsOverSIP(t *testing.T) {
	agents := answerUAS(t)
	n := startNodeWith(t, "", inboundYAML, trunk{"1", agents})

	calls := []struct{ caller, keys string }{{"9001", "1"}, {"9002", "1"}, {"9001", "1"}, {"9003", "2"}}
	for _, c := range calls {
		n.callIn(c.caller, "5550100", c.keys)
	}
	n.callIn("9004", "5550200", "7") // a key the direct route ignores
	got := n.inboundCalls(len(calls) + 1)
	// Newest first: put them in the order they were placed.
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	direct := got[len(got)-1]
	got = got[:len(calls)]
	if direct.App != "direct" || direct.Caller != "9004" || direct.Outcome != "completed" || len(direct.IVR) != 0 ||
		direct.agent() != "a3" || len(direct.Attempts) != 1 || direct.Attempts[0].Disposition != "answered" {
		t.Fatalf("direct route call: %+v", direct)
	}
	var agentsOf []string
	for i, c := range got {
		want := calls[i]
		if c.Direction != "inbound" || c.App != "hotline" || c.Caller != want.caller || c.Called != "5550100" {
			t.Fatalf("call %d: %+v", i, c)
		}
		if c.Outcome != "completed" || c.HangupBy != "from" {
			t.Fatalf("call %d ended %s by %s", i, c.Outcome, c.HangupBy)
		}
		if len(c.Legs) < 2 || !c.Legs[0].Inbound || c.Legs[0].Number != want.caller || c.Legs[0].DTMF != want.keys {
			t.Fatalf("call %d caller leg: %+v", i, c.Legs)
		}
		var path []string
		for _, e := range c.IVR {
			path = append(path, e.Event+e.Digits)
		}
		if strings.Join(path, ",") != "menu,input"+want.keys+",exit" {
			t.Fatalf("call %d IVR log %v", i, path)
		}
		for _, l := range c.Legs[1:] {
			if l.CallerID != want.caller {
				t.Fatalf("call %d: agent leg presented %q, not the caller's number", i, l.CallerID)
			}
		}
		// The call log: every agent leg is a transfer attempt, in
		// order, the answered one last; the caller's own leg is none.
		if len(c.Attempts) != len(c.Legs)-1 {
			t.Fatalf("call %d: %d attempts for %d legs: %+v", i, len(c.Attempts), len(c.Legs), c.Attempts)
		}
		for k, a := range c.Attempts {
			if a.ID == "" || a.Seq != k+2 || a.AgentID == "" || a.Group == "" {
				t.Fatalf("call %d attempt %d: %+v", i, k, a)
			}
		}
		if last := c.Attempts[len(c.Attempts)-1]; last.Disposition != "answered" || last.AgentID != c.agent() {
			t.Fatalf("call %d: last attempt %+v, answered by %q", i, last, c.agent())
		}
		agentsOf = append(agentsOf, c.agent())
	}
	if a := agentsOf; !(a[0] != a[1] && a[0] != "" && a[1] != "" && a[2] == a[0] && a[3] == "a3") {
		t.Fatalf("agents %v: want two different sales agents, the first again for the returning caller, a3 for support", a)
	}
	for i, c := range got[:3] {
		if g := c.Legs[len(c.Legs)-1].GroupID; g != "sales" {
			t.Fatalf("call %d routed through group %q", i, g)
		}
	}
	agents.WaitCounts(t, "every agent leg torn down", func(s sipptest.Counts) bool {
		return s.Requests["INVITE"] >= len(calls)+1 && s.Requests["BYE"] == s.Requests["INVITE"]
	})
	// Every call came from the trunk's host and was offered to the engine.
	if v := n.metrics()["switchboard_sip_inbound_accepted_total"]; v != float64(len(calls)+1) {
		t.Fatalf("switchboard_sip_inbound_accepted_total %v, want %d", v, len(calls)+1)
	}
}
