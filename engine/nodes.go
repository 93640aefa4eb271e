package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NodeLeases is how engine nodes that share a store know which of them
// are alive. Each node holds the lease named by its own id and renews it
// while it runs; a node whose lease ran out is gone (crashed, cut off, or
// stopped without draining), and the first other node to take its lease
// ends the calls it left live, each with a record that says so. Without
// it, a node that never comes back under its id would leave its calls
// live in the store for good.
//
// A lease is a name, a holder and a deadline; the stores keep it with the
// store's clock (Redis: a key with a PX expiry), so nodes need no
// synchronised clocks.
type NodeLeases interface {
	// LeaseNode takes or renews, for holder, the lease on node for ttl.
	// It reports false, changing nothing, while another holder's lease
	// on node runs.
	LeaseNode(ctx context.Context, node, holder string, ttl time.Duration) (bool, error)
	// ReleaseNode gives the lease on node up if holder holds it.
	ReleaseNode(ctx context.Context, node, holder string) error
	// LiveNodes lists the nodes that have had live calls in the store
	// (a superset is fine: LiveCalls tells which still have some).
	LiveNodes(ctx context.Context) ([]string, error)
}

// DefaultNodeLeaseTTL is Options.NodeLeaseTTL's default: how long a node's
// calls stay its own after its last renewal. A dead node's calls are
// ended within about 1.5 of it.
const DefaultNodeLeaseTTL = 15 * time.Second

// ErrNodeIDInUse is returned by StartLiveness when another holder keeps
// renewing this node's lease: two processes run with one node id, which
// would mix up their calls.
var ErrNodeIDInUse = errors.New("node id in use: another engine node holds its lease")

// ErrNodeLeaseLost is the cause of calls this node stopped because it
// could not renew its lease in time: other nodes may have ended them as
// a dead node's calls, so this node must not carry them on.
var ErrNodeLeaseLost = errors.New("engine node lost its lease")

func (o *Options) nodeLeaseTTL() time.Duration {
	if o.NodeLeaseTTL <= 0 {
		return DefaultNodeLeaseTTL
	}
	return o.NodeLeaseTTL
}

// StartLiveness takes this node's lease and keeps it until ctx ends (then
// it is released, so the node's id is free at once), and meanwhile ends
// the calls that other nodes left live when their leases ran out. It
// waits up to one lease time for a lease still held by a previous holder
// (a process with this id that just died) and returns ErrNodeIDInUse if
// it is still renewed. Without Options.Nodes it does nothing.
//
// Run it before Recover (so a second process under this id is refused
// before it ends the first one's calls) and before taking calls.
func (e *Engine) StartLiveness(ctx context.Context) error {
	nodes := e.opt.Nodes
	if nodes == nil {
		return nil
	}
	ttl := e.opt.nodeLeaseTTL()
	holder := e.leaseHolder()
	deadline := time.Now().Add(ttl + ttl/5)
	for {
		sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
		ok, err := nodes.LeaseNode(sctx, e.opt.NodeID, holder, ttl)
		cancel()
		if err != nil {
			return fmt.Errorf("liveness: lease node %s: %w", e.opt.NodeID, err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("liveness: %s: %w", e.opt.NodeID, ErrNodeIDInUse)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(ttl / 5):
		}
	}
	go e.keepLiveness(ctx, holder, ttl)
	return nil
}

// leaseHolder names this process as a lease holder: the node id and a
// random part, so a restarted process under the same id is a different
// holder from its dead predecessor.
func (e *Engine) leaseHolder() string {
	e.holderOnce.Do(func() { e.holder = e.opt.NodeID + "/" + randomID(4) })
	return e.holder
}

// keepLiveness renews the lease every third of its time and looks for
// dead nodes as often. A renewal refused, or none achieved within the
// lease time (the store was out of reach, or this process stalled), means
// other nodes may take this node for dead and end its calls: the node
// then stops its own live calls too, rather than carry on calls the
// store may already show as ended, and takes its lease again.
func (e *Engine) keepLiveness(ctx context.Context, holder string, ttl time.Duration) {
	nodes := e.opt.Nodes
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opt.StoreTimeout)
			e.storeErr("release_node", nodes.ReleaseNode(rctx, e.opt.NodeID, holder))
			cancel()
			return
		case <-tick.C:
		}
		sctx, cancel := context.WithTimeout(ctx, min(e.opt.StoreTimeout, ttl/3))
		ok, err := nodes.LeaseNode(sctx, e.opt.NodeID, holder, ttl)
		cancel()
		e.storeErr("lease_node", err)
		switch {
		case err == nil && ok && time.Since(renewed) <= ttl:
			renewed = time.Now()
			if e.leaseLost.CompareAndSwap(true, false) {
				e.log.Warn("node lease taken again: taking calls", "node", e.opt.NodeID)
			}
		case err == nil || time.Since(renewed) > ttl:
			// Refused, or renewed too late to be sure nobody took it.
			if !e.leaseLost.Swap(true) {
				e.log.Error("node lease lost: stopping this node's live calls", "node", e.opt.NodeID, "refused", err == nil && !ok, "since_renewal", time.Since(renewed).String())
			}
			e.stopAll(ErrNodeLeaseLost)
			if err == nil && ok {
				renewed = time.Now()
				e.leaseLost.Store(false)
			}
			continue
		default:
			continue // a store error within the lease time: try again
		}
		e.reapDeadNodes(ctx, holder, ttl)
	}
}

