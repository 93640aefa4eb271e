package aritest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routeChannels(c *call) {
	seg, m := c.seg, c.r.Method
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(seg) == 1 && m == http.MethodGet:
		out := []map[string]any{}
		for _, id := range s.order {
			if ch := s.liveChannel(id); ch != nil {
				out = append(out, ch.json())
			}
		}
		writeJSON(c.w, http.StatusOK, out)
	case len(seg) == 1 && m == http.MethodPost:
		s.originate(c, c.param("channelId"))
	case len(seg) == 2 && seg[1] == "create" && m == http.MethodPost:
		s.create(c)
	case len(seg) == 2 && seg[1] == "externalMedia":
		writeError(c.w, http.StatusNotImplemented, "externalMedia is not simulated")
	case len(seg) == 2 && m == http.MethodGet:
		ch := s.liveChannel(seg[1])
		if ch == nil {
			writeError(c.w, http.StatusNotFound, "Channel not found")
			return
		}
		writeJSON(c.w, http.StatusOK, ch.json())
	case len(seg) == 2 && m == http.MethodPost:
		s.originate(c, seg[1])
	case len(seg) == 2 && m == http.MethodDelete:
		s.deleteChannel(c, seg[1])
	case len(seg) >= 3:
		s.channelOp(c, seg[1], seg[2:])
	case len(seg) == 2:
		methodNotAllowed(c)
	default:
		writeError(c.w, http.StatusNotFound, "Resource not found")
	}
}

// knownTechs are the channel technologies the simulated Asterisk has.
var knownTechs = map[string]bool{"PJSIP": true, "SIP": true, "Local": true, "IAX2": true, "DAHDI": true, "Test": true}

// parseVariables reads the "variables" of a JSON body.
func parseVariables(c *call) (map[string]string, string) {
	raw := c.query.Get("\x00variables")
	if raw == "" {
		return nil, ""
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, "Each value in 'variables' must be a string or an object with 'value' and optional 'report_events'"
	}
	out := map[string]string{}
	for k, v := range in {
		var str string
		if json.Unmarshal(v, &str) == nil {
			out[k] = str
			continue
		}
		var obj struct {
			Value *string `json:"value"`
		}
		if json.Unmarshal(v, &obj) != nil || obj.Value == nil {
			return nil, "Each object value in 'variables' must include string field 'value'"
		}
		out[k] = *obj.Value
	}
	return out, ""
}

// newChannel makes a channel for an endpoint "TECH/resource".
func (s *Server) newChannel(id, tech, resource string) *channel {
	if id == "" {
		id = s.newUniqueID()
	}
	s.seq++
	peer := resource
	if tech == "PJSIP" {
		if _, after, ok := strings.Cut(resource, "@"); ok {
			peer = after
		}
	} else if before, _, ok := strings.Cut(resource, "/"); ok {
		peer = before
	}
	name := fmt.Sprintf("%s/%s-%08x", tech, peer, s.seq)
	if tech == "Local" {
		name += ";1"
	}
	ch := &channel{
		id: id, name: name, state: "Down", tech: tech,
		context: "default", exten: "s", priority: 1, language: "en",
		created: time.Now(), subs: map[string]bool{}, vars: map[string]string{},
	}
	s.channels[id] = ch
	s.order = append(s.order, id)
	return ch
}

// splitEndpoint splits "TECH/resource".
func splitEndpoint(ep string) (tech, resource string, ok bool) {
	tech, resource, _ = strings.Cut(ep, "/")
	return tech, resource, tech != "" && resource != ""
}

// parseCallerID is ast_callerid_parse: `"Name" <number>`, `Name <number>` or `number`.
func parseCallerID(v string) (name, number string) {
	v = strings.TrimSpace(v)
	if i := strings.LastIndex(v, "<"); i >= 0 && strings.HasSuffix(v, ">") {
		number = strings.TrimSpace(v[i+1 : len(v)-1])
		name = strings.Trim(strings.TrimSpace(v[:i]), `"`)
		return name, number
	}
	if strings.Trim(v, "+0123456789-() ") == "" {
		return "", v
	}
	return v, ""
}

func splitArgs(v string) []string {
	if v == "" {
		return []string{}
	}
	return strings.Split(v, ",")
}

