package aritest

import (
	"net/http"
	"strings"
	"time"
)

func (s *Server) routeBridges(c *call) {
	seg, m := c.seg, c.r.Method
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(seg) == 1 && m == http.MethodGet:
		out := []map[string]any{}
		for _, id := range s.border {
			if b := s.liveBridge(id); b != nil {
				out = append(out, b.json())
			}
		}
		writeJSON(c.w, http.StatusOK, out)
	case len(seg) == 1 && m == http.MethodPost:
		s.createBridge(c, c.param("bridgeId"))
	case len(seg) == 2 && m == http.MethodPost:
		s.createBridge(c, seg[1])
	case len(seg) == 2 && m == http.MethodGet:
		b := s.liveBridge(seg[1])
		if b == nil {
			writeError(c.w, http.StatusNotFound, "Bridge not found")
			return
		}
		writeJSON(c.w, http.StatusOK, b.json())
	case len(seg) == 2 && m == http.MethodDelete:
		b := s.liveBridge(seg[1])
		if b == nil {
			writeError(c.w, http.StatusNotFound, "Bridge not found")
			return
		}
		noContent(c.w)
		s.destroyBridge(b)
	case len(seg) == 3 || (len(seg) == 4 && seg[2] == "play"):
		s.bridgeOp(c, seg[1], seg[2:])
	case len(seg) == 2:
		methodNotAllowed(c)
	default:
		writeError(c.w, http.StatusNotFound, "Resource not found")
	}
}

// createBridge is POST /bridges and POST /bridges/{bridgeId}.
func (s *Server) createBridge(c *call, id string) {
	if id != "" {
		if b, ok := s.bridges[id]; ok && !b.destroyed {
			writeError(c.w, http.StatusConflict, "Bridge with id '"+id+"' already exists")
			return
		}
	}
	mixing, holding := false, false
	types := c.param("type")
	if types == "" {
		types = "mixing"
	}
	noNative := false
	for _, t := range strings.Split(types, ",") {
		switch strings.TrimSpace(t) {
		case "mixing":
			mixing = true
		case "holding":
			holding = true
		case "dtmf_events", "proxy_media":
			// As res_stasis: the bridge may not go native, so media and
			// DTMF pass through the core.
			noNative = true
		}
	}
	if mixing == holding {
		writeError(c.w, http.StatusInternalServerError, "Unable to create bridge. Possible duplicate bridge id '"+id+"'")
		return
	}
	if id == "" {
		id = newUUID()
	}
	b := &bridge{id: id, name: c.param("name"), created: time.Now(), subs: map[string]int{}, noNative: noNative}
	if holding {
		b.btype, b.technology = "holding", "holding_bridge"
	} else {
		b.btype, b.technology = "mixing", "simple_bridge"
	}
	if _, seen := s.bridges[id]; !seen {
		s.border = append(s.border, id)
	}
	s.bridges[id] = b
	writeJSON(c.w, http.StatusOK, b.json())
	// No application is subscribed to a new bridge yet: only those that
	// asked for every event source see BridgeCreated.
	s.emit(s.bridgeApps(b, nil), "BridgeCreated", map[string]any{"bridge": b.json()})
}

// destroyBridge is DELETE /bridges/{id}. Each member leaves (and, as for
// removeChannel, takes back the subscription its joining gave its
// application), so an application that only followed the bridge through its
// channels does not see BridgeDestroyed, as with Asterisk.
func (s *Server) destroyBridge(b *bridge) {
	for _, id := range append([]string(nil), b.members...) {
		if ch := s.channels[id]; ch != nil {
			s.leaveBridge(b, ch)
			s.unsubscribeBridge(b, ch.app)
		}
	}
	s.stopBridgeMedia(b)
	b.destroyed = true
	s.emit(s.bridgeApps(b, nil), "BridgeDestroyed", map[string]any{"bridge": b.json()})
}

