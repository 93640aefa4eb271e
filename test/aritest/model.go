package aritest

import (
	"sort"
	"strings"
	"time"
)

// Channel is a snapshot of one channel, for assertions.
type Channel struct {
	ID, Name, State          string // State as ARI spells it: "Down", "Ringing", "Ring", "Up"
	Endpoint                 string // what it was originated to ("" for inbound)
	CallerNumber, CallerName string
	Bridge                   string   // id of the bridge it is in, "" if none
	DTMFSent                 string   // keys the client sent to it (POST /channels/{id}/dtmf), in order
	Played                   []string // media URIs played to it (channel playbacks), in order
	Ended                    bool
	Cause                    int // hang-up cause once Ended

	// Added beyond the contract.
	App      string // the Stasis application it is (or was last) in, "" if never in Stasis
	InStasis bool
	SnoopOf  string // for a snoop channel, the id of the channel it snoops on
	MOH      bool   // music on hold is playing to it
	Held     bool   // the client put it on hold
}

// Bridge is a snapshot of one bridge, for assertions.
type Bridge struct {
	ID, Type  string
	Channels  []string // current members
	Played    []string // media URIs played on the bridge
	Recording string   // name of its live recording, "" if none
	Destroyed bool

	// Added beyond the contract.
	Name string
	MOH  bool
	// Technology is the bridge's technology now: simple_bridge,
	// native_rtp (two RTP channels, unless made with dtmf_events or
	// proxy_media), softmix or holding_bridge.
	Technology string
}

type application struct {
	name string
	all  bool // a WebSocket asked for subscribeAll
}

type channel struct {
	id, name, state string
	tech            string
	endpoint        string // as originated or created, "" for inbound
	dialstring      string // the resource part of endpoint
	callerNum       string
	callerName      string
	connNum         string
	connName        string
	context, exten  string
	priority        int
	appName         string // dialplan application ("Stasis" once in Stasis)
	appData         string
	savedApp        string // dialplan location before Stasis
	savedData       string
	answered        bool // the far end answered (or the client answered an inbound call)
	rtp             bool // an RTP instance exists: the call was signalled
	refused         bool // the far end refused a /dial with an indication
	status          int  // the SIP status the far end refused with, if given
	language        string
	protocolID      string
	created         time.Time

	subs     map[string]bool // applications receiving this channel's events
	app      string          // the Stasis application it was sent to
	args     []string
	inStasis bool
	bridge   string
	dtmfSent strings.Builder
	played   []string
	ended    bool
	cause    int
	moh      bool
	held     bool
	snoopOf  string
	snoops   []string
	vars     map[string]string

	far      Far
	dialing  bool // an outbound dial is in progress (originate or /dial)
	viaDial  bool // made by /channels/create, dialled with /dial
	timeout  time.Duration
	farTimer []*time.Timer
}

type bridge struct {
	id, name, btype string
	technology      string
	created         time.Time
	members         []string
	subs            map[string]int // applications subscribed, counted per addChannel / subscription
	played          []string
	recording       string
	destroyed       bool
	moh             bool
	// noNative: created with dtmf_events or proxy_media, so it never
	// becomes a native_rtp bridge.
	noNative bool
}

func (c *channel) json() map[string]any {
	m := map[string]any{
		"id":          c.id,
		"name":        c.name,
		"state":       c.state,
		"protocol_id": c.protocolID,
		"caller":      map[string]any{"name": c.callerName, "number": c.callerNum},
		"connected":   map[string]any{"name": c.connName, "number": c.connNum},
		"accountcode": "",
		"dialplan": map[string]any{
			"context":  c.context,
			"exten":    c.exten,
			"priority": c.priority,
			"app_name": c.appName,
			"app_data": c.appData,
		},
		"creationtime": timeString(c.created),
		"language":     c.language,
	}
	return m
}

func (c *channel) snapshot() Channel {
	return Channel{
		ID: c.id, Name: c.name, State: c.state, Endpoint: c.endpoint,
		CallerNumber: c.callerNum, CallerName: c.callerName,
		Bridge: c.bridge, DTMFSent: c.dtmfSent.String(),
		Played: append([]string(nil), c.played...),
		Ended:  c.ended, Cause: c.cause,
		App: c.app, InStasis: c.inStasis, SnoopOf: c.snoopOf, MOH: c.moh, Held: c.held,
	}
}

func (b *bridge) json() map[string]any {
	members := append([]string{}, b.members...)
	return map[string]any{
		"id":           b.id,
		"technology":   b.technology,
		"bridge_type":  b.btype,
		"bridge_class": "stasis",
		"creator":      "Stasis",
		"name":         b.name,
		"channels":     members,
		"creationtime": timeString(b.created),
		"video_mode":   "talker",
	}
}

func (b *bridge) snapshot() Bridge {
	return Bridge{
		ID: b.id, Type: b.btype, Channels: append([]string(nil), b.members...),
		Played: append([]string(nil), b.played...), Recording: b.recording,
		Destroyed: b.destroyed, Name: b.name, MOH: b.moh, Technology: b.technology,
	}
}

// Channels returns a snapshot of every channel made so far, ended ones too,
// in creation order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.channels[id].snapshot())
	}
	return out
}

