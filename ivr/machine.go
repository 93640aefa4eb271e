package ivr

import (
	"slices"
	"time"
)

// StepKind is what the caller of a Machine does next.
type StepKind int

const (
	// Play: stop any prompt still playing, play Step.Prompt, and call
	// PromptDone with Step.PlayID when it has been played (or could not
	// be). Keys pressed meanwhile go to Digit when Step.BargeIn is set;
	// otherwise the machine drops them.
	Play StepKind = iota + 1
	// Wait: (re)arm the call's one IVR timer for Step.Until, and call
	// Timeout when it fires. A key (Digit) may come first.
	Wait
	// Done: the call leaves the IVR. Play Step.Action.Prompt if it has
	// one, then route or hang up as Step.Action says.
	Done
	// Continue: the event changed nothing; go on as before (the prompt
	// plays on, the timer stays armed).
	Continue
)

func (k StepKind) String() string {
	switch k {
	case Play:
		return "play"
	case Wait:
		return "wait"
	case Done:
		return "done"
	case Continue:
		return "continue"
	}
	return "invalid"
}

// Step is what the caller does next.
type Step struct {
	Kind StepKind
	// Menu is the id of the menu the caller is in.
	Menu string
	// Play: the announcement id to play, the id to hand back to
	// PromptDone (ids grow with each Play), and whether keys pressed
	// during the prompt are taken (they stop it: barge-in).
	Prompt  string
	PlayID  int
	BargeIn bool
	// StopPrompt: a key barged in; stop the prompt playing now. Its end
	// (a PromptDone with the old PlayID) is then ignored.
	StopPrompt bool
	// Wait: the deadline.
	Until time.Time
	// Done: what to do, and why (ReasonOption: the caller chose it).
	Action Action
	Reason Reason
	// Log is what happened since the last step, for the call record: the
	// entries this call to the Machine added to Machine.Log.
	Log []Entry
}

// Reason says why the call left the IVR.
type Reason string

const (
	// ReasonOption: the caller chose the action (an option).
	ReasonOption Reason = "option"
	// ReasonNext: a menu without options played its prompt.
	ReasonNext Reason = "next"
	// ReasonRetriesExhausted: the menu's fallback, or the default hang-up,
	// after no input or invalid input once more than its retries allow.
	ReasonRetriesExhausted Reason = "retries_exhausted"
	// ReasonStepLimit: MaxSteps prompts played (or menus entered); hung
	// up.
	ReasonStepLimit Reason = "step_limit"
	// ReasonCallerHangup: the caller hung up (Machine.Hangup).
	ReasonCallerHangup Reason = "caller_hangup"
	// ReasonFlowError: the flow leads nowhere (a menu or action missing,
	// which Validate would have reported); hung up.
	ReasonFlowError Reason = "flow_error"
)

// EntryEvent names what an Entry records.
type EntryEvent string

const (
	EntryMenu             EntryEvent = "menu"              // the caller entered Menu
	EntryInput            EntryEvent = "input"             // Digits chose an option
	EntryInvalid          EntryEvent = "invalid"           // Digits chose no option
	EntryNoInput          EntryEvent = "no_input"          // no key in time, or the terminator alone
	EntryRetry            EntryEvent = "retry"             // try Retry of Menu's retries begins
	EntryRetriesExhausted EntryEvent = "retries_exhausted" // the fallback (or hang-up) follows
	EntryExit             EntryEvent = "exit"              // the call left the IVR with Action, for Reason
)

// Entry is one line of what happened to a call in the IVR.
type Entry struct {
	At     time.Time  `json:"at"`
	Event  EntryEvent `json:"event"`
	Menu   string     `json:"menu"`
	Digits string     `json:"digits,omitempty"`
	Retry  int        `json:"retry,omitempty"`
	Action *Action    `json:"action,omitempty"`
	Reason Reason     `json:"reason,omitempty"`
}

type state int

const (
	idle state = iota
	playing
	waiting
	done
)

// Machine runs one call through a Flow. It has no goroutine, no timer and
// no clock: the caller plays what a Step says, arms a timer for a Wait
// step's deadline, and reports what happened — PromptDone, Digit,
// Timeout, Hangup — with the time it happened. Every method returns the
// next Step. A Machine is not safe for concurrent use; a call's one
// goroutine drives it.
type Machine struct {
	flow  *Flow
	menu  *Menu
	back  []string // the menus the caller came through, for back
	queue []string // prompts still to play before the input
	state state

	playID   int
	plays    int // prompts played and menus entered: the steps
	enters   int // MaxSteps bounds (each of them)
	input    string
	tries    int
	deadline time.Time
	now      time.Time // the latest time reported
	final    Step
	log      []Entry
}

