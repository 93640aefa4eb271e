package api

import (
	"context"
	"crypto/subtle"
	"net/url"
	"strings"

	"github.com/switchboard/switchboard/engine"
)

// Defaults the spec sets, and the ones Switchboard sets where it is silent.
const (
	DefaultRingTime     = 20
	MaxRingTime         = 50
	DefaultRetryCount   = 0
	MaxRetryCount       = 3
	DefaultQueueTimeout = 60
	// MaxQueueTimeout bounds queueTimeout, like a group's queue_timeout.
	MaxQueueTimeout        = 3600
	DefaultStickyTimeType  = "day"
	DefaultStickyTimeValue = 1
	DefaultStickyAgentBusy = "retrySame"
	ModeLive               = "live"
	ModeDeveloper          = "developer"
	// AgentCLI asks for the agent's own caller ID (fromCLI/toCLI).
	AgentCLI = "AGENT_CLI"
)

// sideCodes are the parameter names and error codes of one side; the
// from and to sides differ only in them.
type sideCodes struct {
	param, typeParam, strategyParam          string
	ringParam, retryParam                    string
	webParam, callParam, cliParam            string
	typeEmpty, typeInvalid, missing, tooMany string
	badNumber, dupNumber, badAgent, dupAgent string
	multiGroup, badGroup                     string
	strategy                                 string
	ringInvalid, ringNegative, ringMax       string
	retryInvalid, retryNegative, retryMax    string
	webInvalid, callInvalid, toAllCallLogin  string
	webNone, webNoneGroup                    string
	callNone, callNoneGroup, notAvailable    string
	cliInvalid, cliType, cliNotFound         string
	multiNotAllowed, dndType, dndListed      string
}

var fromCodes = &sideCodes{
	param: "from", typeParam: "fromType", strategyParam: "fromStrategy",
	ringParam: "fromRingTime", retryParam: "fromRetryCount",
	webParam: "fromWebLogin", callParam: "fromCallLogin", cliParam: "fromCLI",
	typeEmpty: "1502", typeInvalid: "1503", missing: "1506", tooMany: "1552",
	badNumber: "1508", dupNumber: "1510", badAgent: "1512", dupAgent: "1514",
	multiGroup: "1516", badGroup: "1518",
	strategy:    "1522",
	ringInvalid: "1524", ringNegative: "1525", ringMax: "1550",
	retryInvalid: "1528", retryNegative: "1529", retryMax: "1548",
	webInvalid: "1564", callInvalid: "1565", toAllCallLogin: "1556",
	webNone: "1536", webNoneGroup: "1537",
	callNone: "1538", callNoneGroup: "1540", notAvailable: "1578",
	cliInvalid: "1554", cliType: "1580", cliNotFound: "1582",
	multiNotAllowed: "1576", dndType: "1571", dndListed: "1573",
}

var toCodes = &sideCodes{
	param: "to", typeParam: "toType", strategyParam: "toStrategy",
	ringParam: "toRingTime", retryParam: "toRetryCount",
	webParam: "toWebLogin", callParam: "toCallLogin", cliParam: "toCLI",
	typeEmpty: "1504", typeInvalid: "1505", missing: "1507", tooMany: "1553",
	badNumber: "1509", dupNumber: "1511", badAgent: "1513", dupAgent: "1515",
	multiGroup: "1517", badGroup: "1519",
	strategy:    "1523",
	ringInvalid: "1526", ringNegative: "1527", ringMax: "1551",
	retryInvalid: "1530", retryNegative: "1531", retryMax: "1549",
	webInvalid: "1566", callInvalid: "1567", toAllCallLogin: "1557",
	webNone: "1541", webNoneGroup: "1542",
	callNone: "1543", callNoneGroup: "1544", notAvailable: "1579",
	cliInvalid: "1555", cliType: "1581", cliNotFound: "1583",
	multiNotAllowed: "1577", dndType: "1572", dndListed: "1574",
}

// paramNames are the click-to-call parameters other than the credentials;
// the JSON API accepts exactly these keys. timeLimtAlert is the spec's own
// spelling of timeLimitAlert; both are accepted.
var paramNames = []string{
	"from", "to", "fromType", "toType", "fromStrategy", "toStrategy",
	"fromRingTime", "toRingTime", "fromRetryCount", "toRetryCount",
	"timeLimit", "timeLimitHangup", "timeLimitAlert", "timeLimtAlert", "alertAudio", "ringTone",
	"fromWebLogin", "fromCallLogin", "toWebLogin", "toCallLogin", "fromCLI", "toCLI",
	"sticky", "stickyTimeType", "stickyTimeValue", "stickyAgentBusy", "queueTimeout",
	"dndFilter", "mode", "record", "statusCallback",
}

// side is one side while it is being parsed.
type side struct {
	c   *sideCodes
	req *engine.SideRequest
	raw string // the from or to value as given
	// agents are the named agents (Agent type) or the group's members
	// (Group type): every agent the side may ring.
	agents []AgentInfo
}

