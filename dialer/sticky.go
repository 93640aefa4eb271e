package dialer

import (
	"fmt"
	"strings"
	"time"
)

// StickyBusyPolicy is the spec's stickyAgentBusy: what a sticky call does
// when the customer's agent is busy.
type StickyBusyPolicy string

const (
	// RetrySame waits, up to queueTimeout, for the bound agent only.
	RetrySame StickyBusyPolicy = "retrySame"
	// RetryNewSticky offers the call by the group's distribution and binds
	// the customer to whoever answers.
	RetryNewSticky StickyBusyPolicy = "retryNewSticky"
	// RetryTemp offers the call by the group's distribution for this call
	// only: the customer stays bound to their agent.
	RetryTemp StickyBusyPolicy = "retryTemp"
)

// ParseStickyBusyPolicy accepts the spec's spellings, case-insensitively.
// The empty string is the spec's default, retrySame.
func ParseStickyBusyPolicy(s string) (StickyBusyPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "retrysame":
		return RetrySame, nil
	case "retrynewsticky":
		return RetryNewSticky, nil
	case "retrytemp":
		return RetryTemp, nil
	}
	return "", fmt.Errorf("unknown stickyAgentBusy %q (want retrySame, retryNewSticky or retryTemp)", s)
}

// MaxStickyTTL bounds a sticky binding's period: longer requests are cut
// to it (time.Duration itself ends near 292 years).
const MaxStickyTTL = 100 * 365 * 24 * time.Hour

// stickyUnits are the spec's stickyTimeType values with a length. A month
// is 30 days and a day 24 hours: the period is a duration, not a calendar
// date, so daylight-saving changes do not move it.
var stickyUnits = map[string]time.Duration{
	"min":   time.Minute,
	"hour":  time.Hour,
	"day":   24 * time.Hour,
	"month": 30 * 24 * time.Hour,
}

// StickyTTL is how long a customer stays bound to an agent: value units of
// timeType (the spec's stickyTimeType and stickyTimeValue). timeType is
// min, hour, day, month (30 days) or permanent, case-insensitive; empty
// means day, the spec's default. value must be at least 1, except for
// permanent, which ignores it and returns 0: a binding without expiry.
// A period beyond MaxStickyTTL is cut to MaxStickyTTL.
func StickyTTL(timeType string, value int) (time.Duration, error) {
	t := strings.ToLower(strings.TrimSpace(timeType))
	if t == "permanent" {
		return 0, nil
	}
	if t == "" {
		t = "day"
	}
	unit, ok := stickyUnits[t]
	if !ok {
		return 0, fmt.Errorf("unknown stickyTimeType %q (want min, hour, day, month or permanent)", timeType)
	}
	if value < 1 {
		return 0, fmt.Errorf("stickyTimeValue %d: must be at least 1", value)
	}
	if int64(value) > int64(MaxStickyTTL/unit) {
		return MaxStickyTTL, nil
	}
	return time.Duration(value) * unit, nil
}

// StickyInput is what the sticky decision for one pass of a group hunt
// knows about the customer's binding.
type StickyInput struct {
	// Bound is the agent bound to the customer; "" when none (or expired).
	Bound string
	// BoundIsMember: the bound agent is still a member of the group. The
	// caller reports false too when the agent was deleted.
	BoundIsMember bool
	// BoundAvailable: the bound agent could take the call now (Eligible).
	BoundAvailable bool
	// Policy is what to do when the bound agent is busy; a value that is
	// not one of the three policies counts as RetrySame, the default.
	Policy StickyBusyPolicy
}

// StickyPlan is how a sticky call is offered in one pass of a group hunt.
// With neither TryFirst nor WaitForBound set, the call goes by the group's
// distribution, the bound agent included (its reservation will simply be
// refused while it is busy).
type StickyPlan struct {
	// TryFirst is the agent to offer the call to first; "" for none. When
	// that offer is not answered (no answer, refused reservation) and
	// WaitForBound is false, the engine goes on with the distribution's
	// order, leaving TryFirst out of it.
	TryFirst string
	// WaitForBound (retrySame): offer the call to TryFirst, the bound
	// agent, and nobody else; while it is busy the caller waits in the
	// group's line, up to queueTimeout.
	WaitForBound bool
	// Rebind: bind the customer to whichever agent answers. Without it
	// the binding is left as it is, except that when the bound agent
	// itself answers the engine sets the binding again, which restarts
	// its period (BindOnAnswer).
	Rebind bool
	// Reason explains the plan for the attempt log.
	Reason string
}

// Sticky plan reasons, as they appear in the attempt log.
const (
	reasonStickyHit       = "sticky hit"
	reasonStickyNoBinding = "sticky miss: no binding"
	reasonStickyNotMember = "sticky miss: bound agent no longer a member"
	reasonStickyBusy      = "sticky agent busy: "
)

// DecideSticky plans one pass of a sticky group hunt:
//
//	binding                     plan
//	none                        distribution, rebind
//	agent left group / deleted  distribution, rebind
//	agent available             agent first, then distribution; no rebind
//	agent busy, retrySame       wait for the agent only; no rebind
//	agent busy, retryNewSticky  distribution, rebind
//	agent busy, retryTemp       distribution; no rebind
//
// An available bound agent who does not answer does not lose the
// customer: the call falls back to the distribution for this call only.
func DecideSticky(in StickyInput) StickyPlan {
	switch {
	case in.Bound == "":
		return StickyPlan{Rebind: true, Reason: reasonStickyNoBinding}
	case !in.BoundIsMember:
		return StickyPlan{Rebind: true, Reason: reasonStickyNotMember}
	case in.BoundAvailable:
		return StickyPlan{TryFirst: in.Bound, Reason: reasonStickyHit}
	}
	switch in.Policy {
	case RetryNewSticky:
		return StickyPlan{Rebind: true, Reason: reasonStickyBusy + string(RetryNewSticky)}
	case RetryTemp:
		return StickyPlan{Reason: reasonStickyBusy + string(RetryTemp)}
	}
	return StickyPlan{TryFirst: in.Bound, WaitForBound: true, Reason: reasonStickyBusy + string(RetrySame)}
}

// BindOnAnswer reports whether the engine should (re)bind the customer to
// the agent who answered: when the plan rebinds, or when the answering
// agent is the one already bound, to restart the binding's period.
// bound is StickyInput.Bound; answered "" (nobody) never binds.
func (p StickyPlan) BindOnAnswer(bound, answered string) bool {
	return answered != "" && (p.Rebind || answered == bound)
}
