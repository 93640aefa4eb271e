package ivr

import (
	"fmt"
	"time"
)

// Machine runs a caller through a validated Flow. It owns no clock and no
// goroutine: its caller plays what a Step says, arms a timer for a Step's
// deadline, and tells the machine what happened (PromptDone, Digit,
// Timeout) with the time it happened. Every method returns the next Step.
//
// Keys pressed during a prompt barge in: they stop the prompt and start
// the input (Step.StopPrompt). Input ends at the terminator, at the
// menu's max digits, or when the inter-digit timeout runs out; no key
// within the first-digit timeout is no input. After the Done step the
// machine ignores everything.
type Machine struct {
	menus map[string]*Menu
	start string

	menu     *Menu
	tries    int
	input    string
	playing  bool // a prompt is playing
	waiting  bool // digits are awaited (after the prompt, or since a key)
	deadline time.Time
	steps    int
	done     bool
	trace    []string
}

// maxSteps bounds one caller's run: a loop a validated flow allows (back
// to the main menu) cannot keep a call in the IVR for ever.
const maxSteps = 100

// StepKind is what the caller of a Machine does next.
type StepKind int

const (
	// Play: play Prompt (stop any prompt playing first), then call
	// PromptDone; keys may barge in when Collect is set.
	Play StepKind = iota + 1
	// Wait: wait for a key until Until, then call Timeout.
	Wait
	// Done: leave the IVR with Action.
	Done
)

// Step is what to do next.
type Step struct {
	Kind   StepKind
	Prompt string
	// Collect: keys are taken while the prompt plays.
	Collect bool
	// StopPrompt: a key barged in; stop the prompt playing.
	StopPrompt bool
	Until      time.Time
	Action     Action
	// Menu is the menu the caller is in.
	Menu string
}

// NewMachine returns a machine at the start of f, which must have passed
// Validate.
func NewMachine(f *Flow) *Machine {
	m := &Machine{menus: map[string]*Menu{}, start: f.Start}
	for _, menu := range f.Menus {
		m.menus[menu.ID] = menu
	}
	return m
}

// Trace is what happened, in order, for the call record.
func (m *Machine) Trace() []string { return append([]string(nil), m.trace...) }

// Start enters the start menu.
func (m *Machine) Start(now time.Time) Step { return m.enter(m.start, now) }

func (m *Machine) note(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

func (m *Machine) enter(id string, now time.Time) Step {
	m.steps++
	if m.steps > maxSteps {
		return m.finish(Action{Type: Hangup}, "too many steps in the IVR")
	}
	m.menu, m.tries, m.input = m.menus[id], 0, ""
	m.note("menu %s", id)
	return m.play(m.menu.Prompt)
}

func (m *Machine) play(prompt string) Step {
	m.playing, m.waiting = true, false
	return Step{Kind: Play, Prompt: prompt, Collect: m.menu.Collect != nil, Menu: m.menu.ID}
}

func (m *Machine) finish(a Action, why string) Step {
	m.done, m.playing, m.waiting = true, false, false
	if why != "" {
		m.note("%s", why)
	}
	m.note("%s %s", a.Type, a.Target)
	return Step{Kind: Done, Action: a, Menu: m.menu.ID}
}

// PromptDone: the prompt finished playing.
func (m *Machine) PromptDone(now time.Time) Step {
	if m.done || !m.playing {
		return m.current()
	}
	m.playing = false
	if m.menu.Collect == nil {
		return m.fallback("")
	}
	first, _ := m.menu.Collect.Timeouts()
	m.waiting, m.deadline = true, now.Add(first)
	return m.wait()
}

func (m *Machine) wait() Step {
	return Step{Kind: Wait, Until: m.deadline, Menu: m.menu.ID}
}

// current repeats the step in force, for an event that changes nothing.
func (m *Machine) current() Step {
	switch {
	case m.done:
		return Step{Kind: Done, Action: Action{Type: Hangup}, Menu: m.menu.ID}
	case m.waiting:
		return m.wait()
	}
	return Step{Kind: Play, Prompt: "", Collect: m.menu.Collect != nil, Menu: m.menu.ID}
}

// Digit: the caller pressed a key.
func (m *Machine) Digit(d rune, now time.Time) Step {
	c := m.menu.Collect
	if m.done || c == nil || (!m.playing && !m.waiting) {
		return m.current()
	}
	barged := m.playing
	m.playing, m.waiting = false, true
	if t := c.terminator(); t != "" && string(d) == t {
		return m.stopped(m.evaluate(now), barged)
	}
	m.input += string(d)
	if len(m.input) >= c.MaxDigits {
		return m.stopped(m.evaluate(now), barged)
	}
	_, inter := c.Timeouts()
	m.deadline = now.Add(inter)
	return m.stopped(m.wait(), barged)
}

func (m *Machine) stopped(s Step, barged bool) Step {
	s.StopPrompt = barged && s.Kind != Play // a new Play replaces it anyway
	return s
}

// Timeout: the deadline of a Wait step passed.
func (m *Machine) Timeout(now time.Time) Step {
	if m.done || !m.waiting || now.Before(m.deadline) {
		return m.current()
	}
	return m.evaluate(now)
}

func (m *Machine) evaluate(now time.Time) Step {
	m.waiting = false
	in := m.input
	m.input = ""
	if in == "" {
		m.note("no input")
		return m.retry(m.menu.NoInputPrompt, now)
	}
	a, ok := m.menu.Options[in]
	if !ok {
		m.note("invalid input %q", in)
		return m.retry(m.menu.InvalidPrompt, now)
	}
	m.note("input %q", in)
	return m.take(a, now)
}

func (m *Machine) retry(prompt string, now time.Time) Step {
	m.tries++
	if m.tries > m.menu.Retries {
		return m.fallback("retries exhausted")
	}
	if prompt == "" {
		prompt = m.menu.Prompt
	}
	m.steps++
	if m.steps > maxSteps {
		return m.finish(Action{Type: Hangup}, "too many steps in the IVR")
	}
	return m.play(prompt)
}

func (m *Machine) fallback(why string) Step {
	if m.menu.Fallback == nil {
		return m.finish(Action{Type: Hangup}, why)
	}
	if why != "" {
		m.note("%s", why)
	}
	return m.take(*m.menu.Fallback, time.Time{})
}

func (m *Machine) take(a Action, now time.Time) Step {
	if a.Type == GoToMenu {
		return m.enter(a.Target, now)
	}
	return m.finish(a, "")
}
