package memory

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/internal/listing"
)

// BenchmarkListCallsPage reads one page of 50 from a tenant of many calls,
// from the newest and from a cursor in the middle.
func BenchmarkListCallsPage(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		s := New(Options{SweepInterval: -1})
		ctx := b.Context()
		at := time.Unix(1800000000, 0)
		for i := range n {
			c := &engine.Call{ID: fmt.Sprintf("c%07d", i), Tenant: "t", Node: "n", State: engine.StateBridged,
				CreatedAt: at.Add(time.Duration(i) * time.Millisecond)}
			if err := s.CreateCall(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		half := listing.Position{MS: at.Add(time.Duration(n/2) * time.Millisecond).UnixMilli(), ID: fmt.Sprintf("c%07d", n/2)}
		mid := half.Cursor()
		for _, tc := range []struct{ name, cursor string }{{"newest", ""}, {"middle", mid}} {
			b.Run(fmt.Sprintf("calls=%d/%s", n, tc.name), func(b *testing.B) {
				q := engine.CallQuery{Tenant: "t", Cursor: tc.cursor}
				for b.Loop() {
					if page, err := s.ListCalls(ctx, q); err != nil || len(page.Calls) != 50 {
						b.Fatalf("%d calls, %v", len(page.Calls), err)
					}
				}
			})
		}
		_ = s.Close()
	}
}
