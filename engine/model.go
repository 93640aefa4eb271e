// Package engine owns the lifecycle of every call: it hunts the from side,
// then the to side, bridges them, enforces time limits and writes a record
// of everything that happened. It defines the interfaces it consumes
// (Backend for the telephony, Store for live state and records) and imports
// neither a backend nor a store implementation; cmd wires them in.
package engine

import (
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/ivr"
)

// TargetType is what a value of from or to names.
type TargetType string

const (
	TargetNumber TargetType = "Number"
	TargetAgent  TargetType = "Agent"
	TargetGroup  TargetType = "Group"
)

// SideName names one side of a click-to-call.
type SideName string

const (
	SideFrom SideName = "from"
	SideTo   SideName = "to"
)

// SideRequest is one validated side of a click-to-call request.
type SideRequest struct {
	Type     TargetType      `json:"type"`
	Values   []string        `json:"values"`
	Strategy dialer.Strategy `json:"strategy"`
	// RingTime is in seconds (spec: default 20, max 50).
	RingTime int `json:"ring_time"`
	// RetryCount is how many times the whole side is retried (max 3).
	RetryCount int `json:"retry_count"`
	// CLI is the caller ID presented to this side's legs: a number, or
	// "AGENT_CLI"; empty means the trunk's default.
	CLI string `json:"cli,omitempty"`
	// WebLogin and CallLogin filter agents: "yes", "no" or "na".
	WebLogin  string `json:"web_login,omitempty"`
	CallLogin string `json:"call_login,omitempty"`
}

// CallRequest is a validated click-to-call request. Parsing and validation
// live in engine/api; the engine trusts what it receives.
type CallRequest struct {
	From SideRequest `json:"from"`
	To   SideRequest `json:"to"`

	// TimeLimit is the maximum talk time in seconds from the bridge; 0
	// means unlimited.
	TimeLimit       int  `json:"time_limit,omitempty"`
	TimeLimitHangup bool `json:"time_limit_hangup"`
	// TimeLimitAlert are talk-time marks in seconds at which AlertAudio is
	// played to both parties.
	TimeLimitAlert []int    `json:"time_limit_alert,omitempty"`
	AlertAudio     []string `json:"alert_audio,omitempty"`
	RingTone       string   `json:"ring_tone,omitempty"`
	// Record records the bridged conversation (a parameter beyond the
	// spec; a group with recording on records its calls too).
	Record bool `json:"record,omitempty"`
	// StatusCallback is a URL the call's events are delivered to as
	// webhooks, besides the tenant's own (a parameter beyond the spec).
	StatusCallback string `json:"status_callback,omitempty"`

	Sticky          string `json:"sticky,omitempty"`
	StickyTimeType  string `json:"sticky_time_type,omitempty"`
	StickyTimeValue int    `json:"sticky_time_value,omitempty"`
	StickyAgentBusy string `json:"sticky_agent_busy,omitempty"`
	QueueTimeout    int    `json:"queue_timeout,omitempty"`
	DNDFilter       string `json:"dnd_filter,omitempty"`

	// Mode is "live" or "developer"; developer requests are validated and
	// never reach the engine.
	Mode string `json:"mode,omitempty"`
}

// CallState is where a call is in its life.
type CallState string

const (
	// StateIVR: an inbound call being answered, or in its app's IVR.
	StateIVR         CallState = "ivr"
	StateDialingFrom CallState = "dialing_from"
	StateDialingTo   CallState = "dialing_to"
	StateBridged     CallState = "bridged"
	StateEnded       CallState = "ended"
)

// Outcome is how a call ended, set once when it ends.
type Outcome string

const (
	// OutcomeCompleted: both sides answered and were bridged.
	OutcomeCompleted Outcome = "completed"
	// OutcomeFromUnanswered: nobody on the from side answered.
	OutcomeFromUnanswered Outcome = "from_unanswered"
	// OutcomeToUnanswered: from answered, nobody on the to side did.
	OutcomeToUnanswered Outcome = "to_unanswered"
	// OutcomeFromHungUp: from hung up before to answered.
	OutcomeFromHungUp Outcome = "from_hungup"
	// OutcomeCanceled: stopped by the API or a shutdown before the bridge.
	OutcomeCanceled Outcome = "canceled"
	// OutcomeIVRHangup: an inbound call's flow hung up (a play_hangup or
	// hangup action, retries exhausted without a fallback, the step
	// limit) before routing it.
	OutcomeIVRHangup Outcome = "ivr_hangup"
	// OutcomeFailed: the engine could not carry the call (backend error,
	// node lost).
	OutcomeFailed Outcome = "failed"
)

