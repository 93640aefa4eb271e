package dialer

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// cands builds candidates in member order: ids[i] has Index i.
func cands(ids ...string) []Candidate {
	out := make([]Candidate, len(ids))
	for i, id := range ids {
		out[i] = Candidate{AgentID: id, Index: i}
	}
	return out
}

func ids(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.AgentID
	}
	return out
}

func mustDist(t *testing.T, name string) Distribution {
	t.Helper()
	d, err := ParseDistribution(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var noMemory = OrderInput{LastOfferedIndex: -1}

func TestRoundRobinOrder(t *testing.T) {
	abcd := cands("a", "b", "c", "d")
	// b left the group: c and d moved up one place.
	acd := []Candidate{{AgentID: "a", Index: 0}, {AgentID: "c", Index: 1}, {AgentID: "d", Index: 2}}
	// Only the members free now: b and d are not offered.
	subset := []Candidate{{AgentID: "a", Index: 0}, {AgentID: "c", Index: 2}}
	tests := []struct {
		name  string
		cands []Candidate
		in    OrderInput
		want  []string
	}{
		{"empty", nil, noMemory, []string{}},
		{"single, no memory", cands("a"), noMemory, []string{"a"}},
		{"single, itself last", cands("a"), OrderInput{LastOffered: "a", LastOfferedIndex: 0}, []string{"a"}},
		{"no memory starts at the first member", abcd, noMemory, []string{"a", "b", "c", "d"}},
		{"zero input has no memory either", abcd, OrderInput{}, []string{"a", "b", "c", "d"}},
		{"no id: the index alone is no memory", abcd, OrderInput{LastOfferedIndex: 2}, []string{"a", "b", "c", "d"}},
		{"starts right after the last offered", abcd, OrderInput{LastOffered: "b", LastOfferedIndex: -1}, []string{"c", "d", "a", "b"}},
		{"wraps after the last member", abcd, OrderInput{LastOffered: "d", LastOfferedIndex: -1}, []string{"a", "b", "c", "d"}},
		{"id wins over a stale index", abcd, OrderInput{LastOffered: "a", LastOfferedIndex: 2}, []string{"b", "c", "d", "a"}},
		{"unknown id, unknown index: first member", abcd, OrderInput{LastOffered: "zed", LastOfferedIndex: -1}, []string{"a", "b", "c", "d"}},
		{"removed agent: start where it was", acd, OrderInput{LastOffered: "b", LastOfferedIndex: 1}, []string{"c", "d", "a"}},
		{"removed last member: wrap to first", acd, OrderInput{LastOffered: "e", LastOfferedIndex: 3}, []string{"a", "c", "d"}},
		{"absent from a subset: next by index", subset, OrderInput{LastOffered: "b", LastOfferedIndex: 1}, []string{"c", "a"}},
		{"absent from a subset: wrap", subset, OrderInput{LastOffered: "d", LastOfferedIndex: 3}, []string{"a", "c"}},
		{"present in a subset: next by index", subset, OrderInput{LastOffered: "a", LastOfferedIndex: 0}, []string{"c", "a"}},
		{"member order, not input order", []Candidate{{AgentID: "c", Index: 2}, {AgentID: "a", Index: 0}, {AgentID: "b", Index: 1}},
			OrderInput{LastOffered: "a", LastOfferedIndex: 0}, []string{"b", "c", "a"}},
	}
	d := mustDist(t, "round_robin")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(d.Order(tc.cands, tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Order() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStaticOrders(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	// Members in list order with priorities, last calls and call counts.
	members := []Candidate{
		{AgentID: "a", Index: 0, Priority: 2, LastCallEnd: at(5), CallsTaken: 7},
		{AgentID: "b", Index: 1, Priority: 1, LastCallEnd: at(1), CallsTaken: 3},
		{AgentID: "c", Index: 2, Priority: 2, LastCallEnd: time.Time{}, CallsTaken: 3},
		{AgentID: "d", Index: 3, Priority: 1, LastCallEnd: at(1), CallsTaken: 0},
		{AgentID: "e", Index: 4, Priority: 0, LastCallEnd: time.Time{}, CallsTaken: 7},
	}
	shuffled := []Candidate{members[3], members[0], members[4], members[2], members[1]}
	tests := []struct {
		dist  string
		cands []Candidate
		want  []string
	}{
		{"ring_all", members, []string{"a", "b", "c", "d", "e"}},
		{"ring_all", shuffled, []string{"a", "b", "c", "d", "e"}},
		{"linear", members, []string{"e", "b", "d", "a", "c"}},
		{"linear", shuffled, []string{"e", "b", "d", "a", "c"}},
		{"least_recent", members, []string{"c", "e", "b", "d", "a"}},
		{"least_recent", shuffled, []string{"c", "e", "b", "d", "a"}},
		{"fewest_calls", members, []string{"d", "b", "c", "a", "e"}},
		{"fewest_calls", shuffled, []string{"d", "b", "c", "a", "e"}},
		// All tied: member order.
		{"linear", cands("x", "y", "z"), []string{"x", "y", "z"}},
		{"least_recent", cands("x", "y", "z"), []string{"x", "y", "z"}},
		{"fewest_calls", cands("x", "y", "z"), []string{"x", "y", "z"}},
	}
	for _, tc := range tests {
		t.Run(tc.dist+"/"+ids(tc.cands)[0], func(t *testing.T) {
			d := mustDist(t, tc.dist)
			if got := ids(d.Order(tc.cands, OrderInput{LastOffered: "b", LastOfferedIndex: 1, Seed: 42})); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s Order() = %v, want %v", tc.dist, got, tc.want)
			}
		})
	}
}

func TestOrderEdgeCasesAllDistributions(t *testing.T) {
	for _, name := range Distributions() {
		d := mustDist(t, name)
		t.Run(name, func(t *testing.T) {
			if d.Name() != name {
				t.Fatalf("Name() = %q, want %q", d.Name(), name)
			}
			if got := d.Order(nil, noMemory); len(got) != 0 {
				t.Errorf("Order(nil) = %v, want empty", got)
			}
			if got := d.Order([]Candidate{}, noMemory); len(got) != 0 {
				t.Errorf("Order([]) = %v, want empty", got)
			}
			one := []Candidate{{AgentID: "solo", Index: 3, Priority: 9, CallsTaken: 4}}
			for _, in := range []OrderInput{noMemory, {LastOffered: "solo", LastOfferedIndex: 3, Seed: 7}, {LastOffered: "gone", LastOfferedIndex: 5, Seed: 1}} {
				if got := d.Order(one, in); !reflect.DeepEqual(got, one) {
					t.Errorf("Order(single, %+v) = %v, want %v", in, got, one)
				}
			}
		})
	}
}

// Order returns a permutation of its input in a new slice and leaves the
// input as it was, whatever the distribution.
func TestOrderIsAFreshPermutation(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	in := []Candidate{
		{AgentID: "d", Index: 3, Priority: 1, LastCallEnd: t0, CallsTaken: 1},
		{AgentID: "a", Index: 0, Priority: 3, LastCallEnd: t0.Add(time.Hour), CallsTaken: 9},
		{AgentID: "c", Index: 2, Priority: 2, CallsTaken: 5},
		{AgentID: "b", Index: 1, Priority: 1, LastCallEnd: t0.Add(-time.Hour), CallsTaken: 0},
	}
	orig := slices.Clone(in)
	for _, name := range Distributions() {
		d := mustDist(t, name)
		for seed := range uint64(5) {
			got := d.Order(in, OrderInput{LastOffered: "a", LastOfferedIndex: 0, Seed: seed})
			if !reflect.DeepEqual(in, orig) {
				t.Fatalf("%s mutated its input: %v, was %v", name, in, orig)
			}
			if len(got) != len(in) {
				t.Fatalf("%s returned %d candidates, want %d", name, len(got), len(in))
			}
			for _, c := range in {
				if n := count(got, c); n != 1 {
					t.Fatalf("%s: %+v appears %d times in %v", name, c, n, got)
				}
			}
			got[0].AgentID = "scribbled"
			if !reflect.DeepEqual(in, orig) {
				t.Fatalf("%s returned a slice sharing the input's array", name)
			}
		}
	}
}

func count(cs []Candidate, c Candidate) int {
	n := 0
	for _, x := range cs {
		if reflect.DeepEqual(x, c) {
			n++
		}
	}
	return n
}

func TestRandomOrder(t *testing.T) {
	d := mustDist(t, "random")
	members := cands("a", "b", "c", "d")
	reversed := slices.Clone(members)
	slices.Reverse(reversed)

	first := map[string]int{}
	orders := map[string]bool{}
	const seeds = 4000
	for seed := range uint64(seeds) {
		in := OrderInput{Seed: seed, LastOfferedIndex: -1}
		got := ids(d.Order(members, in))
		if again := ids(d.Order(members, in)); !reflect.DeepEqual(got, again) {
			t.Fatalf("seed %d: %v then %v; want one order per seed", seed, got, again)
		}
		if other := ids(d.Order(reversed, in)); !reflect.DeepEqual(got, other) {
			t.Fatalf("seed %d: %v, but %v for the same members in another input order", seed, got, other)
		}
		first[got[0]]++
		orders[strings.Join(got, "")] = true
	}
	// Every one of the 24 orders turns up, and each member goes first
	// about a quarter of the time (fixed seeds: the test cannot flake).
	if len(orders) != 24 {
		t.Errorf("%d distinct orders over %d seeds, want all 24", len(orders), seeds)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if share := first[id]; share < seeds/4*8/10 || share > seeds/4*12/10 {
			t.Errorf("%s first %d times of %d; want about %d", id, share, seeds, seeds/4)
		}
	}
}

// Round robin spreads offers evenly: each offer remembers the member it
// offered first, as the engine does.
func TestRoundRobinFairness(t *testing.T) {
	d := mustDist(t, "RR")
	for n := 3; n <= 7; n++ {
		members := make([]Candidate, n)
		for i := range members {
			members[i] = Candidate{AgentID: string(rune('a' + i)), Index: i}
		}
		offered := map[string]int{}
		in := noMemory
		for range 3000 {
			got := d.Order(members, in)
			offered[got[0].AgentID]++
			in = OrderInput{LastOffered: got[0].AgentID, LastOfferedIndex: got[0].Index}
		}
		lo, hi := 3000, 0
		for _, m := range members {
			lo, hi = min(lo, offered[m.AgentID]), max(hi, offered[m.AgentID])
		}
		if len(offered) != n || hi-lo > 1 {
			t.Errorf("%d members: offered first %v; want every share within one of the others", n, offered)
		}
	}
}

func TestParseDistribution(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", "round_robin", false},
		{"  ", "round_robin", false},
		{"RR", "round_robin", false},
		{"rr", "round_robin", false},
		{"round_robin", "round_robin", false},
		{"ROUND_ROBIN", "round_robin", false},
		{"ring_all", "ring_all", false},
		{"Ring_All", "ring_all", false},
		{"linear", "linear", false},
		{" least_recent ", "least_recent", false},
		{"fewest_calls", "fewest_calls", false},
		{"RANDOM", "random", false},
		{"round-robin", "", true},
		{"roundrobin", "", true},
		{"ring", "", true},
		{"RRR", "", true},
	}
	for _, tc := range tests {
		d, err := ParseDistribution(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseDistribution(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && d.Name() != tc.want {
			t.Errorf("ParseDistribution(%q) = %q, want %q", tc.in, d.Name(), tc.want)
		}
	}
}

func TestDistributions(t *testing.T) {
	want := []string{"round_robin", "ring_all", "linear", "least_recent", "fewest_calls", "random"}
	got := Distributions()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Distributions() = %v, want %v", got, want)
	}
	got[0] = "scribbled"
	if Distributions()[0] != "round_robin" {
		t.Fatal("Distributions() returns a shared slice")
	}
}
