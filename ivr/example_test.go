package ivr

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The example in configs parses into the model, validates, and runs.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "configs", "ivr.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	k := Known{
		Prompt: func(id string) bool {
			used = append(used, id)
			return strings.HasPrefix(id, "acme-") && strings.HasSuffix(id, ".wav")
		},
		Group:  func(name string) bool { return name == "sales" || name == "support" || name == "returns" },
		Agent:  func(id string) bool { return id == "operator" || id == "alice" || id == "bob" },
		Number: func(n string) bool { return strings.HasPrefix(n, "+") },
	}
	if err := f.Validate(k); err != nil {
		t.Fatal(err)
	}
	if f.ID != "acme-main-line" || f.Start != "welcome" || len(f.Menus) != 5 || len(used) < 10 {
		t.Fatalf("flow %s from %s, %d menus, %d prompts checked", f.ID, f.Start, len(f.Menus), len(used))
	}
	support := f.menu("support")
	if support.Options["#"].Type != PlayHangup || support.Options["*"].Type != Back || support.terminator() != 0 {
		t.Fatalf("support menu %+v", support)
	}

	// A caller: the welcome, 3 for extensions, 1 0 then a pause (no
	// such extension), back with *, then 0 for the operator.
	steps, m := run(f, cat(p(3*sec), p(9*sec), d('3', 10*sec), p(12*sec), keys("10", 13*sec), to(18*sec),
		p(20*sec), d('*', 21*sec), d('0', 22*sec))...)
	got := steps[len(steps)-1]
	want := Action{Type: RouteAgent, Target: "operator", Prompt: "acme-connecting.wav"}
	if got.Kind != Done || got.Action != want || got.Reason != ReasonOption {
		t.Fatalf("step %+v\nlog %+v", got, m.Log())
	}
	if ev := events(m.Log()); !reflect.DeepEqual(ev, []EntryEvent{menu, menu, input, menu, invalid, retry, input, menu, input, exit}) {
		t.Fatalf("log %v", ev)
	}
}
