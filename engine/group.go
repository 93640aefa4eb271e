package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard/switchboard/dialer"
)

// queuePoll is how often a caller waiting for a free group member looks
// again; queueLease how long its place in line survives without a look
// (a waiting call whose node died leaves the line within it).
const (
	queuePoll  = 250 * time.Millisecond
	queueLease = 10 * queuePoll
)

// groupHunt is one side's hunt through a group.
type groupHunt struct {
	g        *Group
	dist     dialer.Distribution
	strategy dialer.Strategy
	ringTime time.Duration
	deadline time.Time // end of waiting for a free member
	sticky   stickyCall
	// filter is the side's login filter: who may be offered the call is
	// decided the same way for waiting and for offering.
	filter dialer.LoginFilter
	// plan is the sticky decision of the latest pass.
	plan dialer.StickyPlan
	// line is the waiting line the caller stands in: the group's, or
	// (retrySame) one of its own per sticky agent, so a caller waiting
	// for one agent never holds back callers any member could take.
	line string
}

// stickyCall is the sticky-agent state of a group hunt.
type stickyCall struct {
	on     bool
	number string // the customer: the other side's number
	ttl    time.Duration
	policy dialer.StickyBusyPolicy
	bound  string // agent bound to the customer when the call started
}

// huntGroup offers the call to a group's members: ordered by the group's
// distribution (or the sticky agent first), each reserved atomically
// before it rings, ONE_BY_ONE or all at once (TO_ALL, or the ring_all
// distribution). When no member can be offered the call, the caller waits
// in the group's line, in order of arrival, up to queueTimeout. Retries
// repeat a pass in which somebody was rung and nobody answered.
func (r *callRun) huntGroup(ctx context.Context, side SideName, sr SideRequest, peer Session) (Session, *Leg) {
	groupID := sr.Values[0]
	skipGroup := func(reason string) (Session, *Leg) {
		r.newLeg(side, sr, dialTarget{target: groupID, groupID: groupID}, dialer.Wave{}, LegEnded, reason)
		return nil, nil
	}
	agents := r.e.opt.Agents
	if agents == nil {
		return skipGroup("no agent directory configured")
	}
	h, err := r.newGroupHunt(ctx, side, sr, groupID)
	if err != nil {
		return skipGroup(err.Error())
	}
	defer r.leaveLine(h)

	step := 0
	needFree := false // after a pass that could ring nobody, wait for a free member
	for round := 0; round <= sr.RetryCount; {
		if ctx.Err() != nil {
			return nil, nil
		}
		ok, why := r.waitTurn(ctx, h, needFree)
		if !ok {
			if why != "" {
				return skipGroup(why)
			}
			return nil, nil
		}
		order := r.groupOrder(ctx, h)
		var targets []dialTarget
		rang := false
		for _, o := range order {
			w := dialer.Wave{Round: round, Step: step, RingTime: h.ringTime}
			t, ok := r.offerAgent(ctx, side, sr, w, o.agentID, groupID, o.routing)
			if !ok {
				continue
			}
			if !rang && len(targets) == 0 {
				// Ringing someone: out of the line, so callers behind
				// can take the other free members.
				r.leaveLine(h)
			}
			r.setRoundRobinLast(h.g, o.agentID)
			if h.strategy == dialer.ToAll {
				targets = append(targets, t)
				continue
			}
			rang = true
			step++
			if s, leg := r.wave(ctx, side, sr, w, []dialTarget{t}, peer); s != nil {
				r.groupAnswered(h, leg)
				return s, leg
			}
			if ctx.Err() != nil {
				return nil, nil
			}
		}
		if len(targets) > 0 {
			rang = true
			w := dialer.Wave{Round: round, Step: step, RingTime: h.ringTime}
			step++
			if s, leg := r.wave(ctx, side, sr, w, targets, peer); s != nil {
				r.groupAnswered(h, leg)
				return s, leg
			}
		}
		if rang {
			round++
		}
		needFree = !rang
	}
	return nil, nil
}

