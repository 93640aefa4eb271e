package ivr

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const sec = time.Second

// ev is one thing that happens to a call in the IVR, at t0+at.
type ev struct {
	kind byte // 'p' prompt done, 'd' digit, 't' timeout, 'h' caller hung up, 's' start (again)
	key  rune
	at   time.Duration
	id   int // 'p': the PlayID reported; 0 means the latest Play's
}

func p(at time.Duration) ev           { return ev{kind: 'p', at: at} }
func pid(id int, at time.Duration) ev { return ev{kind: 'p', at: at, id: id} }
func d(k rune, at time.Duration) ev   { return ev{kind: 'd', key: k, at: at} }
func to(at time.Duration) ev          { return ev{kind: 't', at: at} }
func hup(at time.Duration) ev         { return ev{kind: 'h', at: at} }

// keys presses each key one second after the one before, from at.
func keys(s string, at time.Duration) []ev {
	var evs []ev
	for i, k := range s {
		evs = append(evs, d(k, at+time.Duration(i)*sec))
	}
	return evs
}

// run starts a machine at t0 and reports the events; it returns every
// step, the first (Start's) included.
func run(f *Flow, evs ...ev) ([]Step, *Machine) {
	m := NewMachine(f)
	s := m.Start(t0)
	steps := []Step{s}
	lastPlay := s.PlayID
	for _, e := range evs {
		now := t0.Add(e.at)
		switch e.kind {
		case 'p':
			id := e.id
			if id == 0 {
				id = lastPlay
			}
			s = m.PromptDone(id, now)
		case 'd':
			s = m.Digit(e.key, now)
		case 't':
			s = m.Timeout(now)
		case 'h':
			s = m.Hangup(now)
		case 's':
			s = m.Start(now)
		}
		if s.Kind == Play {
			lastPlay = s.PlayID
		}
		steps = append(steps, s)
	}
	return steps, m
}

func cat(evs ...any) []ev {
	var out []ev
	for _, e := range evs {
		switch e := e.(type) {
		case ev:
			out = append(out, e)
		case []ev:
			out = append(out, e...)
		}
	}
	return out
}

func navFlow() *Flow {
	return &Flow{ID: "nav", Start: "a", Menus: []Menu{
		{ID: "a", Prompt: "main.wav", Options: map[string]Action{"1": {Type: GoToMenu, Target: "b"}, "9": {Type: Hangup}}},
		{ID: "b", Prompt: "support.wav", Options: map[string]Action{"1": {Type: GoToMenu, Target: "c"}, "*": {Type: Back}, "9": {Type: Hangup}}},
		{ID: "c", Prompt: "hours.wav", Options: map[string]Action{"2": {Type: GoToMenu, Target: "b"}, "*": {Type: Back}, "9": {Type: Hangup}}},
	}}
}

// toMain: the welcome ends, then the main prompt: the caller waits in main
// from 2 s (until 7 s).
var toMain = []ev{p(1 * sec), p(2 * sec)}

func events(log []Entry) []EntryEvent {
	var out []EntryEvent
	for _, e := range log {
		out = append(out, e.Event)
	}
	return out
}

const (
	menu    = EntryMenu
	input   = EntryInput
	invalid = EntryInvalid
	noInput = EntryNoInput
	retry   = EntryRetry
	out     = EntryRetriesExhausted
	exit    = EntryExit
)

