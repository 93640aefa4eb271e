package engine

import (
	"slices"
	"time"
)

// How a call's changes reach the store.
//
// Every change is written before it is announced, but not every change
// costs a write of its own. A click-to-call changes state a dozen times
// (each leg dialing, ringing, answered or failed; the call answered on the
// from side, bridged, ended), and at a thousand calls a second a store
// round trip per change is most of what the store does. So changes are
// batched:
//
//   - Milestones are written at once, carrying every change queued before
//     them: the call created (Originate), each change of the call's own
//     state (the from side answered, bridged) and its end (the final
//     record, retried until it lands).
//   - Leg progress (a leg dialing, ringing, answered, or failing) is queued
//     and written with the next milestone, or after ProgressWriteDelay at
//     the latest, whichever comes first.
//
// A plain call whose parties answer within the delay costs four writes:
// created, from answered (with both of its leg's changes and the to leg
// dialing), bridged (with the to leg's changes) and ended. Events wait for
// the write that carries their change, so a subscriber who reads the call
// after an event finds at least what the event said, on any node; the
// price is that a progress event may reach subscribers up to the delay
// later than it happened (its Time is when it happened).
//
// Writes go out one at a time per call (flushMu), each carrying all that
// was queued when it started, and their events are published in the
// order of the changes.

// defaultProgressWriteDelay bounds how stale a ringing leg may look in the
// store: well under a human's notice, and long enough that a leg answered
// at once shares its write with the answer.
const defaultProgressWriteDelay = 100 * time.Millisecond

// queueLocked queues a change for the next write: the call's own fields
// when leg is nil, else the leg's record; ev, when its Type is set, is
// published once the write is done. Once the record is final nothing is
// queued: the final record has the last word, and a leg finishing its
// CANCEL after it is not news. r.mu must be held.
func (r *callRun) queueLocked(leg *Leg, ev Event) {
	if r.final {
		return
	}
	if leg == nil {
		r.callDirty = true
	} else if !slices.Contains(r.dirtyLegs, leg) {
		r.dirtyLegs = append(r.dirtyLegs, leg)
	}
	if ev.Type != "" {
		r.call.stamp(&ev)
		r.pendingEvents = append(r.pendingEvents, ev)
		r.callDirty = true // the call's EventSeq moved
	}
}

// scheduleLocked makes sure queued leg progress is written within the
// delay. It reports true when the delay is negative: the caller writes at
// once, with flush, after unlocking r.mu. r.mu must be held.
func (r *callRun) scheduleLocked() (writeNow bool) {
	if r.final {
		return false
	}
	if r.e.opt.ProgressWriteDelay < 0 {
		return true
	}
	if r.flushTimer == nil {
		r.flushTimer = time.AfterFunc(r.e.opt.ProgressWriteDelay, r.flush)
	}
	return false
}

// flush writes everything queued, in one store write, then publishes the
// events it carried. A failed write is logged, not retried: the changes
// are still in memory, the next milestone writes the call's fields again,
// and the final record carries every leg.
func (r *callRun) flush() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	if r.flushTimer != nil {
		r.flushTimer.Stop()
		r.flushTimer = nil
	}
	if r.final || (!r.callDirty && len(r.dirtyLegs) == 0) {
		r.mu.Unlock()
		return
	}
	call := r.call.cloneOwn()
	legs := make([]*Leg, len(r.dirtyLegs))
	for i, l := range r.dirtyLegs {
		legs[i] = l.Clone()
	}
	events := r.pendingEvents
	r.callDirty, r.dirtyLegs, r.pendingEvents = false, r.dirtyLegs[:0], nil
	r.mu.Unlock()

	ctx, cancel := r.storeCtx()
	err := r.e.store.SaveCall(ctx, call, legs, r.logged(events...)...)
	cancel()
	r.e.storeErr("save_call", err)
	if err != nil {
		r.log.Error("store: save call", "legs", len(legs), "err", err)
	}
	for _, ev := range events {
		r.e.events.publish(ev)
	}
}

// takeFinalLocked marks the record final: from now on nothing is queued
// or written but the final record, and it returns the events still
// waiting for a write, which the final record carries. The caller holds
// flushMu until the final record is written, so no earlier write can land
// after it, and r.mu.
func (r *callRun) takeFinalLocked() []Event {
	r.final = true
	if r.flushTimer != nil {
		r.flushTimer.Stop()
		r.flushTimer = nil
	}
	events := r.pendingEvents
	r.callDirty, r.dirtyLegs, r.pendingEvents = false, nil, nil
	return events
}

// logged returns the events to append to the event log with a write:
// all of them, or none when nobody is sent this call's events.
func (r *callRun) logged(events ...Event) []Event {
	if !r.logEvents {
		return nil
	}
	return events
}
