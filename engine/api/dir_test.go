package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// testDir is a small Directory: tenant 101 has agents, groups,
// announcements and a DND list; every other tenant has nothing.
type testDir struct{}

var (
	agentA1   = AgentInfo{WebLogin: true, CallLogin: true, Available: true, CLI: "9112345678"}
	agentA2   = AgentInfo{WebLogin: false, CallLogin: false, Available: true}
	agentBusy = AgentInfo{WebLogin: true, CallLogin: true, Available: false, CLI: "9111111111"}
	long50    = strings.Repeat("x", 50)
)

var testAgents = map[string]AgentInfo{"a1": agentA1, "a2": agentA2, "a3": agentA1, "busy": agentBusy, long50: agentA1}

var testGroups = map[string]GroupInfo{
	"g1":     {Members: []AgentInfo{agentA1, agentA2}},
	"g2":     {Members: []AgentInfo{agentA1}},
	"gweb0":  {Members: []AgentInfo{agentA2}},
	"gcall0": {Members: []AgentInfo{{WebLogin: true, CallLogin: false, Available: true, CLI: "9100000000"}}},
}

var testAnnouncements = map[string]bool{"ann1": true, "ann2": true, "1610448601_84.wav": true, long50: true}

// errDirDown is what testDir answers for the ids and numbers that stand
// for a directory look-up that fails.
var errDirDown = errors.New("directory down")

func (testDir) Agent(_ context.Context, tenant, id string) (AgentInfo, bool, error) {
	if id == "broken" {
		return AgentInfo{}, false, errDirDown
	}
	a, ok := testAgents[id]
	return a, ok && tenant == "101", nil
}

func (testDir) Group(_ context.Context, tenant, id string) (GroupInfo, bool, error) {
	if id == "gbroken" {
		return GroupInfo{}, false, errDirDown
	}
	g, ok := testGroups[id]
	return g, ok && tenant == "101", nil
}

func (testDir) Announcement(_ context.Context, tenant, id string) (bool, error) {
	if id == "annbroken" {
		return false, errDirDown
	}
	return tenant == "101" && testAnnouncements[id], nil
}

func (testDir) DND(_ context.Context, tenant, number string) (bool, error) {
	if number == "9000000009" {
		return false, errDirDown
	}
	return tenant == "101" && number == "9000000001", nil
}

var testTenants = map[string]string{"101": "tok101", "202": "tok202"}

// params builds a valid request of tenant 101 and applies mods: "k=v"
// sets, "-k" deletes, "+k=v" adds a repeat.
func params(mods ...string) url.Values {
	v := url.Values{
		"user_id": {"101"}, "token": {"tok101"},
		"from": {"9876543210"}, "to": {"9123456789"},
	}
	for _, m := range mods {
		switch {
		case strings.HasPrefix(m, "-"):
			v.Del(m[1:])
		case strings.HasPrefix(m, "+"):
			k, val, _ := strings.Cut(m[1:], "=")
			v.Add(k, val)
		default:
			k, val, _ := strings.Cut(m, "=")
			v.Set(k, val)
		}
	}
	return v
}

func list(n int, f func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = f(i)
	}
	return strings.Join(parts, ",")
}

// num makes distinct valid numbers.
func num(base int) func(int) string {
	return func(i int) string { return fmt.Sprintf("98765%d%04d", base, i) }
}
