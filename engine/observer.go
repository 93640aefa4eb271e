package engine

import (
	"errors"
	"time"
)

// Observer is told what the engine counts and times, for metrics (package
// engine/metrics implements it with Prometheus). The engine calls it from
// its call and dialing goroutines concurrently, so an implementation must
// be safe for concurrent use and return at once: no I/O, no waiting. A nil
// Options.Observer observes nothing.
type Observer interface {
	// CallStarted: a call was recorded and starts ringing. Every call
	// announced here is announced once to CallEnded.
	CallStarted()
	// CallEnded: the call's final record, as written to the store (or
	// given up after retries). c is shared with event subscribers and
	// must not be changed.
	CallEnded(c *Call)
	// FirstDialSent: the call's first attempt reached the wire (the SIP
	// backend wrote its INVITE), since the Originate call that started it
	// was entered.
	FirstDialSent(sinceOriginate time.Duration)
	// NextDialSent: the first attempt of the to side reached the wire,
	// since the from side answered (as Dial returned its Session).
	NextDialSent(sinceAnswer time.Duration)
	// StoreFailed: a store operation failed. op is the Store or
	// AgentStore method in snake case ("save_leg", "reserve", …). The
	// store's ordinary answers (ErrNotFound, ErrAgentBusy, ErrQueueFull)
	// are not failures.
	StoreFailed(op string)
}

// noObserver observes nothing.
type noObserver struct{}

func (noObserver) CallStarted()                {}
func (noObserver) CallEnded(*Call)             {}
func (noObserver) FirstDialSent(time.Duration) {}
func (noObserver) NextDialSent(time.Duration)  {}
func (noObserver) StoreFailed(string)          {}

// storeErr tells the observer when err is a failure of the store's op.
func (e *Engine) storeErr(op string, err error) {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrAgentBusy) || errors.Is(err, ErrQueueFull) {
		return
	}
	e.opt.Observer.StoreFailed(op)
}

// dialSent times the first attempt of each side to reach the wire: the
// call's first from Originate, the to side's first from the from side's
// answer. It runs on dialing goroutines.
func (r *callRun) dialSent(side SideName, at time.Time) {
	switch side {
	case SideFrom:
		if r.fromSent.CompareAndSwap(false, true) {
			r.e.opt.Observer.FirstDialSent(at.Sub(r.started))
		}
	case SideTo:
		r.mu.Lock()
		answered := r.fromAnswered
		r.mu.Unlock()
		if !answered.IsZero() && r.toSent.CompareAndSwap(false, true) {
			r.e.opt.Observer.NextDialSent(at.Sub(answered))
		}
	}
}
