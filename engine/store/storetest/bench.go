package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// BenchPerCall measures the store work of one typical click-to-call, as
// the engine does it: create, two legs each dialing → ringing →
// answered, the call's state changes, and the final record. One
// iteration is one call; report ns/op as the store's cost per call.
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
		for seq, side := range []engine.SideName{engine.SideFrom, engine.SideTo} {
			l := &engine.Leg{ID: fmt.Sprintf("%s-%d", id, seq+1), CallID: id, Seq: seq + 1, Side: side, Number: "9000000001", State: engine.LegDialing, CreatedAt: now}
			for _, st := range []engine.LegState{engine.LegDialing, engine.LegRinging, engine.LegAnswered} {
				l.State = st
				if err := s.SaveLeg(ctx, l); err != nil {
					b.Fatal(err)
				}
			}
			c.Legs = append(c.Legs, l)
			c.State = engine.StateDialingTo
			if side == engine.SideTo {
				c.State = engine.StateBridged
			}
			if err := s.SaveCall(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		c.State, c.Outcome = engine.StateEnded, engine.OutcomeCompleted
		for _, l := range c.Legs {
			l.State = engine.LegEnded
		}
		if err := s.EndCall(ctx, c, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
