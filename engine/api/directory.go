package api

// Directory answers what the click-to-call validation needs to know about
// a tenant's agents, groups, announcements and DND list. Later features
// (agent and group management, announcements, a DND service) supply it;
// until then NoDirectory serves. Implementations must be safe for
// concurrent use and should answer from memory or a fast store: they are
// called while a request is being validated.
type Directory interface {
	// Agent returns the agent with id in tenant's account.
	Agent(tenant, id string) (AgentInfo, bool)
	// Group returns the group with id in tenant's account.
	Group(tenant, id string) (GroupInfo, bool)
	// Announcement reports whether id names one of tenant's announcements.
	Announcement(tenant, id string) bool
	// DND reports whether number is on tenant's do-not-disturb list.
	DND(tenant, number string) bool
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
// list. It is the default until agents, groups and announcements exist.
type NoDirectory struct{}

func (NoDirectory) Agent(string, string) (AgentInfo, bool) { return AgentInfo{}, false }
func (NoDirectory) Group(string, string) (GroupInfo, bool) { return GroupInfo{}, false }
func (NoDirectory) Announcement(string, string) bool       { return false }
func (NoDirectory) DND(string, string) bool                { return false }