func TestMachinePaths(t *testing.T) {
	route := func(typ ActionType, target, prompt string) Action {
		return Action{Type: typ, Target: target, Prompt: prompt}
	}
	for _, tc := range []struct {
		name string
		flow *Flow // nil: goodFlow
		evs  []ev
		want Step         // the last step, without its Log; Until as an offset from t0
		log  []EntryEvent // the whole log's events, when set
	}{
		{"start plays the welcome, no barge-in", nil, nil,
			Step{Kind: Play, Menu: "welcome", Prompt: "welcome.wav", PlayID: 1}, []EntryEvent{menu}},
		{"keys during the welcome are dropped", nil, []ev{d('1', sec/2)},
			Step{Kind: Continue, Menu: "welcome"}, nil},
		{"the welcome leads to the main prompt, which barge-in may stop", nil, []ev{p(1 * sec)},
			Step{Kind: Play, Menu: "main", Prompt: "main.wav", PlayID: 2, BargeIn: true}, []EntryEvent{menu, menu}},
		{"the first-digit wait starts when the prompt ends", nil, toMain,
			Step{Kind: Wait, Menu: "main", Until: t0.Add(2*sec + DefaultFirstDigitTimeout)}, nil},
		{"a timeout before the deadline re-arms it", nil, cat(toMain, to(4*sec)),
			Step{Kind: Wait, Menu: "main", Until: t0.Add(7 * sec)}, nil},
		{"a timeout while a prompt plays changes nothing", nil, cat(p(1*sec), to(9*sec)),
			Step{Kind: Continue, Menu: "main"}, nil},
		{"an option no longer one starts with is taken at once", nil, cat(toMain, d('3', 3*sec)),
			Step{Kind: Done, Menu: "main", Action: route(RouteAgent, "101", "connecting.wav"), Reason: ReasonOption},
			[]EntryEvent{menu, menu, input, exit}},
		{"1 may become 10: wait the inter-digit timeout", nil, cat(toMain, d('1', 3*sec)),
			Step{Kind: Wait, Menu: "main", Until: t0.Add(3*sec + DefaultInterDigitTimeout)}, nil},
		{"1 then the inter-digit timeout picks 1", nil, cat(toMain, d('1', 3*sec), to(6*sec)),
			Step{Kind: Done, Menu: "main", Action: route(RouteGroup, "sales", ""), Reason: ReasonOption}, nil},
		{"1 then the terminator picks 1", nil, cat(toMain, keys("1#", 3*sec)),
			Step{Kind: Done, Menu: "main", Action: route(RouteGroup, "sales", ""), Reason: ReasonOption}, nil},
		{"a multi-digit option", nil, cat(toMain, keys("10", 3*sec)),
			Step{Kind: Done, Menu: "main", Action: route(RouteNumber, "+15550100", ""), Reason: ReasonOption}, nil},
		{"max digits (the longest option) ends a wrong input", nil, cat(toMain, keys("45", 3*sec)),
			Step{Kind: Play, Menu: "main", Prompt: "invalid.wav", PlayID: 3, BargeIn: true}, []EntryEvent{menu, menu, invalid, retry}},
		{"a wrong key waits for the next one", nil, cat(toMain, d('4', 3*sec)),
			Step{Kind: Wait, Menu: "main", Until: t0.Add(6 * sec)}, nil},
		{"a wrong key then the inter-digit timeout is invalid", nil, cat(toMain, d('4', 3*sec), to(6*sec)),
			Step{Kind: Play, Menu: "main", Prompt: "invalid.wav", PlayID: 3, BargeIn: true}, nil},
		{"the invalid notice, then the menu prompt again", nil, cat(toMain, keys("45", 3*sec), p(6*sec)),
			Step{Kind: Play, Menu: "main", Prompt: "main.wav", PlayID: 4, BargeIn: true}, nil},
		{"then the first-digit wait again", nil, cat(toMain, keys("45", 3*sec), p(6*sec), p(8*sec)),
			Step{Kind: Wait, Menu: "main", Until: t0.Add(13 * sec)}, nil},
		{"no input: the no-input notice", nil, cat(toMain, to(7*sec)),
			Step{Kind: Play, Menu: "main", Prompt: "no-input.wav", PlayID: 3, BargeIn: true}, []EntryEvent{menu, menu, noInput, retry}},
		{"the terminator alone is no input", nil, cat(toMain, d('#', 3*sec)),
			Step{Kind: Play, Menu: "main", Prompt: "no-input.wav", PlayID: 3, BargeIn: true}, nil},
		{"a key barges in: the prompt stops, the input starts", nil, cat(p(1*sec), d('1', 1500*time.Millisecond)),
			Step{Kind: Wait, Menu: "main", StopPrompt: true, Until: t0.Add(4500 * time.Millisecond)}, nil},
		{"the end of the stopped prompt is ignored", nil, cat(p(1*sec), d('1', 1500*time.Millisecond), pid(2, 1600*time.Millisecond)),
			Step{Kind: Continue, Menu: "main"}, nil},
		{"a barge-in that completes an option", nil, cat(p(1*sec), d('3', 1500*time.Millisecond)),
			Step{Kind: Done, Menu: "main", StopPrompt: true, Action: route(RouteAgent, "101", "connecting.wav"), Reason: ReasonOption}, nil},
		{"a key barges into the invalid notice", nil, cat(toMain, keys("45", 3*sec), d('3', 5*sec)),
			Step{Kind: Done, Menu: "main", StopPrompt: true, Action: route(RouteAgent, "101", "connecting.wav"), Reason: ReasonOption}, nil},
		{"a stale prompt end after a retry is ignored", nil, cat(toMain, keys("45", 3*sec), pid(2, 5*sec)),
			Step{Kind: Continue, Menu: "main"}, nil},
		{"retries run out: the fallback", nil, cat(toMain, to(7*sec), p(8*sec), p(9*sec), to(14*sec), p(15*sec), p(16*sec), to(21*sec)),
			Step{Kind: Done, Menu: "main", Action: route(RouteAgent, "operator", ""), Reason: ReasonRetriesExhausted},
			[]EntryEvent{menu, menu, noInput, retry, noInput, retry, noInput, out, exit}},
		{"no input and invalid input share the retries", nil, cat(toMain, to(7*sec), p(8*sec), p(9*sec), keys("45", 10*sec), p(12*sec), p(13*sec), d('#', 14*sec)),
			Step{Kind: Done, Menu: "main", Action: route(RouteAgent, "operator", ""), Reason: ReasonRetriesExhausted},
			[]EntryEvent{menu, menu, noInput, retry, invalid, retry, noInput, out, exit}},
		{"retries run out without a fallback: hang up", nil, cat(toMain, d('2', 3*sec), p(4*sec), to(14*sec)),
			Step{Kind: Done, Menu: "support", Action: Action{Type: Hangup}, Reason: ReasonRetriesExhausted},
			[]EntryEvent{menu, menu, input, menu, noInput, out, exit}},
		{"play and hang up", nil, cat(toMain, d('9', 3*sec)),
			Step{Kind: Done, Menu: "main", Action: route(PlayHangup, "", "bye.wav"), Reason: ReasonOption}, nil},
		{"a submenu with its own timeouts", nil, cat(toMain, d('2', 3*sec), p(4*sec)),
			Step{Kind: Wait, Menu: "support", Until: t0.Add(14 * sec)}, nil},
		{"a menu's own inter-digit timeout",
			&Flow{ID: "f", Start: "m", Menus: []Menu{{ID: "m", Prompt: "main.wav", Collect: &Collect{InterDigitTimeout: 2}, Options: map[string]Action{"1": {Type: Hangup}, "12": {Type: Hangup}}}}},
			[]ev{p(sec), d('1', 2*sec)},
			Step{Kind: Wait, Menu: "m", Until: t0.Add(4 * sec)}, nil},
		{"a submenu routes", nil, cat(toMain, d('2', 3*sec), d('1', 3500*time.Millisecond)),
			Step{Kind: Done, Menu: "support", StopPrompt: true, Action: route(RouteGroup, "support", ""), Reason: ReasonOption},
			[]EntryEvent{menu, menu, input, menu, input, exit}},
		{"without a terminator # is an option", nil, cat(toMain, d('2', 3*sec), p(4*sec), d('#', 5*sec)),
			Step{Kind: Done, Menu: "support", Action: Action{Type: Hangup}, Reason: ReasonOption}, nil},
		{"back returns to the menu the caller came from", nil, cat(toMain, d('2', 3*sec), p(4*sec), d('*', 5*sec)),
			Step{Kind: Play, Menu: "main", Prompt: "main.wav", PlayID: 4, BargeIn: true}, []EntryEvent{menu, menu, input, menu, input, menu}},
		{"an information menu goes back after its prompt", nil, cat(toMain, d('2', 3*sec), p(4*sec), d('2', 5*sec), p(6*sec)),
			Step{Kind: Play, Menu: "support", Prompt: "support.wav", PlayID: 5, BargeIn: true}, nil},
		// a → b → c → b: back from b goes to a, not to c.
		{"going to a menu already passed drops the history after it", navFlow(),
			[]ev{p(1 * sec), d('1', 2*sec), p(3 * sec), d('1', 4*sec), p(5 * sec), d('2', 6*sec), p(7 * sec), d('*', 8*sec)},
			Step{Kind: Play, Menu: "a", Prompt: "main.wav", PlayID: 5, BargeIn: true},
			[]EntryEvent{menu, input, menu, input, menu, input, menu, input, menu}},
		{"repeat enters the menu again, retries afresh", nil, cat(toMain, to(7*sec), p(8*sec), p(9*sec), to(14*sec), p(15*sec), p(16*sec), d('0', 17*sec), p(18*sec), to(23*sec)),
			Step{Kind: Play, Menu: "main", Prompt: "no-input.wav", PlayID: 8, BargeIn: true},
			[]EntryEvent{menu, menu, noInput, retry, noInput, retry, input, menu, noInput, retry}},
		{"keys other than 0-9 * # are dropped", nil, cat(toMain, d('A', 3*sec), d('x', 3*sec)),
			Step{Kind: Continue, Menu: "main"}, nil},
		{"the caller hangs up", nil, cat(toMain, d('1', 3*sec), hup(4*sec)),
			Step{Kind: Done, Menu: "main", Action: Action{Type: Hangup}, Reason: ReasonCallerHangup}, []EntryEvent{menu, menu, exit}},
		{"after done every event gives the done step again", nil, cat(toMain, d('9', 3*sec), d('1', 4*sec), p(5*sec), to(9*sec), hup(10*sec), ev{kind: 's'}),
			Step{Kind: Done, Menu: "main", Action: route(PlayHangup, "", "bye.wav"), Reason: ReasonOption}, []EntryEvent{menu, menu, input, exit}},
		{"start twice changes nothing", nil, []ev{{kind: 's', at: sec}},
			Step{Kind: Continue, Menu: "welcome"}, []EntryEvent{menu}},
		{"a time that goes back counts as the latest", nil, cat(p(1*sec), p(10*sec), d('1', 3*sec)),
			Step{Kind: Wait, Menu: "main", Until: t0.Add(13 * sec)}, nil},
		{"a menu without options or next hangs up after its prompt",
			&Flow{ID: "f", Start: "w", Menus: []Menu{{ID: "w", Prompt: "bye.wav"}}}, []ev{p(sec)},
			Step{Kind: Done, Menu: "w", Action: Action{Type: Hangup}, Reason: ReasonNext}, []EntryEvent{menu, exit}},
		{"a welcome then a route",
			&Flow{ID: "f", Start: "w", Menus: []Menu{{ID: "w", Prompt: "welcome.wav", Next: &Action{Type: RouteGroup, Target: "sales"}}}}, []ev{p(sec)},
			Step{Kind: Done, Menu: "w", Action: route(RouteGroup, "sales", ""), Reason: ReasonNext}, nil},
		{"retries 0: the first failure takes the fallback",
			&Flow{ID: "f", Start: "m", Menus: []Menu{{ID: "m", Prompt: "main.wav", Options: map[string]Action{"1": {Type: Hangup}}, Fallback: &Action{Type: RouteAgent, Target: "operator"}}}},
			[]ev{p(sec), d('2', 2*sec)},
			Step{Kind: Done, Menu: "m", Action: route(RouteAgent, "operator", ""), Reason: ReasonRetriesExhausted}, []EntryEvent{menu, invalid, out, exit}},
		{"max digits above the longest option",
			&Flow{ID: "f", Start: "m", Menus: []Menu{{ID: "m", Prompt: "main.wav", Collect: &Collect{MaxDigits: 4}, Options: map[string]Action{"1": {Type: Hangup}}}}},
			cat(p(sec), keys("234", 2*sec)),
			Step{Kind: Wait, Menu: "m", Until: t0.Add(7 * sec)}, nil},
		{"back in the start menu repeats it",
			&Flow{ID: "f", Start: "m", Menus: []Menu{{ID: "m", Prompt: "main.wav", Options: map[string]Action{"*": {Type: Back}, "1": {Type: Hangup}}, Collect: &Collect{Terminator: "none"}}}},
			[]ev{p(sec), d('*', 2*sec)},
			Step{Kind: Play, Menu: "m", Prompt: "main.wav", PlayID: 2, BargeIn: true}, []EntryEvent{menu, input, menu}},
		{"an unknown start menu ends the call", &Flow{ID: "f", Start: "nowhere"}, nil,
			Step{Kind: Done, Menu: "nowhere", Action: Action{Type: Hangup}, Reason: ReasonFlowError}, []EntryEvent{exit}},
		{"an unknown menu ends the call",
			&Flow{ID: "f", Start: "w", Menus: []Menu{{ID: "w", Prompt: "welcome.wav", Next: &Action{Type: GoToMenu, Target: "gone"}}}}, []ev{p(sec)},
			Step{Kind: Done, Menu: "w", Action: Action{Type: Hangup}, Reason: ReasonFlowError}, nil},
		{"an unknown action ends the call",
			&Flow{ID: "f", Start: "w", Menus: []Menu{{ID: "w", Prompt: "welcome.wav", Next: &Action{Type: "transfer"}}}}, []ev{p(sec)},
			Step{Kind: Done, Menu: "w", Action: Action{Type: Hangup}, Reason: ReasonFlowError}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.flow
			if f == nil {
				f = goodFlow()
			}
			steps, m := run(f, tc.evs...)
			got := steps[len(steps)-1]
			got.Log = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("step %+v\nwant %+v\nlog %+v", got, tc.want, m.Log())
			}
			if tc.log != nil && !slices.Equal(events(m.Log()), tc.log) {
				t.Fatalf("log %v, want %v", events(m.Log()), tc.log)
			}
			// The steps' logs, joined, are the machine's log.
			var joined []Entry
			for _, s := range steps {
				joined = append(joined, s.Log...)
			}
			if !reflect.DeepEqual(joined, m.Log()) {
				t.Fatalf("steps' logs %+v\nmachine's %+v", joined, m.Log())
			}
			if m.Done() != (got.Kind == Done) {
				t.Fatalf("Done() = %v after %v", m.Done(), got.Kind)
			}
		})
	}
}