func (s *Server) joinBridge(b *bridge, ch *channel) {
	if ch.bridge == b.id {
		return
	}
	if ch.bridge != "" {
		if old := s.liveBridge(ch.bridge); old != nil {
			s.leaveBridge(old, ch)
		}
	}
	b.members = append(b.members, ch.id)
	ch.bridge = b.id
	b.subs[ch.app]++
	if b.btype == "mixing" && len(b.members) > 2 {
		b.technology = "softmix"
	}
	s.emit(s.bridgeApps(b, ch), "ChannelEnteredBridge", map[string]any{"bridge": b.json(), "channel": ch.json()})
	if b.btype == "mixing" && len(b.members) == 2 && !b.noNative {
		// Two RTP channels: the smart bridge moves to native RTP once
		// both are in (the snapshot in the event still shows simple_bridge).
		b.technology = "native_rtp"
	}
}

func (s *Server) unsubscribeBridge(b *bridge, app string) {
	if b.subs[app] > 0 {
		b.subs[app]--
	}
}

func (s *Server) leaveBridge(b *bridge, ch *channel) {
	for i, id := range b.members {
		if id == ch.id {
			b.members = append(b.members[:i:i], b.members[i+1:]...)
			break
		}
	}
	ch.bridge = ""
	if b.btype == "mixing" && len(b.members) < 2 {
		b.technology = "simple_bridge"
	}
	s.emit(s.bridgeApps(b, ch), "ChannelLeftBridge", map[string]any{"bridge": b.json(), "channel": ch.json()})
}

// bridgeChannels resolves the channel parameter of addChannel and
// removeChannel, answering as Asterisk does.
func (s *Server) bridgeChannels(c *call) ([]*channel, bool) {
	ids := c.params("channel")
	if len(ids) == 0 {
		writeError(c.w, http.StatusBadRequest, "Missing parameter channel")
		return nil, false
	}
	var out []*channel
	for _, id := range ids {
		ch := s.liveChannel(id)
		if ch == nil {
			writeError(c.w, http.StatusBadRequest, "Channel not found")
			return nil, false
		}
		if !ch.inStasis {
			writeError(c.w, http.StatusUnprocessableEntity, "Channel not in Stasis application")
			return nil, false
		}
		out = append(out, ch)
	}
	return out, true
}

func (s *Server) bridgeOp(c *call, id string, rest []string) {
	op, m := rest[0], c.r.Method
	known := map[string]bool{"addChannel": true, "removeChannel": true, "play": true, "record": true, "moh": true, "variable": true, "videoSource": true}
	if !known[op] {
		writeError(c.w, http.StatusNotFound, "Resource not found")
		return
	}
	b := s.liveBridge(id)
	if b == nil {
		writeError(c.w, http.StatusNotFound, "Bridge not found")
		return
	}
	switch {
	case op == "addChannel" && m == http.MethodPost:
		chans, ok := s.bridgeChannels(c)
		if !ok {
			return
		}
		for _, ch := range chans {
			if r := s.live[s.liveRecordingOf("channel:"+ch.id)]; r != nil {
				writeError(c.w, http.StatusConflict, "Channel "+ch.id+" currently recording")
				return
			}
		}
		noContent(c.w)
		for _, ch := range chans {
			s.joinBridge(b, ch)
		}
	case op == "removeChannel" && m == http.MethodPost:
		chans, ok := s.bridgeChannels(c)
		if !ok {
			return
		}
		for _, ch := range chans {
			if ch.bridge != b.id {
				writeError(c.w, http.StatusUnprocessableEntity, "Channel not in this bridge")
				return
			}
		}
		noContent(c.w)
		for _, ch := range chans {
			s.leaveBridge(b, ch)
			s.unsubscribeBridge(b, ch.app)
		}
	case op == "play" && m == http.MethodPost:
		pid := c.param("playbackId")
		if len(rest) == 2 {
			pid = rest[1]
		}
		s.playBridge(c, b, pid)
	case op == "record" && m == http.MethodPost:
		s.record(c, "bridge:"+b.id)
	case op == "moh" && m == http.MethodPost:
		noContent(c.w)
		b.moh = true
	case op == "moh" && m == http.MethodDelete:
		if !b.moh {
			writeError(c.w, http.StatusConflict, "Bridge isn't playing music")
			return
		}
		noContent(c.w)
		b.moh = false
	default:
		methodNotAllowed(c)
	}
}
