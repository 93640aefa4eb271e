package dialer

import (
	"strings"
	"time"
)

// AgentView is what eligibility needs to know about an agent now.
type AgentView struct {
	ID string
	// WebLogin and CallLogin are the agent's login states.
	WebLogin, CallLogin bool
	// Paused agents are offered no calls.
	Paused bool
	// Active counts the agent's unexpired reservations (calls offered or
	// in progress).
	Active int
	// Capacity is how many calls the agent may carry at once; 0 or less
	// means 1.
	Capacity int
	// WrapUpUntil is when the rest after the agent's last call ends.
	WrapUpUntil time.Time
	// Deleted: the agent no longer exists (a group may still name it).
	Deleted bool
}

// LoginFilter is one side's login filters (the spec's fromWebLogin,
// fromCallLogin, toWebLogin, toCallLogin): "yes" admits only logged-in
// agents, "no" only logged-out ones, "na" (or "") anybody. Case is
// ignored. Validating the values is the API's job; any other value
// filters nothing, like "na".
type LoginFilter struct {
	WebLogin, CallLogin string
}

// Eligible reports whether the agent may be offered a call now and, when
// not, why, in words for the attempt log. The checks run in this order,
// the first failing one giving the reason:
//
//	"deleted"                                  the agent is gone
//	"not web-logged-in" / "web-logged-in"      WebLogin filter yes / no
//	"not call-logged-in" / "call-logged-in"    CallLogin filter yes / no
//	"paused"                                   the agent paused itself
//	"in wrap-up"                               now is before WrapUpUntil
//	"busy"                                     Active reached Capacity
//
// Eligible only reads the view: the engine's reservation is what finally
// claims the agent, atomically, and may still be refused.
func Eligible(a AgentView, f LoginFilter, now time.Time) (ok bool, reason string) {
	if a.Deleted {
		return false, "deleted"
	}
	if why := loginMismatch(f.WebLogin, a.WebLogin, "web-logged-in"); why != "" {
		return false, why
	}
	if why := loginMismatch(f.CallLogin, a.CallLogin, "call-logged-in"); why != "" {
		return false, why
	}
	switch {
	case a.Paused:
		return false, "paused"
	case now.Before(a.WrapUpUntil):
		return false, "in wrap-up"
	case a.Active >= max(a.Capacity, 1):
		return false, "busy"
	}
	return true, ""
}

// loginMismatch is the reason a login state fails its filter, or "".
func loginMismatch(filter string, loggedIn bool, state string) string {
	switch strings.ToLower(strings.TrimSpace(filter)) {
	case "yes":
		if !loggedIn {
			return "not " + state
		}
	case "no":
		if loggedIn {
			return state
		}
	}
	return ""
}
