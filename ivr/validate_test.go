package ivr

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// goodFlow: a welcome, a main menu with a nested support menu and an
// information menu under it, routes to a group, an agent (after a prompt)
// and a number, a play-and-hang-up, repeat, back, retries with notices and
// a fallback.
func goodFlow() *Flow {
	return &Flow{ID: "sales-line", Start: "welcome", Menus: []Menu{
		{ID: "welcome", Prompt: "welcome.wav", Next: &Action{Type: GoToMenu, Target: "main"}},
		{ID: "main", Prompt: "main.wav", Retries: 2, NoInputPrompt: "no-input.wav", InvalidPrompt: "invalid.wav",
			Options: map[string]Action{
				"1":  {Type: RouteGroup, Target: "sales"},
				"10": {Type: RouteNumber, Target: "+15550100"},
				"2":  {Type: GoToMenu, Target: "support"},
				"3":  {Type: RouteAgent, Target: "101", Prompt: "connecting.wav"},
				"9":  {Type: PlayHangup, Prompt: "bye.wav"},
				"0":  {Type: Repeat},
			},
			Fallback: &Action{Type: RouteAgent, Target: "operator"}},
		{ID: "support", Prompt: "support.wav",
			Collect: &Collect{FirstDigitTimeout: 10, InterDigitTimeout: 2, Terminator: "none"},
			Options: map[string]Action{
				"1": {Type: RouteGroup, Target: "support"},
				"2": {Type: GoToMenu, Target: "hours"},
				"0": {Type: GoToMenu, Target: "main"},
				"*": {Type: Back},
				"#": {Type: Hangup},
			}},
		{ID: "hours", Prompt: "hours.wav", Next: &Action{Type: Back}},
	}}
}

var prompts = map[string]bool{
	"welcome.wav": true, "main.wav": true, "no-input.wav": true, "invalid.wav": true,
	"connecting.wav": true, "bye.wav": true, "support.wav": true, "hours.wav": true,
}

var known = Known{
	Prompt: func(id string) bool { return prompts[id] },
	Group:  func(name string) bool { return name == "sales" || name == "support" },
	Agent:  func(id string) bool { return id == "101" || id == "operator" },
	Number: func(n string) bool { return strings.HasPrefix(n, "+") && len(n) > 4 },
}