// groupAnswered notes what a member's answer means beyond the hunt: the
// sticky binding, and recording when the group records its calls.
func (r *callRun) groupAnswered(h *groupHunt, leg *Leg) {
	r.bindSticky(h, leg.AgentID)
	if h.g.Recording {
		r.groupRecords.Store(true)
	}
}

func (r *callRun) newGroupHunt(ctx context.Context, side SideName, sr SideRequest, groupID string) (*groupHunt, error) {
	agents := r.e.opt.Agents
	sctx, cancel := r.storeCtx()
	defer cancel()
	g, err := agents.GetGroup(sctx, r.call.Tenant, groupID)
	r.e.storeErr("get_group", err)
	if errors.Is(err, ErrNotFound) {
		return nil, errors.New("group deleted")
	}
	if err != nil {
		return nil, fmt.Errorf("group look-up failed: %w", err)
	}
	dist, err := dialer.ParseDistribution(g.Distribution)
	if err != nil {
		dist, _ = dialer.ParseDistribution("")
	}
	h := &groupHunt{g: g, dist: dist, strategy: sr.Strategy, ringTime: time.Duration(sr.RingTime) * time.Second,
		filter: loginFilter(sr), line: g.ID}
	if dist.Name() == "ring_all" {
		h.strategy = dialer.ToAll
	}
	if g.RingTime > 0 {
		h.ringTime = time.Duration(g.RingTime) * time.Second
	}
	h.deadline = r.e.opt.Now().Add(r.queueTimeout(g))
	h.sticky = r.stickyFor(ctx, side, g)
	return h, nil
}

// stickyFor works out whether the hunt is sticky: sticky=yes in the
// request, or sticky=na (the default) and a sticky group. The customer is
// the other side's number; without one there is nobody to stick to.
func (r *callRun) stickyFor(ctx context.Context, side SideName, g *Group) stickyCall {
	req := r.call.Request
	other := req.From
	if side == SideFrom {
		other = req.To
	}
	var sc stickyCall
	switch strings.ToLower(req.Sticky) {
	case "yes":
		ttl, err := dialer.StickyTTL(req.StickyTimeType, max(req.StickyTimeValue, 1))
		if err != nil {
			return sc
		}
		sc.on, sc.ttl = true, ttl
	case "no":
		return sc
	default:
		if !g.Sticky {
			return sc
		}
		days := g.StickyDays
		if days <= 0 {
			days = 30
		}
		sc.on, sc.ttl = true, time.Duration(days)*24*time.Hour
	}
	if other.Type != TargetNumber || len(other.Values) == 0 {
		return stickyCall{}
	}
	sc.number = other.Values[0]
	sc.policy, _ = dialer.ParseStickyBusyPolicy(req.StickyAgentBusy)
	sctx, cancel := r.storeCtx()
	defer cancel()
	bound, err := r.e.opt.Agents.Sticky(sctx, r.call.Tenant, sc.number)
	r.e.storeErr("sticky", err)
	if err != nil {
		r.log.Warn("sticky look-up failed; routing by distribution", "err", err)
	}
	sc.bound = bound
	return sc
}

// bindSticky binds the customer to the agent who answered, when the
// sticky plan says so or the bound agent answered again (refreshing the
// period).
func (r *callRun) bindSticky(h *groupHunt, agentID string) {
	if !h.sticky.on || !h.plan.BindOnAnswer(h.sticky.bound, agentID) {
		return // e.g. retryTemp: a stand-in; the customer stays with their agent
	}
	sctx, cancel := r.storeCtx()
	defer cancel()
	if err := r.e.opt.Agents.SetSticky(sctx, r.call.Tenant, h.sticky.number, agentID, h.sticky.ttl); err != nil {
		r.e.storeErr("set_sticky", err)
		r.log.Warn("sticky bind failed", "agent_id", agentID, "err", err)
	}
}

func (r *callRun) setRoundRobinLast(g *Group, agentID string) {
	sctx, cancel := r.storeCtx()
	defer cancel()
	if err := r.e.opt.Agents.SetRoundRobinLast(sctx, r.call.Tenant, g.ID, agentID); err != nil {
		r.e.storeErr("set_round_robin_last", err)
		r.log.Warn("round-robin pointer not saved", "group_id", g.ID, "err", err)
	}
}