type parser struct {
	ctx      context.Context
	f        form
	dir      Directory
	tenant   string
	req      engine.CallRequest
	from, to side
}

// CheckCredentials authenticates user_id and token against tenants (user
// id → token) and returns the tenant. Codes: 1002 user_id missing or
// empty, 1013 user_id not an integer, 1014 token missing or empty, 1013
// user_id unknown, 1020 token wrong, in that order. A credential given
// twice with different values is invalid (1013 or 1020).
func CheckCredentials(v url.Values, tenants map[string]string) (string, *Error) {
	f := form{v}
	user, _, err := f.get("user_id")
	if err != nil {
		return "", newError("1013", "user_id is given more than once")
	}
	if user == "" {
		return "", newError("1002", "")
	}
	if !allDigits(user) || len(user) > 20 {
		return "", newError("1013", "user_id must be an integer")
	}
	// "007" is tenant 7: ids are compared as integers, whatever their
	// width, so a 10-digit id works as well as a short one.
	user = strings.TrimLeft(user, "0")
	if user == "" {
		user = "0"
	}
	token, _, err := f.get("token")
	if err != nil {
		return "", newError("1020", "token is given more than once")
	}
	if token == "" {
		return "", newError("1014", "")
	}
	want, ok := tenants[user]
	if !ok || want == "" {
		return "", newError("1013", "")
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		return "", newError("1020", "")
	}
	return user, nil
}

// ParseClickToCall validates every click-to-call parameter in v except
// the credentials (see CheckCredentials; user_id is read only to name the
// tenant in Directory look-ups) and returns the request with every
// default applied, or the first error found in the documented order. It
// does no I/O besides the Directory, whose look-ups get ctx, and never
// panics. A look-up that fails refuses the request with 1501 (1575 for the
// DND list), HTTP 503, the failure wrapped (errors.Unwrap) for the log. A
// nil dir is NoDirectory.
func ParseClickToCall(ctx context.Context, v url.Values, dir Directory) (engine.CallRequest, *Error) {
	if dir == nil {
		dir = NoDirectory{}
	}
	p := &parser{ctx: ctx, f: form{v}, dir: dir}
	p.tenant, _, _ = p.f.get("user_id")
	p.from = side{c: fromCodes, req: &p.req.From}
	p.to = side{c: toCodes, req: &p.req.To}
	// The order of the checks; the first error found is returned.
	steps := []func() *Error{
		p.mode,
		func() *Error { return p.sideType(&p.from) },
		func() *Error { return p.sideType(&p.to) },
		p.presence,
		func() *Error { return p.sideValues(&p.from) },
		func() *Error { return p.sideValues(&p.to) },
		p.sameValues,
		func() *Error { return p.sideSettings(&p.from) },
		func() *Error { return p.sideSettings(&p.to) },
		p.timeLimit,
		p.alerts,
		p.ringTone,
		func() *Error { return p.loginFilters(&p.from) },
		func() *Error { return p.loginFilters(&p.to) },
		func() *Error { return p.cli(&p.from) },
		func() *Error { return p.cli(&p.to) },
		p.sticky,
		p.queueTimeout,
		p.dnd,
		p.record,
		p.statusCallback,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return engine.CallRequest{}, err
		}
	}
	return p.req, nil
}

// mode: live (default) or developer, in any case; anything else is 1539.
func (p *parser) mode() *Error {
	val, err := p.f.optional("mode")
	if err != nil {
		return err
	}
	if val == "" {
		p.req.Mode = ModeLive
		return nil
	}
	m, ok := oneOf(val, ModeLive, ModeDeveloper)
	if !ok {
		return newError("1539", "mode must be live or developer, not "+quote(val))
	}
	p.req.Mode = m
	return nil
}

// presence: 1521 when neither from nor to has a value, else 1506 / 1507
// for the one without.
func (p *parser) presence() *Error {
	from, _, err := p.f.get("from")
	if err != nil {
		return err
	}
	to, _, err := p.f.get("to")
	if err != nil {
		return err
	}
	switch {
	case from == "" && to == "":
		return newError("1521", "")
	case from == "":
		return newError("1506", "")
	case to == "":
		return newError("1507", "")
	}
	p.from.raw, p.to.raw = from, to
	return nil
}

// sameValues: 1520 when from and to are of one type and share a value.
func (p *parser) sameValues() *Error {
	if p.from.req.Type != p.to.req.Type {
		return nil
	}
	in := make(map[string]struct{}, len(p.from.req.Values))
	for _, v := range p.from.req.Values {
		in[v] = struct{}{}
	}
	for _, v := range p.to.req.Values {
		if _, ok := in[v]; ok {
			return newError("1520", quote(v))
		}
	}
	return nil
}

// other returns the side opposite s.
func (p *parser) other(s *side) *side {
	if s.c == fromCodes {
		return &p.to
	}
	return &p.from
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
