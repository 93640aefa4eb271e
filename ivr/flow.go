// Package ivr holds Switchboard's IVR flows: menus that play a prompt,
// collect digits and route a caller. A flow is data — written in the
// configuration or sent to the API — and is validated when it is loaded,
// so a call never meets a menu that cannot work. The package is pure: it
// plays, times and dials nothing; the engine does, as a flow tells it.
//
// A Flow starts at its Start menu. A Menu plays its Prompt and, when it
// collects digits, waits for a key (FirstDigit timeout), then for more
// (InterDigit) until MaxDigits, the Terminator or a pause ends the input;
// the input picks an Option. No input or an input no option names is
// retried (with NoInputPrompt or InvalidPrompt) up to Retries times, then
// the menu's Fallback is taken (hang up when it has none). A menu that
// collects nothing goes straight to its Fallback (a welcome before a
// route). Modelled on Asterisk's Background/WaitExten with its t and i
// extensions and on Twilio's <Gather> with its timeout and
// finishOnKey.
package ivr

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Flow is one IVR: a tree (or graph) of menus.
type Flow struct {
	ID    string  `json:"id" yaml:"id"`
	Start string  `json:"start" yaml:"start"`
	Menus []*Menu `json:"menus" yaml:"menus"`
}

// Menu is one prompt and what the caller's keys lead to.
type Menu struct {
	ID     string `json:"id" yaml:"id"`
	Prompt string `json:"prompt" yaml:"prompt"` // announcement id
	// Collect is nil for a menu that only plays its prompt and takes its
	// Fallback.
	Collect *Collect `json:"collect,omitempty" yaml:"collect,omitempty"`
	// Options map an input ("1", "10", "*") to an action.
	Options map[string]Action `json:"options,omitempty" yaml:"options,omitempty"`
	// Retries after no input or an invalid one, each with its prompt
	// (the menu's prompt again when empty).
	Retries       int    `json:"retries" yaml:"retries"`
	NoInputPrompt string `json:"no_input_prompt,omitempty" yaml:"no_input_prompt,omitempty"`
	InvalidPrompt string `json:"invalid_prompt,omitempty" yaml:"invalid_prompt,omitempty"`
	// Fallback is taken when retries run out (and after the prompt of a
	// menu that collects nothing); nil means hang up.
	Fallback *Action `json:"fallback,omitempty" yaml:"fallback,omitempty"`
}

// Collect says how a menu takes digits.
type Collect struct {
	MaxDigits int `json:"max_digits" yaml:"max_digits"`
	// FirstDigit and InterDigit bound the waits, in seconds (defaults 5
	// and 3).
	FirstDigit int `json:"first_digit_timeout" yaml:"first_digit_timeout"`
	InterDigit int `json:"inter_digit_timeout" yaml:"inter_digit_timeout"`
	// Terminator ends the input early ("#" by default; "none" for none).
	Terminator string `json:"terminator,omitempty" yaml:"terminator,omitempty"`
}

// ActionType is what an Action does.
type ActionType string

const (
	RouteGroup  ActionType = "route_group"
	RouteAgent  ActionType = "route_agent"
	RouteNumber ActionType = "route_number"
	GoToMenu    ActionType = "menu"
	PlayHangup  ActionType = "play_hangup"
	Hangup      ActionType = "hangup"
)

// Action is where an input leads.
type Action struct {
	Type ActionType `json:"type" yaml:"type"`
	// Target: the group, agent or number routed to, or the menu gone to.
	Target string `json:"target,omitempty" yaml:"target,omitempty"`
	// Prompt is played by play_hangup.
	Prompt string `json:"prompt,omitempty" yaml:"prompt,omitempty"`
}

// terminal reports whether the action ends the flow (the call leaves it).
func (a Action) terminal() bool { return a.Type != GoToMenu }

// Limits of a menu.
const (
	DefaultFirstDigit = 5 * time.Second
	DefaultInterDigit = 3 * time.Second
	maxTimeout        = 60
	maxInterDigit     = 30
	maxDigits         = 20
	maxRetries        = 10
	maxMenus          = 200
)

var (
	idRule  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,50}$`)
	keyRule = regexp.MustCompile(`^[0-9*#]{1,20}$`)
)

// ErrInvalidFlow is wrapped by every error of Validate.
var ErrInvalidFlow = errors.New("invalid IVR flow")