// NewMachine returns a machine at the start of f. f should have passed
// Validate; a flow that did not may end a call early (ReasonFlowError)
// but never makes the machine panic. f must not change while the machine
// runs.
func NewMachine(f *Flow) *Machine {
	if f == nil {
		f = &Flow{}
	}
	return &Machine{flow: f}
}

// Log returns everything that happened so far, oldest first.
func (m *Machine) Log() []Entry { return slices.Clone(m.log) }

// Done reports whether the call has left the IVR.
func (m *Machine) Done() bool { return m.state == done }

// Start enters the flow's start menu. Only the first call does anything.
func (m *Machine) Start(now time.Time) Step {
	mark := m.begin(now)
	if m.state != idle {
		return m.unchanged()
	}
	return m.step(mark, m.enter(m.flow.Start))
}

// PromptDone reports that the prompt of the Play step with id playID has
// been played (or could not be). A stale report — of a prompt stopped by
// a barge-in or replaced by a later Play — changes nothing.
func (m *Machine) PromptDone(playID int, now time.Time) Step {
	mark := m.begin(now)
	if m.state != playing || playID != m.playID {
		return m.unchanged()
	}
	return m.step(mark, m.playNext())
}

// Digit reports a key the caller pressed (RFC 4733: 0-9, *, #). A key
// during the prompt of a menu with options barges in: it stops the prompt
// and starts the input. Keys during the prompt of a menu without options,
// and keys other than 0-9 * #, are dropped.
//
// The input ends at the menu's terminator, at its max digits, after the
// inter-digit timeout, and as soon as it is an option that no longer
// option starts with.
func (m *Machine) Digit(d rune, now time.Time) Step {
	mark := m.begin(now)
	if !isKey(d) || (m.state != playing && m.state != waiting) || len(m.menu.Options) == 0 {
		return m.unchanged()
	}
	barged := m.state == playing
	m.state, m.queue = waiting, nil
	if d != m.menu.terminator() {
		m.input += string(d)
	}
	var s Step
	if d == m.menu.terminator() || len(m.input) >= m.menu.maxDigits() || m.complete(m.input) {
		s = m.endInput()
	} else {
		_, inter := m.menu.timeouts()
		m.deadline = m.now.Add(inter)
		s = m.wait()
	}
	s.StopPrompt = barged
	return m.step(mark, s)
}

// Timeout reports that the deadline of the Wait step in force has come.
// Early (before the deadline), it returns that Wait step again, to re-arm
// the timer; at any other time it changes nothing.
func (m *Machine) Timeout(now time.Time) Step {
	mark := m.begin(now)
	switch {
	case m.state != waiting:
		return m.unchanged()
	case m.now.Before(m.deadline):
		return m.wait()
	}
	return m.step(mark, m.endInput())
}

// Hangup reports that the caller hung up: the machine is done, and the
// log says so.
func (m *Machine) Hangup(now time.Time) Step {
	mark := m.begin(now)
	if m.state == done {
		return m.unchanged()
	}
	if m.menu == nil {
		m.menu = &Menu{ID: m.flow.Start}
	}
	return m.step(mark, m.finish(Action{Type: Hangup}, ReasonCallerHangup))
}

// begin takes the time of an event, never earlier than one already
// reported (a clock that steps back must not move deadlines back), and
// marks where this event's log entries start.
func (m *Machine) begin(now time.Time) int {
	if now.After(m.now) {
		m.now = now
	}
	return len(m.log)
}

// step hands the caller s with the entries logged since mark.
func (m *Machine) step(mark int, s Step) Step {
	if n := len(m.log); n > mark {
		s.Log = m.log[mark:n:n]
	}
	return s
}

// unchanged answers an event that changes nothing: the Done step again
// once done, else Continue.
func (m *Machine) unchanged() Step {
	if m.state == done {
		return m.final
	}
	s := Step{Kind: Continue}
	if m.menu != nil {
		s.Menu = m.menu.ID
	}
	return s
}

func (m *Machine) note(e Entry) {
	e.At = m.now
	if e.Menu == "" && m.menu != nil {
		e.Menu = m.menu.ID
	}
	m.log = append(m.log, e)
}

