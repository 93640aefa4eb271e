package aritest

import (
	"encoding/json"
	"time"
)

// emit sends one event to every WebSocket of each application in apps, in
// the order emit is called (s.mu is held, so events keep one global order).
// An application without a WebSocket loses the event, as with Asterisk.
func (s *Server) emit(apps []string, typ string, fields map[string]any) {
	if len(apps) == 0 {
		return
	}
	now := timeString(time.Now())
	for _, app := range apps {
		ev := make(map[string]any, len(fields)+4)
		for k, v := range fields {
			ev[k] = v
		}
		ev["type"] = typ
		ev["timestamp"] = now
		ev["application"] = app
		ev["asterisk_id"] = s.opts.EntityID
		b, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		for c := range s.conns {
			if c.has(app) {
				c.enqueue(b)
			}
		}
	}
}

// watchers are the applications subscribed to all event sources.
func (s *Server) watchers(into map[string]bool) {
	for name, a := range s.apps {
		if a.all {
			into[name] = true
		}
	}
}

// chanApps are the applications receiving a channel's events.
func (s *Server) chanApps(c *channel) []string {
	set := map[string]bool{}
	for a := range c.subs {
		set[a] = true
	}
	s.watchers(set)
	return sortedKeys(set)
}

// bridgeApps are the applications receiving an event about a bridge and,
// if c is not nil, a channel.
func (s *Server) bridgeApps(b *bridge, c *channel) []string {
	set := map[string]bool{}
	for a, n := range b.subs {
		if n > 0 {
			set[a] = true
		}
	}
	if c != nil {
		for a := range c.subs {
			set[a] = true
		}
	}
	s.watchers(set)
	return sortedKeys(set)
}

// chanEvent emits a channel event carrying the channel's snapshot.
func (s *Server) chanEvent(c *channel, typ string, extra map[string]any) {
	f := map[string]any{"channel": c.json()}
	for k, v := range extra {
		f[k] = v
	}
	s.emit(s.chanApps(c), typ, f)
}

func (s *Server) setState(c *channel, state string) {
	if c.state == state {
		return
	}
	c.state = state
	s.chanEvent(c, "ChannelStateChange", nil)
}

// dialEvent is a Dial event from the dialling core: caller absent (ARI
// originations and /dial have none); forward and dialstring always present
// (dialstring empty when the Stasis dial bridge reports progress).
func (s *Server) dialEvent(c *channel, status string, withDialstring bool) {
	ds := ""
	if withDialstring {
		ds = c.dialstring
	}
	f := map[string]any{"peer": c.json(), "dialstatus": status, "forward": "", "dialstring": ds}
	s.emit(s.chanApps(c), "Dial", f)
}

func (s *Server) varset(c *channel, name, value string) {
	c.vars[name] = value
	s.chanEvent(c, "ChannelVarset", map[string]any{"variable": name, "value": value})
}

// stasisStart puts a channel into its application.
func (s *Server) stasisStart(c *channel) {
	if c.inStasis || c.ended {
		return
	}
	if c.subs == nil {
		c.subs = map[string]bool{}
	}
	c.subs[c.app] = true
	c.inStasis = true
	args := c.args
	if args == nil {
		args = []string{}
	}
	s.chanEvent(c, "StasisStart", map[string]any{"args": args})
}

// enterStasis runs the Stasis dialplan application on a channel, as
// Asterisk 20 reports it: [ChannelDialplan], ChannelVarset STASISSTATUS=""
// then StasisStart, the dialplan location already showing Stasis.
func (s *Server) enterStasis(c *channel) {
	c.savedApp, c.savedData = c.appName, c.appData
	c.appName = "Stasis"
	c.appData = c.app
	for _, a := range c.args {
		c.appData += "," + a
	}
	if c.savedApp == "" {
		// A location change from no application is reported (created
		// channels); AppDial2 -> Stasis on the same location is not.
		s.chanEvent(c, "ChannelDialplan", map[string]any{"dialplan_app": c.appName, "dialplan_app_data": c.appData})
	}
	s.varset(c, "STASISSTATUS", "")
	s.stasisStart(c)
}

// leaveStasis is StasisEnd, then STASISSTATUS=SUCCESS as the Stasis
// application returns.
func (s *Server) leaveStasis(c *channel) {
	if !c.inStasis {
		return
	}
	c.inStasis = false
	s.chanEvent(c, "StasisEnd", nil)
	s.varset(c, "STASISSTATUS", "SUCCESS")
}

// restoreDialplan puts back the dialplan location Stasis replaced, as the
// snapshot in ChannelDestroyed shows it.
func (c *channel) restoreDialplan() {
	if c.appName == "Stasis" {
		c.appName, c.appData = c.savedApp, c.savedData
	}
}
