package api

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/switchboard/switchboard/engine"
)

// timeLimit: absent or 0 is unlimited; present but empty 1532, not an
// integer (or beyond 999999999) 1534, negative 1533. Then
// timeLimitHangup: true/false/1/0/yes/no in any case, default true,
// anything else 1539.
func (p *parser) timeLimit() *Error {
	val, present, err := p.f.get("timeLimit")
	if err != nil {
		return err
	}
	if present {
		if err := checkLen("timeLimit", val); err != nil {
			return err
		}
		if val == "" {
			return newError("1532", "")
		}
		n, kind := parseInt(val)
		switch kind {
		case intNotInt, intHuge:
			return newError("1534", quote(val)+" is not an integer number of seconds")
		case intNegative:
			return newError("1533", "")
		}
		p.req.TimeLimit = n
	}

	p.req.TimeLimitHangup = true
	val, err = p.f.optional("timeLimitHangup")
	if err != nil {
		return err
	}
	if val != "" {
		b, ok := parseBool(val)
		if !ok {
			return newError("1539", "timeLimitHangup must be true or false, not "+quote(val))
		}
		p.req.TimeLimitHangup = b
	}
	return nil
}

// alerts: timeLimitAlert (also spelt timeLimtAlert, as in the spec) is up
// to 10 distinct positive integers (1545), each below a timeLimit that is
// set (1547). alertAudio is up to 10 announcement ids, each known to the
// Directory (1546); it goes with timeLimitAlert: either one id, played at
// every mark, or one id per mark in order. Marks without audio and audio
// without marks are refused (1546), since nothing could be played.
func (p *parser) alerts() *Error {
	val, err := p.f.optional("timeLimitAlert", "timeLimtAlert")
	if err != nil {
		return err
	}
	if val != "" {
		if err := p.alertMarks(val); err != nil {
			return err
		}
	}
	audio, _, err := p.f.get("alertAudio")
	if err != nil {
		return err
	}
	if audio == "" {
		if len(p.req.TimeLimitAlert) > 0 {
			return newError("1546", "timeLimitAlert is given without alertAudio")
		}
		return nil
	}
	ids, ok := splitList(audio, maxSideValues)
	if !ok {
		return newError("1546", fmt.Sprintf("at most %d announcement ids", maxSideValues))
	}
	for _, id := range ids {
		if err := checkLen("alertAudio", id); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if id == "" {
			return newError("1546", quote(id))
		}
		ok, err := p.announcement(id)
		if err != nil {
			return err
		}
		if !ok {
			return newError("1546", quote(id))
		}
	}
	switch {
	case len(p.req.TimeLimitAlert) == 0:
		return newError("1546", "alertAudio is given without timeLimitAlert")
	case len(ids) != 1 && len(ids) != len(p.req.TimeLimitAlert):
		return newError("1546", "give one alertAudio id, or one per timeLimitAlert value")
	}
	p.req.AlertAudio = ids
	return nil
}

func (p *parser) alertMarks(val string) *Error {
	parts, ok := splitList(val, maxSideValues)
	if !ok {
		return newError("1545", fmt.Sprintf("at most %d values", maxSideValues))
	}
	marks := make([]int, 0, len(parts))
	seen := make(map[int]bool, len(parts))
	for _, s := range parts {
		if err := checkLen("timeLimitAlert", s); err != nil {
			return err
		}
		n, kind := parseInt(s)
		if kind != intOK || n <= 0 {
			return newError("1545", quote(s)+" is not a positive integer")
		}
		if seen[n] {
			return newError("1545", fmt.Sprintf("%d is given twice", n))
		}
		seen[n] = true
		marks = append(marks, n)
	}
	if p.req.TimeLimit == 0 {
		return newError("1547", "timeLimit is not set")
	}
	for _, n := range marks {
		if n >= p.req.TimeLimit {
			return newError("1547", fmt.Sprintf("%d is not below timeLimit %d", n, p.req.TimeLimit))
		}
	}
	p.req.TimeLimitAlert = marks
	return nil
}

