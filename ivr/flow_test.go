package ivr

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// goodFlow: a welcome, a main menu with a nested support menu, routes to
// a group, an agent and a number, a play-and-hang-up, retries.
func goodFlow() *Flow {
	back := Action{Type: GoToMenu, Target: "main"}
	return &Flow{ID: "sales-line", Start: "welcome", Menus: []*Menu{
		{ID: "welcome", Prompt: "welcome.wav", Fallback: &back},
		{ID: "main", Prompt: "main.wav", Collect: &Collect{MaxDigits: 2}, Retries: 2,
			NoInputPrompt: "sorry.wav", InvalidPrompt: "invalid.wav",
			Options: map[string]Action{
				"1":  {Type: RouteGroup, Target: "sales"},
				"2":  {Type: GoToMenu, Target: "support"},
				"10": {Type: RouteNumber, Target: "+15550100"},
				"9":  {Type: PlayHangup, Prompt: "bye.wav"},
			},
			Fallback: &Action{Type: RouteAgent, Target: "101"}},
		{ID: "support", Prompt: "support.wav", Collect: &Collect{MaxDigits: 1, FirstDigit: 10, InterDigit: 2, Terminator: "none"},
			Options: map[string]Action{"1": {Type: RouteGroup, Target: "support"}, "*": back}},
	}}
}

var prompts = map[string]bool{"welcome.wav": true, "main.wav": true, "sorry.wav": true, "invalid.wav": true, "bye.wav": true, "support.wav": true}

func known(id string) bool { return prompts[id] }

func TestGoodFlowValidates(t *testing.T) {
	if err := goodFlow().Validate(known); err != nil {
		t.Fatal(err)
	}
	// The flow is data: it survives JSON.
	b, _ := json.Marshal(goodFlow())
	var f Flow
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(known); err != nil {
		t.Fatalf("after a JSON round trip: %v", err)
	}
	first, inter := f.Menus[2].Collect.Timeouts()
	if first != 10*time.Second || inter != 2*time.Second {
		t.Fatalf("timeouts %v %v", first, inter)
	}
	if first, inter := f.Menus[1].Collect.Timeouts(); first != DefaultFirstDigit || inter != DefaultInterDigit {
		t.Fatalf("default timeouts %v %v", first, inter)
	}
}

func TestBrokenFlowsSayWhy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*Flow)
		want  string
	}{
		{"bad flow id", func(f *Flow) { f.ID = "sales line" }, `flow id "sales line"`},
		{"no menus", func(f *Flow) { f.Menus = nil; f.Start = "" }, "has no menu"},
		{"unknown start", func(f *Flow) { f.Start = "lobby" }, `start menu "lobby"`},
		{"duplicate menu", func(f *Flow) { f.Menus = append(f.Menus, &Menu{ID: "main", Prompt: "main.wav"}) }, "menu main is defined twice"},
		{"unknown prompt", func(f *Flow) { f.Menus[1].Prompt = "nope.wav" }, `menu main: unknown prompt "nope.wav"`},
		{"missing prompt", func(f *Flow) { f.Menus[0].Prompt = "" }, "menu welcome: a prompt is required"},
		{"unknown invalid prompt", func(f *Flow) { f.Menus[1].InvalidPrompt = "x.wav" }, `invalid_prompt: unknown prompt "x.wav"`},
		{"unknown menu", func(f *Flow) { f.Menus[1].Options["2"] = Action{Type: GoToMenu, Target: "billing"} }, `menu "billing" does not exist`},
		{"route without target", func(f *Flow) { f.Menus[1].Options["1"] = Action{Type: RouteGroup} }, "route_group needs a target"},
		{"unknown action", func(f *Flow) { f.Menus[1].Options["1"] = Action{Type: "transfer"} }, `unknown action type "transfer"`},
		{"play_hangup without prompt", func(f *Flow) { f.Menus[1].Options["9"] = Action{Type: PlayHangup} }, `option "9": a prompt is required`},
		{"bad key", func(f *Flow) { f.Menus[1].Options["a"] = Action{Type: Hangup} }, `option "a": an option is 1-20 of 0-9 * #`},
		{"key longer than max digits", func(f *Flow) { f.Menus[2].Options["12"] = Action{Type: Hangup} }, "longer than max_digits 1"},
		{"key with the terminator", func(f *Flow) { f.Menus[1].Options["1#"] = Action{Type: Hangup} }, "contains the terminator #"},
		{"max digits", func(f *Flow) { f.Menus[1].Collect.MaxDigits = 0 }, "max_digits 0"},
		{"first digit timeout", func(f *Flow) { f.Menus[1].Collect.FirstDigit = 61 }, "first_digit_timeout 61"},
		{"inter digit timeout", func(f *Flow) { f.Menus[1].Collect.InterDigit = -1 }, "inter_digit_timeout -1"},
		{"terminator", func(f *Flow) { f.Menus[1].Collect.Terminator = "0" }, `terminator "0"`},
		{"retries", func(f *Flow) { f.Menus[1].Retries = 11 }, "retries 11"},
		{"collects without options", func(f *Flow) { f.Menus[2].Options = nil }, "collects digits but has no option"},
		{"options without collect", func(f *Flow) { f.Menus[0].Options = map[string]Action{"1": {Type: Hangup}} }, "has options but collects no digits"},
		{"unreachable menu", func(f *Flow) {
			f.Menus = append(f.Menus, &Menu{ID: "orphan", Prompt: "bye.wav"})
		}, "menu orphan: no path from the start menu welcome reaches it"},
		{"loop without exit", func(f *Flow) {
			a, b := Action{Type: GoToMenu, Target: "a"}, Action{Type: GoToMenu, Target: "b"}
			f.Menus[1].Options["3"] = a
			f.Menus = append(f.Menus,
				&Menu{ID: "a", Prompt: "bye.wav", Fallback: &b},
				&Menu{ID: "b", Prompt: "bye.wav", Collect: &Collect{MaxDigits: 1}, Options: map[string]Action{"1": a}, Fallback: &a})
		}, "menu a: a loop without exit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := goodFlow()
			tc.spoil(f)
			err := f.Validate(known)
			if !errors.Is(err, ErrInvalidFlow) {
				t.Fatalf("Validate = %v, want ErrInvalidFlow", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v\nwant it to say %q", err, tc.want)
			}
		})
	}
}

// A menu that loops back to itself on bad input but has a way out is
// fine; a menu without a fallback hangs up when retries run out.
func TestLoopsWithAnExitAreFine(t *testing.T) {
	self := Action{Type: GoToMenu, Target: "m"}
	f := &Flow{ID: "f", Start: "m", Menus: []*Menu{
		{ID: "m", Prompt: "main.wav", Collect: &Collect{MaxDigits: 1}, Options: map[string]Action{"0": self, "1": {Type: RouteGroup, Target: "g"}}, Fallback: &self},
	}}
	if err := f.Validate(known); err != nil {
		t.Fatal(err)
	}
	f.Menus[0].Options = map[string]Action{"0": self}
	f.Menus[0].Fallback = nil // retries out: hang up
	if err := f.Validate(known); err != nil {
		t.Fatal(err)
	}
	f.Menus[0].Fallback = &self
	if err := f.Validate(known); err == nil || !strings.Contains(err.Error(), "loop without exit") {
		t.Fatalf("a menu that only ever comes back to itself: %v", err)
	}
}