// Channel returns a snapshot of one channel, ended or not.
func (s *Server) Channel(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok {
		return Channel{}, false
	}
	return c.snapshot(), true
}

// Bridges returns a snapshot of every bridge made so far, destroyed ones
// too, in creation order.
func (s *Server) Bridges() []Bridge {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Bridge, 0, len(s.border))
	for _, id := range s.border {
		out = append(out, s.bridges[id].snapshot())
	}
	return out
}

// liveChannel returns a channel that has not ended.
func (s *Server) liveChannel(id string) *channel {
	c, ok := s.channels[id]
	if !ok || c.ended {
		return nil
	}
	return c
}

func (s *Server) liveBridge(id string) *bridge {
	b, ok := s.bridges[id]
	if !ok || b.destroyed {
		return nil
	}
	return b
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// causeText is Asterisk's ast_cause2str.
func causeText(cause int) string {
	if t, ok := causeTexts[cause]; ok {
		return t
	}
	return "Unknown"
}

var causeTexts = map[int]string{
	1:   "Unallocated (unassigned) number",
	2:   "No route to specified transmit network",
	3:   "No route to destination",
	5:   "Misdialed trunk prefix",
	6:   "Channel unacceptable",
	7:   "Call awarded and being delivered in an established channel",
	8:   "Pre-empted",
	14:  "Number ported elsewhere",
	16:  "Normal Clearing",
	17:  "User busy",
	18:  "No user responding",
	19:  "User alerting, no answer",
	20:  "Subscriber absent",
	21:  "Call Rejected",
	22:  "Number changed",
	23:  "Redirected to new destination",
	26:  "Answered elsewhere",
	27:  "Destination out of order",
	28:  "Invalid number format",
	29:  "Facility rejected",
	30:  "Response to STATus ENQuiry",
	31:  "Normal, unspecified",
	34:  "Circuit/channel congestion",
	38:  "Network out of order",
	41:  "Temporary failure",
	42:  "Switching equipment congestion",
	43:  "Access information discarded",
	44:  "Requested channel not available",
	50:  "Facility not subscribed",
	52:  "Outgoing call barred",
	54:  "Incoming call barred",
	57:  "Bearer capability not authorized",
	58:  "Bearer capability not available",
	65:  "Bearer capability not implemented",
	66:  "Channel not implemented",
	69:  "Facility not implemented",
	81:  "Invalid call reference value",
	88:  "Incompatible destination",
	95:  "Invalid message unspecified",
	96:  "Mandatory information element is missing",
	97:  "Message type nonexist.",
	98:  "Wrong message",
	99:  "Info. element nonexist or not implemented",
	100: "Invalid information element contents",
	101: "Message not compatible with call state",
	102: "Recover on timer expiry",
	103: "Mandatory IE length error",
	111: "Protocol error, unspecified",
	127: "Interworking, unspecified",
}

// hangupReasons maps DELETE /channels/{id}?reason= to a cause.
var hangupReasons = map[string]int{
	"normal":             16,
	"busy":               17,
	"congestion":         34,
	"no_answer":          19,
	"timeout":            18,
	"rejected":           21,
	"unallocated":        1,
	"normal_unspecified": 31,
	"number_incomplete":  28,
	"codec_mismatch":     58,
	"interworking":       127,
	"failure":            38,
	"answered_elsewhere": 26,
}

// dialStatus is Asterisk's ast_hangup_cause_to_dial_status.
func dialStatus(cause int) string {
	switch cause {
	case 17:
		return "BUSY"
	case 34:
		return "CONGESTION"
	case 3, 20:
		return "CHANUNAVAIL"
	default:
		return "NOANSWER"
	}
}

// sipCode is the SIP response a far end sends for a cause (chan_pjsip's
// hangup_cause2sip), reported as tech_cause.
func sipCode(cause int) int {
	switch cause {
	case 1, 2, 3:
		return 404
	case 17:
		return 486
	case 18:
		return 408
	case 19, 20, 31:
		return 480
	case 21:
		return 403
	case 22:
		return 410
	case 23:
		return 302
	case 27:
		return 502
	case 28:
		return 484
	case 29:
		return 501
	case 34, 42, 66:
		return 503
	case 38, 127:
		return 500
	case 58:
		return 488
	}
	return 0
}

// causeOfSIP is the cause chan_sip and chan_pjsip derive from a SIP final
// response (hangup_sip2cause, ast_sip_hangup_sip2cause: the same table).
func causeOfSIP(status int) int {
	switch status {
	case 302:
		return 23
	case 401, 403, 407, 603:
		return 21
	case 404, 485, 604:
		return 1
	case 408:
		return 18
	case 409:
		return 41
	case 410:
		return 22
	case 420:
		return 3
	case 480, 483:
		return 19
	case 484:
		return 28
	case 486, 600:
		return 17
	case 488, 606:
		return 58
	case 500:
		return 38
	case 501:
		return 29
	case 502:
		return 27
	case 503:
		return 34
	case 504:
		return 102
	case 505:
		return 127
	}
	switch {
	case status >= 500 && status < 600:
		return 34
	case status >= 400 && status < 700:
		return 127
	}
	return 0
}
