package ivr

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// ev is one thing that happens to a machine: a prompt ends (p), a key
// (a digit), or a timeout (t).
type ev struct {
	kind byte // 'p', 'd', 't'
	d    rune
	at   time.Duration
}

func run(t *testing.T, f *Flow, evs ...ev) (Step, *Machine) {
	t.Helper()
	m := NewMachine(f)
	s := m.Start(t0)
	for _, e := range evs {
		now := t0.Add(e.at)
		switch e.kind {
		case 'p':
			s = m.PromptDone(now)
		case 'd':
			s = m.Digit(e.d, now)
		case 't':
			s = m.Timeout(now)
		}
	}
	return s, m
}

func p(at time.Duration) ev         { return ev{'p', 0, at} }
func d(r rune, at time.Duration) ev { return ev{'d', r, at} }
func to(at time.Duration) ev        { return ev{'t', 0, at} }

const sec = time.Second

func TestMachinePaths(t *testing.T) {
	for _, tc := range []struct {
		name   string
		evs    []ev
		kind   StepKind
		action Action
		prompt string
		menu   string
	}{
		{"welcome then main prompt", []ev{p(1 * sec)}, Play, Action{}, "main.wav", "main"},
		{"main waits for the first digit", []ev{p(1 * sec), p(3 * sec)}, Wait, Action{}, "", "main"},
		{"one key then the inter-digit timeout picks 1", []ev{p(1 * sec), p(3 * sec), d('1', 4*sec), to(7 * sec)}, Done, Action{Type: RouteGroup, Target: "sales"}, "", "main"},
		{"two keys reach max digits: 10", []ev{p(1 * sec), p(3 * sec), d('1', 4*sec), d('0', 5*sec)}, Done, Action{Type: RouteNumber, Target: "+15550100"}, "", "main"},
		{"terminator ends the input", []ev{p(1 * sec), p(3 * sec), d('9', 4*sec), d('#', 5*sec)}, Done, Action{Type: PlayHangup, Prompt: "bye.wav"}, "", "main"},
		{"a key barges in during the prompt", []ev{p(1 * sec), d('1', 2*sec), to(5 * sec)}, Done, Action{Type: RouteGroup, Target: "sales"}, "", "main"},
		{"no input: the no-input prompt", []ev{p(1 * sec), p(3 * sec), to(8 * sec)}, Play, Action{}, "sorry.wav", "main"},
		{"invalid input: the invalid prompt", []ev{p(1 * sec), p(3 * sec), d('7', 4*sec), to(7 * sec)}, Play, Action{}, "invalid.wav", "main"},
		{"retries out: the fallback", []ev{p(1 * sec), p(3 * sec), to(8 * sec), p(9 * sec), to(14 * sec), p(15 * sec), to(20 * sec)}, Done, Action{Type: RouteAgent, Target: "101"}, "", "main"},
		{"submenu, then back to main with *", []ev{p(1 * sec), p(3 * sec), d('2', 4*sec), to(7 * sec), p(8 * sec), d('*', 9*sec)}, Play, Action{}, "main.wav", "main"},
		{"submenu routes", []ev{p(1 * sec), p(3 * sec), d('2', 4*sec), to(7 * sec), p(8 * sec), d('1', 9*sec)}, Done, Action{Type: RouteGroup, Target: "support"}, "", "support"},
		{"submenu has no terminator: # is a key", []ev{p(1 * sec), p(3 * sec), d('2', 4*sec), to(7 * sec), p(8 * sec), d('#', 9*sec)}, Done, Action{Type: Hangup}, "", "support"},
		{"an early timeout changes nothing", []ev{p(1 * sec), p(3 * sec), to(4 * sec)}, Wait, Action{}, "", "main"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m := run(t, goodFlow(), tc.evs...)
			if s.Kind != tc.kind || s.Action != tc.action || (tc.prompt != "" && s.Prompt != tc.prompt) || s.Menu != tc.menu {
				t.Fatalf("step %+v, want kind %d action %+v prompt %q menu %s\ntrace %v", s, tc.kind, tc.action, tc.prompt, tc.menu, m.Trace())
			}
		})
	}
}

func TestMachineDeadlines(t *testing.T) {
	m := NewMachine(goodFlow())
	m.Start(t0)
	m.PromptDone(t0.Add(sec))
	s := m.PromptDone(t0.Add(2 * sec))
	if s.Kind != Wait || !s.Until.Equal(t0.Add(2*sec+DefaultFirstDigit)) {
		t.Fatalf("first-digit wait %+v", s)
	}
	s = m.Digit('1', t0.Add(3*sec))
	if s.Kind != Wait || !s.Until.Equal(t0.Add(3*sec+DefaultInterDigit)) || s.StopPrompt {
		t.Fatalf("inter-digit wait %+v", s)
	}
	// Barge-in stops the prompt.
	m = NewMachine(goodFlow())
	m.Start(t0)
	m.PromptDone(t0.Add(sec))
	if s := m.Digit('1', t0.Add(1500*time.Millisecond)); !s.StopPrompt || s.Kind != Wait {
		t.Fatalf("barge-in %+v", s)
	}
	// Keys during a prompt of a menu that collects nothing are ignored.
	m = NewMachine(goodFlow())
	if s := m.Start(t0); s.Collect || s.Prompt != "welcome.wav" {
		t.Fatalf("start %+v", s)
	}
	if s := m.Digit('1', t0.Add(100*time.Millisecond)); s.Kind != Play || s.StopPrompt {
		t.Fatalf("a key during the welcome %+v", s)
	}
}

// A flow that sends the caller round and round ends at the step bound.
func TestMachineStepBound(t *testing.T) {
	back := Action{Type: GoToMenu, Target: "a"}
	f := &Flow{ID: "f", Start: "a", Menus: []*Menu{
		{ID: "a", Prompt: "main.wav", Collect: &Collect{MaxDigits: 1}, Options: map[string]Action{"1": back, "2": {Type: Hangup}}},
	}}
	if err := f.Validate(known); err != nil {
		t.Fatal(err)
	}
	m := NewMachine(f)
	s := m.Start(t0)
	now := t0
	for i := 0; i < 1000 && s.Kind != Done; i++ {
		now = now.Add(sec)
		s = m.Digit('1', now)
	}
	if s.Kind != Done || s.Action.Type != Hangup {
		t.Fatalf("after 1000 loops: %+v", s)
	}
}

// Random events never panic, always end within the step bound, and a
// deadline is never in the past of the event that set it.
func FuzzMachine(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		m := NewMachine(goodFlow())
		s := m.Start(t0)
		now := t0
		for i := 0; i < 2000 && s.Kind != Done; i++ {
			next := now.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
			if s.Kind == Wait && s.Until.Before(next) {
				// As a caller's timer would: the deadline passes first.
				now = s.Until
				s = m.Timeout(now)
				continue
			}
			now = next
			switch r.IntN(3) {
			case 0:
				s = m.PromptDone(now)
			case 1:
				s = m.Digit(rune("0123456789*#"[r.IntN(12)]), now)
			case 2:
				s = m.Timeout(now)
			}
			if s.Kind == Wait && s.Until.Before(now) {
				t.Fatalf("a wait until %v set at %v", s.Until, now)
			}
		}
		if m.steps > maxSteps+1 {
			t.Fatalf("%d steps", m.steps)
		}
	})
}
