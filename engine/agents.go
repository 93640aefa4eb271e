package engine

import (
	"context"
	"errors"
	"time"
)

// Agent is a person who takes calls: the configuration an operator sets
// (API or config file) and the login state the agent's software sets.
// Live state (calls in progress, wrap-up, last call) is AgentState.
type Agent struct {
	Tenant string `json:"user_id"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	// Numbers are the agent's phones, tried in order: dialable numbers
	// (dialer.ValidNumber) or SIP URIs ("sip:alice@pbx.example").
	Numbers []string `json:"numbers"`
	// CLI is the agent's own caller ID, presented for AGENT_CLI.
	CLI string `json:"cli,omitempty"`
	// WebLogin and CallLogin are the login states the click-to-call login
	// filters match (fromWebLogin, fromCallLogin, …).
	WebLogin  bool `json:"web_login"`
	CallLogin bool `json:"call_login"`
	// Paused agents are offered no calls.
	Paused bool `json:"paused"`
	// MaxCalls is how many calls the agent may be on at once; 0 means 1.
	MaxCalls int `json:"max_calls,omitempty"`
	// WrapUpSeconds is the rest after each call before the next is
	// offered; 0 means none.
	WrapUpSeconds int `json:"wrap_up_seconds,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Capacity is the number of calls the agent may carry at once.
func (a *Agent) Capacity() int {
	if a.MaxCalls <= 0 {
		return 1
	}
	return a.MaxCalls
}

// AgentState is an agent's live state, kept in the store and shared by
// every engine node.
type AgentState struct {
	// Calls are the ids of the calls holding a reservation on the agent
	// (offered or talking), with the lease each runs until.
	Calls map[string]time.Time `json:"calls,omitempty"`
	// WrapUpUntil is when the agent's wrap-up after the last call ends.
	WrapUpUntil time.Time `json:"wrap_up_until,omitempty"`
	// LastCallEnd is when the agent last finished a call (least_recent).
	LastCallEnd time.Time `json:"last_call_end,omitempty"`
	// CallsTaken counts the calls the agent answered (fewest_calls).
	CallsTaken int64 `json:"calls_taken"`
}

// Group is a set of agents that share calls.
type Group struct {
	Tenant string `json:"user_id"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	// Members in the order they were added; Priority orders the linear
	// distribution (1 first).
	Members []Member `json:"members"`
	// RingTime is how long each member attempt rings, in seconds; 0 means
	// the request's ring time.
	RingTime int `json:"ring_time,omitempty"`
	// Distribution names the policy choosing the order of members:
	// round_robin (default), ring_all, linear, least_recent, fewest_calls,
	// random.
	Distribution string `json:"distribution"`
	// Sticky binds a customer to the agent who last talked with them, for
	// StickyDays days unless the request says otherwise.
	Sticky     bool `json:"sticky"`
	StickyDays int  `json:"sticky_days,omitempty"`
	Recording  bool `json:"recording"`
	// QueueTimeout is how long a caller waits for a free member, in
	// seconds, when the request gives none; 0 means 60.
	QueueTimeout int `json:"queue_timeout,omitempty"`
	// MaxWait bounds how many callers may wait at once; 0 means no bound.
	MaxWait int `json:"max_wait,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Member is one agent in a group.
type Member struct {
	AgentID  string `json:"agent_id"`
	Priority int    `json:"priority"`
}

// Reservation refusals: why an agent could not be reserved for a call.
// They are recorded as the reason an agent was skipped.
var (
	ErrAgentBusy     = errors.New("busy on another call")
	ErrAgentWrapUp   = errors.New("in wrap-up")
	ErrAgentPaused   = errors.New("paused")
	ErrAgentNotFound = errors.New("no such agent")
	// ErrQueueFull: the group's waiting line is at its MaxWait.
	ErrQueueFull = errors.New("queue full")
)

// AgentStore keeps agents, groups, their live state and the shared
// routing memory (round-robin pointers, sticky bindings, DND lists).
// Every operation that decides who gets a call is atomic in the store, so
// several engine nodes sharing one store never double-book an agent.
type AgentStore interface {
	PutAgent(ctx context.Context, a *Agent) error
	GetAgent(ctx context.Context, tenant, id string) (*Agent, error)
	// GetAgents reads the agents of ids in one round trip, in order: nil
	// for an id the tenant has no agent under (a group's member deleted).
	GetAgents(ctx context.Context, tenant string, ids []string) ([]*Agent, error)
	ListAgents(ctx context.Context, tenant string) ([]*Agent, error)
	// DeleteAgent removes the agent; its reservations stay until their
	// calls release them or their leases expire.
	DeleteAgent(ctx context.Context, tenant, id string) error
	// AgentStates returns the live state of each agent id (zero state for
	// an agent without one), in one round trip.
	AgentStates(ctx context.Context, tenant string, ids []string) ([]AgentState, error)

	PutGroup(ctx context.Context, g *Group) error
	GetGroup(ctx context.Context, tenant, id string) (*Group, error)
	ListGroups(ctx context.Context, tenant string) ([]*Group, error)
	DeleteGroup(ctx context.Context, tenant, id string) error

	// Reserve atomically offers the agent to a call: it fails with
	// ErrAgentNotFound, ErrAgentPaused, ErrAgentWrapUp or ErrAgentBusy
	// (capacity reached, counting unexpired leases only), else records
	// the call's reservation until now+lease. Reserving again for the same
	// call renews the lease.
	Reserve(ctx context.Context, tenant, agentID, callID string, now time.Time, lease time.Duration) error
	// Release ends the call's reservation. When the agent talked on the
	// call (answered), LastCallEnd is set, CallsTaken counted and wrap-up
	// starts. Releasing a reservation that is gone is not an error.
	Release(ctx context.Context, tenant, agentID, callID string, now time.Time, answered bool) error

	// RoundRobinLast returns the agent id last offered a call of the group
	// ("" when none); SetRoundRobinLast records it.
	RoundRobinLast(ctx context.Context, tenant, groupID string) (string, error)
	SetRoundRobinLast(ctx context.Context, tenant, groupID, agentID string) error

	// Sticky returns the agent bound to a customer number ("" if none or
	// expired); SetSticky binds it for ttl (0: permanent).
	Sticky(ctx context.Context, tenant, number string) (string, error)
	SetSticky(ctx context.Context, tenant, number, agentID string, ttl time.Duration) error

	// JoinQueue adds the call to the group's waiting line, or refreshes
	// its entry: the line is ordered by the time each call first joined,
	// and an entry not refreshed within lease is dropped (its node died).
	// It returns how many live entries wait ahead of the call.
	// ErrQueueFull when the call is not yet in the line and maxWait (>0)
	// calls already wait.
	JoinQueue(ctx context.Context, tenant, groupID, callID string, now time.Time, lease time.Duration, maxWait int) (ahead int, err error)
	// LeaveQueue removes the call from the line (no error if absent).
	LeaveQueue(ctx context.Context, tenant, groupID, callID string) error

	// DND: the tenant's do-not-disturb numbers.
	AddDND(ctx context.Context, tenant string, numbers ...string) error
	RemoveDND(ctx context.Context, tenant string, numbers ...string) error
	IsDND(ctx context.Context, tenant string, numbers ...string) ([]bool, error)
	ListDND(ctx context.Context, tenant string) ([]string, error)
}