// Validate checks the flow and returns every problem found, each naming
// its menu; knownPrompt says whether an announcement id exists (nil
// accepts any). It checks ids, ranges, options, prompts, targets, menus
// referred to, menus no path reaches, and menus from which no path leaves
// the flow (a loop a caller could never get out of).
func (f *Flow) Validate(knownPrompt func(id string) bool) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if knownPrompt == nil {
		knownPrompt = func(string) bool { return true }
	}
	if !idRule.MatchString(f.ID) {
		bad("flow id %q: 1-50 of A-Z a-z 0-9 _ . -", f.ID)
	}
	if len(f.Menus) == 0 {
		bad("flow %s has no menu", f.ID)
	}
	if len(f.Menus) > maxMenus {
		bad("flow %s has %d menus; at most %d", f.ID, len(f.Menus), maxMenus)
	}
	menus := map[string]*Menu{}
	for i, m := range f.Menus {
		if m == nil {
			bad("menu %d is empty", i+1)
			continue
		}
		if !idRule.MatchString(m.ID) {
			bad("menu %d: id %q: 1-50 of A-Z a-z 0-9 _ . -", i+1, m.ID)
			continue
		}
		if menus[m.ID] != nil {
			bad("menu %s is defined twice", m.ID)
			continue
		}
		menus[m.ID] = m
	}
	if menus[f.Start] == nil {
		bad("start menu %q is not a menu of the flow", f.Start)
	}
	prompt := func(where, id string, required bool) {
		switch {
		case id == "" && required:
			bad("%s: a prompt is required", where)
		case id != "" && !knownPrompt(id):
			bad("%s: unknown prompt %q", where, id)
		}
	}
	action := func(where string, a Action) {
		switch a.Type {
		case RouteGroup, RouteAgent, RouteNumber:
			if strings.TrimSpace(a.Target) == "" {
				bad("%s: %s needs a target", where, a.Type)
			}
		case GoToMenu:
			if menus[a.Target] == nil {
				bad("%s: menu %q does not exist", where, a.Target)
			}
		case PlayHangup:
			prompt(where, a.Prompt, true)
		case Hangup:
		default:
			bad("%s: unknown action type %q", where, a.Type)
		}
	}
	for _, m := range f.Menus {
		if m == nil || menus[m.ID] != m {
			continue
		}
		where := "menu " + m.ID
		prompt(where, m.Prompt, true)
		prompt(where+" no_input_prompt", m.NoInputPrompt, false)
		prompt(where+" invalid_prompt", m.InvalidPrompt, false)
		if m.Retries < 0 || m.Retries > maxRetries {
			bad("%s: retries %d; 0 to %d", where, m.Retries, maxRetries)
		}
		if c := m.Collect; c != nil {
			if c.MaxDigits < 1 || c.MaxDigits > maxDigits {
				bad("%s: max_digits %d; 1 to %d", where, c.MaxDigits, maxDigits)
			}
			if c.FirstDigit < 0 || c.FirstDigit > maxTimeout {
				bad("%s: first_digit_timeout %d s; 1 to %d (0: 5)", where, c.FirstDigit, maxTimeout)
			}
			if c.InterDigit < 0 || c.InterDigit > maxInterDigit {
				bad("%s: inter_digit_timeout %d s; 1 to %d (0: 3)", where, c.InterDigit, maxInterDigit)
			}
			if t := c.Terminator; t != "" && t != "none" && t != "#" && t != "*" {
				bad("%s: terminator %q; # or * or none", where, t)
			}
			if len(m.Options) == 0 {
				bad("%s collects digits but has no option", where)
			}
		} else if len(m.Options) > 0 {
			bad("%s has options but collects no digits", where)
		}
		keys := make([]string, 0, len(m.Options))
		for k := range m.Options {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ow := fmt.Sprintf("%s option %q", where, k)
			if !keyRule.MatchString(k) {
				bad("%s: an option is 1-20 of 0-9 * #", ow)
			} else if c := m.Collect; c != nil {
				if len(k) > c.MaxDigits {
					bad("%s: longer than max_digits %d", ow, c.MaxDigits)
				}
				if t := c.terminator(); t != "" && strings.Contains(k, t) {
					bad("%s: contains the terminator %s", ow, t)
				}
			}
			action(ow, m.Options[k])
		}
		if m.Fallback != nil {
			action(where+" fallback", *m.Fallback)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, f.checkPaths(menus)...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w %s: %w", ErrInvalidFlow, f.ID, errors.Join(errs...))
	}
	return nil
}

// next lists where a menu can lead: the menus it can go to, and whether
// it can leave the flow. A menu without a fallback hangs up when retries
// run out, which leaves the flow.
func (m *Menu) next() (menus []string, leaves bool) {
	acts := make([]Action, 0, len(m.Options)+1)
	for _, a := range m.Options {
		acts = append(acts, a)
	}
	if m.Fallback != nil {
		acts = append(acts, *m.Fallback)
	} else {
		leaves = true
	}
	for _, a := range acts {
		if a.terminal() {
			leaves = true
		} else {
			menus = append(menus, a.Target)
		}
	}
	return menus, leaves
}

// checkPaths finds menus no path from Start reaches, and menus from which
// no path leaves the flow.
func (f *Flow) checkPaths(menus map[string]*Menu) []error {
	var errs []error
	reached := map[string]bool{f.Start: true}
	queue := []string{f.Start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		next, _ := menus[id].next()
		for _, n := range next {
			if !reached[n] {
				reached[n] = true
				queue = append(queue, n)
			}
		}
	}
	// A menu can leave when it leaves itself or leads to one that can:
	// iterate to the fixed point.
	canLeave := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for id, m := range menus {
			if canLeave[id] {
				continue
			}
			next, leaves := m.next()
			for _, n := range next {
				leaves = leaves || canLeave[n]
			}
			if leaves {
				canLeave[id], changed = true, true
			}
		}
	}
	for _, m := range f.Menus {
		switch {
		case !reached[m.ID]:
			errs = append(errs, fmt.Errorf("menu %s: no path from the start menu %s reaches it", m.ID, f.Start))
		case !canLeave[m.ID]:
			errs = append(errs, fmt.Errorf("menu %s: a loop without exit — no path from it routes or hangs up", m.ID))
		}
	}
	return errs
}

// terminator is the key that ends input, "" for none.
func (c *Collect) terminator() string {
	switch c.Terminator {
	case "":
		return "#"
	case "none":
		return ""
	}
	return c.Terminator
}

// Timeouts returns the menu's waits for the first digit and between
// digits, defaults filled in.
func (c *Collect) Timeouts() (first, inter time.Duration) {
	first, inter = DefaultFirstDigit, DefaultInterDigit
	if c.FirstDigit > 0 {
		first = time.Duration(c.FirstDigit) * time.Second
	}
	if c.InterDigit > 0 {
		inter = time.Duration(c.InterDigit) * time.Second
	}
	return first, inter
}
