package conformance

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/test/phone"
)

// phoneEnds sets h's far ends (Far, Hangup, Press, Received) to the test
// phone's numbers: whatever backend reaches ph, its far ends are ph's
// calls, scripted per number.
func phoneEnds(h *Harness, ph *phone.Phone) {
	// answered is number's latest answered call.
	answered := func(ctx context.Context, number string) (*phone.Call, error) {
		deadline := time.Now().Add(bound)
		for {
			calls := ph.CallsTo(number)
			for i := len(calls) - 1; i >= 0; i-- {
				if calls[i].State() == phone.Answered {
					return calls[i], nil
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, fmt.Errorf("no answered call to %s", number)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	h.Far = func(number string, f Far) {
		bh := phone.Behaviour{AnswerAfter: f.AnswerAfter}
		switch f.Action {
		case Busy:
			bh.Action = phone.Busy
		case NoAnswer:
			bh.Action = phone.RingForever
		case Reject:
			bh.Action = phone.Reject
		}
		ph.Set(number, bh)
	}
	h.Hangup = func(ctx context.Context, number string) error {
		c, err := answered(ctx, number)
		if err != nil {
			return err
		}
		return c.Hangup(ctx)
	}
	h.Press = func(ctx context.Context, number, keys string) error {
		c, err := answered(ctx, number)
		if err != nil {
			return err
		}
		return c.SendDTMF(ctx, keys)
	}
	h.Received = func(number string) string {
		calls := ph.CallsTo(number)
		if len(calls) == 0 {
			return ""
		}
		return calls[len(calls)-1].Digits()
	}
}
