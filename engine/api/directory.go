package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// Directory answers what the click-to-call validation needs to know about
// a tenant's agents, groups, announcements and DND list. StoreDirectory
// answers from the agent store; NoDirectory serves a server without one.
// Implementations must be safe for concurrent use. They are called while a
// request is being validated: a look-up that fails (store unreachable,
// ctx done) returns an error, which refuses the request with 1501 (1575
// for DND) rather than pretending the agent or group does not exist.
type Directory interface {
	// Agent returns the agent with id in tenant's account.
	Agent(ctx context.Context, tenant, id string) (AgentInfo, bool, error)
	// Group returns the group with id in tenant's account.
	Group(ctx context.Context, tenant, id string) (GroupInfo, bool, error)
	// Announcement reports whether id names one of tenant's announcements.
	Announcement(ctx context.Context, tenant, id string) (bool, error)
	// DND reports whether number is on tenant's do-not-disturb list.
	DND(ctx context.Context, tenant, number string) (bool, error)
}

// AgentInfo is what validation reads about an agent.
type AgentInfo struct {
	// WebLogin and CallLogin are the agent's current login states, matched
	// against the fromWebLogin/fromCallLogin/toWebLogin/toCallLogin
	// filters.
	WebLogin  bool
	CallLogin bool
	// Available is false while the agent cannot take a call (busy, on a
	// break).
	Available bool
	// CLI is the agent's own caller ID, presented when a request asks for
	// AGENT_CLI; empty when the agent has none.
	CLI string
}

// GroupInfo is what validation reads about a group.
type GroupInfo struct {
	Members []AgentInfo
}

// NoDirectory is the Directory of an account with nothing in it: every
// agent, group and announcement id is invalid and no number is on a DND
// list. It serves when the server has no agent store.
type NoDirectory struct{}

func (NoDirectory) Agent(context.Context, string, string) (AgentInfo, bool, error) {
	return AgentInfo{}, false, nil
}

func (NoDirectory) Group(context.Context, string, string) (GroupInfo, bool, error) {
	return GroupInfo{}, false, nil
}

func (NoDirectory) Announcement(context.Context, string, string) (bool, error) { return false, nil }
func (NoDirectory) DND(context.Context, string, string) (bool, error)          { return false, nil }

// StoreDirectory is the Directory of the agent store: agents and groups
// as the management API (/v1/agents, /v1/groups) keeps them, with their
// live state, and the tenant's DND list. It knows no announcements (every
// id is unknown): a server given Config.Announcements answers those from
// the announcement store instead.
//
// An agent look-up costs two store round trips (GetAgent, AgentStates); a
// group look-up three whatever its size (GetGroup, ListAgents,
// AgentStates of every member at once).
type StoreDirectory struct {
	Agents engine.AgentStore
	// Now is the clock availability is judged by; nil means time.Now.
	Now func() time.Time
}

var _ Directory = StoreDirectory{}

