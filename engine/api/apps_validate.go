package api

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/ivr"
)

// App limits.
const (
	minAppNumberDigits = 3
	maxAppNumberDigits = 20
	minAppRingTime     = 5
	maxAppRingTime     = 120
	maxAppTimeLimit    = 86400 // a day
	minLookupTimeoutMS = 100
	maxLookupTimeoutMS = 10000
	maxDepartmentLen   = 100
)

// ErrInvalidApp is matched (errors.Is) by every error of ValidateApp.
var ErrInvalidApp = errors.New("invalid app")

// AppError lists every problem ValidateApp found in an app. A problem in
// a menu of the app's flow names the menu, and its field is spelt within
// the menu as in ivr.Problem ("prompt", `options["1"].target`); any other
// problem's field is the app's JSON key ("number", "route.target",
// "flow.start").
type AppError struct {
	App      string
	Problems []ivr.Problem
}

func (e *AppError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %q:", ErrInvalidApp, e.App)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidApp) true.
func (e *AppError) Is(target error) bool { return target == ErrInvalidApp }

// ValidateApp checks an app as the API and the configuration file take
// it, and returns nil or an *AppError naming every problem:
//
//   - app_id: 1 to 50 of A-Z a-z 0-9 _ . - (the tenant is the caller's
//     to check);
//   - name: at most 100 characters;
//   - number: the virtual number, an optional + and 3 to 20 digits;
//   - exactly one of flow (an IVR flow, checked by ivr.Flow.Validate
//     with known) and route (a route_group, route_agent or route_number
//     action with its target, checked by known.Group, .Agent and .Number,
//     and an optional prompt played first, checked by known.Prompt);
//   - ring_time 0 (the default, 20 s) or 5 to 120 seconds; ring_tone
//     empty or a prompt known.Prompt knows; time_limit 0 (none) to 86400
//     seconds; department at most 100 characters;
//   - caller_lookup_url and status_callback empty or absolute http:// or
//     https:// URLs of at most 512 characters; caller_lookup_timeout_ms 0
//     (the default, 1500) or 100 to 10000.
//
// A nil function of known accepts every name, as in ivr.Validate.
func ValidateApp(a *engine.App, known ivr.Known) error {
	v := &appValidator{known: known}
	if a == nil {
		v.bad("", "no app")
		return v.err("")
	}
	if !validID(a.ID) {
		v.bad("app_id", "%s is not an app id (%s)", quoteKey(a.ID), idRule)
	}
	if n := utf8.RuneCountInString(a.Name); n > maxNameLen {
		v.bad("name", "%d characters; at most %d", n, maxNameLen)
	}
	if !ValidVirtualNumber(a.Number) {
		v.bad("number", "%s is not a virtual number (an optional + and %d to %d digits)", quoteKey(a.Number), minAppNumberDigits, maxAppNumberDigits)
	}
	switch {
	case a.Flow == nil && a.Route == nil:
		v.bad("flow", "an app needs a flow (an IVR) or a route (route_group, route_agent or route_number)")
	case a.Flow != nil && a.Route != nil:
		v.bad("route", "an app has a flow or a route, not both")
	case a.Flow != nil:
		v.flow(a.Flow)
	default:
		v.route(*a.Route)
	}
	if a.RingTime != 0 && (a.RingTime < minAppRingTime || a.RingTime > maxAppRingTime) {
		v.bad("ring_time", "%d; %d to %d seconds (0: 20)", a.RingTime, minAppRingTime, maxAppRingTime)
	}
	if a.RingTone != "" {
		v.prompt("ring_tone", a.RingTone)
	}
	if a.TimeLimit < 0 || a.TimeLimit > maxAppTimeLimit {
		v.bad("time_limit", "%d; 0 (none) to %d seconds", a.TimeLimit, maxAppTimeLimit)
	}
	if n := utf8.RuneCountInString(a.Department); n > maxDepartmentLen {
		v.bad("department", "%d characters; at most %d", n, maxDepartmentLen)
	}
	v.url("caller_lookup_url", a.CallerLookupURL)
	if t := a.CallerLookupTimeoutMS; t != 0 && (t < minLookupTimeoutMS || t > maxLookupTimeoutMS) {
		v.bad("caller_lookup_timeout_ms", "%d; %d to %d (0: 1500)", t, minLookupTimeoutMS, maxLookupTimeoutMS)
	}
	v.url("status_callback", a.StatusCallback)
	return v.err(a.ID)
}

// ValidVirtualNumber reports whether s can be an app's number: an
// optional + and 3 to 20 digits.
func ValidVirtualNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < minAppNumberDigits || len(s) > maxAppNumberDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

type appValidator struct {
	known ivr.Known
	probs []ivr.Problem
}

func (v *appValidator) bad(field, format string, args ...any) {
	v.probs = append(v.probs, ivr.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *appValidator) err(id string) error {
	if len(v.probs) == 0 {
		return nil
	}
	return &AppError{App: id, Problems: v.probs}
}

// flow adds the flow's problems: a menu's as ivr gives them, the flow's
// own under "flow.".
func (v *appValidator) flow(f *ivr.Flow) {
	err := f.Validate(v.known)
	var ve *ivr.ValidationError
	if !errors.As(err, &ve) {
		if err != nil {
			v.bad("flow", "%v", err)
		}
		return
	}
	for _, p := range ve.Problems {
		if p.Menu == "" {
			p.Field = strings.TrimSuffix("flow."+p.Field, ".")
		}
		v.probs = append(v.probs, p)
	}
}

// route checks a direct route: the action a call takes at once.
func (v *appValidator) route(a ivr.Action) {
	var ok func(string) bool
	var what string
	switch a.Type {
	case ivr.RouteGroup:
		ok, what = v.known.Group, "group"
	case ivr.RouteAgent:
		ok, what = v.known.Agent, "agent"
	case ivr.RouteNumber:
		ok, what = v.known.Number, "number"
	case "":
		v.bad("route.type", "required: route_group, route_agent or route_number")
		return
	default:
		v.bad("route.type", "%s; a route is route_group, route_agent or route_number (an IVR goes in flow)", quoteKey(string(a.Type)))
		return
	}
	switch t := a.Target; {
	case strings.TrimSpace(t) == "":
		v.bad("route.target", "required: the %s to route to", what)
	case strings.TrimSpace(t) != t:
		v.bad("route.target", "%q has spaces around it", t)
	case ok != nil && !ok(t):
		if a.Type == ivr.RouteNumber {
			v.bad("route.target", "%q is not a number Switchboard dials", t)
		} else {
			v.bad("route.target", "unknown %s %q", what, t)
		}
	}
	if a.Prompt != "" {
		v.prompt("route.prompt", a.Prompt)
	}
}

func (v *appValidator) prompt(field, id string) {
	if v.known.Prompt != nil && !v.known.Prompt(id) {
		v.bad(field, "unknown prompt %q", id)
	}
}

func (v *appValidator) url(field, val string) {
	if val == "" {
		return
	}
	if n := utf8.RuneCountInString(val); n > maxCallbackLen {
		v.bad(field, "%d characters; at most %d", n, maxCallbackLen)
		return
	}
	if msg := checkCallbackURL(val); msg != "" {
		v.bad(field, "%s", msg)
	}
}
