package ivr

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Known says which names exist outside the flow. Each function reports
// whether its name exists; a nil function accepts every name. The caller
// supplies them (the announcement store, the tenant's groups and agents,
// the engine's number rule), so the package stays free of I/O.
type Known struct {
	Prompt func(id string) bool
	Group  func(name string) bool
	Agent  func(id string) bool
	Number func(number string) bool
}

// ErrInvalidFlow is matched (errors.Is) by every error of Validate.
var ErrInvalidFlow = errors.New("invalid IVR flow")

// Problem is one thing wrong with a flow.
type Problem struct {
	// Menu is the menu's id, "" for the flow itself.
	Menu string `json:"menu,omitempty"`
	// Field is where in the menu (or the flow), spelt as in YAML and
	// JSON: "prompt", "collect.max_digits", `options["1"].target`.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Menu != "" {
		b.WriteString("menu " + p.Menu)
	}
	if p.Field != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Field)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem Validate found, in the order of the
// menus, options by key.
type ValidationError struct {
	Flow     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %q:", ErrInvalidFlow, e.Flow)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidFlow) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidFlow }

var (
	idRule  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,50}$`)
	keyRule = regexp.MustCompile(`^[0-9*#]{1,20}$`)
)

const idText = "1 to 50 of A-Z a-z 0-9 _ . -"

// validator collects the problems of one flow.
type validator struct {
	f     *Flow
	known Known
	menus map[string]*Menu // by id, the first of each id
	probs []Problem
	// graphBroken: a menu id or reference or an action type is wrong, so
	// the paths between menus are not checked (they would only echo it).
	graphBroken bool
}

func (v *validator) bad(menu, field, format string, args ...any) {
	v.probs = append(v.probs, Problem{Menu: menu, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks the flow and returns nil or a *ValidationError naming
// every problem with its menu and field: ids, the start menu, prompts,
// options and their keys, collection settings and their ranges, retries,
// action types and targets, menus referred to but missing, menus no path
// from the start reaches, and loops without exit — menus from which no
// path ever routes or hangs up. Paths are checked once every menu id and
// reference is sound.
func (f *Flow) Validate(known Known) error {
	if f == nil {
		return &ValidationError{Problems: []Problem{{Message: "no flow"}}}
	}
	v := &validator{f: f, known: known, menus: map[string]*Menu{}}
	if !idRule.MatchString(f.ID) {
		v.bad("", "id", "%q is not a flow id (%s)", f.ID, idText)
	}
	switch {
	case len(f.Menus) == 0:
		v.bad("", "menus", "a flow needs at least one menu")
		return v.err()
	case len(f.Menus) > MaxMenus:
		v.bad("", "menus", "%d menus; at most %d", len(f.Menus), MaxMenus)
		return v.err()
	}
	for i := range f.Menus {
		m := &f.Menus[i]
		switch {
		case !idRule.MatchString(m.ID):
			v.bad("", fmt.Sprintf("menus[%d].id", i), "%q is not a menu id (%s)", m.ID, idText)
			v.graphBroken = true
		case v.menus[m.ID] != nil:
			v.bad(m.ID, "id", "defined twice")
			v.graphBroken = true
		default:
			v.menus[m.ID] = m
		}
	}
	switch {
	case f.Start == "":
		v.bad("", "start", "required: the id of the first menu")
	case v.menus[f.Start] == nil:
		v.bad("", "start", "no menu %q", f.Start)
	}
	for i := range f.Menus {
		if m := &f.Menus[i]; v.menus[m.ID] == m {
			v.menu(m)
		}
	}
	if v.menus[f.Start] != nil && !v.graphBroken {
		v.paths()
	}
	return v.err()
}

func (v *validator) err() error {
	if len(v.probs) == 0 {
		return nil
	}
	return &ValidationError{Flow: v.f.ID, Problems: v.probs}
}

// menu checks one menu's own settings.
func (v *validator) menu(m *Menu) {
	id := m.ID
	v.prompt(id, "prompt", m.Prompt, true)
	if len(m.Options) == 0 {
		// A menu that plays its prompt and takes Next.
		for _, s := range []struct {
			field string
			set   bool
		}{
			{"collect", m.Collect != nil},
			{"retries", m.Retries != 0},
			{"no_input_prompt", m.NoInputPrompt != ""},
			{"invalid_prompt", m.InvalidPrompt != ""},
			{"fallback", m.Fallback != nil},
		} {
			if s.set {
				v.bad(id, s.field, "only a menu with options takes input; this one plays its prompt and takes next")
			}
		}
		if m.Next != nil {
			v.action(id, "next", *m.Next)
		}
		return
	}
	if m.Next != nil {
		v.bad(id, "next", "a menu with options takes fallback when its retries run out, not next")
	}
	if m.Retries < 0 || m.Retries > MaxRetries {
		v.bad(id, "retries", "%d; 0 to %d", m.Retries, MaxRetries)
	}
	v.prompt(id, "no_input_prompt", m.NoInputPrompt, false)
	v.prompt(id, "invalid_prompt", m.InvalidPrompt, false)
	if c := m.Collect; c != nil {
		if c.MaxDigits < 0 || c.MaxDigits > MaxDigits {
			v.bad(id, "collect.max_digits", "%d; 1 to %d (0: the longest option)", c.MaxDigits, MaxDigits)
		}
		if c.FirstDigitTimeout < 0 || c.FirstDigitTimeout > MaxFirstDigitTimeout {
			v.bad(id, "collect.first_digit_timeout", "%d s; 1 to %d (0: %d)", c.FirstDigitTimeout, MaxFirstDigitTimeout, int(DefaultFirstDigitTimeout.Seconds()))
		}
		if c.InterDigitTimeout < 0 || c.InterDigitTimeout > MaxInterDigitTimeout {
			v.bad(id, "collect.inter_digit_timeout", "%d s; 1 to %d (0: %d)", c.InterDigitTimeout, MaxInterDigitTimeout, int(DefaultInterDigitTimeout.Seconds()))
		}
		switch c.Terminator {
		case "", "#", "*", "none":
		default:
			v.bad(id, "collect.terminator", "%q; \"#\" (the default), \"*\" or \"none\"", c.Terminator)
		}
	}
	if len(m.Options) > MaxOptions {
		v.bad(id, "options", "%d options; at most %d", len(m.Options), MaxOptions)
		return
	}
	for _, k := range sortedKeys(m.Options) {
		field := fmt.Sprintf("options[%q]", k)
		switch {
		case !keyRule.MatchString(k):
			v.bad(id, field, "a key is 1 to %d of 0-9 * #", MaxDigits)
		case m.Collect != nil && m.Collect.MaxDigits > 0 && len(k) > m.Collect.MaxDigits:
			v.bad(id, field, "%d keys, more than max_digits %d: no caller can choose it", len(k), m.Collect.MaxDigits)
		case m.terminator() != 0 && strings.ContainsRune(k, m.terminator()):
			v.bad(id, field, "holds the terminator %c, which ends the input (set collect.terminator to \"none\" or the other key)", m.terminator())
		}
		v.action(id, field, m.Options[k])
	}
	if m.Fallback != nil {
		v.action(id, "fallback", *m.Fallback)
	}
}

// prompt checks an announcement id.
func (v *validator) prompt(menu, field, id string, required bool) {
	switch {
	case id == "":
		if required {
			v.bad(menu, field, "required: an announcement id")
		}
	case v.known.Prompt != nil && !v.known.Prompt(id):
		v.bad(menu, field, "unknown prompt %q", id)
	}
}

// action checks one action.
func (v *validator) action(menu, field string, a Action) {
	noTarget := func() {
		if a.Target != "" {
			v.bad(menu, field+".target", "%s takes no target", a.Type)
		}
	}
	noPrompt := func(hint string) {
		if a.Prompt != "" {
			v.bad(menu, field+".prompt", "%s plays no prompt%s", a.Type, hint)
		}
	}
	switch a.Type {
	case RouteGroup, RouteAgent, RouteNumber:
		v.target(menu, field, a)
		v.prompt(menu, field+".prompt", a.Prompt, false)
	case PlayHangup:
		noTarget()
		v.prompt(menu, field+".prompt", a.Prompt, true)
	case Hangup:
		noTarget()
		noPrompt(" (play_hangup does)")
	case GoToMenu:
		switch {
		case a.Target == "":
			v.bad(menu, field+".target", "required: the id of the menu to enter")
			v.graphBroken = true
		case v.menus[a.Target] == nil:
			v.bad(menu, field+".target", "no menu %q", a.Target)
			v.graphBroken = true
		}
		noPrompt(" (the menu entered plays its own)")
	case Repeat, Back:
		noTarget()
		noPrompt(" (the menu entered plays its own)")
	case "":
		v.bad(menu, field+".type", "required: one of %s", typeList())
		v.graphBroken = true
	default:
		v.bad(menu, field+".type", "unknown action %q; one of %s", a.Type, typeList())
		v.graphBroken = true
	}
}

// target checks the target of a route.
func (v *validator) target(menu, field string, a Action) {
	field += ".target"
	t := a.Target
	var ok func(string) bool
	what := map[ActionType]string{RouteGroup: "group", RouteAgent: "agent", RouteNumber: "number"}[a.Type]
	switch a.Type {
	case RouteGroup:
		ok = v.known.Group
	case RouteAgent:
		ok = v.known.Agent
	case RouteNumber:
		ok = v.known.Number
	}
	switch {
	case strings.TrimSpace(t) == "":
		v.bad(menu, field, "required: the %s to route to", what)
	case strings.TrimSpace(t) != t:
		v.bad(menu, field, "%q has spaces around it", t)
	case ok != nil && !ok(t):
		if a.Type == RouteNumber {
			v.bad(menu, field, "%q is not a number Switchboard dials", t)
		} else {
			v.bad(menu, field, "unknown %s %q", what, t)
		}
	}
}

func typeList() string {
	s := make([]string, len(actionTypes))
	for i, t := range actionTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