// originate is POST /channels and POST /channels/{channelId}.
func (s *Server) originate(c *call, id string) {
	vars, bad := parseVariables(c)
	if bad != "" {
		writeError(c.w, http.StatusBadRequest, bad)
		return
	}
	ep := c.param("endpoint")
	if ep == "" {
		writeError(c.w, http.StatusBadRequest, "Endpoint must be specified")
		return
	}
	if c.param("originator") != "" && c.param("formats") != "" {
		writeError(c.w, http.StatusBadRequest, "Originator and formats can't both be specified")
		return
	}
	tech, resource, ok := splitEndpoint(ep)
	if !ok {
		writeError(c.w, http.StatusBadRequest, "Invalid endpoint specified")
		return
	}
	app := c.param("app")
	if app == "" && c.param("extension") == "" {
		writeError(c.w, http.StatusBadRequest, "Application or extension must be specified")
		return
	}
	if o := c.param("originator"); o != "" && s.liveChannel(o) == nil {
		writeError(c.w, http.StatusBadRequest, "Provided originator channel was not found")
		return
	}
	if _, exists := s.channels[id]; id != "" && exists {
		writeError(c.w, http.StatusConflict, "Channel with given unique ID already exists")
		return
	}
	if !knownTechs[tech] {
		allocFailed(c.w)
		return
	}
	timeout := 30 * time.Second
	if t, err := strconv.Atoi(c.param("timeout")); err == nil && t > 0 {
		timeout = time.Duration(t) * time.Second
	} else if err == nil && t == -1 {
		timeout = -1
	}
	ch := s.newChannel(id, tech, resource)
	ch.endpoint, ch.dialstring, ch.timeout = ep, resource, timeout
	// An outbound leg of the dialling core sits at AppDial2 until Stasis runs.
	ch.exten, ch.appName, ch.appData = "", "AppDial2", "(Outgoing Line)"
	if tech == "SIP" || tech == "PJSIP" {
		ch.protocolID = newUUID() + "@127.0.0.1"
	}
	if cid := c.param("callerId"); cid != "" {
		ch.callerName, ch.callerNum = parseCallerID(cid)
		ch.connName, ch.connNum = ch.callerName, ch.callerNum
	}
	for k, v := range vars {
		ch.vars[k] = v
	}
	ch.far = s.far(ep)
	if app != "" {
		ch.app = app
		ch.args = splitArgs(c.param("appArgs"))
		ch.subs[app] = true
	}
	writeJSON(c.w, http.StatusOK, ch.json())
	s.startDial(ch, false)
}

// create is POST /channels/create: the channel enters Stasis at once and
// waits, Down, for /dial.
func (s *Server) create(c *call) {
	vars, bad := parseVariables(c)
	if bad != "" {
		writeError(c.w, http.StatusBadRequest, bad)
		return
	}
	if c.param("originator") != "" && c.param("formats") != "" {
		writeError(c.w, http.StatusBadRequest, "Originator and formats can't both be specified")
		return
	}
	ep := c.param("endpoint")
	if ep == "" {
		writeError(c.w, http.StatusBadRequest, "Endpoint must be specified")
		return
	}
	tech, resource, ok := splitEndpoint(ep)
	if !ok {
		writeError(c.w, http.StatusBadRequest, "Invalid endpoint specified")
		return
	}
	id := c.param("channelId")
	if _, exists := s.channels[id]; id != "" && exists {
		writeError(c.w, http.StatusConflict, "Channel with given unique ID already exists")
		return
	}
	if !knownTechs[tech] {
		allocFailed(c.w)
		return
	}
	app := c.param("app")
	ch := s.newChannel(id, tech, resource)
	ch.endpoint, ch.dialstring, ch.viaDial = ep, resource, true
	if tech == "SIP" || tech == "PJSIP" {
		ch.protocolID = newUUID() + "@127.0.0.1"
	}
	ch.far = s.far(ep)
	ch.app = app
	ch.args = splitArgs(c.param("appArgs"))
	if app != "" {
		ch.subs[app] = true
	}
	for k, v := range vars {
		s.varset(ch, k, v)
	}
	writeJSON(c.w, http.StatusOK, ch.json())
	s.after(0, func() {
		if !ch.ended {
			s.enterStasis(ch)
		}
	})
}