// stopAll hangs up every live call of this node with cause.
func (e *Engine) stopAll(cause error) {
	e.mu.Lock()
	runs := make([]*callRun, 0, len(e.live))
	for _, r := range e.live {
		runs = append(runs, r)
	}
	e.mu.Unlock()
	for _, r := range runs {
		r.stop(HangupSystem, cause)
	}
}

// reapDeadNodes carries on or ends the live calls of every other node
// whose lease ran out. The reaper takes the dead node's lease first, so
// one node does it at a time, and keeps it until it runs out: a node that
// was only cut off finds its renewal refused meanwhile, and stops its
// calls too.
func (e *Engine) reapDeadNodes(ctx context.Context, holder string, ttl time.Duration) {
	if e.backend.Ready() != nil {
		// A node that cannot reach its telephony now could neither adopt
		// a dead node's calls nor hang their channels up: it leaves them
		// to a node that can, or to itself once it can.
		return
	}
	nodes := e.opt.Nodes
	sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
	defer cancel()
	all, err := nodes.LiveNodes(sctx)
	e.storeErr("live_nodes", err)
	for _, node := range all {
		if node == e.opt.NodeID || ctx.Err() != nil {
			continue
		}
		ids, err := e.store.LiveCalls(sctx, node)
		e.storeErr("live_calls", err)
		if err != nil || len(ids) == 0 {
			continue
		}
		ok, err := nodes.LeaseNode(sctx, node, holder, ttl)
		e.storeErr("lease_node", err)
		if err != nil || !ok {
			continue // alive, or another node reaps it
		}
		n, err := e.endLeftCalls(ctx, node, ids, fmt.Sprintf("engine node %s stopped renewing its lease while the call was live", node), "engine node "+node+" gone")
		if err != nil {
			e.log.Warn("taking over a dead node's calls", "node", node, "err", err)
		}
		if n > 0 {
			e.log.Warn("took over the calls a dead node left live", "node", node, "calls", n)
		}
	}
}

