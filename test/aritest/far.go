package aritest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// hangupKind says who ends a channel, which decides the events Asterisk
// sends about it.
type hangupKind int

const (
	hangupClient    hangupKind = iota // DELETE /channels/{id}: ast_softhangup
	hangupFar                         // the far end: BYE or a failure response
	hangupTimeout                     // the originate timeout: ast_hangup, no request event
	hangupDialTO                      // the /dial timeout: soft hangup with cause 19
	hangupQuiet                       // a snoop channel ending with its target
	hangupIndicated                   // after a BUSY/CONGESTION indication: ast_hangup by the dialling core
)

// ErrNoChannel is returned for a channel that does not exist or has ended.
var ErrNoChannel = errors.New("aritest: no such live channel")

func (s *Server) far(endpoint string) Far {
	if s.opts.Far != nil {
		return s.opts.Far(endpoint)
	}
	return Far{Ring: 50 * time.Millisecond, Answer: true}
}

// farAfter schedules fn for a channel, cancelled if the channel ends.
func (s *Server) farAfter(ch *channel, d time.Duration, fn func()) {
	t := s.after(d, func() {
		if !ch.ended {
			fn()
		}
	})
	if t != nil {
		ch.farTimer = append(ch.farTimer, t)
	}
}

// startDial simulates dialling a channel's far end: for an originate the
// dialling core (ast_dial), for /dial the Stasis dial bridge.
func (s *Server) startDial(ch *channel, viaDial bool) {
	ch.dialing = true
	f := ch.far
	s.farAfter(ch, 0, func() {
		s.dialEvent(ch, "", true)
		ch.rtp = ch.tech == "SIP" || ch.tech == "PJSIP"
		if ch.refused {
			// Dialling again a channel whose far end refused: nothing
			// more happens (the signalling is over).
			return
		}
		if f.Ring > 0 || f.Never {
			s.setState(ch, "Ringing")
			s.dialEvent(ch, "RINGING", !viaDial)
		}
		if !f.Never {
			s.farAfter(ch, f.Ring, func() { s.farOutcome(ch, viaDial) })
		}
	})
	if ch.timeout > 0 {
		s.farAfter(ch, ch.timeout, func() {
			switch {
			case viaDial && ch.state != "Up":
				// The dial bridge's interval hook hangs up any channel
				// not yet Up, even one whose far end refused.
				s.hangup(ch, 19, hangupDialTO)
			case !viaDial && ch.dialing:
				s.hangup(ch, 19, hangupTimeout)
			}
		})
	}
}

// farOutcome is the far end answering or refusing after ringing.
func (s *Server) farOutcome(ch *channel, viaDial bool) {
	f := ch.far
	if !ch.dialing {
		return
	}
	if !f.Answer {
		s.farFailure(ch, f.Cause, f.Status, viaDial)
		return
	}
	ch.dialing = false
	ch.answered = true
	s.setState(ch, "Up")
	s.dialEvent(ch, "ANSWER", !viaDial)
	if !viaDial && ch.app != "" {
		s.enterStasis(ch)
	}
	s.afterAnswer(ch)
}

// farFailure is the far end refusing a call with a Q.850 cause or a SIP
// status (Far.Status; 0: the status chan_pjsip maps the cause to).
// chan_sip (SIP/...) turns 486/600/603 into a BUSY indication and
// 400/404/410/482/500/502/503/504 into a CONGESTION indication (a far end
// given by a cause alone: 17, 21 BUSY; 1, 22, 27, 34, 38, 102, 127
// CONGESTION), which the dialling core reports as a Dial event and ends the
// channel without a hang-up request; every other failure, and every
// failure on chan_pjsip, queues a hang-up with the cause (and, on PJSIP,
// the SIP status as tech_cause).
func (s *Server) farFailure(ch *channel, cause, status int, viaDial bool) {
	if cause == 0 && status != 0 {
		cause = causeOfSIP(status)
	}
	if cause == 0 {
		cause = 16
	}
	ch.status = status
	indication := ""
	if ch.tech == "SIP" {
		if status != 0 {
			indication = chanSIPIndication(status)
		} else {
			switch cause {
			case 17, 21:
				indication = "BUSY"
			case 1, 22, 27, 34, 38, 102, 127:
				indication = "CONGESTION"
			}
		}
	}
	if indication == "" {
		s.hangup(ch, cause, hangupFar)
		return
	}
	if viaDial {
		// In the Stasis dial bridge an indication is only reported; the
		// channel stays until the application hangs it up.
		ch.dialing = false
		ch.refused = true
		ch.cause = cause
		s.dialEvent(ch, indication, false)
		return
	}
	s.dialEvent(ch, indication, true)
	ch.dialing = false
	s.hangup(ch, cause, hangupIndicated)
}

// chanSIPIndication is the indication chan_sip queues for a final
// response to an INVITE (handle_response), "" for those it answers with a
// hang-up instead.
func chanSIPIndication(status int) string {
	switch status {
	case 300, 301, 302, 305, 486, 600, 603:
		return "BUSY"
	case 400, 404, 410, 482, 500, 502, 503, 504:
		return "CONGESTION"
	}
	return ""
}

// afterAnswer schedules what an answered far end does on its own.
func (s *Server) afterAnswer(ch *channel) {
	f := ch.far
	if f.DTMF != "" {
		s.farAfter(ch, f.DTMFAfter, func() { s.press(ch, f.DTMF) })
	}
	if f.HangupAfter > 0 {
		s.farAfter(ch, f.HangupAfter, func() { s.hangup(ch, 16, hangupFar) })
	}
}

