package api

import (
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
)

// sideType: fromType/toType, Number (default), Agent or Group in any
// case; present but empty is 1502/1504, anything else 1503/1505.
func (p *parser) sideType(s *side) *Error {
	val, present, err := p.f.get(s.c.typeParam)
	if err != nil {
		return err
	}
	if !present {
		s.req.Type = engine.TargetNumber
		return nil
	}
	if err := checkLen(s.c.typeParam, val); err != nil {
		return err
	}
	if val == "" {
		return newError(s.c.typeEmpty, "")
	}
	t, ok := oneOf(val, string(engine.TargetNumber), string(engine.TargetAgent), string(engine.TargetGroup))
	if !ok {
		return newError(s.c.typeInvalid, quote(val)+"; valid: Number, Agent, Group")
	}
	s.req.Type = engine.TargetType(t)
	return nil
}

// sideValues checks the values of from or to: at most 10 (1552/1553),
// each at most 50 characters (1569), then by type. Number: every value a
// valid number (1508/1509), then no duplicates (1510/1511). Agent: every
// id known to the Directory (1512/1513), then no duplicates (1514/1515).
// Group: one id only (1516/1517), known to the Directory (1518/1519). An
// empty element ("1,,2") is an invalid value of the side's type.
func (p *parser) sideValues(s *side) *Error {
	vals, ok := splitList(s.raw, maxSideValues)
	if !ok {
		return newError(s.c.tooMany, fmt.Sprintf("at most %d values", maxSideValues))
	}
	for _, v := range vals {
		if err := checkLen(s.c.param, v); err != nil {
			return err
		}
	}
	switch s.req.Type {
	case engine.TargetNumber:
		for _, v := range vals {
			if !dialer.ValidNumber(v) {
				return newError(s.c.badNumber, quote(v))
			}
		}
		if d, dup := firstDuplicate(vals); dup {
			return newError(s.c.dupNumber, quote(d))
		}
	case engine.TargetAgent:
		agents := make([]AgentInfo, 0, len(vals))
		for _, v := range vals {
			a, ok, err := p.lookupAgent(v)
			if err != nil {
				return err
			}
			if !ok {
				return newError(s.c.badAgent, quote(v))
			}
			agents = append(agents, a)
		}
		if d, dup := firstDuplicate(vals); dup {
			return newError(s.c.dupAgent, quote(d))
		}
		s.agents = agents
	case engine.TargetGroup:
		if len(vals) > 1 {
			return newError(s.c.multiGroup, "a "+s.c.typeParam+" of Group takes one group id")
		}
		g, ok, err := p.lookupGroup(vals[0])
		if err != nil {
			return err
		}
		if !ok {
			return newError(s.c.badGroup, quote(vals[0]))
		}
		s.agents = append([]AgentInfo(nil), g.Members...)
	}
	s.req.Values = vals
	return nil
}

// lookupAgent asks the Directory for an agent; a failed look-up is 1501.
func (p *parser) lookupAgent(id string) (AgentInfo, bool, *Error) {
	if id == "" {
		return AgentInfo{}, false, nil
	}
	a, ok, err := p.dir.Agent(p.ctx, p.tenant, id)
	if err != nil {
		return AgentInfo{}, false, unavailable("1501", "the agent directory is unavailable; retry", err)
	}
	return a, ok, nil
}

// lookupGroup asks the Directory for a group; a failed look-up is 1501.
func (p *parser) lookupGroup(id string) (GroupInfo, bool, *Error) {
	if id == "" {
		return GroupInfo{}, false, nil
	}
	g, ok, err := p.dir.Group(p.ctx, p.tenant, id)
	if err != nil {
		return GroupInfo{}, false, unavailable("1501", "the agent directory is unavailable; retry", err)
	}
	return g, ok, nil
}

// announcement asks the Directory for an announcement; a failed look-up
// is 1501.
func (p *parser) announcement(id string) (bool, *Error) {
	ok, err := p.dir.Announcement(p.ctx, p.tenant, id)
	if err != nil {
		return false, unavailable("1501", "the announcement directory is unavailable; retry", err)
	}
	return ok, nil
}