// HangupBy names who ended a call.
type HangupBy string

const (
	HangupFrom      HangupBy = "from"
	HangupTo        HangupBy = "to"
	HangupAPI       HangupBy = "api"
	HangupTimeLimit HangupBy = "time_limit"
	HangupSystem    HangupBy = "system"
)

// Call is the serialisable record of one click-to-call, live or finished.
type Call struct {
	ID      string      `json:"callid"`
	Tenant  string      `json:"user_id"`
	Node    string      `json:"node"`
	Request CallRequest `json:"request"`
	// Direction is DirectionOutbound for a click-to-call (the engine
	// places both sides) and DirectionInbound for a call a caller placed
	// to one of the tenant's apps.
	Direction Direction `json:"direction"`
	// Inbound calls only: App is the id of the app that answered,
	// Called the virtual number dialed, Caller the caller's number as it
	// arrived (also Request.From, so sticky agents work as for a
	// click-to-call's customer), CallerInfo what the app's caller
	// lookup answered, and IVR what the caller did in the app's flow.
	App        string      `json:"app_id,omitempty"`
	Called     string      `json:"called,omitempty"`
	Caller     string      `json:"caller,omitempty"`
	CallerInfo *CallerInfo `json:"caller_info,omitempty"`
	IVR        []ivr.Entry `json:"ivr,omitempty"`

	State    CallState `json:"state"`
	Outcome  Outcome   `json:"outcome,omitempty"`
	HangupBy HangupBy  `json:"hangup_by,omitempty"`
	Reason   string    `json:"reason,omitempty"`

	CreatedAt time.Time  `json:"created_at"`
	AnswerAt  *time.Time `json:"answered_at,omitempty"` // from side answered
	BridgedAt *time.Time `json:"bridged_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// RingSeconds is the time from creation to the bridge (or to the end
	// when there was no bridge); TalkSeconds is bridge to end.
	RingSeconds float64 `json:"ring_seconds"`
	TalkSeconds float64 `json:"talk_seconds"`

	// RecordingURL is where the call's recording is served, once
	// recording started (GET /v1/calls/{callid}/recording).
	RecordingURL string `json:"recording_url,omitempty"`
	// Bridge is the backend's handle of the call's bridge (an Asterisk
	// bridge id; Handled), kept so another node can adopt the call.
	Bridge string `json:"bridge,omitempty"`
	// AlertsPlayed are the talk-time marks (seconds) whose alert was
	// played.
	AlertsPlayed []int `json:"alerts_played,omitempty"`
	// MediaErrors say which media feature of the request could not be
	// carried out (an announcement the backend could not play, a
	// recording it could not start): the call went on without it.
	MediaErrors []string `json:"media_errors,omitempty"`

	// EventSeq is the Seq of the call's latest event: a node that ends
	// the call after its owner died goes on from here.
	EventSeq int `json:"event_seq"`

	// Legs are every attempt in the order they were made.
	Legs []*Leg `json:"legs"`
}

// Live reports whether the call has not ended yet.
func (c *Call) Live() bool { return c.State != StateEnded }

// Clone returns a deep copy, so a snapshot can leave the call goroutine.
func (c *Call) Clone() *Call {
	cp := c.cloneOwn()
	cp.Legs = make([]*Leg, len(c.Legs))
	for i, l := range c.Legs {
		cp.Legs[i] = l.Clone()
	}
	return cp
}

// cloneOwn returns a deep copy of the call's own fields, without its legs.
func (c *Call) cloneOwn() *Call {
	cp := *c
	cp.Request.From.Values = append([]string(nil), c.Request.From.Values...)
	cp.Request.To.Values = append([]string(nil), c.Request.To.Values...)
	cp.Request.TimeLimitAlert = append([]int(nil), c.Request.TimeLimitAlert...)
	cp.Request.AlertAudio = append([]string(nil), c.Request.AlertAudio...)
	cp.AnswerAt, cp.BridgedAt, cp.EndedAt = clonet(c.AnswerAt), clonet(c.BridgedAt), clonet(c.EndedAt)
	cp.AlertsPlayed = append([]int(nil), c.AlertsPlayed...)
	cp.MediaErrors = append([]string(nil), c.MediaErrors...)
	if c.CallerInfo != nil {
		ci := *c.CallerInfo
		cp.CallerInfo = &ci
	}
	cp.IVR = append([]ivr.Entry(nil), c.IVR...)
	cp.Legs = nil
	return &cp
}

// LegState is where one attempt is.
type LegState string

const (
	LegDialing  LegState = "dialing"
	LegRinging  LegState = "ringing"
	LegAnswered LegState = "answered"
	LegEnded    LegState = "ended"
)

// Disposition is how a leg attempt ended.
type Disposition string

const (
	DispAnswered   Disposition = "answered"
	DispBusy       Disposition = "busy"
	DispNoAnswer   Disposition = "noanswer"
	DispRejected   Disposition = "rejected"
	DispCongestion Disposition = "congestion"
	DispFailed     Disposition = "failed"
	DispCanceled   Disposition = "canceled"
	// DispSkipped: the agent was considered and not rung (not logged in,
	// busy, wrap-up, paused, reserved by another call); Reason says why.
	DispSkipped Disposition = "skipped"
)

// Leg is the record of one attempt to reach one endpoint.
type Leg struct {
	// ID is unique across calls: "<callid>-<seq>".
	ID     string   `json:"leg_id"`
	CallID string   `json:"callid"`
	Seq    int      `json:"seq"`
	Side   SideName `json:"side"`
	// Target is what the request named (a number, agent id or group id);
	// Number is what was dialed.
	TargetType TargetType `json:"target_type"`
	Target     string     `json:"target"`
	// AgentID and AgentName name the agent this attempt offered the call
	// to (Agent and Group targets); GroupID the group it came through.
	AgentID   string `json:"agent_id,omitempty"`
	AgentName string `json:"agent_name,omitempty"`
	GroupID   string `json:"group_id,omitempty"`
	// Routing says why this endpoint was chosen: the distribution that
	// ordered it, or the sticky decision ("sticky hit", …).
	Routing  string `json:"routing,omitempty"`
	Number   string `json:"number"`
	CallerID string `json:"caller_id,omitempty"`
	// Round is the retry round (0 = first pass); Step the wave index.
	Round int `json:"round"`
	// Inbound marks the caller's own leg of an inbound call: answered by
	// Switchboard, not dialed, so no transfer attempt.
	Inbound bool `json:"inbound,omitempty"`
	Step    int  `json:"step"`

	State       LegState    `json:"state"`
	Disposition Disposition `json:"disposition,omitempty"`
	SIPCode     int         `json:"sip_code,omitempty"`
	Reason      string      `json:"reason,omitempty"`

	// DTMF are the keys the leg's party pressed while answered, in order
	// (at most maxLegDTMF are kept).
	DTMF string `json:"dtmf,omitempty"`

	// Media counts the RTP this leg's party sent to the engine (in) and
	// the engine sent to it (out), when the backend relays media.
	Media *MediaStats `json:"media,omitempty"`

	// Channel is the backend's handle of the answered leg (an Asterisk
	// channel id; Handled), by which another node can adopt it when the
	// node driving the call dies. Empty when the backend has none.
	Channel string `json:"channel,omitempty"`

	CreatedAt  time.Time  `json:"created_at"`
	RingingAt  *time.Time `json:"ringing_at,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
}

// MediaStats are a leg's RTP counters.
type MediaStats struct {
	PacketsIn  uint64 `json:"packets_in"`
	PacketsOut uint64 `json:"packets_out"`
	BytesIn    uint64 `json:"bytes_in"`
	BytesOut   uint64 `json:"bytes_out"`
}

// Clone returns a deep copy.
func (l *Leg) Clone() *Leg {
	cp := *l
	if l.Media != nil {
		m := *l.Media
		cp.Media = &m
	}
	cp.RingingAt, cp.AnsweredAt, cp.EndedAt = clonet(l.RingingAt), clonet(l.AnsweredAt), clonet(l.EndedAt)
	return &cp
}

func clonet(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}
