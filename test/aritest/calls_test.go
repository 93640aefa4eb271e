package aritest

import (
	"strings"
	"testing"
	"time"
)

// farByNumber makes far ends by the number dialled: 1000 answers, 2000
// busy, 3000 never answers, 4000 rejects, 5000 congestion, 6000 answers
// and hangs up, 7000 answers and presses keys, 8000 declines (603), 8100
// is not found (404).
func farByNumber(endpoint string) Far {
	ring := 10 * time.Millisecond
	switch {
	case strings.Contains(endpoint, "2000"):
		return Far{Ring: ring, Cause: 17}
	case strings.Contains(endpoint, "3000"):
		return Far{Never: true}
	case strings.Contains(endpoint, "4000"):
		return Far{Ring: ring, Cause: 21}
	case strings.Contains(endpoint, "5000"):
		return Far{Cause: 34}
	case strings.Contains(endpoint, "6000"):
		return Far{Ring: ring, Answer: true, HangupAfter: 20 * time.Millisecond}
	case strings.Contains(endpoint, "8000"):
		return Far{Ring: ring, Status: 603}
	case strings.Contains(endpoint, "8100"):
		return Far{Status: 404}
	case strings.Contains(endpoint, "7000"):
		return Far{Ring: ring, Answer: true, DTMF: "12#", DTMFAfter: 10 * time.Millisecond}
	}
	return Far{Ring: ring, Answer: true}
}

func originate(r *rest, endpoint string, extra ...string) string {
	r.t.Helper()
	q := vals(append([]string{"endpoint", endpoint, "app", "switchboard", "appArgs", "outbound,a1",
		"callerId", `"Switchboard" <5551234>`}, extra...)...)
	ch := r.must(200, "POST", "/channels", q, nil)
	id, _ := ch["id"].(string)
	if ch["state"] != "Down" || id == "" {
		r.t.Fatalf("originate: %v", ch)
	}
	return id
}