// sideSettings: strategy (ONE_BY_ONE default, TO_ALL; 1522/1523), ring
// time (default 20, 1..50; not an integer or 0: 1524/1526, negative:
// 1525/1527, over 50: 1550/1551) and retry count (default 0, 0..3; not an
// integer: 1528/1530, negative: 1529/1531, over 3: 1548/1549).
func (p *parser) sideSettings(s *side) *Error {
	val, err := p.f.optional(s.c.strategyParam)
	if err != nil {
		return err
	}
	st, serr := dialer.ParseStrategy(val)
	if serr != nil {
		return newError(s.c.strategy, quote(val)+"; valid: ONE_BY_ONE, TO_ALL")
	}
	s.req.Strategy = st

	s.req.RingTime = DefaultRingTime
	val, err = p.f.optional(s.c.ringParam)
	if err != nil {
		return err
	}
	if val != "" {
		n, kind := parseInt(val)
		switch {
		case kind == intNotInt:
			return newError(s.c.ringInvalid, quote(val)+" is not an integer")
		case kind == intNegative:
			return newError(s.c.ringNegative, "")
		case kind == intHuge || n > MaxRingTime:
			return newError(s.c.ringMax, fmt.Sprintf("at most %d seconds", MaxRingTime))
		case n == 0:
			return newError(s.c.ringInvalid, "must be at least 1 second")
		}
		s.req.RingTime = n
	}

	s.req.RetryCount = DefaultRetryCount
	val, err = p.f.optional(s.c.retryParam)
	if err != nil {
		return err
	}
	if val != "" {
		n, kind := parseInt(val)
		switch {
		case kind == intNotInt:
			return newError(s.c.retryInvalid, quote(val)+" is not an integer")
		case kind == intNegative:
			return newError(s.c.retryNegative, "")
		case kind == intHuge || n > MaxRetryCount:
			return newError(s.c.retryMax, fmt.Sprintf("at most %d", MaxRetryCount))
		}
		s.req.RetryCount = n
	}
	return nil
}

// loginFilters: WebLogin and CallLogin are yes, no or na (default) in any
// case (1564–1567), and only for an Agent or Group side (any other value
// than na on a Number side is the same invalid-value code). A CallLogin
// filter with TO_ALL is 1556/1557. Then the agents the side may ring are
// narrowed by WebLogin (none left: 1536/1537/1541/1542), then by
// CallLogin (1538/1540/1543/1544); on an Agent side at least one that is
// left must be available (1578/1579). A group waits for a free member
// (queueTimeout), so availability is not checked for groups.
func (p *parser) loginFilters(s *side) *Error {
	web, err := p.loginValue(s, s.c.webParam, s.c.webInvalid)
	if err != nil {
		return err
	}
	call, err := p.loginValue(s, s.c.callParam, s.c.callInvalid)
	if err != nil {
		return err
	}
	s.req.WebLogin, s.req.CallLogin = web, call
	if call != "na" && s.req.Strategy == dialer.ToAll {
		return newError(s.c.toAllCallLogin, "")
	}
	if s.req.Type == engine.TargetNumber {
		return nil
	}
	group := s.req.Type == engine.TargetGroup
	agents := s.agents
	if web != "na" {
		agents = filterAgents(agents, func(a AgentInfo) bool { return a.WebLogin == (web == "yes") })
		if len(agents) == 0 {
			return newError(pick(group, s.c.webNoneGroup, s.c.webNone), s.c.webParam+"="+web)
		}
	}
	if call != "na" {
		agents = filterAgents(agents, func(a AgentInfo) bool { return a.CallLogin == (call == "yes") })
		if len(agents) == 0 {
			return newError(pick(group, s.c.callNoneGroup, s.c.callNone), s.c.callParam+"="+call)
		}
	}
	if !group {
		for _, a := range agents {
			if a.Available {
				return nil
			}
		}
		return newError(s.c.notAvailable, "")
	}
	return nil
}

func (p *parser) loginValue(s *side, param, code string) (string, *Error) {
	val, err := p.f.optional(param)
	if err != nil {
		return "", err
	}
	if val == "" {
		return "na", nil
	}
	v, ok := oneOf(val, "yes", "no", "na")
	if !ok {
		return "", newError(code, quote(val)+"; valid: yes, no, na")
	}
	if v != "na" && s.req.Type == engine.TargetNumber {
		return "", newError(code, param+" applies only when "+s.c.typeParam+" is Agent or Group")
	}
	return v, nil
}

func filterAgents(in []AgentInfo, keep func(AgentInfo) bool) []AgentInfo {
	var out []AgentInfo
	for _, a := range in {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// cli: fromCLI/toCLI is a valid number or AGENT_CLI (any case; 1554/1555).
// AGENT_CLI needs an Agent or Group side (1580/1581), fromCLI=AGENT_CLI a
// to side that is not a Group (1585), and every agent the side may ring
// (named agents, or every member of the group) must have a CLI
// (1582/1583), so the caller ID shown is never left undefined.
func (p *parser) cli(s *side) *Error {
	val, err := p.f.optional(s.c.cliParam)
	if err != nil {
		return err
	}
	if val == "" {
		return nil
	}
	if strings.EqualFold(val, AgentCLI) {
		val = AgentCLI
	} else if !dialer.ValidNumber(val) {
		return newError(s.c.cliInvalid, quote(val))
	}
	s.req.CLI = val
	if val != AgentCLI {
		return nil
	}
	if s.req.Type == engine.TargetNumber {
		return newError(s.c.cliType, s.c.typeParam+" is Number")
	}
	if s.c == fromCodes && p.to.req.Type == engine.TargetGroup {
		return newError("1585", "")
	}
	for _, a := range s.agents {
		if a.CLI == "" {
			return newError(s.c.cliNotFound, "an agent of "+s.c.param+" has no CLI")
		}
	}
	return nil
}
