package ivr

import (
	"reflect"
	"testing"
	"time"
)

// driver feeds a machine events and checks, after each, what must hold
// whatever the events: deadlines lie after the latest time reported,
// PlayIDs grow, at most MaxSteps prompts play, a done machine stays done
// with the same step, the log's times never go back, and the steps' logs
// add up to the machine's.
type driver struct {
	t      *testing.T
	m      *Machine
	now    time.Time // the latest time reported
	last   Step      // the last step that was not Continue
	plays  int
	joined []Entry
	events int
}

func newDriver(t *testing.T, f *Flow) *driver {
	dr := &driver{t: t, m: NewMachine(f), now: t0}
	dr.check(dr.m.Start(t0))
	return dr
}

func (dr *driver) check(s Step) {
	t := dr.t
	t.Helper()
	dr.events++
	dr.joined = append(dr.joined, s.Log...)
	if dr.last.Kind == Done {
		s.Log = nil
		if !reflect.DeepEqual(s, dr.last) {
			t.Fatalf("after done: %+v, was %+v", s, dr.last)
		}
	}
	switch s.Kind {
	case Play:
		dr.plays++
		if dr.plays > MaxSteps {
			t.Fatalf("%d prompts played", dr.plays)
		}
		if s.PlayID <= dr.last.PlayID && dr.last.Kind == Play {
			t.Fatalf("PlayID %d after %d", s.PlayID, dr.last.PlayID)
		}
		if s.Prompt == "" {
			t.Fatalf("a Play without a prompt: %+v", s)
		}
	case Wait:
		if !s.Until.After(dr.now) {
			t.Fatalf("a wait until %v when it is %v", s.Until, dr.now)
		}
	case Done, Continue:
	default:
		t.Fatalf("step kind %v", s.Kind)
	}
	if s.Kind != Continue {
		s.Log = nil
		if s.Kind == Done {
			s.StopPrompt = false // a prompt is stopped once, not at each repeat
		}
		dr.last = s
	}
	if s.Kind == Done != dr.m.Done() {
		t.Fatalf("Done() = %v with %+v", dr.m.Done(), s)
	}
}

// event reports one random event coded by two bytes: what, and how much
// time passes before it (the largest value steps the clock back).
func (dr *driver) event(what, dt byte) {
	if dt == 255 {
		dr.now = dr.now.Add(-time.Second) // the machine must take it as the latest time
	} else {
		dr.now = dr.now.Add(time.Duration(dt) * 50 * time.Millisecond)
	}
	m := dr.m
	switch what % 6 {
	case 0:
		dr.check(m.PromptDone(dr.last.PlayID, dr.now))
	case 1:
		dr.check(m.PromptDone(int(what/6)%4, dr.now)) // mostly stale
	case 2, 3:
		dr.check(m.Digit(rune("0123456789*#A\x00"[int(what/6)%14]), dr.now))
	case 4:
		dr.check(m.Timeout(dr.now))
	case 5:
		if what/6%16 == 0 {
			dr.check(m.Hangup(dr.now))
		} else if dr.last.Kind == Wait {
			dr.now = dr.last.Until // the caller's timer fires
			dr.check(m.Timeout(dr.now))
		}
	}
	if dr.now.Before(dr.m.now) {
		dr.now = dr.m.now
	}
}

// finish plays the caller's part faithfully — every prompt ends, every
// timer fires — and checks the machine is done within limit events.
func (dr *driver) finish(limit int) {
	t := dr.t
	for n := 0; !dr.m.Done(); n++ {
		if n > limit {
			t.Fatalf("not done after %d more events; last %+v", n, dr.last)
		}
		switch dr.last.Kind {
		case Play:
			dr.now = dr.now.Add(time.Second)
			dr.check(dr.m.PromptDone(dr.last.PlayID, dr.now))
		case Wait:
			dr.now = dr.last.Until
			dr.check(dr.m.Timeout(dr.now))
		default:
			t.Fatalf("not done, and the last step is %+v", dr.last)
		}
	}
	log := dr.m.Log()
	if !reflect.DeepEqual(dr.joined, log) {
		t.Fatalf("steps' logs %+v\nmachine's %+v", dr.joined, log)
	}
	for i := 1; i < len(log); i++ {
		if log[i].At.Before(log[i-1].At) {
			t.Fatalf("log goes back in time: %+v", log)
		}
	}
	if e := log[len(log)-1]; e.Event != EntryExit || e.Action == nil || *e.Action != dr.last.Action || e.Reason != dr.last.Reason {
		t.Fatalf("the log ends %+v, the machine with %+v", e, dr.last)
	}
}