// deleteChannel is DELETE /channels/{id}.
func (s *Server) deleteChannel(c *call, id string) {
	ch := s.liveChannel(id)
	if ch == nil {
		writeError(c.w, http.StatusNotFound, "Channel not found")
		return
	}
	reason, code := c.param("reason"), c.param("reason_code")
	cause := 16
	switch {
	case reason != "" && code != "":
		writeError(c.w, http.StatusBadRequest, "The reason and reason_code can't both be specified")
		return
	case code != "":
		n, err := strconv.Atoi(strings.TrimSpace(code))
		if err != nil {
			writeError(c.w, http.StatusBadRequest, "Invalid reason for hangup reason code provided")
			return
		}
		cause = n
	case reason != "":
		n, ok := hangupReasons[reason]
		if !ok {
			writeError(c.w, http.StatusBadRequest, "Invalid reason for hangup reason provided")
			return
		}
		cause = n
	}
	noContent(c.w)
	s.hangup(ch, cause, hangupClient)
}

// control finds a channel in Stasis, answering 404 or 409 as Asterisk's
// find_control does.
func (s *Server) control(c *call, id string) *channel {
	ch := s.liveChannel(id)
	if ch == nil {
		writeError(c.w, http.StatusNotFound, "Channel not found")
		return nil
	}
	if !ch.inStasis {
		writeError(c.w, http.StatusConflict, "Channel not in Stasis application")
		return nil
	}
	return ch
}

// stateInvalid is channel_state_invalid: operations on outbound channels
// that are Down or Ringing answer 412.
func stateInvalid(c *call, ch *channel) bool {
	if ch.state == "Down" || ch.state == "Ringing" || ch.state == "Rsrved" {
		writeError(c.w, http.StatusPreconditionFailed, "Channel in invalid state")
		return true
	}
	return false
}

// channelOp is /channels/{id}/{op}[/{sub}].
func (s *Server) channelOp(c *call, id string, rest []string) {
	op, m := rest[0], c.r.Method
	if len(rest) > 2 || (len(rest) == 2 && op != "play" && op != "snoop") {
		writeError(c.w, http.StatusNotFound, "Resource not found")
		return
	}
	type key struct{ op, m string }
	switch (key{op, m}) {
	case key{"answer", "POST"}:
		ch := s.control(c, id)
		if ch == nil || stateInvalid(c, ch) {
			return
		}
		noContent(c.w)
		if ch.state != "Up" {
			ch.answered = true
			s.setState(ch, "Up")
		}
	case key{"ring", "POST"}, key{"ring", "DELETE"}, key{"progress", "POST"}:
		ch := s.control(c, id)
		if ch == nil || stateInvalid(c, ch) {
			return
		}
		noContent(c.w)
	case key{"moh", "POST"}, key{"moh", "DELETE"}, key{"hold", "POST"}, key{"hold", "DELETE"},
		key{"silence", "POST"}, key{"silence", "DELETE"}:
		ch := s.control(c, id)
		if ch == nil || stateInvalid(c, ch) {
			return
		}
		noContent(c.w)
		on := m == "POST"
		switch op {
		case "moh":
			ch.moh = on
		case "hold":
			if ch.held != on {
				ch.held = on
				if on {
					s.chanEvent(ch, "ChannelHold", nil)
				} else {
					s.chanEvent(ch, "ChannelUnhold", nil)
				}
			}
		}
	case key{"mute", "POST"}, key{"mute", "DELETE"}:
		ch := s.control(c, id)
		if ch == nil || stateInvalid(c, ch) {
			return
		}
		noContent(c.w)
	case key{"dtmf", "POST"}:
		s.sendDTMF(c, id)
	case key{"dial", "POST"}:
		s.dial(c, id)
	case key{"play", "POST"}:
		pid := c.param("playbackId")
		if len(rest) == 2 {
			pid = rest[1]
		}
		s.playChannel(c, id, pid)
	case key{"record", "POST"}:
		s.recordChannel(c, id)
	case key{"snoop", "POST"}:
		sid := c.param("snoopId")
		if len(rest) == 2 {
			sid = rest[1]
		}
		s.snoop(c, id, sid)
	case key{"variable", "GET"}:
		s.getVar(c, id)
	case key{"variable", "POST"}:
		s.setVar(c, id)
	case key{"continue", "POST"}, key{"redirect", "POST"}, key{"move", "POST"}:
		ch := s.control(c, id)
		if ch == nil {
			return
		}
		writeError(c.w, http.StatusNotImplemented, op+" is not simulated")
	default:
		if s.liveChannel(id) == nil && knownChannelOps[op] {
			writeError(c.w, http.StatusNotFound, "Channel not found")
			return
		}
		if knownChannelOps[op] {
			methodNotAllowed(c)
			return
		}
		writeError(c.w, http.StatusNotFound, "Resource not found")
	}
}

