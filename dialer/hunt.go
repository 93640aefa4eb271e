// Package dialer makes Switchboard's call-routing decisions: which endpoints
// ring, in what order, for how long and how often. It does no I/O and reads
// no clock: every input arrives as an argument, every decision leaves as a
// value, so each rule is a table test.
//
// A side names numbers or agents, hunted wave by wave (Plan), or a group.
// A group's members are ordered for each pass by its Distribution:
// round_robin (the default, "RR": member order, starting after the agent
// last offered a call of the group), ring_all (everyone at once), linear
// (by priority), least_recent (longest idle first), fewest_calls (fewest
// calls answered first) or random (a shuffle from the caller's seed); ties
// always go by member order. Eligible says whether an agent may be offered
// a call now (deleted, login filters, paused, wrap-up, busy). For sticky
// calls, StickyTTL gives a binding's period and DecideSticky, before each
// pass, whether the customer's bound agent goes first, is waited for
// (retrySame), or is passed over for this call (retryTemp) or for good
// (retryNewSticky).
package dialer

import (
	"fmt"
	"strings"
	"time"
)

// Strategy says how the values of one side of a call are rung.
type Strategy string

const (
	// OneByOne rings each value in turn, each for the side's ring time,
	// and stops at the first that answers.
	OneByOne Strategy = "ONE_BY_ONE"
	// ToAll rings every value at once; the first to answer wins and the
	// others are cancelled at once.
	ToAll Strategy = "TO_ALL"
)

// ParseStrategy accepts the spec's spellings. The empty string is the
// spec's default, ONE_BY_ONE.
func ParseStrategy(s string) (Strategy, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", string(OneByOne):
		return OneByOne, nil
	case string(ToAll):
		return ToAll, nil
	}
	return "", fmt.Errorf("unknown strategy %q", s)
}

// Side describes how one side (from or to) of a call is hunted.
type Side struct {
	// Targets are the endpoints in the order the request gave them.
	Targets []string
	// Strategy is ONE_BY_ONE or TO_ALL; empty means ONE_BY_ONE.
	Strategy Strategy
	// RingTime bounds each attempt (ONE_BY_ONE) or each wave (TO_ALL).
	RingTime time.Duration
	// Retries is how many more times the whole side is tried after the
	// first pass found nobody; 0 means a single pass.
	Retries int
}

// Wave is one step of a hunt: the targets that ring together, for how long.
type Wave struct {
	// Round is 0 for the first pass over the side and n for the n-th retry.
	Round int
	// Step counts waves from 0 across the whole hunt.
	Step int
	// Targets ring at the same time; a ONE_BY_ONE wave has exactly one.
	Targets []string
	// RingTime is how long the wave may ring before it is cancelled.
	RingTime time.Duration
}

// Plan lays out every wave a side can take, in order. The engine walks it
// and stops at the first wave in which somebody answers. A side without
// targets has no waves.
func Plan(s Side) []Wave {
	if len(s.Targets) == 0 {
		return nil
	}
	retries := max(s.Retries, 0)
	var waves []Wave
	for round := 0; round <= retries; round++ {
		if s.Strategy == ToAll {
			waves = append(waves, Wave{Round: round, Step: len(waves), Targets: append([]string(nil), s.Targets...), RingTime: s.RingTime})
			continue
		}
		for _, t := range s.Targets {
			waves = append(waves, Wave{Round: round, Step: len(waves), Targets: []string{t}, RingTime: s.RingTime})
		}
	}
	return waves
}