// offer is one member in the order a pass offers the call.
type offer struct {
	agentID string
	routing string
}

// member is a group member with what the distribution and the sticky
// decision need to know about it now.
type member struct {
	cand      dialer.Candidate
	available bool
	// slots is how many more calls an available member can take now (its
	// max_calls less the calls it holds): a caller's turn in the line is
	// counted against the group's free capacity, not its free agents.
	slots   int
	deleted bool // still listed in the group, but the agent is gone
}

// members reads the group's members and their live state. Available
// means what offerAgent will find: eligible under the side's login filter
// and not already held by this very call.
func (r *callRun) members(ctx context.Context, h *groupHunt) []member {
	agents := r.e.opt.Agents
	sctx, cancel := r.storeCtx()
	defer cancel()
	ids := make([]string, len(h.g.Members))
	for i, m := range h.g.Members {
		ids[i] = m.AgentID
	}
	states, err := agents.AgentStates(sctx, r.call.Tenant, ids)
	r.e.storeErr("agent_states", err)
	if err != nil || len(states) != len(ids) {
		states = make([]AgentState, len(ids))
	}
	now := r.e.opt.Now()
	// On a failed read nobody is offered the call (nor taken for
	// deleted); a later pass reads again.
	found, err := agents.GetAgents(sctx, r.call.Tenant, ids)
	r.e.storeErr("get_agents", err)
	if err == nil && len(found) != len(ids) {
		err = fmt.Errorf("store returned %d agents for %d ids", len(found), len(ids))
	}
	out := make([]member, 0, len(ids))
	for i, m := range h.g.Members {
		var a *Agent
		if err == nil {
			a = found[i]
		}
		available, slots := false, 0
		if a != nil && !r.holds(m.AgentID) {
			v := agentView(a, states[i], now)
			if available, _ = dialer.Eligible(v, h.filter, now); available {
				slots = max(v.Capacity, 1) - v.Active
			}
		}
		deleted := err == nil && a == nil
		out = append(out, member{
			cand: dialer.Candidate{
				AgentID: m.AgentID, Priority: m.Priority, Index: i,
				LastCallEnd: states[i].LastCallEnd, CallsTaken: states[i].CallsTaken,
			},
			available: available,
			slots:     slots,
			deleted:   deleted,
		})
	}
	return out
}

// groupOrder is the order in which this pass offers the call: the sticky
// decision first, then the distribution.
func (r *callRun) groupOrder(ctx context.Context, h *groupHunt) []offer {
	ms := r.members(ctx, h)
	cands := make([]dialer.Candidate, len(ms))
	boundAvailable, boundIsMember := false, false
	for i, m := range ms {
		cands[i] = m.cand
		if m.cand.AgentID == h.sticky.bound && !m.deleted {
			boundIsMember, boundAvailable = true, m.available
		}
	}
	in := dialer.OrderInput{LastOfferedIndex: -1, Seed: seed()}
	sctx, cancel := r.storeCtx()
	last, err := r.e.opt.Agents.RoundRobinLast(sctx, r.call.Tenant, h.g.ID)
	cancel()
	r.e.storeErr("round_robin_last", err)
	if err == nil {
		in.LastOffered = last
		for _, c := range cands {
			if c.AgentID == last {
				in.LastOfferedIndex = c.Index
			}
		}
	}
	ordered := h.dist.Order(cands, in)
	routing := h.dist.Name()

	if !h.sticky.on {
		return offers(ordered, routing, "")
	}
	plan := dialer.DecideSticky(dialer.StickyInput{
		Bound: h.sticky.bound, BoundIsMember: boundIsMember, BoundAvailable: boundAvailable, Policy: h.sticky.policy,
	})
	h.plan = plan
	switch {
	case plan.WaitForBound:
		return []offer{{agentID: h.sticky.bound, routing: plan.Reason}}
	case plan.TryFirst != "":
		return append([]offer{{agentID: plan.TryFirst, routing: plan.Reason}}, offers(ordered, routing+" after sticky agent", plan.TryFirst)...)
	}
	return offers(ordered, routing+" ("+plan.Reason+")", "")
}