func loopFlow() *Flow {
	return &Flow{ID: "loop", Start: "a", Menus: []Menu{
		{ID: "a", Prompt: "main.wav", Retries: 10, InvalidPrompt: "invalid.wav",
			Options:  map[string]Action{"1": {Type: GoToMenu, Target: "b"}, "2": {Type: Repeat}, "99": {Type: Hangup}},
			Fallback: &Action{Type: GoToMenu, Target: "a"}},
		{ID: "b", Prompt: "support.wav", Next: &Action{Type: Back}},
	}}
}

// Random events on valid flows: the invariants hold, and a faithful caller
// then gets the call out within the step bound.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, 0, 4, 0, 0, 0, 0, 10, 2, 10, 3, 20})
	f.Add([]byte{1, 2, 200, 2, 255, 8, 1, 14, 1, 0, 9, 5, 100, 4, 3})
	f.Add([]byte{2, 14, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		flows := []func() *Flow{goodFlow, navFlow, loopFlow}
		fl := flows[int(data[0])%len(flows)]()
		if err := fl.Validate(Known{}); err != nil {
			t.Fatal(err)
		}
		dr := newDriver(t, fl)
		for i := 1; i+1 < len(data); i += 2 {
			dr.event(data[i], data[i+1])
		}
		dr.finish(3 * MaxSteps)
	})
}

// Random events on arbitrary flows, valid or not: Validate and the machine
// never panic, and a faithful caller still gets the call out.
func FuzzMachineAnyFlow(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{0, 1, 2, 3})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, []byte{})
	f.Add([]byte{255, 254, 253, 252, 251, 250, 249, 248, 247, 246}, []byte{4, 4, 4, 4})
	f.Fuzz(func(t *testing.T, shape, evs []byte) {
		fl := anyFlow(shape)
		_ = fl.Validate(Known{Prompt: func(id string) bool { return id != "x.wav" }})
		dr := newDriver(t, fl)
		for i := 0; i+1 < len(evs); i += 2 {
			dr.event(evs[i], evs[i+1])
		}
		dr.finish(30 * MaxSteps)
	})
}

// anyFlow builds a flow of up to four menus from bytes: any settings,
// in range or not, any action types, targets that may be missing.
func anyFlow(b []byte) *Flow {
	next := func() int {
		if len(b) == 0 {
			return 0
		}
		v := int(b[0])
		b = b[1:]
		return v
	}
	ids := []string{"a", "b", "c", "d", ""}
	prompts := []string{"main.wav", "", "x.wav", "bye.wav"}
	types := append(actionTypes, "", "transfer")
	keys := []string{"1", "2", "10", "*", "#", "12", "", "a"}
	action := func() *Action {
		a := Action{Type: types[next()%len(types)], Target: ids[next()%len(ids)], Prompt: prompts[next()%len(prompts)]}
		return &a
	}
	f := &Flow{ID: "any", Start: ids[next()%len(ids)]}
	for range next()%4 + 1 {
		m := Menu{ID: ids[next()%len(ids)], Prompt: prompts[next()%len(prompts)], Retries: next()%14 - 2}
		for range next() % 4 {
			if m.Options == nil {
				m.Options = map[string]Action{}
			}
			m.Options[keys[next()%len(keys)]] = *action()
		}
		if next()%2 == 0 {
			m.Collect = &Collect{MaxDigits: next()%25 - 2, FirstDigitTimeout: next()%70 - 5, InterDigitTimeout: next()%40 - 5, Terminator: []string{"", "#", "*", "none", "0"}[next()%5]}
		}
		if next()%2 == 0 {
			m.Fallback = action()
		}
		if next()%2 == 0 {
			m.Next = action()
		}
		m.NoInputPrompt, m.InvalidPrompt = prompts[next()%len(prompts)], prompts[next()%len(prompts)]
		f.Menus = append(f.Menus, m)
	}
	return f
}
