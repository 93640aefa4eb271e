package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
)

// Group limits.
const (
	maxGroupMembers = 500
	maxGroupRing    = 50
	maxStickyDays   = 3650
	maxQueueTimeout = 3600
	maxMaxWait      = 10000
	maxPriority     = 1000000
)

// groupBody is the JSON a group is written with. A nil field is absent:
// POST and PUT leave a setting at its zero value, PATCH leaves it
// unchanged; Members, when absent, are kept by PUT and PATCH.
type groupBody struct {
	ID           *string       `json:"id"`
	Name         *string       `json:"name"`
	RingTime     *int          `json:"ring_time"`
	Distribution *string       `json:"distribution"`
	Sticky       *bool         `json:"sticky"`
	StickyDays   *int          `json:"sticky_days"`
	Recording    *bool         `json:"recording"`
	QueueTimeout *int          `json:"queue_timeout"`
	MaxWait      *int          `json:"max_wait"`
	Members      *[]memberBody `json:"members"`
}

// memberBody is one member as written; priority 0 (or absent) means one
// above the highest priority before it.
type memberBody struct {
	AgentID  string `json:"agent_id"`
	Priority int    `json:"priority"`
}

func (b *groupBody) apply(g *engine.Group) {
	set(&g.Name, b.Name)
	set(&g.RingTime, b.RingTime)
	set(&g.Distribution, b.Distribution)
	set(&g.Sticky, b.Sticky)
	set(&g.StickyDays, b.StickyDays)
	set(&g.Recording, b.Recording)
	set(&g.QueueTimeout, b.QueueTimeout)
	set(&g.MaxWait, b.MaxWait)
}

// validateGroup checks a group's settings and canonicalises its
// distribution as the dialer names it ("" and "RR" are round_robin; names
// in any case).
func validateGroup(g *engine.Group) *jsonError {
	if !validID(g.ID) {
		return invalid("id must be " + idRule)
	}
	if utf8.RuneCountInString(g.Name) > maxNameLen {
		return invalid(fmt.Sprintf("name must be at most %d characters", maxNameLen))
	}
	d, err := dialer.ParseDistribution(g.Distribution)
	if err != nil {
		return invalid("distribution must be one of " + strings.Join(dialer.Distributions(), ", ") +
			" (RR is round_robin, the default), not " + quoteKey(g.Distribution))
	}
	g.Distribution = d.Name()
	for _, r := range []struct {
		name   string
		v, max int
	}{
		{"ring_time", g.RingTime, maxGroupRing},
		{"sticky_days", g.StickyDays, maxStickyDays},
		{"queue_timeout", g.QueueTimeout, maxQueueTimeout},
		{"max_wait", g.MaxWait, maxMaxWait},
	} {
		if r.v < 0 || r.v > r.max {
			return invalid(fmt.Sprintf("%s must be 0 to %d", r.name, r.max))
		}
	}
	if len(g.Members) > maxGroupMembers {
		return invalid(fmt.Sprintf("a group has at most %d members", maxGroupMembers))
	}
	return nil
}

// resolveMembers turns written members into the group's: every agent must
// exist (one ListAgents), none twice, priorities 1 to 1000000 or 0 for one
// above the highest so far, as if they were added one by one.
func (s *Server) resolveMembers(w http.ResponseWriter, r *http.Request, tenant string, in []memberBody) ([]engine.Member, bool) {
	if len(in) > maxGroupMembers {
		writeJSONError(w, invalid(fmt.Sprintf("a group has at most %d members", maxGroupMembers)))
		return nil, false
	}
	known := map[string]bool{}
	if len(in) > 0 {
		all, err := s.agents.ListAgents(r.Context(), tenant)
		if err != nil {
			s.agentStoreFailure(w, "list agents", tenant, err)
			return nil, false
		}
		for _, a := range all {
			if a != nil {
				known[a.ID] = true
			}
		}
	}
	out := make([]engine.Member, 0, len(in))
	top := 0
	for i, m := range in {
		switch {
		case !validID(m.AgentID) || !known[m.AgentID]:
			writeJSONError(w, invalid(fmt.Sprintf("members[%d]: no such agent %s", i, quoteKey(m.AgentID))))
			return nil, false
		case slices.ContainsFunc(out, func(x engine.Member) bool { return x.AgentID == m.AgentID }):
			writeJSONError(w, invalid(fmt.Sprintf("members[%d]: agent %s is given twice", i, quote(m.AgentID))))
			return nil, false
		case m.Priority < 0 || m.Priority > maxPriority:
			writeJSONError(w, invalid(fmt.Sprintf("members[%d]: priority must be 1 to %d, or 0 or absent for the next", i, maxPriority)))
			return nil, false
		}
		if m.Priority == 0 {
			m.Priority = min(top+1, maxPriority)
		}
		top = max(top, m.Priority)
		out = append(out, engine.Member{AgentID: m.AgentID, Priority: m.Priority})
	}
	return out, true
}

