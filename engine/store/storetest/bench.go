package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// BenchPerCall measures the store work of one typical click-to-call, as
// the engine writes it, in batches: create; the from side answered, with
// the from leg and the to leg dialing; bridged, with the to leg answered;
// and the final record. One iteration is one call; report ns/op as the
// store's cost per call.
func BenchPerCall(b *testing.B, s engine.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("bench%d-%d", now.UnixNano(), i)
		c := &engine.Call{ID: id, Tenant: "bench", Node: "n1", State: engine.StateDialingFrom, CreatedAt: now}
		if err := s.CreateCall(ctx, c); err != nil {
			b.Fatal(err)
		}
		leg := func(seq int, side engine.SideName, st engine.LegState) *engine.Leg {
			return &engine.Leg{ID: fmt.Sprintf("%s-%d", id, seq), CallID: id, Seq: seq, Side: side, Number: "9000000001", State: st, CreatedAt: now}
		}
		from, to := leg(1, engine.SideFrom, engine.LegAnswered), leg(2, engine.SideTo, engine.LegDialing)
		c.State = engine.StateDialingTo
		if err := s.SaveCall(ctx, c, []*engine.Leg{from, to}); err != nil {
			b.Fatal(err)
		}
		to.State, c.State = engine.LegAnswered, engine.StateBridged
		if err := s.SaveCall(ctx, c, []*engine.Leg{to}); err != nil {
			b.Fatal(err)
		}
		c.State, c.Outcome = engine.StateEnded, engine.OutcomeCompleted
		from.State, to.State = engine.LegEnded, engine.LegEnded
		c.Legs = []*engine.Leg{from, to}
		if err := s.EndCall(ctx, c, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