// The log says what happened, when, where and why, for the call record.
func TestMachineLog(t *testing.T) {
	_, m := run(goodFlow(), cat(toMain, keys("45", 3*sec), p(6*sec), p(8*sec), d('2', 9*sec), p(10*sec), to(20*sec))...)
	exitAction := Action{Type: Hangup}
	want := []Entry{
		{At: t0, Event: EntryMenu, Menu: "welcome"},
		{At: t0.Add(1 * sec), Event: EntryMenu, Menu: "main"},
		{At: t0.Add(4 * sec), Event: EntryInvalid, Menu: "main", Digits: "45"},
		{At: t0.Add(4 * sec), Event: EntryRetry, Menu: "main", Retry: 1},
		{At: t0.Add(9 * sec), Event: EntryInput, Menu: "main", Digits: "2"},
		{At: t0.Add(9 * sec), Event: EntryMenu, Menu: "support"},
		{At: t0.Add(20 * sec), Event: EntryNoInput, Menu: "support"},
		{At: t0.Add(20 * sec), Event: EntryRetriesExhausted, Menu: "support"},
		{At: t0.Add(20 * sec), Event: EntryExit, Menu: "support", Action: &exitAction, Reason: ReasonRetriesExhausted},
	}
	if got := m.Log(); !reflect.DeepEqual(got, want) {
		t.Fatalf("log\n%+v\nwant\n%+v", got, want)
	}
}