// topPriority is the highest priority among members, 0 for none: the
// spec's maxPriority.
func topPriority(ms []engine.Member) int {
	top := 0
	for _, m := range ms {
		top = max(top, m.Priority)
	}
	return top
}

// loadGroup fetches a tenant's group, answering 404 or 503 itself when it
// cannot.
func (s *Server) loadGroup(w http.ResponseWriter, r *http.Request, tenant, id string) (*engine.Group, bool) {
	if !validID(id) {
		writeJSONError(w, notFound("group"))
		return nil, false
	}
	g, err := s.agents.GetGroup(r.Context(), tenant, id)
	switch {
	case isNotFound(err) || (err == nil && !groupOwnedBy(g, tenant)):
		writeJSONError(w, notFound("group"))
		return nil, false
	case err != nil:
		s.agentStoreFailure(w, "get group", tenant, err)
		return nil, false
	}
	return cloneGroup(g), true
}

// cloneGroup copies a group the store handed out, so that changing it
// never touches what a store may share.
func cloneGroup(g *engine.Group) *engine.Group {
	c := *g
	c.Members = slices.Clone(g.Members)
	if c.Members == nil {
		c.Members = []engine.Member{}
	}
	return &c
}

// saveGroup stores g and answers with it.
func (s *Server) saveGroup(w http.ResponseWriter, r *http.Request, tenant string, status int, g *engine.Group) {
	if err := s.agents.PutGroup(r.Context(), g); err != nil {
		s.agentStoreFailure(w, "put group", tenant, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/groups/"+g.ID)
	}
	writeJSON(w, status, g)
}

// createGroup serves POST /v1/groups: the id is given or generated; 409 if
// it is taken.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, tenant string) {
	var b groupBody
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	now := s.now().UTC()
	g := &engine.Group{Tenant: tenant, Members: []engine.Member{}, CreatedAt: now, UpdatedAt: now}
	if b.ID != nil {
		g.ID = *b.ID
	} else {
		g.ID = newID()
	}
	b.apply(g)
	if jerr := validateGroup(g); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	old, err := s.agents.GetGroup(r.Context(), tenant, g.ID)
	switch {
	case err == nil && old != nil:
		writeJSONError(w, conflict("exists", "a group with id "+quote(g.ID)+" already exists"))
		return
	case err != nil && !isNotFound(err):
		s.agentStoreFailure(w, "get group", tenant, err)
		return
	}
	if b.Members != nil {
		ms, ok := s.resolveMembers(w, r, tenant, *b.Members)
		if !ok {
			return
		}
		g.Members = ms
	}
	s.saveGroup(w, r, tenant, http.StatusCreated, g)
}

// listGroups serves GET /v1/groups, by id.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, tenant string) {
	all, err := s.agents.ListGroups(r.Context(), tenant)
	if err != nil {
		s.agentStoreFailure(w, "list groups", tenant, err)
		return
	}
	groups := make([]*engine.Group, 0, len(all))
	for _, g := range all {
		if g != nil {
			groups = append(groups, cloneGroup(g))
		}
	}
	slices.SortFunc(groups, func(a, b *engine.Group) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"groups": groups})
}

// getGroup serves GET /v1/groups/{id}.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, tenant string) {
	if g, ok := s.loadGroup(w, r, tenant, r.PathValue("id")); ok {
		writeJSON(w, http.StatusOK, g)
	}
}

// replaceGroup serves PUT /v1/groups/{id}: every setting is replaced (an
// absent one takes its zero value); members only when given.
func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request, tenant string) {
	s.updateGroup(w, r, tenant, true)
}

// patchGroup serves PATCH /v1/groups/{id}: only what is given changes.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, tenant string) {
	s.updateGroup(w, r, tenant, false)
}

// updateGroup is PUT or PATCH, a read-modify-write of the whole record:
// of two racing writes the last wins.
func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, tenant string, replace bool) {
	id := r.PathValue("id")
	var b groupBody
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if b.ID != nil && *b.ID != id {
		writeJSONError(w, invalid("id "+quoteKey(*b.ID)+" differs from the id in the path; a group's id cannot change"))
		return
	}
	old, ok := s.loadGroup(w, r, tenant, id)
	if !ok {
		return
	}
	g := old
	if replace {
		g = &engine.Group{Tenant: tenant, ID: id, Members: old.Members, CreatedAt: old.CreatedAt}
	}
	g.Tenant = tenant
	g.UpdatedAt = s.now().UTC()
	b.apply(g)
	if jerr := validateGroup(g); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if b.Members != nil {
		ms, ok := s.resolveMembers(w, r, tenant, *b.Members)
		if !ok {
			return
		}
		g.Members = ms
	}
	s.saveGroup(w, r, tenant, http.StatusOK, g)
}