func TestOriginateAnsweredThenClientHangup(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")

	id := originate(r, "SIP/trunk/1000")
	got := ev.expect(about(id), "Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial", "StasisStart")
	if got[0].str("dialstatus") != "" || got[0].str("dialstring") != "trunk/1000" || got[0].str("forward") != "" {
		t.Fatalf("first Dial: %s", got[0].Raw)
	}
	if got[1].str("channel", "state") != "Ringing" || got[2].str("dialstatus") != "RINGING" {
		t.Fatalf("ringing: %s %s", got[1].Raw, got[2].Raw)
	}
	if got[3].str("channel", "state") != "Up" || got[4].str("dialstatus") != "ANSWER" {
		t.Fatalf("answer: %s %s", got[3].Raw, got[4].Raw)
	}
	start := got[5]
	if args, _ := start.JSON["args"].([]any); len(args) != 2 || args[0] != "outbound" || args[1] != "a1" {
		t.Fatalf("StasisStart args: %s", start.Raw)
	}
	if start.str("channel", "dialplan", "app_name") != "Stasis" || start.str("channel", "dialplan", "app_data") != "switchboard,outbound,a1" {
		t.Fatalf("StasisStart dialplan: %s", start.Raw)
	}
	if start.str("channel", "caller", "number") != "5551234" || start.str("channel", "caller", "name") != "Switchboard" {
		t.Fatalf("caller: %s", start.Raw)
	}
	if c := r.must(200, "GET", "/channels/"+id, nil, nil); c["state"] != "Up" {
		t.Fatalf("GET channel: %v", c)
	}

	r.must(204, "DELETE", "/channels/"+id, nil, nil)
	got = ev.expect(about(id), "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
	if got[0].str("cause") != "32" || got[0].str("soft") != "true" {
		t.Fatalf("hangup request: %s", got[0].Raw)
	}
	if got[2].str("cause") != "16" || got[2].str("cause_txt") != "Normal Clearing" {
		t.Fatalf("destroyed: %s", got[2].Raw)
	}
	r.errorBody(404, "Channel not found", "GET", "/channels/"+id, nil)
	c, _ := s.Channel(id)
	if !c.Ended || c.Cause != 16 || c.Endpoint != "SIP/trunk/1000" {
		t.Fatalf("snapshot: %+v", c)
	}
}

func TestOriginateFailures(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")

	cases := []struct {
		endpoint string
		extra    []string
		types    []string
		status   string // dialstatus of the last Dial
		cause    string
		text     string
		tech     string // PJSIP: tech_cause of the hang-up request and ChannelDestroyed
	}{
		{"SIP/trunk/2000", nil, []string{"Dial", "ChannelStateChange", "Dial", "Dial", "ChannelDestroyed"}, "BUSY", "17", "User busy", ""},
		{"SIP/trunk/4000", nil, []string{"Dial", "ChannelStateChange", "Dial", "Dial", "ChannelDestroyed"}, "BUSY", "21", "Call Rejected", ""},
		{"SIP/trunk/5000", nil, []string{"Dial", "Dial", "ChannelDestroyed"}, "CONGESTION", "34", "Circuit/channel congestion", ""},
		{"SIP/trunk/3000", []string{"timeout", "1"}, []string{"Dial", "ChannelStateChange", "Dial", "ChannelDestroyed"}, "RINGING", "19", "User alerting, no answer", ""},
		{"PJSIP/2000@trunk", nil, []string{"Dial", "ChannelStateChange", "Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"}, "BUSY", "17", "User busy", "486"},
		// A far end refusing with a SIP status: chan_sip's indication
		// for it, chan_pjsip's tech_cause is that status.
		{"SIP/trunk/8000", nil, []string{"Dial", "ChannelStateChange", "Dial", "Dial", "ChannelDestroyed"}, "BUSY", "21", "Call Rejected", ""},
		{"SIP/trunk/8100", nil, []string{"Dial", "Dial", "ChannelDestroyed"}, "CONGESTION", "1", "Unallocated (unassigned) number", ""},
		{"PJSIP/8000@trunk", nil, []string{"Dial", "ChannelStateChange", "Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"}, "NOANSWER", "21", "Call Rejected", "603"},
		{"PJSIP/4000@trunk", nil, []string{"Dial", "ChannelStateChange", "Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"}, "NOANSWER", "21", "Call Rejected", "403"},
		{"PJSIP/8100@trunk", nil, []string{"Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"}, "NOANSWER", "1", "Unallocated (unassigned) number", "404"},
	}
	for _, c := range cases {
		id := originate(r, c.endpoint, c.extra...)
		got := ev.expect(about(id), c.types...)
		last := got[len(got)-2]
		if last.str("dialstatus") != c.status {
			t.Fatalf("%s: Dial %s", c.endpoint, last.Raw)
		}
		d := got[len(got)-1]
		if d.str("cause") != c.cause || d.str("cause_txt") != c.text {
			t.Fatalf("%s: %s", c.endpoint, d.Raw)
		}
		if req := got[len(got)-3]; c.tech != "" && (d.str("tech_cause") != c.tech || req.str("tech_cause") != c.tech) {
			t.Fatalf("%s: tech_cause: %s", c.endpoint, d.Raw)
		}
		if ch, _ := s.Channel(id); !ch.Ended || ch.Cause == 0 {
			t.Fatalf("%s: %+v", c.endpoint, ch)
		}
	}

	// The client gives up on a ringing call.
	id := originate(r, "SIP/trunk/3000")
	ev.expect(about(id), "Dial", "ChannelStateChange", "Dial")
	r.must(204, "DELETE", "/channels/"+id, vals("reason", "normal"), nil)
	got := ev.expect(about(id), "ChannelHangupRequest", "Dial", "ChannelDestroyed")
	if got[1].str("dialstatus") != "NOANSWER" || got[2].str("cause") != "16" {
		t.Fatalf("cancel: %s %s", got[1].Raw, got[2].Raw)
	}
}

func TestFarEndHangupAndDTMF(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")

	id := originate(r, "SIP/trunk/6000")
	ev.expect(about(id), "Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial", "StasisStart")
	got := ev.expect(about(id), "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
	if got[0].str("cause") != "16" || got[0].str("soft") != "" || got[2].str("cause") != "16" {
		t.Fatalf("far hangup: %s %s", got[0].Raw, got[2].Raw)
	}

	id = originate(r, "SIP/trunk/7000")
	ev.expect(about(id), "Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial", "StasisStart")
	got = ev.expect(about(id), "ChannelDtmfReceived", "ChannelDtmfReceived", "ChannelDtmfReceived")
	if got[0].str("digit")+got[1].str("digit")+got[2].str("digit") != "12#" || got[0].str("duration_ms") == "" {
		t.Fatalf("dtmf: %s", got[0].Raw)
	}
	if err := s.Press(id, "9"); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(about(id)); e.Type != "ChannelDtmfReceived" || e.str("digit") != "9" {
		t.Fatalf("press: %s", e.Raw)
	}
	// DTMF to the far end.
	r.must(204, "POST", "/channels/"+id+"/dtmf", vals("dtmf", "45"), nil)
	r.must(204, "POST", "/channels/"+id+"/dtmf", vals("dtmf", "6"), nil)
	if c, _ := s.Channel(id); c.DTMFSent != "456" {
		t.Fatalf("DTMFSent %q", c.DTMFSent)
	}
	if err := s.HangupFar(id, 0); err != nil {
		t.Fatal(err)
	}
	ev.expect(about(id), "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
	if err := s.Press(id, "1"); err == nil {
		t.Fatal("press on an ended channel")
	}
}

func TestCreateAndDial(t *testing.T) {
	s := Start(t, Options{Far: farByNumber})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")

	ch := r.must(200, "POST", "/channels/create", vals("endpoint", "PJSIP/1000@trunk", "app", "switchboard", "channelId", "leg1"), nil)
	if ch["id"] != "leg1" || ch["state"] != "Down" {
		t.Fatalf("create: %v", ch)
	}
	got := ev.expect(about("leg1"), "ChannelDialplan", "StasisStart")
	if got[0].str("dialplan_app") != "Stasis" || got[1].str("channel", "state") != "Down" {
		t.Fatalf("created: %s %s", got[0].Raw, got[1].Raw)
	}
	r.must(204, "POST", "/channels/leg1/dial", vals("timeout", "30"), nil)
	got = ev.expect(about("leg1"), "Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial")
	if got[0].str("dialstring") != "1000@trunk" || got[2].str("dialstatus") != "RINGING" || got[4].str("dialstatus") != "ANSWER" {
		t.Fatalf("dial events: %s %s %s", got[0].Raw, got[2].Raw, got[4].Raw)
	}
	r.errorBody(409, "Channel is not in the 'Down' state", "POST", "/channels/leg1/dial", nil)
	r.must(204, "DELETE", "/channels/leg1", nil, nil)
	ev.expect(about("leg1"), "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")

	// A PJSIP busy through /dial: hang-up request, then out of Stasis.
	r.must(200, "POST", "/channels/create", vals("endpoint", "PJSIP/2000@trunk", "app", "switchboard", "channelId", "leg2"), nil)
	ev.expect(about("leg2"), "ChannelDialplan", "StasisStart")
	r.must(204, "POST", "/channels/leg2/dial", nil, nil)
	got = ev.expect(about("leg2"), "Dial", "ChannelStateChange", "Dial", "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
	if got[5].str("cause") != "17" {
		t.Fatalf("busy: %s", got[5].Raw)
	}

	// The /dial timeout hangs up with cause 19.
	r.must(200, "POST", "/channels/create", vals("endpoint", "PJSIP/3000@trunk", "app", "switchboard", "channelId", "leg3"), nil)
	ev.expect(about("leg3"), "ChannelDialplan", "StasisStart")
	r.must(204, "POST", "/channels/leg3/dial", vals("timeout", "1"), nil)
	got = ev.expect(about("leg3"), "Dial", "ChannelStateChange", "Dial", "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
	if got[5].str("cause") != "19" {
		t.Fatalf("dial timeout: %s", got[5].Raw)
	}

	// chan_sip turns a 486 into a BUSY indication: in the dial bridge the
	// channel stays (Down, in Stasis) until the application or the dial
	// timeout ends it.
	r.must(200, "POST", "/channels/create", vals("endpoint", "SIP/trunk/2000", "app", "switchboard", "channelId", "leg4"), nil)
	ev.expect(about("leg4"), "ChannelDialplan", "StasisStart")
	r.must(204, "POST", "/channels/leg4/dial", vals("timeout", "30"), nil)
	got = ev.expect(about("leg4"), "Dial", "ChannelStateChange", "Dial", "Dial")
	if got[3].str("dialstatus") != "BUSY" || got[3].str("dialstring") != "" {
		t.Fatalf("busy indication: %s", got[3].Raw)
	}
	if c, _ := s.Channel("leg4"); c.Ended || !c.InStasis {
		t.Fatalf("after BUSY: %+v", c)
	}
	r.must(204, "DELETE", "/channels/leg4", vals("reason", "busy"), nil)
	got = ev.expect(about("leg4"), "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
	if got[2].str("cause") != "17" {
		t.Fatalf("app hangup: %s", got[2].Raw)
	}
}

func TestInboundAnswerAndReconnect(t *testing.T) {
	s := Start(t, Options{})
	r := newRest(t, s)
	ev := connect(t, s, "switchboard")

	id := s.Inbound("5550001", "Alice", "100")
	start := ev.next(about(id))
	if start.Type != "StasisStart" || start.str("channel", "state") != "Ring" ||
		start.str("channel", "caller", "number") != "5550001" || start.str("channel", "dialplan", "exten") != "100" {
		t.Fatalf("inbound: %s", start.Raw)
	}
	r.must(204, "POST", "/channels/"+id+"/ring", nil, nil)
	r.must(204, "POST", "/channels/"+id+"/answer", nil, nil)
	if e := ev.next(about(id)); e.Type != "ChannelStateChange" || e.str("channel", "state") != "Up" {
		t.Fatalf("answer: %s", e.Raw)
	}

	// The socket drops; the channel stays in Stasis; a new socket gets its
	// events again.
	s.DropWebSockets()
	eventually(t, "socket closed", func() bool { return s.Connected("switchboard") == 0 })
	ev2 := connect(t, s, "switchboard")
	eventually(t, "socket open", func() bool { return s.Connected("switchboard") == 1 })
	if c := r.must(200, "GET", "/channels/"+id, nil, nil); c["state"] != "Up" {
		t.Fatalf("after drop: %v", c)
	}
	if c, _ := s.Channel(id); !c.InStasis {
		t.Fatalf("left Stasis: %+v", c)
	}
	if err := s.Press(id, "5"); err != nil {
		t.Fatal(err)
	}
	if e := ev2.next(about(id)); e.Type != "ChannelDtmfReceived" {
		t.Fatalf("after reconnect: %s", e.Raw)
	}
	r.must(204, "DELETE", "/channels/"+id, vals("reason_code", "21"), nil)
	got := ev2.expect(about(id), "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")
	if got[2].str("cause") != "21" {
		t.Fatalf("reason_code: %s", got[2].Raw)
	}
	if s.EventsSent() == 0 {
		t.Fatal("EventsSent is 0")
	}
	for _, c := range s.Channels() {
		if !c.Ended {
			t.Fatalf("dangling channel %+v", c)
		}
	}
}
