package dialer

import (
	"testing"
	"time"
)

func TestEligible(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	// free is an agent logged in everywhere, idle, with room for a call.
	free := AgentView{ID: "a1", WebLogin: true, CallLogin: true, Capacity: 1}
	with := func(f func(*AgentView)) AgentView { a := free; f(&a); return a }
	na := LoginFilter{WebLogin: "na", CallLogin: "na"}
	tests := []struct {
		name   string
		a      AgentView
		f      LoginFilter
		ok     bool
		reason string
	}{
		{"free agent", free, na, true, ""},
		{"free agent, empty filter", free, LoginFilter{}, true, ""},
		{"deleted", with(func(a *AgentView) { a.Deleted = true }), na, false, "deleted"},
		{"deleted comes first", with(func(a *AgentView) { a.Deleted, a.Paused, a.WebLogin, a.Active = true, true, false, 5 }),
			LoginFilter{WebLogin: "yes"}, false, "deleted"},

		{"web filter yes, logged in", free, LoginFilter{WebLogin: "yes"}, true, ""},
		{"web filter yes, logged out", with(func(a *AgentView) { a.WebLogin = false }), LoginFilter{WebLogin: "yes"}, false, "not web-logged-in"},
		{"web filter no, logged out", with(func(a *AgentView) { a.WebLogin = false }), LoginFilter{WebLogin: "no"}, true, ""},
		{"web filter no, logged in", free, LoginFilter{WebLogin: "no"}, false, "web-logged-in"},
		{"web filter na, logged out", with(func(a *AgentView) { a.WebLogin = false }), na, true, ""},
		{"web filter is case-insensitive", with(func(a *AgentView) { a.WebLogin = false }), LoginFilter{WebLogin: " YES "}, false, "not web-logged-in"},

		{"call filter yes, logged in", free, LoginFilter{CallLogin: "yes"}, true, ""},
		{"call filter yes, logged out", with(func(a *AgentView) { a.CallLogin = false }), LoginFilter{CallLogin: "yes"}, false, "not call-logged-in"},
		{"call filter no, logged out", with(func(a *AgentView) { a.CallLogin = false }), LoginFilter{CallLogin: "No"}, true, ""},
		{"call filter no, logged in", free, LoginFilter{CallLogin: "no"}, false, "call-logged-in"},
		{"call filter na, logged out", with(func(a *AgentView) { a.CallLogin = false }), LoginFilter{CallLogin: "na"}, true, ""},
		{"web filter before call filter", with(func(a *AgentView) { a.WebLogin, a.CallLogin = false, false }),
			LoginFilter{WebLogin: "yes", CallLogin: "yes"}, false, "not web-logged-in"},
		{"unknown filter value filters nothing", with(func(a *AgentView) { a.WebLogin, a.CallLogin = false, false }),
			LoginFilter{WebLogin: "maybe", CallLogin: "1"}, true, ""},

		{"paused", with(func(a *AgentView) { a.Paused = true }), na, false, "paused"},
		{"login filter before paused", with(func(a *AgentView) { a.Paused, a.CallLogin = true, false }),
			LoginFilter{CallLogin: "yes"}, false, "not call-logged-in"},
		{"paused before wrap-up and busy", with(func(a *AgentView) { a.Paused, a.WrapUpUntil, a.Active = true, now.Add(time.Minute), 1 }),
			na, false, "paused"},

		{"in wrap-up", with(func(a *AgentView) { a.WrapUpUntil = now.Add(time.Second) }), na, false, "in wrap-up"},
		{"wrap-up ends at WrapUpUntil", with(func(a *AgentView) { a.WrapUpUntil = now }), na, true, ""},
		{"wrap-up over", with(func(a *AgentView) { a.WrapUpUntil = now.Add(-time.Second) }), na, true, ""},
		{"wrap-up before busy", with(func(a *AgentView) { a.WrapUpUntil, a.Active = now.Add(time.Minute), 1 }), na, false, "in wrap-up"},

		{"busy at capacity 1", with(func(a *AgentView) { a.Active = 1 }), na, false, "busy"},
		{"capacity 0 means 1: idle", with(func(a *AgentView) { a.Capacity = 0 }), na, true, ""},
		{"capacity 0 means 1: busy", with(func(a *AgentView) { a.Capacity, a.Active = 0, 1 }), na, false, "busy"},
		{"negative capacity means 1", with(func(a *AgentView) { a.Capacity, a.Active = -3, 1 }), na, false, "busy"},
		{"room for another call", with(func(a *AgentView) { a.Capacity, a.Active = 3, 2 }), na, true, ""},
		{"capacity reached", with(func(a *AgentView) { a.Capacity, a.Active = 3, 3 }), na, false, "busy"},
		{"over capacity", with(func(a *AgentView) { a.Capacity, a.Active = 2, 4 }), na, false, "busy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := Eligible(tc.a, tc.f, now)
			if ok != tc.ok || reason != tc.reason {
				t.Fatalf("Eligible(%+v, %+v) = %v, %q; want %v, %q", tc.a, tc.f, ok, reason, tc.ok, tc.reason)
			}
		})
	}
}