// dial is POST /channels/{id}/dial.
func (s *Server) dial(c *call, id string) {
	ch := s.control(c, id)
	if ch == nil {
		return
	}
	if ch.state != "Down" {
		writeError(c.w, http.StatusConflict, "Channel is not in the 'Down' state")
		return
	}
	if !ch.viaDial {
		writeError(c.w, http.StatusConflict, "Dialing a channel not created by ARI")
		return
	}
	if t, err := strconv.Atoi(c.param("timeout")); err == nil && t > 0 {
		ch.timeout = time.Duration(t) * time.Second
	}
	if caller := s.liveChannel(c.param("caller")); caller != nil {
		ch.callerName, ch.callerNum = caller.callerName, caller.callerNum
	}
	noContent(c.w)
	s.startDial(ch, true)
}

// rtpStats are the RTP statistics variables Asterisk sets on a channel
// that had media when the client hangs it up.
var rtpStats = [][2]string{
	{"RTPAUDIOQOS", "ssrc=1766449708;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"},
	{"RTPAUDIOQOSJITTER", "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;avgtxjitter=000.000000;stdevtxjitter=000.000000;"},
	{"RTPAUDIOQOSLOSS", "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;  stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;  avgtxlost=000.000000;  stdevtxlost=000.000000;"},
	{"RTPAUDIOQOSRTT", "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;     stdevrtt=000.000000;"},
	{"RTPAUDIOQOSMES", "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;   stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;   avgtxmes=000.000000;   stdevtxmes=000.000000;"},
}

func (ch *channel) hasRTP() bool { return ch.rtp }

// hangup ends a channel with the events Asterisk sends for the way it ends.
func (s *Server) hangup(ch *channel, cause int, kind hangupKind) {
	if ch.ended {
		return
	}
	for _, t := range ch.farTimer {
		s.cancel(t)
	}
	ch.farTimer = nil
	techCause := 0
	switch {
	case kind != hangupFar || ch.tech != "PJSIP":
	case ch.status != 0 && !ch.answered:
		techCause = ch.status // the response received
	case cause != 16:
		techCause = sipCode(cause)
	}
	ch.cause = cause
	if ch.hasRTP() && (kind == hangupClient || (kind == hangupFar && ch.answered)) {
		for _, v := range rtpStats {
			s.varset(ch, v[0], v[1])
		}
	}
	switch kind {
	case hangupClient, hangupDialTO:
		// ast_softhangup reports the soft-hangup flag
		// (AST_SOFTHANGUP_EXPLICIT, 32) as "cause", not the hang-up cause.
		s.chanEvent(ch, "ChannelHangupRequest", map[string]any{"cause": 32, "soft": true})
	case hangupFar:
		f := map[string]any{"cause": cause}
		if techCause != 0 {
			f["tech_cause"] = techCause
		}
		s.chanEvent(ch, "ChannelHangupRequest", f)
	}
	if ch.dialing && !ch.viaDial && kind != hangupTimeout {
		s.dialEvent(ch, dialStatus(cause), true)
	}
	ch.dialing = false
	s.stopChannelMedia(ch)
	if ch.bridge != "" {
		if b := s.liveBridge(ch.bridge); b != nil {
			s.leaveBridge(b, ch)
		}
	}
	s.leaveStasis(ch)
	if ch.hasRTP() && ch.answered && kind == hangupClient {
		s.varset(ch, rtpStats[0][0], rtpStats[0][1])
	}
	ch.restoreDialplan()
	ch.ended = true
	f := map[string]any{"cause": cause, "cause_txt": causeText(cause)}
	if techCause != 0 {
		f["tech_cause"] = techCause
	}
	s.chanEvent(ch, "ChannelDestroyed", f)
	for _, sid := range ch.snoops {
		if sn := s.liveChannel(sid); sn != nil {
			s.hangup(sn, 16, hangupQuiet)
		}
	}
}

// press emits ChannelDtmfReceived for each key, in order — unless the
// channel is in a native_rtp bridge: there Asterisk forwards the RFC 4733
// packets to the peer at the RTP layer (P2P), and the application hears
// of no key at all.
func (s *Server) press(ch *channel, digits string) {
	if b := s.bridges[ch.bridge]; ch.bridge != "" && b != nil && b.technology == "native_rtp" {
		return
	}
	for _, d := range digits {
		s.chanEvent(ch, "ChannelDtmfReceived", map[string]any{"digit": string(d), "duration_ms": 100})
	}
}

// Inbound makes a call enter Stasis(App) from the dialplan, as a call
// arriving on a trunk would (no arguments); it returns the channel id. The
// channel is in state "Ring" until the client answers it.
func (s *Server) Inbound(callerNumber, callerName, exten string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.newChannel("", "PJSIP", "trunk")
	ch.state = "Ring"
	ch.callerNum, ch.callerName = callerNumber, callerName
	ch.context, ch.exten = "from-trunk", exten
	ch.protocolID = fmt.Sprintf("%08x-%04x-in@127.0.0.1", s.seq*7919, s.idseq)
	ch.app, ch.args = s.opts.App, []string{}
	ch.far = Far{Answer: true}
	ch.appName, ch.appData = "Stasis", s.opts.App
	ch.rtp, ch.answered = true, false
	s.stasisStart(ch)
	return ch.id
}

// Press makes the far end of a channel press keys: one ChannelDtmfReceived
// per key.
func (s *Server) Press(channelID, digits string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.liveChannel(channelID)
	if ch == nil {
		return ErrNoChannel
	}
	s.press(ch, digits)
	return nil
}

// HangupFar makes the far end of a channel hang up with a Q.850 cause (0:
// 16, normal clearing). An unanswered originated channel fails with it.
func (s *Server) HangupFar(channelID string, cause int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.liveChannel(channelID)
	if ch == nil {
		return ErrNoChannel
	}
	if cause == 0 {
		cause = 16
	}
	s.hangup(ch, cause, hangupFar)
	return nil
}