// A flow that lets a caller go round for ever ends at the step bound, with
// exactly MaxSteps prompts played.
func TestMachineStepBound(t *testing.T) {
	f := &Flow{ID: "f", Start: "a", Menus: []Menu{
		{ID: "a", Prompt: "main.wav", Options: map[string]Action{"1": {Type: GoToMenu, Target: "b"}, "2": {Type: Hangup}}},
		{ID: "b", Prompt: "support.wav", Options: map[string]Action{"1": {Type: Back}, "2": {Type: Repeat}}},
	}}
	if err := f.Validate(known); err != nil {
		t.Fatal(err)
	}
	m := NewMachine(f)
	s := m.Start(t0)
	plays := 1
	for i := 1; i < 10*MaxSteps && s.Kind != Done; i++ {
		s = m.Digit(rune('1'+i%3/2), t0.Add(time.Duration(i)*sec)) // 1, 1, 2, 1, 1, 2, ...
		if s.Kind == Play {
			plays++
		}
	}
	if s.Kind != Done || s.Action.Type != Hangup || s.Reason != ReasonStepLimit || plays != MaxSteps {
		t.Fatalf("after %d prompts: %+v", plays, s)
	}
}

// Menus without prompts that send the caller round (a flow that did not
// pass Validate) end at the step bound too, rather than recursing.
func TestMachineStepBoundWithoutPrompts(t *testing.T) {
	f := &Flow{ID: "f", Start: "a", Menus: []Menu{
		{ID: "a", Next: &Action{Type: GoToMenu, Target: "b"}},
		{ID: "b", Next: &Action{Type: GoToMenu, Target: "a"}},
	}}
	s := NewMachine(f).Start(t0)
	if s.Kind != Done || s.Reason != ReasonStepLimit {
		t.Fatalf("%+v", s)
	}
}

// A nil flow is a flow error, not a panic.
func TestMachineNilFlow(t *testing.T) {
	m := NewMachine(nil)
	if s := m.Hangup(t0); s.Kind != Done || s.Reason != ReasonCallerHangup {
		t.Fatalf("%+v", s)
	}
	if s := NewMachine(nil).Start(t0); s.Kind != Done || s.Reason != ReasonFlowError {
		t.Fatalf("%+v", s)
	}
}
