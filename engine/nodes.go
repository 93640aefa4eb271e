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

// reapDeadNodes ends the live calls of every other node whose lease ran
// out. The reaper takes the dead node's lease first, so one node does it
// at a time, and keeps it until it runs out: a node that was only cut off
// finds its renewal refused meanwhile, and stops its calls too.
func (e *Engine) reapDeadNodes(ctx context.Context, holder string, ttl time.Duration) {
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
		n, err := e.endLeftCalls(sctx, node, ids, fmt.Sprintf("engine node %s stopped renewing its lease while the call was live", node), "engine node "+node+" gone")
		if err != nil {
			e.log.Warn("ending a dead node's calls", "node", node, "err", err)
		}
		if n > 0 {
			e.log.Warn("ended the calls a dead node left live", "node", node, "calls", n)
		}
	}
}

// endLeftCalls ends, each with a final record, the calls of ids that are
// still live on node: a node left them live and cannot carry them on.
// Legs not ended are ended (answered ones as answered), the agents the
// call reserved are released, and call.ended is logged and published. It
// returns how many calls it ended.
func (e *Engine) endLeftCalls(ctx context.Context, node string, ids []string, reason, legReason string) (int, error) {
	n := 0
	for _, id := range ids {
		c, err := e.store.GetCall(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("get call %s: %w", id, err)
		}
		if !c.Live() || c.Node != node {
			continue
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
		if err := e.store.EndCall(ctx, c, e.opt.Retention, logged...); err != nil {
			return n, fmt.Errorf("end call %s: %w", id, err)
		}
		e.releaseLeftAgents(ctx, c, now)
		e.events.publish(ended)
		e.log.Warn("ended a call left live", "call_id", id, "node", node, "reason", reason)
		n++
	}
	return n, nil
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
