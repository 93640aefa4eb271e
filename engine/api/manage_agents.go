package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
)

// Agent limits.
const (
	maxNameLen      = 100
	maxAgentNumbers = 10
	maxSIPURILen    = 200
	maxAgentCalls   = 100
	maxWrapUp       = 3600
)

// agentBody is the JSON an agent is written with. A nil field is absent:
// POST and PUT leave it at its zero value, PATCH leaves it unchanged.
type agentBody struct {
	ID            *string   `json:"id"`
	Name          *string   `json:"name"`
	Numbers       *[]string `json:"numbers"`
	CLI           *string   `json:"cli"`
	WebLogin      *bool     `json:"web_login"`
	CallLogin     *bool     `json:"call_login"`
	Paused        *bool     `json:"paused"`
	MaxCalls      *int      `json:"max_calls"`
	WrapUpSeconds *int      `json:"wrap_up_seconds"`
}

func (b *agentBody) apply(a *engine.Agent) {
	set(&a.Name, b.Name)
	set(&a.Numbers, b.Numbers)
	set(&a.CLI, b.CLI)
	set(&a.WebLogin, b.WebLogin)
	set(&a.CallLogin, b.CallLogin)
	set(&a.Paused, b.Paused)
	set(&a.MaxCalls, b.MaxCalls)
	set(&a.WrapUpSeconds, b.WrapUpSeconds)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Agent statuses, the first that applies.
const (
	StatusBusy      = "busy"       // reservations at the agent's capacity
	StatusWrapUp    = "wrap_up"    // resting after a call
	StatusPaused    = "paused"     // paused by the agent or a supervisor
	StatusLoggedOut = "logged_out" // neither web nor call login
	StatusAvailable = "available"
	// StatusUnknown: the live state could not be read after a write that
	// succeeded.
	StatusUnknown = "unknown"
)

// agentView is an agent as the API returns it: the record and its live
// state.
type agentView struct {
	*engine.Agent
	ActiveCalls int        `json:"active_calls"`
	WrapUpUntil *time.Time `json:"wrap_up_until,omitempty"`
	LastCallEnd *time.Time `json:"last_call_end,omitempty"`
	CallsTaken  int64      `json:"calls_taken"`
	Status      string     `json:"status"`
}

func newAgentView(a *engine.Agent, st engine.AgentState, now time.Time) agentView {
	v := agentView{Agent: a, ActiveCalls: activeCalls(st, now), CallsTaken: st.CallsTaken}
	if !st.WrapUpUntil.IsZero() {
		t := st.WrapUpUntil
		v.WrapUpUntil = &t
	}
	if !st.LastCallEnd.IsZero() {
		t := st.LastCallEnd
		v.LastCallEnd = &t
	}
	switch {
	case v.ActiveCalls >= a.Capacity():
		v.Status = StatusBusy
	case now.Before(st.WrapUpUntil):
		v.Status = StatusWrapUp
	case a.Paused:
		v.Status = StatusPaused
	case !a.WebLogin && !a.CallLogin:
		v.Status = StatusLoggedOut
	default:
		v.Status = StatusAvailable
	}
	return v
}

// validateAgent checks a whole agent record.
func validateAgent(a *engine.Agent) *jsonError {
	if !validID(a.ID) {
		return invalid("id must be " + idRule)
	}
	if utf8.RuneCountInString(a.Name) > maxNameLen {
		return invalid(fmt.Sprintf("name must be at most %d characters", maxNameLen))
	}
	if len(a.Numbers) < 1 || len(a.Numbers) > maxAgentNumbers {
		return invalid(fmt.Sprintf("numbers must hold 1 to %d numbers or SIP URIs", maxAgentNumbers))
	}
	for i, n := range a.Numbers {
		if !dialer.ValidNumber(n) && !validSIPURI(n) {
			return invalid(fmt.Sprintf("numbers[%d] %s is neither a valid number (an optional + and 3 to 15 digits) nor a sip: or sips: URI of at most %d characters",
				i, quoteKey(n), maxSIPURILen))
		}
		if slices.Contains(a.Numbers[:i], n) {
			return invalid(fmt.Sprintf("numbers[%d] %s is given twice", i, quoteKey(n)))
		}
	}
	if a.CLI != "" && !dialer.ValidNumber(a.CLI) {
		return invalid("cli must be empty or a valid number (an optional + and 3 to 15 digits), not " + quoteKey(a.CLI))
	}
	if a.MaxCalls < 0 || a.MaxCalls > maxAgentCalls {
		return invalid(fmt.Sprintf("max_calls must be 0 (one call) to %d", maxAgentCalls))
	}
	if a.WrapUpSeconds < 0 || a.WrapUpSeconds > maxWrapUp {
		return invalid(fmt.Sprintf("wrap_up_seconds must be 0 to %d", maxWrapUp))
	}
	return nil
}

// validSIPURI: sip: or sips: (any case), then something, at most 200
// characters of printable ASCII without spaces, quotes, angle brackets or
// commas, and a host after any '@'.
func validSIPURI(s string) bool {
	if len(s) > maxSIPURILen {
		return false
	}
	var rest string
	switch {
	case hasPrefixFold(s, "sip:"):
		rest = s[4:]
	case hasPrefixFold(s, "sips:"):
		rest = s[5:]
	default:
		return false
	}
	if rest == "" || strings.HasPrefix(rest, "@") || strings.HasSuffix(rest, "@") {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"<>,`, c) >= 0 {
			return false
		}
	}
	return true
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// loadAgent fetches a tenant's agent, answering 404 or 503 itself when it
// cannot.
func (s *Server) loadAgent(w http.ResponseWriter, r *http.Request, tenant, id string) (*engine.Agent, bool) {
	if !validID(id) {
		writeJSONError(w, notFound("agent"))
		return nil, false
	}
	a, err := s.agents.GetAgent(r.Context(), tenant, id)
	switch {
	case isNotFound(err) || (err == nil && !ownedBy(a, tenant)):
		writeJSONError(w, notFound("agent"))
		return nil, false
	case err != nil:
		s.agentStoreFailure(w, "get agent", tenant, err)
		return nil, false
	}
	c := *a
	c.Numbers = slices.Clone(a.Numbers)
	return &c, true
}

// writeAgent answers with the agent and its live state. After a write
// that succeeded (written), a live state that cannot be read does not
// turn the success into a 503 (a retried POST would meet its own 409):
// the agent is returned with status "unknown" and no live state.
func (s *Server) writeAgent(w http.ResponseWriter, r *http.Request, tenant string, status int, a *engine.Agent, written bool) {
	states, err := s.agents.AgentStates(r.Context(), tenant, []string{a.ID})
	if err == nil && len(states) != 1 {
		err = fmt.Errorf("%d states for 1 agent", len(states))
	}
	var v agentView
	switch {
	case err == nil:
		v = newAgentView(a, states[0], s.now())
	case written:
		s.log.Warn("agent state after a write failed", "user_id", tenant, "agent", a.ID, "err", err)
		v = agentView{Agent: a, Status: StatusUnknown}
	default:
		s.agentStoreFailure(w, "agent state", tenant, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/agents/"+a.ID)
	}
	writeJSON(w, status, v)
}

// createAgent serves POST /v1/agents: the id is given or generated; 409
// if it is taken.
func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, tenant string) {
	var b agentBody
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	now := s.now().UTC()
	a := &engine.Agent{Tenant: tenant, CreatedAt: now, UpdatedAt: now}
	if b.ID != nil {
		a.ID = *b.ID
	} else {
		a.ID = newID()
	}
	b.apply(a)
	if jerr := validateAgent(a); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	old, err := s.agents.GetAgent(r.Context(), tenant, a.ID)
	switch {
	case err == nil && old != nil:
		writeJSONError(w, conflict("exists", "an agent with id "+quote(a.ID)+" already exists"))
		return
	case err != nil && !isNotFound(err):
		s.agentStoreFailure(w, "get agent", tenant, err)
		return
	}
	if err := s.agents.PutAgent(r.Context(), a); err != nil {
		s.agentStoreFailure(w, "put agent", tenant, err)
		return
	}
	s.writeAgent(w, r, tenant, http.StatusCreated, a, true)
}

// listAgents serves GET /v1/agents: every agent of the tenant with its
// live state, by id.
func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, tenant string) {
	all, err := s.agents.ListAgents(r.Context(), tenant)
	if err != nil {
		s.agentStoreFailure(w, "list agents", tenant, err)
		return
	}
	all = slices.DeleteFunc(all, func(a *engine.Agent) bool { return a == nil })
	slices.SortFunc(all, func(a, b *engine.Agent) int { return strings.Compare(a.ID, b.ID) })
	views := make([]agentView, 0, len(all))
	if len(all) > 0 {
		ids := make([]string, len(all))
		for i, a := range all {
			ids[i] = a.ID
		}
		states, err := s.agents.AgentStates(r.Context(), tenant, ids)
		if err == nil && len(states) != len(ids) {
			err = fmt.Errorf("%d states for %d agents", len(states), len(ids))
		}
		if err != nil {
			s.agentStoreFailure(w, "agent states", tenant, err)
			return
		}
		now := s.now()
		for i, a := range all {
			views = append(views, newAgentView(a, states[i], now))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": views})
}

// getAgent serves GET /v1/agents/{id}.
func (s *Server) getAgent(w http.ResponseWriter, r *http.Request, tenant string) {
	a, ok := s.loadAgent(w, r, tenant, r.PathValue("id"))
	if !ok {
		return
	}
	s.writeAgent(w, r, tenant, http.StatusOK, a, false)
}

// replaceAgent serves PUT /v1/agents/{id}: every field is replaced (an
// absent one takes its zero value); the agent must exist.
func (s *Server) replaceAgent(w http.ResponseWriter, r *http.Request, tenant string) {
	s.updateAgent(w, r, tenant, true)
}

// patchAgent serves PATCH /v1/agents/{id}: only the fields given change,
// e.g. {"web_login":true,"call_login":false,"paused":true} sets the login
// and pause state.
func (s *Server) patchAgent(w http.ResponseWriter, r *http.Request, tenant string) {
	s.updateAgent(w, r, tenant, false)
}

// updateAgent is PUT (replace) or PATCH. Both are read-modify-write of
// the whole record: of two racing writes the last wins.
func (s *Server) updateAgent(w http.ResponseWriter, r *http.Request, tenant string, replace bool) {
	id := r.PathValue("id")
	var b agentBody
	if jerr := s.decodeBody(w, r, &b); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if b.ID != nil && *b.ID != id {
		writeJSONError(w, invalid("id "+quoteKey(*b.ID)+" differs from the id in the path; an agent's id cannot change"))
		return
	}
	old, ok := s.loadAgent(w, r, tenant, id)
	if !ok {
		return
	}
	a := &engine.Agent{Tenant: tenant, ID: id, CreatedAt: old.CreatedAt}
	if !replace {
		a = old
		a.Tenant = tenant
	}
	a.UpdatedAt = s.now().UTC()
	b.apply(a)
	if jerr := validateAgent(a); jerr != nil {
		writeJSONError(w, jerr)
		return
	}
	if err := s.agents.PutAgent(r.Context(), a); err != nil {
		s.agentStoreFailure(w, "put agent", tenant, err)
		return
	}
	s.writeAgent(w, r, tenant, http.StatusOK, a, true)
}

// deleteAgent serves DELETE /v1/agents/{id}: the agent leaves every group
// of the tenant, then is deleted. Should a step fail (503), repeating the
// DELETE finishes the work.
func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request, tenant string) {
	a, ok := s.loadAgent(w, r, tenant, r.PathValue("id"))
	if !ok {
		return
	}
	groups, err := s.agents.ListGroups(r.Context(), tenant)
	if err != nil {
		s.agentStoreFailure(w, "list groups", tenant, err)
		return
	}
	now := s.now().UTC()
	for _, g := range groups {
		if g == nil || !slices.ContainsFunc(g.Members, func(m engine.Member) bool { return m.AgentID == a.ID }) {
			continue
		}
		g = cloneGroup(g)
		g.Members = slices.DeleteFunc(g.Members, func(m engine.Member) bool { return m.AgentID == a.ID })
		g.UpdatedAt = now
		if err := s.agents.PutGroup(r.Context(), g); err != nil {
			s.agentStoreFailure(w, "put group", tenant, err)
			return
		}
	}
	if err := s.agents.DeleteAgent(r.Context(), tenant, a.ID); err != nil && !isNotFound(err) {
		s.agentStoreFailure(w, "delete agent", tenant, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
