package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/switchboard/switchboard/dialer"
)

// AgentCLI is the CLI value that presents an agent's own caller ID.
const AgentCLI = "AGENT_CLI"

// dialTarget is one endpoint a wave rings, resolved and, for an agent,
// already reserved for this call.
type dialTarget struct {
	target   string // what the request named: a number, agent id or group id
	number   string
	callerID string
	agent    *Agent
	groupID  string
	routing  string
	inbound  bool // the caller's leg of an inbound call
}

// offerAgent decides whether an agent can be offered this call: the agent
// must exist, pass the side's login filters and be reserved in the store
// (atomically, so no other call on any node rings them too). When it
// cannot, the attempt is recorded as skipped with the reason.
func (r *callRun) offerAgent(ctx context.Context, side SideName, sr SideRequest, w dialer.Wave, agentID, groupID, routing string) (dialTarget, bool) {
	target := agentID
	if groupID != "" {
		target = groupID
	}
	t := dialTarget{target: target, groupID: groupID, routing: routing}
	skip := func(reason string) (dialTarget, bool) {
		r.newLeg(side, sr, t, w, LegEnded, reason)
		return dialTarget{}, false
	}
	agents := r.e.opt.Agents
	if agents == nil {
		return skip("no agent directory configured")
	}
	if r.holds(agentID) {
		t.agent = &Agent{ID: agentID}
		return skip("already on this call")
	}
	sctx, cancel := r.storeCtx()
	defer cancel()
	a, err := agents.GetAgent(sctx, r.call.Tenant, agentID)
	r.e.storeErr("get_agent", err)
	if errors.Is(err, ErrNotFound) {
		t.agent = &Agent{ID: agentID}
		return skip("agent deleted")
	}
	if err != nil {
		t.agent = &Agent{ID: agentID}
		return skip("agent look-up failed: " + err.Error())
	}
	t.agent = a
	now := r.e.opt.Now()
	states, err := agents.AgentStates(sctx, r.call.Tenant, []string{agentID})
	r.e.storeErr("agent_states", err)
	if err != nil || len(states) != 1 {
		return skip(fmt.Sprintf("agent state look-up failed: %v", err))
	}
	if ok, why := dialer.Eligible(agentView(a, states[0], now), loginFilter(sr), now); !ok {
		return skip(why)
	}
	if len(a.Numbers) == 0 {
		return skip("agent has no number")
	}
	if err := agents.Reserve(sctx, r.call.Tenant, agentID, r.call.ID, now, agentLease); err != nil {
		r.e.storeErr("reserve", err)
		if errors.Is(err, ErrAgentBusy) {
			return skip("busy: reserved by another call")
		}
		return skip(err.Error())
	}
	r.heldMu.Lock()
	r.held[agentID] = true
	r.heldMu.Unlock()
	t.number = a.Numbers[0]
	t.callerID = r.callerID(side, sr, a)
	return t, true
}

// agentLease is how long a reservation lives without renewal; the call
// renews its reservations every agentLease/3, so an agent held by a node
// that died is free again within agentLease.
const agentLease = 60 * time.Second

// keepLeases renews the call's reservations until ctx ends. A renewal
// runs under heldMu, so a release cannot slip in between the check that
// the agent is still held and the renewal (which would book the agent
// afresh for a call that let it go).
func (r *callRun) keepLeases(ctx context.Context) {
	defer close(r.leasesDone)
	agents := r.e.opt.Agents
	if agents == nil {
		return
	}
	t := time.NewTicker(agentLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.heldMu.Lock()
		for id := range r.held {
			sctx, cancel := r.storeCtx()
			err := agents.Reserve(sctx, r.call.Tenant, id, r.call.ID, r.e.opt.Now(), agentLease)
			cancel()
			r.e.storeErr("reserve", err)
			if err != nil {
				r.log.Warn("renew agent reservation", "agent_id", id, "err", err)
			}
		}
		r.heldMu.Unlock()
	}
}

// release gives an agent back; answered starts the agent's wrap-up.
func (r *callRun) release(agentID string, answered bool) {
	r.heldMu.Lock()
	held := r.held[agentID]
	delete(r.held, agentID)
	r.heldMu.Unlock()
	if !held || r.e.opt.Agents == nil {
		return
	}
	ctx, cancel := r.storeCtx()
	defer cancel()
	if err := r.e.opt.Agents.Release(ctx, r.call.Tenant, agentID, r.call.ID, r.e.opt.Now(), answered); err != nil {
		r.e.storeErr("release", err)
		r.log.Error("release agent", "agent_id", agentID, "err", err)
	}
}

// releaseAll gives back every agent the call still holds: the ones that
// talked start their wrap-up.
func (r *callRun) releaseAll() {
	r.mu.Lock()
	talked := map[string]bool{}
	for _, id := range r.answeredAgent {
		talked[id] = true
	}
	r.mu.Unlock()
	r.heldMu.Lock()
	ids := make([]string, 0, len(r.held))
	for id := range r.held {
		ids = append(ids, id)
	}
	r.heldMu.Unlock()
	for _, id := range ids {
		r.release(id, talked[id])
	}
}

func agentView(a *Agent, st AgentState, now time.Time) dialer.AgentView {
	active := 0
	for _, until := range st.Calls {
		if until.After(now) {
			active++
		}
	}
	return dialer.AgentView{
		ID: a.ID, WebLogin: a.WebLogin, CallLogin: a.CallLogin, Paused: a.Paused,
		Active: active, Capacity: a.Capacity(), WrapUpUntil: st.WrapUpUntil,
	}
}

func loginFilter(sr SideRequest) dialer.LoginFilter {
	return dialer.LoginFilter{WebLogin: sr.WebLogin, CallLogin: sr.CallLogin}
}

// callerID is the caller ID presented on a leg of side. AGENT_CLI presents
// the CLI of the agent on the call: the agent who answered the other side
// when there is one (to is dialed after from answered), else the agent
// this leg rings, else the first agent the other side names (from is
// dialed before to; validation refuses AGENT_CLI where that agent cannot
// be known, code 1585). Empty means the trunk's default.
func (r *callRun) callerID(side SideName, sr SideRequest, leg *Agent) string {
	if !strings.EqualFold(sr.CLI, AgentCLI) {
		return sr.CLI
	}
	other, otherReq := SideTo, r.call.Request.To
	if side == SideTo {
		other, otherReq = SideFrom, r.call.Request.From
	}
	r.mu.Lock()
	answered := r.answeredAgent[other]
	r.mu.Unlock()
	lookup := func(id string) string {
		if r.e.opt.Agents == nil || id == "" {
			return ""
		}
		ctx, cancel := r.storeCtx()
		defer cancel()
		a, err := r.e.opt.Agents.GetAgent(ctx, r.call.Tenant, id)
		r.e.storeErr("get_agent", err)
		if err != nil {
			return ""
		}
		return a.CLI
	}
	switch {
	case answered != "":
		return lookup(answered)
	case leg != nil:
		return leg.CLI
	case otherReq.Type == TargetAgent && len(otherReq.Values) > 0:
		return lookup(otherReq.Values[0])
	}
	return ""
}

// seed gives the random distribution its randomness; dialer stays pure.
func seed() uint64 { return rand.Uint64() }

// holds reports whether this call has the agent reserved.
func (r *callRun) holds(agentID string) bool {
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	return r.held[agentID]
}