// endLeftCalls takes over the calls of ids that are still live on node: a
// node left them live and cannot carry them on. A bridged call whose
// channels are still up is adopted when the backend can (Adopter): this
// node carries it on to its end (time limit, alerts, hang-ups, recording).
// Every other call is ended with a final record: legs not ended are ended
// (answered ones as answered), their channels, when the backend can still
// reach them, hung up, the agents the call reserved released, and
// call.ended logged and published. It returns how many calls it took over
// either way.
func (e *Engine) endLeftCalls(ctx context.Context, node string, ids []string, reason, legReason string) (int, error) {
	ad, _ := e.backend.(Adopter)
	n := 0
	for _, id := range ids {
		sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
		c, err := e.store.GetCall(sctx, id)
		cancel()
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("get call %s: %w", id, err)
		}
		if !c.Live() || c.Node != node {
			continue
		}
		if ad != nil && e.adopt(ctx, c, ad, node) {
			n++
			continue
		}
		if err := e.endLeftCall(ctx, c, ad, reason, legReason); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// endLeftCall ends one call a node left live, with a final record.
func (e *Engine) endLeftCall(ctx context.Context, c *Call, ad Adopter, reason, legReason string) error {
	if ad != nil {
		// Nothing of the call may stay up once its record says it ended.
		for _, l := range c.Legs {
			if l.State == LegEnded || l.Inbound && l.Channel == "" {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, e.opt.HangupTimeout)
			if s, err := ad.AdoptLeg(actx, l); err == nil {
				_ = s.Hangup(actx, errLeftCall)
			}
			cancel()
		}
	}
	now := e.opt.Now()
	for _, l := range c.Legs {
		if l.State != LegEnded {
			l.State, l.Disposition, l.Reason = LegEnded, DispFailed, legReason
			if l.AnsweredAt != nil {
				l.Disposition = DispAnswered
			}
			l.EndedAt = &now
		}
	}
	finish(c, now, OutcomeFailed, HangupSystem, reason)
	if c.BridgedAt != nil {
		c.Outcome = OutcomeCompleted
	}
	ended := Event{Type: EventCallEnded, Time: now.UTC()}
	c.stamp(&ended)
	ended.Call = c.Clone()
	var logged []Event
	if e.opt.LogEvents == nil || e.opt.LogEvents(c.Tenant, c.Request) {
		logged = append(logged, ended)
	}
	sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
	defer cancel()
	if err := e.store.EndCall(sctx, c, e.opt.Retention, logged...); err != nil {
		return fmt.Errorf("end call %s: %w", c.ID, err)
	}
	e.releaseLeftAgents(sctx, c, now)
	e.events.publish(ended)
	e.log.Warn("ended a call left live", "call_id", c.ID, "node", c.Node, "reason", reason)
	return nil
}

// errLeftCall is the cause of the channels of a left call that is ended.
var errLeftCall = errors.New("the engine node driving the call is gone")

// adopt carries on a bridged call that node left, when both parties'
// channels and the bridge can be taken over: the call becomes this
// node's (its record says so), and a run of its own waits for its end
// as talk does, with the time limit and the alerts still due counted
// from the bridge. It reports false, having hung up nothing, when the
// call cannot be adopted.
func (e *Engine) adopt(ctx context.Context, c *Call, ad Adopter, node string) bool {
	log := e.log.With("call_id", c.ID, "node", node)
	if c.State != StateBridged || c.BridgedAt == nil || c.Bridge == "" {
		log.Warn("cannot adopt the call: not bridged", "state", c.State, "bridge", c.Bridge)
		return false
	}
	fromLeg, toLeg := answeredOn(c, SideFrom), answeredOn(c, SideTo)
	if fromLeg == nil || toLeg == nil {
		log.Warn("cannot adopt the call: a party's leg is not answered")
		return false
	}
	actx, cancel := context.WithTimeout(ctx, e.opt.HangupTimeout)
	defer cancel()
	from, err := ad.AdoptLeg(actx, fromLeg)
	if err != nil {
		log.Warn("cannot adopt the call: from's channel", "err", err)
		return false
	}
	to, err := ad.AdoptLeg(actx, toLeg)
	if err != nil {
		log.Warn("cannot adopt the call: to's channel", "err", err)
		return false
	}
	recording := ""
	if c.RecordingURL != "" {
		recording = RecordingName(c.Tenant, c.ID)
	}
	bridge, err := ad.AdoptBridge(actx, c.Bridge, from, to, recording)
	if err != nil {
		log.Warn("cannot adopt the call: its bridge", "err", err)
		return false
	}
	c.Node = e.opt.NodeID
	run, err := e.adoptRun(ctx, c)
	if err != nil {
		log.Warn("cannot adopt the call", "err", err)
		bridge.Close()
		return false
	}
	for _, l := range []*Leg{fromLeg, toLeg} {
		if l.AgentID != "" {
			run.held[l.AgentID] = true
			run.answeredAgent[l.Side] = l.AgentID
		}
	}
	run.answered(fromLeg, from)
	run.answered(toLeg, to)
	log.Warn("adopted a call its node left live", "bridged_at", c.BridgedAt.String())
	go run.run(func() { run.resume(from, to, bridge, fromLeg, toLeg) })
	return true
}

// answeredOn is the leg of side that is answered and not ended.
func answeredOn(c *Call, side SideName) *Leg {
	for _, l := range c.Legs {
		if l.Side == side && l.State == LegAnswered {
			return l
		}
	}
	return nil
}

// adoptRun makes a run for an adopted call and writes the call as this
// node's (it moves to this node's live calls, and its events to this
// node's stream).
func (e *Engine) adoptRun(ctx context.Context, c *Call) (*callRun, error) {
	e.mu.Lock()
	switch {
	case e.draining:
		e.mu.Unlock()
		return nil, ErrDraining
	case e.leaseLost.Load():
		e.mu.Unlock()
		return nil, ErrNodeLeaseLost
	case e.live[c.ID] != nil:
		e.mu.Unlock()
		return nil, fmt.Errorf("call %s is already live here", c.ID)
	}
	run := newCallRun(e, c)
	run.started = time.Now()
	for _, l := range c.Legs {
		run.seq = max(run.seq, l.Seq)
	}
	e.live[c.ID] = run
	e.wg.Add(1)
	e.mu.Unlock()
	run.logEvents = e.opt.LogEvents == nil || e.opt.LogEvents(c.Tenant, c.Request)
	sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
	err := e.store.SaveCall(sctx, c, nil)
	cancel()
	e.storeErr("save_call", err)
	if err != nil {
		e.mu.Lock()
		delete(e.live, c.ID)
		e.mu.Unlock()
		e.wg.Done()
		return nil, err
	}
	e.opt.Observer.CallStarted()
	return run, nil
}

// releaseLeftAgents gives back the reservations a left call held, rather
// than leave its agents unavailable until the leases run out.
func (e *Engine) releaseLeftAgents(ctx context.Context, c *Call, now time.Time) {
	if e.opt.Agents == nil {
		return
	}
	answered := map[string]bool{}
	for _, l := range c.Legs {
		if l.AgentID != "" {
			answered[l.AgentID] = answered[l.AgentID] || l.AnsweredAt != nil
		}
	}
	for agent, talked := range answered {
		e.storeErr("release", e.opt.Agents.Release(ctx, c.Tenant, agent, c.ID, now, talked))
	}
}