// ringTone: an announcement id known to the Directory (1535).
func (p *parser) ringTone() *Error {
	val, err := p.f.optional("ringTone")
	if err != nil || val == "" {
		return err
	}
	ok, aerr := p.announcement(val)
	if aerr != nil {
		return aerr
	}
	if !ok {
		return newError("1535", quote(val))
	}
	p.req.RingTone = val
	return nil
}

// sticky: yes, no or na (default) in any case; anything else 1539.
// stickyTimeType, stickyTimeValue and stickyAgentBusy need sticky=yes
// (1561). With sticky=yes exactly one side must be a Number (1558) and
// that side must hold one number, the customer that is bound to an agent
// (1576/1577). Then stickyTimeType min/hour/day/month/permanent (1559),
// stickyTimeValue an integer ≥ 1 (1560), stickyAgentBusy
// retrySame/retryNewSticky/retryTemp (1562). Defaults (day, 1, retrySame)
// are filled in whether or not sticky is on.
func (p *parser) sticky() *Error {
	p.req.StickyTimeType = DefaultStickyTimeType
	p.req.StickyTimeValue = DefaultStickyTimeValue
	p.req.StickyAgentBusy = DefaultStickyAgentBusy
	val, err := p.f.optional("sticky")
	if err != nil {
		return err
	}
	sticky := "na"
	if val != "" {
		var ok bool
		if sticky, ok = oneOf(val, "yes", "no", "na"); !ok {
			return newError("1539", "sticky must be yes, no or na, not "+quote(val))
		}
	}
	p.req.Sticky = sticky
	timeType, _, err := p.f.get("stickyTimeType")
	if err != nil {
		return err
	}
	timeValue, _, err := p.f.get("stickyTimeValue")
	if err != nil {
		return err
	}
	busy, _, err := p.f.get("stickyAgentBusy")
	if err != nil {
		return err
	}
	if sticky != "yes" {
		if timeType != "" || timeValue != "" || busy != "" {
			return newError("1561", "")
		}
		return nil
	}
	var number *side
	switch {
	case p.from.req.Type == engine.TargetNumber && p.to.req.Type != engine.TargetNumber:
		number = &p.from
	case p.to.req.Type == engine.TargetNumber && p.from.req.Type != engine.TargetNumber:
		number = &p.to
	default:
		return newError("1558", "")
	}
	if len(number.req.Values) > 1 {
		return newError(number.c.multiNotAllowed, "sticky=yes binds one customer number to an agent")
	}
	if timeType != "" {
		if err := checkLen("stickyTimeType", timeType); err != nil {
			return err
		}
		t, ok := oneOf(timeType, "min", "hour", "day", "month", "permanent")
		if !ok {
			return newError("1559", quote(timeType)+"; valid: min, hour, day, month, permanent")
		}
		p.req.StickyTimeType = t
	}
	if timeValue != "" {
		if err := checkLen("stickyTimeValue", timeValue); err != nil {
			return err
		}
		n, kind := parseInt(timeValue)
		if kind != intOK || n < 1 {
			return newError("1560", quote(timeValue)+" is not an integer of at least 1")
		}
		p.req.StickyTimeValue = n
	}
	if busy != "" {
		if err := checkLen("stickyAgentBusy", busy); err != nil {
			return err
		}
		b, ok := oneOf(busy, "retrySame", "retryNewSticky", "retryTemp")
		if !ok {
			return newError("1562", quote(busy)+"; valid: retrySame, retryNewSticky, retryTemp")
		}
		p.req.StickyAgentBusy = b
	}
	return nil
}