func TestGoodFlowsValidate(t *testing.T) {
	self := Action{Type: GoToMenu, Target: "m"}
	for _, tc := range []struct {
		name string
		flow *Flow
	}{
		{"the sales line", goodFlow()},
		{"a welcome that hangs up", &Flow{ID: "f", Start: "w", Menus: []Menu{{ID: "w", Prompt: "bye.wav"}}}},
		{"a welcome then a route", &Flow{ID: "f", Start: "w", Menus: []Menu{
			{ID: "w", Prompt: "welcome.wav", Next: &Action{Type: RouteGroup, Target: "sales", Prompt: "connecting.wav"}}}}},
		{"back to itself on bad input, with a route out", &Flow{ID: "f", Start: "m", Menus: []Menu{
			{ID: "m", Prompt: "main.wav", Options: map[string]Action{"0": self, "1": {Type: RouteGroup, Target: "sales"}}, Fallback: &self}}}},
		{"only loops by key, hangs up when retries run out", &Flow{ID: "f", Start: "m", Menus: []Menu{
			{ID: "m", Prompt: "main.wav", Options: map[string]Action{"0": self, "9": {Type: Repeat}}}}}},
		{"an information menu that goes back", &Flow{ID: "f", Start: "m", Menus: []Menu{
			{ID: "m", Prompt: "main.wav", Options: map[string]Action{"1": {Type: GoToMenu, Target: "info"}, "2": {Type: Hangup}}, Fallback: &self},
			{ID: "info", Prompt: "hours.wav", Next: &Action{Type: Back}}}}},
		{"nil checks accept every name", &Flow{ID: "f", Start: "m", Menus: []Menu{
			{ID: "m", Prompt: "anything.wav", Options: map[string]Action{"1": {Type: RouteNumber, Target: "x"}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := known
			if strings.HasPrefix(tc.name, "nil") {
				k = Known{}
			}
			if err := tc.flow.Validate(k); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBrokenFlowsSayWhy(t *testing.T) {
	a := func(typ ActionType, target string) Action { return Action{Type: typ, Target: target} }
	for _, tc := range []struct {
		name  string
		spoil func(*Flow)
		want  Problem // Message: a part of the message
	}{
		{"bad flow id", func(f *Flow) { f.ID = "sales line" }, Problem{"", "id", `"sales line" is not a flow id`}},
		{"no menus", func(f *Flow) { f.Menus = nil; f.Start = "" }, Problem{"", "menus", "at least one menu"}},
		{"too many menus", func(f *Flow) {
			f.Menus = make([]Menu, MaxMenus+1)
			for i := range f.Menus {
				f.Menus[i] = Menu{ID: "m" + strings.Repeat("x", i%40) + string(rune('a'+i/40)), Prompt: "bye.wav"}
			}
			f.Start = f.Menus[0].ID
		}, Problem{"", "menus", "201 menus; at most 200"}},
		{"no start", func(f *Flow) { f.Start = "" }, Problem{"", "start", "required"}},
		{"unknown start", func(f *Flow) { f.Start = "lobby" }, Problem{"", "start", `no menu "lobby"`}},
		{"bad menu id", func(f *Flow) { f.Menus = append(f.Menus, Menu{ID: "a b", Prompt: "bye.wav"}) }, Problem{"", "menus[4].id", `"a b" is not a menu id`}},
		{"too many options", func(f *Flow) {
			for i := range MaxOptions {
				f.Menus[1].Options[fmt.Sprint(100+i)] = Action{Type: Hangup}
			}
		}, Problem{"main", "options", "1006 options; at most 1000"}},
		{"duplicate menu", func(f *Flow) { f.Menus = append(f.Menus, Menu{ID: "hours", Prompt: "hours.wav"}) }, Problem{"hours", "id", "defined twice"}},
		{"missing prompt", func(f *Flow) { f.Menus[0].Prompt = "" }, Problem{"welcome", "prompt", "required"}},
		{"unknown prompt", func(f *Flow) { f.Menus[1].Prompt = "nope.wav" }, Problem{"main", "prompt", `unknown prompt "nope.wav"`}},
		{"unknown invalid prompt", func(f *Flow) { f.Menus[1].InvalidPrompt = "x.wav" }, Problem{"main", "invalid_prompt", `unknown prompt "x.wav"`}},
		{"unknown no-input prompt", func(f *Flow) { f.Menus[1].NoInputPrompt = "x.wav" }, Problem{"main", "no_input_prompt", `unknown prompt "x.wav"`}},
		{"unknown prompt of a route", func(f *Flow) { f.Menus[1].Options["3"] = Action{Type: RouteAgent, Target: "101", Prompt: "x.wav"} },
			Problem{"main", `options["3"].prompt`, `unknown prompt "x.wav"`}},
		{"play_hangup without prompt", func(f *Flow) { f.Menus[1].Options["9"] = a(PlayHangup, "") }, Problem{"main", `options["9"].prompt`, "required"}},
		{"unknown menu", func(f *Flow) { f.Menus[1].Options["2"] = a(GoToMenu, "billing") }, Problem{"main", `options["2"].target`, `no menu "billing"`}},
		{"menu without target", func(f *Flow) { f.Menus[0].Next = &Action{Type: GoToMenu} }, Problem{"welcome", "next.target", "required"}},
		{"group without target", func(f *Flow) { f.Menus[1].Options["1"] = a(RouteGroup, " ") }, Problem{"main", `options["1"].target`, "required: the group"}},
		{"agent without target", func(f *Flow) { f.Menus[1].Fallback = &Action{Type: RouteAgent} }, Problem{"main", "fallback.target", "required: the agent"}},
		{"number without target", func(f *Flow) { f.Menus[1].Options["10"] = a(RouteNumber, "") }, Problem{"main", `options["10"].target`, "required: the number"}},
		{"target with spaces", func(f *Flow) { f.Menus[1].Options["1"] = a(RouteGroup, "sales ") }, Problem{"main", `options["1"].target`, "spaces around it"}},
		{"unknown group", func(f *Flow) { f.Menus[1].Options["1"] = a(RouteGroup, "billing") }, Problem{"main", `options["1"].target`, `unknown group "billing"`}},
		{"unknown agent", func(f *Flow) { f.Menus[1].Options["3"] = a(RouteAgent, "102") }, Problem{"main", `options["3"].target`, `unknown agent "102"`}},
		{"bad number", func(f *Flow) { f.Menus[1].Options["10"] = a(RouteNumber, "5550100") }, Problem{"main", `options["10"].target`, `"5550100" is not a number`}},
		{"no action type", func(f *Flow) { f.Menus[1].Options["1"] = Action{Target: "sales"} }, Problem{"main", `options["1"].type`, "required: one of route_group"}},
		{"unknown action", func(f *Flow) { f.Menus[1].Options["1"] = a("transfer", "sales") }, Problem{"main", `options["1"].type`, `unknown action "transfer"`}},
		{"target on hangup", func(f *Flow) { f.Menus[2].Options["#"] = a(Hangup, "x") }, Problem{"support", `options["#"].target`, "hangup takes no target"}},
		{"prompt on hangup", func(f *Flow) { f.Menus[2].Options["#"] = Action{Type: Hangup, Prompt: "bye.wav"} }, Problem{"support", `options["#"].prompt`, "play_hangup does"}},
		{"target on back", func(f *Flow) { f.Menus[2].Options["*"] = a(Back, "main") }, Problem{"support", `options["*"].target`, "back takes no target"}},
		{"prompt on a menu action", func(f *Flow) { f.Menus[1].Options["2"] = Action{Type: GoToMenu, Target: "support", Prompt: "bye.wav"} },
			Problem{"main", `options["2"].prompt`, "menu plays no prompt"}},
		{"bad key", func(f *Flow) { f.Menus[1].Options["a"] = a(Hangup, "") }, Problem{"main", `options["a"]`, "1 to 20 of 0-9 * #"}},
		{"key longer than max digits", func(f *Flow) { f.Menus[2].Collect.MaxDigits = 1; f.Menus[2].Options["12"] = a(Hangup, "") },
			Problem{"support", `options["12"]`, "more than max_digits 1"}},
		{"key with the terminator", func(f *Flow) { f.Menus[1].Options["1#"] = a(Hangup, "") }, Problem{"main", `options["1#"]`, "holds the terminator #"}},
		{"key with the * terminator", func(f *Flow) { f.Menus[2].Collect.Terminator = "*" }, Problem{"support", `options["*"]`, "holds the terminator *"}},
		{"max digits", func(f *Flow) { f.Menus[2].Collect.MaxDigits = 21 }, Problem{"support", "collect.max_digits", "21; 1 to 20"}},
		{"first digit timeout", func(f *Flow) { f.Menus[2].Collect.FirstDigitTimeout = 61 }, Problem{"support", "collect.first_digit_timeout", "61 s; 1 to 60 (0: 5)"}},
		{"inter digit timeout", func(f *Flow) { f.Menus[2].Collect.InterDigitTimeout = -1 }, Problem{"support", "collect.inter_digit_timeout", "-1 s; 1 to 30 (0: 3)"}},
		{"terminator", func(f *Flow) { f.Menus[2].Collect.Terminator = "0" }, Problem{"support", "collect.terminator", `"0"`}},
		{"retries", func(f *Flow) { f.Menus[1].Retries = 11 }, Problem{"main", "retries", "11; 0 to 10"}},
		{"negative retries", func(f *Flow) { f.Menus[1].Retries = -1 }, Problem{"main", "retries", "-1; 0 to 10"}},
		{"collect without options", func(f *Flow) { f.Menus[0].Collect = &Collect{} }, Problem{"welcome", "collect", "only a menu with options takes input"}},
		{"retries without options", func(f *Flow) { f.Menus[3].Retries = 2 }, Problem{"hours", "retries", "only a menu with options"}},
		{"fallback without options", func(f *Flow) { f.Menus[3].Fallback = &Action{Type: Hangup} }, Problem{"hours", "fallback", "only a menu with options"}},
		{"next with options", func(f *Flow) { f.Menus[1].Next = &Action{Type: Hangup} }, Problem{"main", "next", "takes fallback"}},
		{"unreachable menu", func(f *Flow) { f.Menus = append(f.Menus, Menu{ID: "orphan", Prompt: "bye.wav"}) },
			Problem{"orphan", "", "unreachable: no path from the start menu welcome leads to it"}},
		{"a menu that only repeats itself", func(f *Flow) {
			f.Menus[2].Options["3"] = a(GoToMenu, "loop")
			f.Menus = append(f.Menus, Menu{ID: "loop", Prompt: "bye.wav", Options: map[string]Action{"1": {Type: Repeat}}, Fallback: &Action{Type: Repeat}})
		}, Problem{"loop", "", "a loop without exit: no path from it is sure to route or hang up (from it a caller reaches only loop)"}},
		{"back in the start menu repeats it", func(f *Flow) {
			f.Start, f.Menus = "top", []Menu{{ID: "top", Prompt: "main.wav", Options: map[string]Action{"1": {Type: Back}}, Fallback: &Action{Type: Back}}}
		}, Problem{"top", "", "a loop without exit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := goodFlow()
			tc.spoil(f)
			err := f.Validate(known)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidFlow) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Errorf("%d problems, want one:\n%v", len(ve.Problems), err)
			}
			p := ve.Problems[0]
			if p.Menu != tc.want.Menu || p.Field != tc.want.Field || !strings.Contains(p.Message, tc.want.Message) {
				t.Fatalf("problem %+v\nwant %+v", p, tc.want)
			}
		})
	}
}

// Loops without exit: every menu caught in one is named, and only those.
func TestLoopsWithoutExit(t *testing.T) {
	to := func(id string) *Action { return &Action{Type: GoToMenu, Target: id} }
	route := Action{Type: RouteGroup, Target: "sales"}
	for _, tc := range []struct {
		name  string
		menus []Menu
		stuck []string
	}{
		{"two menus that send the caller to each other", []Menu{
			{ID: "main", Prompt: "main.wav", Options: map[string]Action{"1": route, "2": *to("a")}},
			{ID: "a", Prompt: "bye.wav", Next: to("b")},
			{ID: "b", Prompt: "bye.wav", Options: map[string]Action{"1": *to("a")}, Fallback: to("a")},
		}, []string{"a", "b"}},
		{"a start menu with no way out", []Menu{
			{ID: "main", Prompt: "main.wav", Options: map[string]Action{"1": *to("main"), "2": {Type: Repeat}}, Fallback: to("main")},
		}, []string{"main"}},
		// shared is entered from main and from x; back from shared returns
		// to x when the caller came from x, and x leads only to shared.
		{"back to a parent with no way out", []Menu{
			{ID: "main", Prompt: "main.wav", Options: map[string]Action{"1": *to("x"), "2": *to("shared"), "3": route}},
			{ID: "x", Prompt: "bye.wav", Options: map[string]Action{"1": *to("shared")}, Fallback: to("shared")},
			{ID: "shared", Prompt: "hours.wav", Next: &Action{Type: Back}},
		}, []string{"x", "shared"}},
		{"back with every parent able to leave", []Menu{
			{ID: "main", Prompt: "main.wav", Options: map[string]Action{"1": *to("x"), "2": *to("shared"), "3": route}},
			{ID: "x", Prompt: "bye.wav", Options: map[string]Action{"1": *to("shared"), "2": route}, Fallback: to("shared")},
			{ID: "shared", Prompt: "hours.wav", Next: &Action{Type: Back}},
		}, nil},
		{"a way out deeper down counts", []Menu{
			{ID: "main", Prompt: "main.wav", Options: map[string]Action{"1": *to("a")}, Fallback: to("main")},
			{ID: "a", Prompt: "bye.wav", Next: to("b")},
			{ID: "b", Prompt: "bye.wav", Options: map[string]Action{"1": *to("main"), "9": {Type: Hangup}}, Fallback: to("main")},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Flow{ID: "f", Start: "main", Menus: tc.menus}
			err := f.Validate(known)
			var stuck []string
			var ve *ValidationError
			if errors.As(err, &ve) {
				for _, p := range ve.Problems {
					if !strings.Contains(p.Message, "loop without exit") {
						t.Fatalf("another problem: %v", err)
					}
					stuck = append(stuck, p.Menu)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stuck, tc.stuck) {
				t.Fatalf("stuck menus %q, want %q\n%v", stuck, tc.stuck, err)
			}
		})
	}
}

// Every problem is reported at once, menus in order, options by key, and
// the message lists them one a line.
func TestValidateReportsEveryProblem(t *testing.T) {
	f := goodFlow()
	f.Menus[0].Prompt = "nope.wav"
	f.Menus[1].Options["1"] = Action{Type: RouteGroup}
	f.Menus[1].Options["2"] = Action{Type: GoToMenu, Target: "suport"}
	f.Menus[2].Collect.MaxDigits = 30
	err := f.Validate(known)
	want := `invalid IVR flow "sales-line":
  menu welcome, prompt: unknown prompt "nope.wav"
  menu main, options["1"].target: required: the group to route to
  menu main, options["2"].target: no menu "suport"
  menu support, collect.max_digits: 30; 1 to 20 (0: the longest option)`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate =\n%v\nwant\n%s", err, want)
	}
	// Problems of the paths come with the others when the menus and
	// their references are sound.
	f = goodFlow()
	f.Menus[0].Prompt = "nope.wav"
	f.Menus = append(f.Menus, Menu{ID: "orphan", Prompt: "bye.wav", Next: &Action{Type: Repeat}})
	want = `invalid IVR flow "sales-line":
  menu welcome, prompt: unknown prompt "nope.wav"
  menu orphan: unreachable: no path from the start menu welcome leads to it`
	if err := f.Validate(known); err == nil || err.Error() != want {
		t.Fatalf("Validate =\n%v\nwant\n%s", err, want)
	}
	if err := (*Flow)(nil).Validate(known); !errors.Is(err, ErrInvalidFlow) {
		t.Fatalf("a nil flow: %v", err)
	}
	b, _ := json.Marshal(err.(*ValidationError).Problems[1])
	if string(b) != `{"menu":"main","field":"options[\"1\"].target","message":"required: the group to route to"}` {
		t.Fatalf("a problem in JSON: %s", b)
	}
}

// The flow is data: it survives JSON and YAML, and the parsers refuse
// what they do not know.
func TestParse(t *testing.T) {
	b, err := json.Marshal(goodFlow())
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, goodFlow()) {
		t.Fatalf("after a JSON round trip: %+v", f)
	}
	y := `
id: small
start: main
menus:
  - id: main
    prompt: main.wav
    collect: {max_digits: 2, first_digit_timeout: 7}
    options:
      1: {type: route_group, target: sales}
      10: {type: route_number, target: "+15550100"}
      "#": {type: hangup}
    retries: 1
`
	f, err = ParseYAML([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	m := f.Menus[0]
	if m.Collect.MaxDigits != 2 || m.Collect.FirstDigitTimeout != 7 || m.Retries != 1 || len(m.Options) != 3 || m.Options["10"].Target != "+15550100" {
		t.Fatalf("YAML: %+v", m)
	}
	if err := f.Validate(known); err == nil || !strings.Contains(err.Error(), `options["#"]: holds the terminator #`) {
		t.Fatalf("Validate = %v", err)
	}
	for _, tc := range []struct{ name, yaml, json, want string }{
		{"unknown key", "id: f\nstrat: main\n", `{"id":"f","strat":"main"}`, "strat"},
		{"misspelt menu key", "menus:\n  - id: m\n    invalid_promt: x.wav\n", `{"menus":[{"id":"m","invalid_promt":"x.wav"}]}`, "invalid_promt"},
		{"two documents", "id: f\n---\nid: g\n", `{"id":"f"}{"id":"g"}`, ""},
		{"empty", "", "", ""},
		{"wrong type", "menus: 3\n", `{"menus":3}`, ""},
		{"unquoted star key", "menus:\n  - id: m\n    options:\n      *: {type: hangup}\n", `{"menus":[{"options":{"1":"hangup"}}]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseYAML([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseYAML = %v, want an error naming %q", err, tc.want)
			}
			if _, err := ParseJSON([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseJSON = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
