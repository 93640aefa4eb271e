package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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

// keepLiveness renews the lease every third of its time and, in a
// goroutine of its own so that a long takeover never delays a renewal,
// looks for dead nodes as often. A renewal refused, or none sent within
// two thirds of the lease time before it succeeded (the store was out of
// reach, or this process stalled), means other nodes may soon take this
// node for dead and take its calls over: the node then stops its own live
// calls, a third of the lease time before another node could take the
// lease, and takes no calls until it holds its lease again.
func (e *Engine) keepLiveness(ctx context.Context, holder string, ttl time.Duration) {
	nodes := e.opt.Nodes
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	renewed := time.Now() // when the last successful renewal was sent
	var reaping atomic.Bool
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.opt.StoreTimeout)
			e.storeErr("release_node", nodes.ReleaseNode(rctx, e.opt.NodeID, holder))
			cancel()
			return
		case <-tick.C:
		}
		sent := time.Now()
		sctx, cancel := context.WithTimeout(ctx, ttl/3)
		ok, err := nodes.LeaseNode(sctx, e.opt.NodeID, holder, ttl)
		cancel()
		e.storeErr("lease_node", err)
		late := sent.Sub(renewed) > ttl*2/3
		switch {
		case err == nil && ok && !late:
			renewed = sent
			if e.leaseLost.CompareAndSwap(true, false) {
				e.log.Warn("node lease taken again: taking calls", "node", e.opt.NodeID)
			}
		case err == nil || time.Since(renewed) > ttl*2/3:
			// Refused, or renewed too late to be sure nobody took it.
			if !e.leaseLost.Swap(true) {
				e.log.Error("node lease lost: stopping this node's live calls", "node", e.opt.NodeID, "refused", err == nil && !ok, "since_renewal", time.Since(renewed).String())
			}
			e.stopAll(ErrNodeLeaseLost)
			if err == nil && ok {
				renewed = sent
				e.leaseLost.Store(false)
			}
			continue
		default:
			continue // a store error, not yet late: try again
		}
		if e.recoverPending.Load() && e.backend.Ready() == nil {
			// Recover found the backend not ready at start.
			if _, err := e.Recover(ctx); err != nil {
				e.log.Warn("recover", "err", err)
			}
		}
		if !e.Draining() && reaping.CompareAndSwap(false, true) {
			go func() {
				defer reaping.Store(false)
				e.reapDeadNodes(ctx, holder, ttl)
			}()
		}
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
	all, err := nodes.LiveNodes(sctx)
	cancel()
	e.storeErr("live_nodes", err)
	for _, node := range all {
		if node == e.opt.NodeID || ctx.Err() != nil || e.Draining() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
		ids, err := e.store.LiveCalls(sctx, node)
		e.storeErr("live_calls", err)
		ok := false
		if err == nil && len(ids) > 0 {
			ok, err = nodes.LeaseNode(sctx, node, holder, ttl)
			e.storeErr("lease_node", err)
		}
		cancel()
		if err != nil || !ok {
			continue // none left, alive, or another node reaps it
		}
		n, err := e.endLeftCalls(ctx, node, ids, fmt.Sprintf("engine node %s stopped renewing its lease while the call was live", node), "engine node "+node+" gone",
			func() bool {
				// Still the reaper before each call: the lease renewed, so no
				// other node (nor the dead one, back under its id) takes
				// the same calls meanwhile.
				lctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
				defer cancel()
				ok, err := nodes.LeaseNode(lctx, node, holder, ttl)
				e.storeErr("lease_node", err)
				return err == nil && ok
			})
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
func (e *Engine) endLeftCalls(ctx context.Context, node string, ids []string, reason, legReason string, stillMine func() bool) (int, error) {
	ad, _ := e.backend.(Adopter)
	n := 0
	for _, id := range ids {
		if stillMine != nil && !stillMine() {
			return n, errors.New("lost the lease of node " + node)
		}
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
		if ad != nil {
			switch e.adopt(ctx, c, ad, node) {
			case adopted:
				n++
				continue
			case adoptLater:
				continue
			}
		}
		switch err := e.endLeftCall(ctx, c, ad, reason, legReason); {
		case errors.Is(err, errTryLater):
		case err != nil:
			return n, err
		default:
			n++
		}
	}
	return n, nil
}

// errTryLater: a left call's channels could not be looked at now (the
// backend's connection is down, a request failed): it is left live for a
// later pass rather than recorded as ended while its channels may be up.
var errTryLater = errors.New("left call kept for a later pass")

// endLeftCall ends one call a node left live, with a final record.
func (e *Engine) endLeftCall(ctx context.Context, c *Call, ad Adopter, reason, legReason string) error {
	if ad != nil {
		// Nothing of the call may stay up once its record says it ended:
		// each channel is hung up, or found gone (ErrNotFound).
		for _, l := range c.Legs {
			if err := e.hangUpLeft(ctx, ad, l); err != nil && !errors.Is(err, ErrNotFound) {
				e.log.Warn("a left call's channel cannot be reached; trying later", "call_id", c.ID, "leg_id", l.ID, "err", err)
				return errTryLater
			}
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

// hangUpLeft hangs up the channel of one leg of a left call, if the leg
// may have one (not ended; an inbound caller's only once answered): the
// AdoptLeg error when it cannot be found (ErrNotFound: there is none). A
// hang-up that fails is the backend's to retry (it keeps the channel as
// an orphan), not a reason to keep the call.
func (e *Engine) hangUpLeft(ctx context.Context, ad Adopter, l *Leg) error {
	if l.State == LegEnded || l.Inbound && l.Channel == "" {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, e.opt.HangupTimeout)
	defer cancel()
	s, err := ad.AdoptLeg(actx, l)
	if err != nil {
		return err
	}
	_ = s.Hangup(actx, errLeftCall)
	return nil
}

// errLeftCall is the cause of the channels of a left call that is ended.
var errLeftCall = errors.New("the engine node driving the call is gone")

// adoption is what adopt made of a left call.
type adoption int

const (
	adopted    adoption = iota // carried on by this node
	notAdopted                 // cannot be carried on: end it with a record
	adoptLater                 // not now (this node's own trouble): leave it live
)

// adopt carries on a bridged call that node left, when both parties'
// channels and the bridge can be taken over: the call becomes this
// node's (its record says so), and a run of its own waits for its end
// as talk does, with the time limit and the alerts still due counted
// from the bridge. A call not bridged, or whose party's channel is gone,
// is notAdopted; one this node cannot take now (draining, its lease
// lost, a request that failed) is adoptLater, and nothing of it is hung
// up.
func (e *Engine) adopt(ctx context.Context, c *Call, ad Adopter, node string) adoption {
	log := e.log.With("call_id", c.ID, "node", node)
	if c.State != StateBridged || c.BridgedAt == nil || c.Bridge == "" {
		log.Warn("cannot adopt the call: not bridged", "state", c.State, "bridge", c.Bridge)
		return notAdopted
	}
	fromLeg, toLeg := answeredOn(c, SideFrom), answeredOn(c, SideTo)
	if fromLeg == nil || toLeg == nil {
		log.Warn("cannot adopt the call: a party's leg is not answered")
		return notAdopted
	}
	e.mu.Lock()
	busy := e.draining || e.leaseLost.Load() || e.live[c.ID] != nil || len(e.live) >= e.opt.MaxLiveCalls
	e.mu.Unlock()
	if busy {
		return adoptLater
	}
	actx, cancel := context.WithTimeout(ctx, e.opt.HangupTimeout)
	defer cancel()
	var parties [2]Session
	for i, l := range []*Leg{fromLeg, toLeg} {
		s, err := ad.AdoptLeg(actx, l)
		switch {
		case errors.Is(err, ErrNotFound):
			log.Warn("cannot adopt the call: a party's channel is gone", "leg_id", l.ID, "err", err)
			return notAdopted
		case err != nil:
			log.Warn("cannot adopt the call now", "leg_id", l.ID, "err", err)
			return adoptLater
		}
		parties[i] = s
	}
	from, to := parties[0], parties[1]
	recording := ""
	if c.RecordingURL != "" {
		recording = RecordingName(c.Tenant, c.ID)
	}
	bridge, err := ad.AdoptBridge(actx, c.Bridge, from, to, recording)
	if err != nil {
		log.Warn("cannot adopt the call's bridge now", "err", err)
		return adoptLater
	}
	// Legs neither answered nor ended (a TO_ALL loser still being
	// cancelled) must not ring on: their channels are hung up.
	for _, l := range c.Legs {
		if l != fromLeg && l != toLeg {
			_ = e.hangUpLeft(ctx, ad, l)
		}
	}
	c.Node = e.opt.NodeID
	run, err := e.adoptRun(ctx, c, node)
	switch {
	case errors.Is(err, ErrNotOwner):
		// Another node took it first (or it ended): it is not ours to
		// touch; the bridge handle was only borrowed.
		log.Warn("the call was taken over by another node first", "err", err)
		return adoptLater
	case err != nil:
		log.Warn("cannot adopt the call now", "err", err)
		bridge.Close()
		return adoptLater
	}
	for _, l := range []*Leg{fromLeg, toLeg} {
		if l.AgentID != "" {
			run.held[l.AgentID] = true
			run.answeredAgent[l.Side] = l.AgentID
			// At once: the dead node's reservation may be about to lapse.
			if e.opt.Agents != nil {
				rctx, cancel := context.WithTimeout(ctx, e.opt.StoreTimeout)
				e.storeErr("reserve", e.opt.Agents.Reserve(rctx, c.Tenant, l.AgentID, c.ID, e.opt.Now(), agentLease))
				cancel()
			}
		}
	}
	run.answered(fromLeg, from)
	run.answered(toLeg, to)
	log.Warn("adopted a call its node left live", "bridged_at", c.BridgedAt.String())
	go run.run(func() { run.resume(from, to, bridge, fromLeg, toLeg) })
	return adopted
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
func (e *Engine) adoptRun(ctx context.Context, c *Call, from string) (*callRun, error) {
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
	case len(e.live) >= e.opt.MaxLiveCalls:
		e.mu.Unlock()
		return nil, ErrTooManyCalls
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
	var err error
	if taker, ok := e.store.(CallTaker); ok {
		// Only while it is still the old node's live call: two nodes
		// never both carry it on.
		err = taker.TakeCall(sctx, c, from)
	} else {
		err = e.store.SaveCall(sctx, c, nil)
	}
	cancel()
	e.storeErr("take_call", err)
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