// queueTimeout: default 60; when given, one side must be a Group (1568)
// and the value an integer from 0 (do not wait) to 3600 (1563).
func (p *parser) queueTimeout() *Error {
	p.req.QueueTimeout = DefaultQueueTimeout
	val, _, err := p.f.get("queueTimeout")
	if err != nil || val == "" {
		return err
	}
	if p.from.req.Type != engine.TargetGroup && p.to.req.Type != engine.TargetGroup {
		return newError("1568", "")
	}
	if err := checkLen("queueTimeout", val); err != nil {
		return err
	}
	n, kind := parseInt(val)
	if kind != intOK || n > MaxQueueTimeout {
		return newError("1563", quote(val)+" is not a whole number of seconds from 0 to 3600")
	}
	p.req.QueueTimeout = n
	return nil
}

// dnd: dndFilter is from, to or both in any case (1570). A checked side
// must be a Number side (1571/1572), in the order from then to, and then
// none of its numbers may be on the tenant's DND list (1573/1574). A DND
// look-up that fails is 1575, HTTP 503: the call is not placed unchecked.
func (p *parser) dnd() *Error {
	val, err := p.f.optional("dndFilter")
	if err != nil || val == "" {
		return err
	}
	f, ok := oneOf(val, "from", "to", "both")
	if !ok {
		return newError("1570", quote(val))
	}
	p.req.DNDFilter = f
	var checked []*side
	if f == "from" || f == "both" {
		checked = append(checked, &p.from)
	}
	if f == "to" || f == "both" {
		checked = append(checked, &p.to)
	}
	for _, s := range checked {
		if s.req.Type != engine.TargetNumber {
			return newError(s.c.dndType, s.c.typeParam+" is "+string(s.req.Type))
		}
	}
	for _, s := range checked {
		for _, n := range s.req.Values {
			on, err := p.dir.DND(p.ctx, p.tenant, n)
			if err != nil {
				return unavailable("1575", "the DND list could not be read; retry", err)
			}
			if on {
				return newError(s.c.dndListed, quote(n))
			}
		}
	}
	return nil
}

// record (beyond the spec): yes/no/true/false/1/0 in any case, default
// no; anything else 1539, the spec's code for a malformed flag.
func (p *parser) record() *Error {
	val, err := p.f.optional("record")
	if err != nil || val == "" {
		return err
	}
	b, ok := parseBool(val)
	if !ok {
		return newError("1539", "record must be yes or no, not "+quote(val))
	}
	p.req.Record = b
	return nil
}

// maxCallbackLen bounds statusCallback, a URL: the spec's 50 characters
// (1569) are for its own parameters and would not hold one.
const maxCallbackLen = 512

// statusCallback (beyond the spec): an absolute http or https URL of at
// most 512 characters, printable ASCII (anything else percent-encoded),
// where the call's events are delivered as webhooks besides the tenant's
// own endpoints. Anything else is 1539. It is exempt from the 50-character
// limit (1569).
func (p *parser) statusCallback() *Error {
	val, _, err := p.f.get("statusCallback")
	if err != nil || val == "" {
		return err
	}
	if n := utf8.RuneCountInString(val); n > maxCallbackLen {
		return newError("1539", fmt.Sprintf("statusCallback is %d characters long; at most %d", n, maxCallbackLen))
	}
	if msg := checkCallbackURL(val); msg != "" {
		return newError("1539", "statusCallback "+msg)
	}
	p.req.StatusCallback = val
	return nil
}

// checkCallbackURL says what is wrong with a callback URL, "" if nothing.
func checkCallbackURL(val string) string {
	const want = "must be an absolute http:// or https:// URL, like https://crm.example/switchboard/events"
	for i := 0; i < len(val); i++ {
		if c := val[i]; c <= ' ' || c >= 0x7f {
			return want + "; spaces, control and non-ASCII characters must be percent-encoded"
		}
	}
	u, err := url.Parse(val)
	if err != nil {
		return want + ", not " + quote(truncate(val, 60))
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return want + ", not " + quote(truncate(val, 60))
	}
	if u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return want + "; the host is missing in " + quote(truncate(val, 60))
	}
	return ""
}

// truncate shortens s to at most n characters for a message.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
