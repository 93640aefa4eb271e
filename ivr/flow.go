package ivr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"
)

// Flow is one IVR: menus, and the one a call starts in.
//
// A Flow is read-only once loaded: many Machines may run it at once, and
// none of them changes it.
type Flow struct {
	// ID names the flow: 1 to 50 of A-Z a-z 0-9 _ . -
	ID string `json:"id" yaml:"id"`
	// Start is the id of the menu a call enters first.
	Start string `json:"start" yaml:"start"`
	// Menus in any order; ids are unique.
	Menus []Menu `json:"menus" yaml:"menus"`
}

// Menu plays a prompt and, when it has options, takes the caller's keys
// and does what the chosen option says.
//
// A menu without options plays its prompt and takes Next: a welcome before
// the main menu, an announcement before a route.
type Menu struct {
	ID string `json:"id" yaml:"id"`
	// Prompt is the announcement id played on entering the menu.
	Prompt string `json:"prompt" yaml:"prompt"`
	// Options map what the caller keys in ("1", "10", "*") to an action.
	// A menu with options collects digits; one without collects none.
	Options map[string]Action `json:"options,omitempty" yaml:"options,omitempty"`
	// Collect tunes how digits are taken (nil: the defaults). Only for a
	// menu with options.
	Collect *Collect `json:"collect,omitempty" yaml:"collect,omitempty"`
	// Retries is how many more tries a caller gets after no input or an
	// input no option names (0 to 10; one budget for both). Each retry
	// plays the matching notice, if any, then the menu's prompt again.
	Retries       int    `json:"retries,omitempty" yaml:"retries,omitempty"`
	NoInputPrompt string `json:"no_input_prompt,omitempty" yaml:"no_input_prompt,omitempty"`
	InvalidPrompt string `json:"invalid_prompt,omitempty" yaml:"invalid_prompt,omitempty"`
	// Fallback is taken when the retries run out; nil hangs up.
	Fallback *Action `json:"fallback,omitempty" yaml:"fallback,omitempty"`
	// Next is taken after the prompt of a menu without options; nil
	// hangs up.
	Next *Action `json:"next,omitempty" yaml:"next,omitempty"`
}

// Collect says how a menu takes digits. The zero value is the defaults.
type Collect struct {
	// MaxDigits ends the input when this many keys have been pressed
	// (1 to 20; 0: the length of the longest option).
	MaxDigits int `json:"max_digits,omitempty" yaml:"max_digits,omitempty"`
	// FirstDigitTimeout is how long to wait for the first key after the
	// prompt ends, in seconds (1 to 60; 0: 5). None is no input.
	FirstDigitTimeout int `json:"first_digit_timeout,omitempty" yaml:"first_digit_timeout,omitempty"`
	// InterDigitTimeout is how long to wait for each further key, in
	// seconds (1 to 30; 0: 3). None ends the input.
	InterDigitTimeout int `json:"inter_digit_timeout,omitempty" yaml:"inter_digit_timeout,omitempty"`
	// Terminator ends the input at once and is not part of it: "#" (the
	// default, also ""), "*", or "none".
	Terminator string `json:"terminator,omitempty" yaml:"terminator,omitempty"`
}

// ActionType is what an Action does.
type ActionType string

// The actions. Route, play-and-hang-up and hang-up actions are terminal:
// the call leaves the flow. The others move within it.
const (
	RouteGroup  ActionType = "route_group"  // Target: a group name
	RouteAgent  ActionType = "route_agent"  // Target: an agent id
	RouteNumber ActionType = "route_number" // Target: a phone number
	PlayHangup  ActionType = "play_hangup"  // play Prompt, then hang up
	Hangup      ActionType = "hangup"
	GoToMenu    ActionType = "menu"   // Target: the id of the menu to enter
	Repeat      ActionType = "repeat" // enter the current menu again
	Back        ActionType = "back"   // enter the menu the caller came from
)

var actionTypes = []ActionType{RouteGroup, RouteAgent, RouteNumber, PlayHangup, Hangup, GoToMenu, Repeat, Back}

// Action is where an input, a fallback or a menu's Next leads.
type Action struct {
	Type ActionType `json:"type" yaml:"type"`
	// Target: the group, agent or number routed to, or the menu entered.
	Target string `json:"target,omitempty" yaml:"target,omitempty"`
	// Prompt: the announcement play_hangup plays (required there), or
	// one played before a route ("connecting you to sales").
	Prompt string `json:"prompt,omitempty" yaml:"prompt,omitempty"`
}

// Terminal reports whether the action ends the flow: the call leaves the
// IVR to be routed or hung up.
func (a Action) Terminal() bool {
	switch a.Type {
	case RouteGroup, RouteAgent, RouteNumber, PlayHangup, Hangup:
		return true
	}
	return false
}

// Defaults and limits.
const (
	DefaultFirstDigitTimeout = 5 * time.Second
	DefaultInterDigitTimeout = 3 * time.Second
	MaxFirstDigitTimeout     = 60 // seconds
	MaxInterDigitTimeout     = 30 // seconds
	MaxDigits                = 20
	MaxRetries               = 10
	MaxMenus                 = 200
	MaxOptions               = 1000 // per menu
	// MaxSteps bounds one call's run through a flow: after this many
	// prompts played, or menus entered, the Machine hangs up
	// (ReasonStepLimit). Every way round a flow enters a menu and plays a
	// prompt, so no loop a flow allows keeps a call for ever.
	MaxSteps = 100
)

// menu returns the menu with id, nil when there is none.
func (f *Flow) menu(id string) *Menu {
	for i := range f.Menus {
		if f.Menus[i].ID == id {
			return &f.Menus[i]
		}
	}
	return nil
}

// timeouts returns the menu's waits for the first key and between keys.
func (m *Menu) timeouts() (first, inter time.Duration) {
	first, inter = DefaultFirstDigitTimeout, DefaultInterDigitTimeout
	if c := m.Collect; c != nil {
		if c.FirstDigitTimeout > 0 {
			first = time.Duration(c.FirstDigitTimeout) * time.Second
		}
		if c.InterDigitTimeout > 0 {
			inter = time.Duration(c.InterDigitTimeout) * time.Second
		}
	}
	return first, inter
}

// terminator returns the key that ends input, 0 for none.
func (m *Menu) terminator() rune {
	if m.Collect == nil {
		return '#'
	}
	switch m.Collect.Terminator {
	case "", "#":
		return '#'
	case "*":
		return '*'
	}
	return 0
}

// maxDigits returns the number of keys that ends the input.
func (m *Menu) maxDigits() int {
	if m.Collect != nil && m.Collect.MaxDigits > 0 {
		return m.Collect.MaxDigits
	}
	n := 1
	for k := range m.Options {
		n = max(n, len(k))
	}
	return n
}

// ParseYAML decodes one flow from YAML. Unknown keys are refused, so a
// misspelt setting is an error rather than a default. Option keys "*" and
// "#" must be quoted: unquoted, YAML reads * as an alias and # as the
// start of a comment. The flow still has to pass Validate.
func ParseYAML(data []byte) (*Flow, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f Flow
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("ivr flow: empty document")
		}
		return nil, fmt.Errorf("ivr flow: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("ivr flow: more than one YAML document")
	}
	return &f, nil
}

// ParseJSON decodes one flow from JSON (an API body). Unknown fields and
// trailing data are refused. The flow still has to pass Validate.
func ParseJSON(data []byte) (*Flow, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Flow
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("ivr flow: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("ivr flow: data after the flow")
	}
	return &f, nil
}