func (d StoreDirectory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Agent reads the agent and its live state.
func (d StoreDirectory) Agent(ctx context.Context, tenant, id string) (AgentInfo, bool, error) {
	a, err := d.Agents.GetAgent(ctx, tenant, id)
	if isNotFound(err) || (err == nil && !ownedBy(a, tenant)) {
		return AgentInfo{}, false, nil
	}
	if err != nil {
		return AgentInfo{}, false, fmt.Errorf("get agent %s: %w", id, err)
	}
	states, err := d.Agents.AgentStates(ctx, tenant, []string{id})
	if err != nil {
		return AgentInfo{}, false, fmt.Errorf("agent state %s: %w", id, err)
	}
	if len(states) != 1 {
		return AgentInfo{}, false, fmt.Errorf("agent state %s: the store answered %d states for 1 agent", id, len(states))
	}
	return agentInfo(a, states[0], d.now()), true, nil
}

// Group reads the group, its members' agents and their live states.
// Members whose agent was deleted are left out.
func (d StoreDirectory) Group(ctx context.Context, tenant, id string) (GroupInfo, bool, error) {
	g, err := d.Agents.GetGroup(ctx, tenant, id)
	if isNotFound(err) || (err == nil && !groupOwnedBy(g, tenant)) {
		return GroupInfo{}, false, nil
	}
	if err != nil {
		return GroupInfo{}, false, fmt.Errorf("get group %s: %w", id, err)
	}
	if len(g.Members) == 0 {
		return GroupInfo{Members: []AgentInfo{}}, true, nil
	}
	all, err := d.Agents.ListAgents(ctx, tenant)
	if err != nil {
		return GroupInfo{}, false, fmt.Errorf("list agents: %w", err)
	}
	byID := make(map[string]*engine.Agent, len(all))
	for _, a := range all {
		if a != nil {
			byID[a.ID] = a
		}
	}
	agents := make([]*engine.Agent, 0, len(g.Members))
	ids := make([]string, 0, len(g.Members))
	for _, m := range g.Members {
		if a := byID[m.AgentID]; a != nil {
			agents = append(agents, a)
			ids = append(ids, a.ID)
		}
	}
	info := GroupInfo{Members: make([]AgentInfo, 0, len(agents))}
	if len(ids) == 0 {
		return info, true, nil
	}
	states, err := d.Agents.AgentStates(ctx, tenant, ids)
	if err != nil {
		return GroupInfo{}, false, fmt.Errorf("agent states of group %s: %w", id, err)
	}
	if len(states) != len(ids) {
		return GroupInfo{}, false, fmt.Errorf("agent states of group %s: the store answered %d states for %d agents", id, len(states), len(ids))
	}
	now := d.now()
	for i, a := range agents {
		info.Members = append(info.Members, agentInfo(a, states[i], now))
	}
	return info, true, nil
}

// Announcement: the agent store keeps no announcements (see
// Config.Announcements).
func (StoreDirectory) Announcement(context.Context, string, string) (bool, error) {
	return false, nil
}

// DND reads the tenant's DND list.
func (d StoreDirectory) DND(ctx context.Context, tenant, number string) (bool, error) {
	on, err := d.Agents.IsDND(ctx, tenant, number)
	if err != nil {
		return false, fmt.Errorf("DND look-up: %w", err)
	}
	if len(on) != 1 {
		return false, fmt.Errorf("DND look-up: the store answered %d results for 1 number", len(on))
	}
	return on[0], nil
}

// agentInfo is what validation sees of an agent at now.
func agentInfo(a *engine.Agent, st engine.AgentState, now time.Time) AgentInfo {
	return AgentInfo{
		WebLogin:  a.WebLogin,
		CallLogin: a.CallLogin,
		Available: agentAvailable(a, st, now),
		CLI:       a.CLI,
	}
}

// agentAvailable: not paused, not in wrap-up, and fewer unexpired
// reservations than the agent's capacity.
func agentAvailable(a *engine.Agent, st engine.AgentState, now time.Time) bool {
	return !a.Paused && !now.Before(st.WrapUpUntil) && activeCalls(st, now) < a.Capacity()
}

// activeCalls counts the reservations whose lease has not expired.
func activeCalls(st engine.AgentState, now time.Time) int {
	n := 0
	for _, until := range st.Calls {
		if until.After(now) {
			n++
		}
	}
	return n
}

// isNotFound reports whether a store error means "no such record". The
// stores answer engine.ErrNotFound; engine.ErrAgentNotFound is accepted
// too.
func isNotFound(err error) bool {
	return errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrAgentNotFound)
}

// ownedBy and groupOwnedBy guard against a store answering another
// tenant's record (a record without a tenant is taken as the caller's).
func ownedBy(a *engine.Agent, tenant string) bool {
	return a != nil && (a.Tenant == "" || a.Tenant == tenant)
}

func groupOwnedBy(g *engine.Group, tenant string) bool {
	return g != nil && (g.Tenant == "" || g.Tenant == tenant)
}
