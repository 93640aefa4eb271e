package dialer

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkPlanToAllWithRetries(b *testing.B) {
	side := Side{Targets: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, Strategy: ToAll, RingTime: 20 * time.Second, Retries: 3}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Plan(side)
	}
}

func benchOrder(b *testing.B, name string) {
	d, err := ParseDistribution(name)
	if err != nil {
		b.Fatal(err)
	}
	cands := make([]Candidate, 20)
	for i := range cands {
		cands[i] = Candidate{AgentID: fmt.Sprint("a", i), Priority: 20 - i, Index: i, CallsTaken: int64(i % 7), LastCallEnd: time.Unix(int64(1000-i), 0)}
	}
	in := OrderInput{LastOffered: "a7", LastOfferedIndex: 7, Seed: 42}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.Order(cands, in)
	}
}

func BenchmarkOrderRoundRobin20(b *testing.B)  { benchOrder(b, RoundRobin) }
func BenchmarkOrderLeastRecent20(b *testing.B) { benchOrder(b, LeastRecent) }
func BenchmarkOrderRandom20(b *testing.B)      { benchOrder(b, Random) }

func BenchmarkDecideSticky(b *testing.B) {
	in := StickyInput{Bound: "a1", BoundIsMember: true, BoundAvailable: false, Policy: RetryNewSticky}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		DecideSticky(in)
	}
}