var knownChannelOps = map[string]bool{
	"answer": true, "ring": true, "progress": true, "moh": true, "hold": true, "silence": true,
	"mute": true, "dtmf": true, "dial": true, "play": true, "record": true, "snoop": true,
	"variable": true, "variables": true, "continue": true, "redirect": true, "move": true,
	"rtp_statistics": true, "transfer_progress": true,
}

// sendDTMF is POST /channels/{id}/dtmf: the keys go to the far end.
func (s *Server) sendDTMF(c *call, id string) {
	digits := c.param("dtmf")
	if digits == "" {
		writeError(c.w, http.StatusBadRequest, "DTMF is required")
		return
	}
	ch := s.control(c, id)
	if ch == nil || stateInvalid(c, ch) {
		return
	}
	noContent(c.w)
	ch.dtmfSent.WriteString(digits)
}

func (s *Server) getVar(c *call, id string) {
	name := c.param("variable")
	if name == "" {
		writeError(c.w, http.StatusBadRequest, "Variable name is required")
		return
	}
	ch := s.liveChannel(id)
	if ch == nil {
		writeError(c.w, http.StatusNotFound, "Provided channel was not found")
		return
	}
	v, ok := ch.vars[name]
	if !ok {
		writeError(c.w, http.StatusNotFound, "Provided variable was not found")
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"value": v})
}

func (s *Server) setVar(c *call, id string) {
	name := c.param("variable")
	if name == "" {
		writeError(c.w, http.StatusBadRequest, "Variable name is required")
		return
	}
	ch := s.control(c, id)
	if ch == nil {
		return
	}
	noContent(c.w)
	s.varset(ch, name, c.param("value"))
}

// snoop is POST /channels/{id}/snoop[/{snoopId}]: a Snoop channel that
// enters Stasis at once and ends with the channel it snoops on.
func (s *Server) snoop(c *call, id, snoopID string) {
	dir := func(v string) (string, bool) {
		switch v {
		case "", "none":
			return "none", true
		case "both", "out", "in":
			return v, true
		}
		return "", false
	}
	spy, ok := dir(c.param("spy"))
	if !ok {
		writeError(c.w, http.StatusBadRequest, "Invalid direction specified for spy")
		return
	}
	whisper, ok := dir(c.param("whisper"))
	if !ok {
		writeError(c.w, http.StatusBadRequest, "Invalid direction specified for whisper")
		return
	}
	if spy == "none" && whisper == "none" {
		writeError(c.w, http.StatusBadRequest, "Direction must be specified for at least spy or whisper")
		return
	}
	app := c.param("app")
	if app == "" {
		writeError(c.w, http.StatusBadRequest, "Application name is required")
		return
	}
	target := s.liveChannel(id)
	if target == nil {
		writeError(c.w, http.StatusNotFound, "Provided channel was not found")
		return
	}
	if _, exists := s.channels[snoopID]; snoopID != "" && exists {
		writeError(c.w, http.StatusInternalServerError, "Snoop channel could not be created")
		return
	}
	if snoopID == "" {
		snoopID = s.newUniqueID()
	}
	s.seq++
	sn := &channel{
		id: snoopID, name: fmt.Sprintf("Snoop/%s-%08x", target.id, s.seq), state: "Up", tech: "Snoop",
		context: "default", exten: "s", priority: 1, language: "en", created: time.Now(),
		subs: map[string]bool{app: true}, vars: map[string]string{},
		app: app, args: splitArgs(c.param("appArgs")), snoopOf: target.id,
	}
	s.channels[snoopID] = sn
	s.order = append(s.order, snoopID)
	target.snoops = append(target.snoops, snoopID)
	writeJSON(c.w, http.StatusOK, sn.json())
	s.after(0, func() {
		if !sn.ended {
			s.enterStasis(sn)
		}
	})
}
