package dialer

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Names of the distributions, as groups and requests spell them.
const (
	RoundRobin  = "round_robin"
	RingAll     = "ring_all"
	Linear      = "linear"
	LeastRecent = "least_recent"
	FewestCalls = "fewest_calls"
	Random      = "random"
)

// Candidate is one group member a call may be offered to, with what the
// distributions need to know about it.
type Candidate struct {
	AgentID string
	// Priority orders the linear distribution: lower first.
	Priority int
	// Index is the member's position in the group's member list (0 first).
	// It is the member order every distribution falls back on for ties.
	Index int
	// LastCallEnd is when the agent last finished a call; the zero time
	// means never (least_recent).
	LastCallEnd time.Time
	// CallsTaken counts the calls the agent answered (fewest_calls).
	CallsTaken int64
}

// OrderInput is the routing memory and randomness a distribution may use.
// The caller supplies both, so Order stays a pure function.
type OrderInput struct {
	// LastOffered is the agent id last offered a call of this group
	// (round_robin's memory); "" when none.
	LastOffered string
	// LastOfferedIndex is the Index the last offered agent had in the
	// member list when it was offered, or -1 when unknown. round_robin
	// reads it only when LastOffered is set but not among the candidates
	// (the agent left the group, or the caller passed a subset without
	// it): the rotation then starts where that agent would have been.
	// Set it -1 when only the id is known: 0 means "it was first".
	LastOfferedIndex int
	// Seed drives the random distribution: one seed, one order.
	Seed uint64
}

// Distribution orders a group's members for one pass of a hunt.
//
// Order returns a new slice holding every candidate exactly once, in the
// order the call should be offered to them; it never modifies cands. It
// does not filter: an agent that cannot take the call is skipped by the
// engine when its reservation is refused, not by the distribution.
type Distribution interface {
	Name() string
	Order(cands []Candidate, in OrderInput) []Candidate
}

var distributions = []Distribution{
	roundRobin{}, ringAll{}, linear{}, leastRecent{}, fewestCalls{}, random{},
}

// Distributions lists the names ParseDistribution accepts (besides the
// empty string and "RR"), default first.
func Distributions() []string {
	names := make([]string, len(distributions))
	for i, d := range distributions {
		names[i] = d.Name()
	}
	return names
}

// ParseDistribution returns the named distribution. Names are
// case-insensitive and surrounding space is ignored; the empty string and
// the spec's short form "RR" mean round_robin, the default.
func ParseDistribution(name string) (Distribution, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "", "rr":
		return roundRobin{}, nil
	}
	for _, d := range distributions {
		if d.Name() == n {
			return d, nil
		}
	}
	return nil, fmt.Errorf("unknown distribution %q (want one of %s)", name, strings.Join(Distributions(), ", "))
}

// memberOrder returns a copy of cands in member-list order (by Index; a
// stable sort, so equal indexes keep the caller's order).
func memberOrder(cands []Candidate) []Candidate {
	out := slices.Clone(cands)
	slices.SortStableFunc(out, func(a, b Candidate) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// sortedBy returns a copy of cands ordered by key, ties by Index.
func sortedBy(cands []Candidate, key func(a, b Candidate) int) []Candidate {
	out := memberOrder(cands)
	slices.SortStableFunc(out, key)
	return out
}

// roundRobin offers members in member-list order, starting right after the
// agent last offered a call of the group, so offers rotate evenly.
type roundRobin struct{}

func (roundRobin) Name() string { return RoundRobin }

// Order rotates the member order. The start is:
//   - the first member when LastOffered is "" (no memory; LastOfferedIndex
//     is then ignored, so the zero OrderInput means no memory too);
//   - right after LastOffered when it is among the candidates;
//   - else, when LastOfferedIndex >= 0, the first candidate whose Index is
//     at least LastOfferedIndex (wrapping to the first): where the agent
//     would have been. "At least" rather than "greater than" because when
//     the agent left the group its successor moved up into its Index, and
//     when it is merely absent from cands no candidate holds that Index;
//   - else the first member.
func (roundRobin) Order(cands []Candidate, in OrderInput) []Candidate {
	out := memberOrder(cands)
	start := 0
	if in.LastOffered != "" {
		if i := slices.IndexFunc(out, func(c Candidate) bool { return c.AgentID == in.LastOffered }); i >= 0 {
			start = i + 1
		} else if in.LastOfferedIndex >= 0 {
			start = slices.IndexFunc(out, func(c Candidate) bool { return c.Index >= in.LastOfferedIndex })
		}
	}
	if start <= 0 || start >= len(out) {
		return out
	}
	return slices.Concat(out[start:], out[:start])
}

// ringAll offers every member at once; Order gives member order, the order
// in which the engine starts the legs.
type ringAll struct{}

func (ringAll) Name() string { return RingAll }

func (ringAll) Order(cands []Candidate, _ OrderInput) []Candidate { return memberOrder(cands) }

// linear offers members by Priority, lowest first, ties in member order:
// the same agents are always asked first.
type linear struct{}

func (linear) Name() string { return Linear }

func (linear) Order(cands []Candidate, _ OrderInput) []Candidate {
	return sortedBy(cands, func(a, b Candidate) int { return cmp.Compare(a.Priority, b.Priority) })
}

// leastRecent offers the longest idle member first: LastCallEnd oldest
// first, never (zero time) before all, ties in member order.
type leastRecent struct{}

func (leastRecent) Name() string { return LeastRecent }

func (leastRecent) Order(cands []Candidate, _ OrderInput) []Candidate {
	return sortedBy(cands, func(a, b Candidate) int {
		switch az, bz := a.LastCallEnd.IsZero(), b.LastCallEnd.IsZero(); {
		case az && bz:
			return 0
		case az:
			return -1
		case bz:
			return 1
		}
		return a.LastCallEnd.Compare(b.LastCallEnd)
	})
}

// fewestCalls offers the member who answered the fewest calls first, ties
// in member order.
type fewestCalls struct{}

func (fewestCalls) Name() string { return FewestCalls }

func (fewestCalls) Order(cands []Candidate, _ OrderInput) []Candidate {
	return sortedBy(cands, func(a, b Candidate) int { return cmp.Compare(a.CallsTaken, b.CallsTaken) })
}

// random offers members in a shuffled order drawn from the caller's Seed:
// the same seed and members always give the same order, whatever order
// the candidates arrive in.
type random struct{}

func (random) Name() string { return Random }

// pcgStream is the fixed second word of the PCG state; the caller's Seed
// is the first.
const pcgStream = 0x9e3779b97f4a7c15

func (random) Order(cands []Candidate, in OrderInput) []Candidate {
	out := memberOrder(cands)
	r := rand.New(rand.NewPCG(in.Seed, pcgStream))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
