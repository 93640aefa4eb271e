package aritest

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// Version is the Asterisk version the server reports.
const Version = "20.20.1"

func (s *Server) routeAsterisk(c *call) {
	if len(c.seg) != 2 || c.r.Method != http.MethodGet {
		writeError(c.w, http.StatusNotFound, "Resource not found")
		return
	}
	now := timeString(time.Now())
	switch c.seg[1] {
	case "info":
		info := map[string]any{
			"build": map[string]any{
				"os": "Linux", "kernel": "6.1.0", "options": "", "machine": "x86_64",
				"date": "2025-01-01 00:00:00 UTC", "user": "switchboard",
			},
			"system": map[string]any{"version": Version, "entity_id": s.opts.EntityID},
			"config": map[string]any{
				"name": "", "default_language": "en",
				"setid": map[string]any{"user": "", "group": ""},
			},
			"status": map[string]any{
				"startup_time":     timeString(s.started),
				"last_reload_time": timeString(s.started),
			},
		}
		if only := c.params("only"); len(only) > 0 {
			for k := range info {
				keep := false
				for _, o := range only {
					keep = keep || o == k
				}
				if !keep {
					delete(info, k)
				}
			}
		}
		writeJSON(c.w, http.StatusOK, info)
	case "ping":
		writeJSON(c.w, http.StatusOK, map[string]any{"asterisk_id": s.opts.EntityID, "ping": "pong", "timestamp": now})
	default:
		writeError(c.w, http.StatusNotFound, "Resource not found")
	}
}

func (s *Server) appJSON(name string) map[string]any {
	chans, bridges := []string{}, []string{}
	for _, id := range s.order {
		if ch := s.liveChannel(id); ch != nil && ch.subs[name] {
			chans = append(chans, id)
		}
	}
	for _, id := range s.border {
		if b := s.liveBridge(id); b != nil && b.subs[name] > 0 {
			bridges = append(bridges, id)
		}
	}
	return map[string]any{
		"name": name, "channel_ids": chans, "bridge_ids": bridges,
		"endpoint_ids": []string{}, "device_names": []string{},
		"events_allowed": []any{}, "events_disallowed": []any{},
	}
}

func (s *Server) routeApplications(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(c.seg) == 1 && c.r.Method == http.MethodGet:
		names := make([]string, 0, len(s.apps))
		for n := range s.apps {
			names = append(names, n)
		}
		sort.Strings(names)
		out := []map[string]any{}
		for _, n := range names {
			out = append(out, s.appJSON(n))
		}
		writeJSON(c.w, http.StatusOK, out)
	case len(c.seg) == 2 && c.r.Method == http.MethodGet:
		if s.apps[c.seg[1]] == nil {
			writeError(c.w, http.StatusNotFound, "Application not found")
			return
		}
		writeJSON(c.w, http.StatusOK, s.appJSON(c.seg[1]))
	case len(c.seg) == 3 && c.seg[2] == "subscription":
		s.subscription(c, c.seg[1])
	default:
		writeError(c.w, http.StatusNotFound, "Resource not found")
	}
}

// subscription is POST/DELETE /applications/{app}/subscription for
// channel: and bridge: event sources.
func (s *Server) subscription(c *call, app string) {
	if c.r.Method != http.MethodPost && c.r.Method != http.MethodDelete {
		methodNotAllowed(c)
		return
	}
	sources := c.params("eventSource")
	if len(sources) == 0 {
		writeError(c.w, http.StatusBadRequest, "Missing parameter eventSource")
		return
	}
	if s.apps[app] == nil {
		writeError(c.w, http.StatusNotFound, "Application not found")
		return
	}
	on := c.r.Method == http.MethodPost
	for _, src := range sources {
		kind, id, _ := strings.Cut(src, ":")
		switch kind {
		case "channel":
			ch := s.liveChannel(id)
			if ch == nil {
				writeError(c.w, http.StatusUnprocessableEntity, "Event source does not exist")
				return
			}
			setSub(&ch.subs, app, on)
		case "bridge":
			b := s.liveBridge(id)
			if b == nil {
				writeError(c.w, http.StatusUnprocessableEntity, "Event source does not exist")
				return
			}
			if on {
				b.subs[app]++
			} else {
				s.unsubscribeBridge(b, app)
			}
		default:
			writeError(c.w, http.StatusBadRequest, "Invalid scheme for event source")
			return
		}
	}
	writeJSON(c.w, http.StatusOK, s.appJSON(app))
}

func setSub(m *map[string]bool, app string, on bool) {
	if *m == nil {
		*m = map[string]bool{}
	}
	if on {
		(*m)[app] = true
	} else {
		delete(*m, app)
	}
}