func offers(cands []dialer.Candidate, routing, except string) []offer {
	out := make([]offer, 0, len(cands))
	for _, c := range cands {
		if c.AgentID != except {
			out = append(out, offer{agentID: c.AgentID, routing: routing})
		}
	}
	return out
}

// waitTurn decides when the caller may make a pass over the members. The
// first pass is made at once unless others wait ahead (it records why each
// member was skipped). After a pass that rang nobody, the caller waits in
// its line, looking every queuePoll, until it is among the first as many
// callers as there are members free for it — so callers are served in
// order of arrival, and a free member is never held back by the line. It
// reports false with a reason when waiting ends without a turn (queue
// timeout, line full), and false without one when ctx ended.
func (r *callRun) waitTurn(ctx context.Context, h *groupHunt, needFree bool) (bool, string) {
	agents := r.e.opt.Agents
	if h.plan.WaitForBound && h.line == h.g.ID {
		r.leaveLine(h)
		h.line = h.g.ID + "/agent/" + h.sticky.bound
	}
	for {
		if needFree {
			if !r.e.opt.Now().Before(h.deadline) {
				return false, fmt.Sprintf("queue timeout: no member free within %s", r.queueTimeout(h.g))
			}
			r.audio.holding() // until the hunt rings someone again
			select {
			case <-ctx.Done():
				return false, ""
			case <-time.After(queuePoll):
			}
		}
		free := r.usableFree(r.members(ctx, h), h)
		maxWait := h.g.MaxWait
		if free > 0 {
			maxWait = 0 // a caller with a free member is not waiting
		}
		sctx, cancel := r.storeCtx()
		ahead, err := agents.JoinQueue(sctx, r.call.Tenant, h.line, r.call.ID, r.e.opt.Now(), queueLease, maxWait)
		cancel()
		r.e.storeErr("join_queue", err)
		switch {
		case errors.Is(err, ErrQueueFull):
			return false, fmt.Sprintf("queue full: %d callers already wait", h.g.MaxWait)
		case err != nil:
			r.log.Warn("queue", "err", err)
			ahead = 0 // a store hiccup must not strand the caller
		}
		if needFree && free == 0 {
			continue
		}
		if ahead < max(free, 1) {
			r.audio.ringing() // hold music, if it played, gives way
			return true, ""
		}
		needFree = true
	}
}

// leaveLine takes the caller out of its waiting line.
func (r *callRun) leaveLine(h *groupHunt) {
	sctx, cancel := r.storeCtx()
	defer cancel()
	r.e.storeErr("leave_queue", r.e.opt.Agents.LeaveQueue(sctx, r.call.Tenant, h.line, r.call.ID))
}

// queueTimeoutOfGroup is a request's QueueTimeout that defers to the
// group's queue_timeout (inbound calls carry it).
const queueTimeoutOfGroup = -1

// defaultGroupQueueTimeout is a group's queue_timeout when it sets none.
const defaultGroupQueueTimeout = 60

// queueTimeout bounds waiting for a free member: the request's
// queueTimeout (the API fills in the spec's default, 60 s; 0 means do not
// wait), or the group's queue_timeout (0 meaning 60 s) for a call that
// defers to it (queueTimeoutOfGroup).
func (r *callRun) queueTimeout(g *Group) time.Duration {
	qt := r.call.Request.QueueTimeout
	if qt < 0 {
		qt = g.QueueTimeout
		if qt <= 0 {
			qt = defaultGroupQueueTimeout
		}
	}
	return time.Duration(qt) * time.Second
}

// usableFree counts the calls this call's group could take now: the free
// slots of members free and present, and for a caller waiting for its
// sticky agent, that agent's only.
func (r *callRun) usableFree(ms []member, h *groupHunt) int {
	n := 0
	for _, m := range ms {
		if !m.available || m.deleted {
			continue
		}
		if h.plan.WaitForBound && m.cand.AgentID != h.sticky.bound {
			continue
		}
		n += m.slots
	}
	return n
}