// enter enters menu id: its retries start afresh and its prompt plays.
func (m *Machine) enter(id string) Step {
	next := m.flow.menu(id)
	if m.enters >= MaxSteps {
		return m.finish(Action{Type: Hangup}, ReasonStepLimit)
	}
	m.enters++
	if next == nil {
		if m.menu == nil {
			m.menu = &Menu{ID: id}
		}
		return m.finish(Action{Type: Hangup}, ReasonFlowError)
	}
	m.menu, m.tries, m.input = next, 0, ""
	m.note(Entry{Event: EntryMenu})
	m.queue = append(m.queue[:0], next.Prompt)
	return m.playNext()
}

// playNext plays the next queued prompt; with none left, the menu waits
// for input or, without options, takes its Next.
func (m *Machine) playNext() Step {
	for len(m.queue) > 0 {
		p := m.queue[0]
		m.queue = m.queue[1:]
		if p == "" {
			continue
		}
		if m.plays >= MaxSteps {
			return m.finish(Action{Type: Hangup}, ReasonStepLimit)
		}
		m.plays++
		m.playID++
		m.state = playing
		return Step{Kind: Play, Menu: m.menu.ID, Prompt: p, PlayID: m.playID, BargeIn: len(m.menu.Options) > 0}
	}
	if len(m.menu.Options) == 0 {
		if m.menu.Next == nil {
			return m.finish(Action{Type: Hangup}, ReasonNext)
		}
		return m.take(*m.menu.Next, ReasonNext)
	}
	first, _ := m.menu.timeouts()
	m.state, m.input, m.deadline = waiting, "", m.now.Add(first)
	return m.wait()
}

func (m *Machine) wait() Step {
	return Step{Kind: Wait, Menu: m.menu.ID, Until: m.deadline}
}

// complete reports whether in is an option that no longer option starts
// with: no further key can change the choice, so it is taken at once.
func (m *Machine) complete(in string) bool {
	if _, ok := m.menu.Options[in]; !ok {
		return false
	}
	for k := range m.menu.Options {
		if len(k) > len(in) && k[:len(in)] == in {
			return false
		}
	}
	return true
}

// endInput takes the input collected so far.
func (m *Machine) endInput() Step {
	in := m.input
	m.input = ""
	if in == "" {
		m.note(Entry{Event: EntryNoInput})
		return m.retry(m.menu.NoInputPrompt)
	}
	a, ok := m.menu.Options[in]
	if !ok {
		m.note(Entry{Event: EntryInvalid, Digits: in})
		return m.retry(m.menu.InvalidPrompt)
	}
	m.note(Entry{Event: EntryInput, Digits: in})
	return m.take(a, ReasonOption)
}

// retry plays the notice and the menu's prompt again, or, with the
// retries used up, takes the fallback.
func (m *Machine) retry(notice string) Step {
	m.tries++
	if m.tries > min(m.menu.Retries, MaxRetries) { // clamped: an unchecked flow must not loop unbounded
		m.note(Entry{Event: EntryRetriesExhausted})
		if m.menu.Fallback == nil {
			return m.finish(Action{Type: Hangup}, ReasonRetriesExhausted)
		}
		return m.take(*m.menu.Fallback, ReasonRetriesExhausted)
	}
	m.note(Entry{Event: EntryRetry, Retry: m.tries})
	m.queue = append(m.queue[:0], notice, m.menu.Prompt)
	return m.playNext()
}

// take does an action. Going to a menu the caller already came through
// goes back to it (its later history is dropped), so back always returns
// to a menu that leads to the current one.
func (m *Machine) take(a Action, why Reason) Step {
	switch a.Type {
	case GoToMenu:
		cur := m.menu.ID
		if i := slices.Index(m.back, a.Target); i >= 0 {
			m.back = m.back[:i]
		} else if a.Target != cur {
			m.back = append(m.back, cur)
		}
		return m.enter(a.Target)
	case Repeat:
		return m.enter(m.menu.ID)
	case Back:
		if len(m.back) == 0 {
			return m.enter(m.menu.ID)
		}
		prev := m.back[len(m.back)-1]
		m.back = m.back[:len(m.back)-1]
		return m.enter(prev)
	}
	if !a.Terminal() {
		return m.finish(Action{Type: Hangup}, ReasonFlowError)
	}
	return m.finish(a, why)
}

// finish leaves the IVR.
func (m *Machine) finish(a Action, why Reason) Step {
	m.state, m.queue, m.input = done, nil, ""
	m.note(Entry{Event: EntryExit, Action: &a, Reason: why})
	m.final = Step{Kind: Done, Menu: m.menu.ID, Action: a, Reason: why}
	return m.final
}

func isKey(d rune) bool { return d >= '0' && d <= '9' || d == '*' || d == '#' }