// deleteGroup serves DELETE /v1/groups/{id}.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, tenant string) {
	g, ok := s.loadGroup(w, r, tenant, r.PathValue("id"))
	if !ok {
		return
	}
	if err := s.agents.DeleteGroup(r.Context(), tenant, g.ID); err != nil && !isNotFound(err) {
		s.agentStoreFailure(w, "delete group", tenant, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// membersView is a group's membership: the spec's maxPriority and each
// member with its agent's name and numbers. A member whose agent is gone
// is marked deleted (it is skipped when calls are placed).
type membersView struct {
	GroupID     string       `json:"group_id"`
	MaxPriority int          `json:"maxPriority"`
	Members     []memberView `json:"members"`
}

type memberView struct {
	AgentID  string   `json:"agent_id"`
	Priority int      `json:"priority"`
	Name     string   `json:"name,omitempty"`
	Numbers  []string `json:"numbers,omitempty"`
	Deleted  bool     `json:"deleted,omitempty"`
}

// listMembers serves GET /v1/groups/{id}/members, in the order the
// members were added.
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, tenant string) {
	g, ok := s.loadGroup(w, r, tenant, r.PathValue("id"))
	if !ok {
		return
	}
	byID := map[string]*engine.Agent{}
	if len(g.Members) > 0 {
		all, err := s.agents.ListAgents(r.Context(), tenant)
		if err != nil {
			s.agentStoreFailure(w, "list agents", tenant, err)
			return
		}
		for _, a := range all {
			if a != nil {
				byID[a.ID] = a
			}
		}
	}
	v := membersView{GroupID: g.ID, MaxPriority: topPriority(g.Members), Members: make([]memberView, 0, len(g.Members))}
	for _, m := range g.Members {
		mv := memberView{AgentID: m.AgentID, Priority: m.Priority}
		if a := byID[m.AgentID]; a != nil {
			mv.Name, mv.Numbers = a.Name, a.Numbers
		} else {
			mv.Deleted = true
		}
		v.Members = append(v.Members, mv)
	}
	writeJSON(w, http.StatusOK, v)
}

// addMember serves POST /v1/groups/{id}/members {"agent_id","priority"}:
// 404 for an unknown group or agent, 409 when the agent is a member
// already or the group is full; priority defaults to maxPriority+1.
func (s *Server) addMember(w http.ResponseWriter, r *http.Request, tenant string) {
	var b struct {
		AgentID  *string `json:"agent_id"`
		Priority *int    `json:"priority"`
	}
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if b.AgentID == nil || *b.AgentID == "" {
		writeJSONError(w, invalid("agent_id is required"))
		return
	}
	if b.Priority != nil && (*b.Priority < 1 || *b.Priority > maxPriority) {
		writeJSONError(w, invalid(fmt.Sprintf("priority must be 1 to %d; leave it out for maxPriority+1", maxPriority)))
		return
	}
	g, ok := s.loadGroup(w, r, tenant, r.PathValue("id"))
	if !ok {
		return
	}
	a, ok := s.loadAgent(w, r, tenant, *b.AgentID)
	if !ok {
		return
	}
	if slices.ContainsFunc(g.Members, func(m engine.Member) bool { return m.AgentID == a.ID }) {
		writeJSONError(w, conflict("exists", "agent "+quote(a.ID)+" is already a member of the group"))
		return
	}
	if len(g.Members) >= maxGroupMembers {
		writeJSONError(w, conflict("group_full", fmt.Sprintf("a group has at most %d members", maxGroupMembers)))
		return
	}
	m := engine.Member{AgentID: a.ID, Priority: min(topPriority(g.Members)+1, maxPriority)}
	if b.Priority != nil {
		m.Priority = *b.Priority
	}
	g.Members = append(g.Members, m)
	g.UpdatedAt = s.now().UTC()
	if err := s.agents.PutGroup(r.Context(), g); err != nil {
		s.agentStoreFailure(w, "put group", tenant, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

// removeMember serves DELETE /v1/groups/{id}/members/{agent_id}: 204, or
// 404 for an unknown group or an agent that is not a member.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, tenant string) {
	g, ok := s.loadGroup(w, r, tenant, r.PathValue("id"))
	if !ok {
		return
	}
	id := r.PathValue("agent_id")
	i := slices.IndexFunc(g.Members, func(m engine.Member) bool { return m.AgentID == id })
	if i < 0 {
		writeJSONError(w, notFound("member"))
		return
	}
	g.Members = slices.Delete(g.Members, i, i+1)
	g.UpdatedAt = s.now().UTC()
	if err := s.agents.PutGroup(r.Context(), g); err != nil {
		s.agentStoreFailure(w, "put group", tenant, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
