package webhook

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// Payload is the JSON body of a delivery: the engine.Event as it is
// (id, seq, type, callid, user_id, time, and leg, call or digit), plus
// the same event in the vocabulary of the IVR call events (IN, TA, TC, TE,
// H) where it has a counterpart there, and for call.ended a summary in
// the style of the contact-centre callSummary webhook.
type Payload struct {
	engine.Event
	// IVR is the event as the IVR spec's call events name it; nil for
	// events without a counterpart (leg.ringing, call.bridged, DTMF,
	// alerts, recording_ready).
	IVR *IVREvent `json:"ivr,omitempty"`
	// Summary is set on call.ended.
	Summary *Summary `json:"summary,omitempty"`
}

// IVREvent is an event in the IVR spec's terms. Every value is a string,
// as the spec's own samples have them; absent ones are left out.
//
//	IN  call.created   the call entered Switchboard
//	TA  leg.dialing    an attempt to reach an agent or number started
//	TC  leg.answered   the attempt was answered
//	TE  leg.ended      the attempt ended (every attempt, answered or not;
//	                   an agent skipped without ringing gets a TE and no TA)
//	H   call.ended     the call is over
//
// The caller's own leg of an inbound call is no transfer attempt: its
// events have no counterpart.
type IVREvent struct {
	// App is the guid of the app an inbound call came to.
	App   string `json:"app,omitempty"`
	Event string `json:"event"`
	// UniqueID is the call id.
	UniqueID string `json:"uniqueid"`
	// CLI: for IN and H the caller's number of an inbound call, else the
	// from side's first value (the party the call is placed for); for
	// TA/TC/TE the caller ID presented to the leg.
	CLI string `json:"cli,omitempty"`
	// AttemptID is the leg id (TA, TC, TE).
	AttemptID string `json:"attemptid,omitempty"`
	// Time is the event's time, RFC 3339.
	Time string `json:"time"`
	// To: for TA the agent id when the attempt offers the call to an
	// agent, else the number dialed; for TC and TE the number dialed.
	To string `json:"to,omitempty"`
	// Duration in whole seconds: for TE from the attempt's start to its
	// end, for H from the call's creation to its end.
	Duration string `json:"duration,omitempty"`
	// Result (TE): answered, busy, congestion or noanswer — the spec's
	// four; the leg's own disposition is in leg.disposition.
	Result string `json:"result,omitempty"`
}

// Summary closes a call, after the contact-centre spec's callSummary.
type Summary struct {
	// Event is "callSummary".
	Event string `json:"event"`
	// CallDirection is "Incoming" for a call to an app, "Outgoing" for a
	// click-to-call (Switchboard placed both sides).
	CallDirection string `json:"call_direction"`
	// CallDepartment is the group that took the call (the answered to
	// leg's group, else the from leg's), when a group did; else, for an
	// inbound call, its app.
	CallDepartment string `json:"call_department,omitempty"`
	// CallerNumber is the number the from side was reached on (the
	// answered from leg's), else the from side's first value;
	// CalledNumber the same for the to side. For an inbound call they
	// are the caller's number and the number that answered (the agent's,
	// else the virtual number dialed).
	CallerNumber string `json:"caller_number"`
	CalledNumber string `json:"called_number"`
	RecordingURL string `json:"recording_url,omitempty"`
	// CallDuration is the talk time in whole seconds (0 without a bridge).
	CallDuration string `json:"call_duration"`
	// CallStatus is "finished".
	CallStatus string `json:"call_status"`
	// Outcome and HangupBy are the call's.
	Outcome  engine.Outcome  `json:"outcome"`
	HangupBy engine.HangupBy `json:"hangup_by,omitempty"`
}

// Body returns the JSON body delivered for ev.
func Body(ev engine.Event) ([]byte, error) {
	return json.Marshal(NewPayload(ev))
}

// NewPayload returns the payload of ev.
func NewPayload(ev engine.Event) Payload {
	p := Payload{Event: ev, IVR: ivrEvent(ev)}
	if ev.Type == engine.EventCallEnded && ev.Call != nil {
		p.Summary = summary(ev.Call)
	}
	return p
}

func ivrEvent(ev engine.Event) *IVREvent {
	e := &IVREvent{App: ev.App, UniqueID: ev.CallID, Time: ev.Time.UTC().Format(time.RFC3339)}
	switch ev.Type {
	case engine.EventCallCreated:
		e.Event = "IN"
		e.CLI = firstFrom(ev.Call)
	case engine.EventCallEnded:
		e.Event = "H"
		e.CLI = firstFrom(ev.Call)
		if c := ev.Call; c != nil && c.EndedAt != nil {
			e.Duration = seconds(c.EndedAt.Sub(c.CreatedAt))
		}
	case engine.EventLegDialing, engine.EventLegAnswered, engine.EventLegEnded:
		l := ev.Leg
		if l == nil || l.Inbound {
			return nil
		}
		e.CLI, e.AttemptID, e.To = l.CallerID, l.ID, l.Number
		switch ev.Type {
		case engine.EventLegDialing:
			e.Event = "TA"
			if l.AgentID != "" {
				e.To = l.AgentID
			}
		case engine.EventLegAnswered:
			e.Event = "TC"
		default:
			e.Event = "TE"
			e.Result = ivrResult(l.Disposition)
			end := ev.Time
			if l.EndedAt != nil {
				end = *l.EndedAt
			}
			e.Duration = seconds(end.Sub(l.CreatedAt))
		}
	default:
		return nil
	}
	return e
}

// ivrResult maps a disposition onto the spec's four results: an agent
// that could not be offered the call (skipped) or declined it (rejected)
// was unavailable, "busy"; a network or backend failure is "congestion";
// an attempt cancelled before an answer is "noanswer".
func ivrResult(d engine.Disposition) string {
	switch d {
	case engine.DispAnswered:
		return "answered"
	case engine.DispBusy, engine.DispRejected, engine.DispSkipped:
		return "busy"
	case engine.DispCongestion, engine.DispFailed:
		return "congestion"
	}
	return "noanswer"
}

func summary(c *engine.Call) *Summary {
	s := &Summary{
		Event: "callSummary", CallDirection: "Outgoing", CallStatus: "finished",
		RecordingURL: c.RecordingURL, Outcome: c.Outcome, HangupBy: c.HangupBy,
		CallDuration: seconds(time.Duration(c.TalkSeconds * float64(time.Second))),
	}
	if c.Direction == engine.DirectionInbound {
		s.CallDirection = "Incoming"
	}
	from, to := answered(c, engine.SideFrom), answered(c, engine.SideTo)
	s.CallerNumber, s.CalledNumber = firstFrom(c), first(c.Request.To.Values)
	if c.Direction == engine.DirectionInbound {
		s.CallerNumber, s.CalledNumber = c.Caller, c.Called
	}
	if from != nil {
		s.CallerNumber = from.Number
	}
	if to != nil {
		s.CalledNumber = to.Number
	}
	switch {
	case to != nil && to.GroupID != "":
		s.CallDepartment = to.GroupID
	case from != nil && from.GroupID != "":
		s.CallDepartment = from.GroupID
	case c.App != "":
		s.CallDepartment = c.App
	}
	return s
}

// answered returns the side's answered leg.
func answered(c *engine.Call, side engine.SideName) *engine.Leg {
	for _, l := range c.Legs {
		if l.Side == side && l.Disposition == engine.DispAnswered {
			return l
		}
	}
	return nil
}

func firstFrom(c *engine.Call) string {
	if c == nil {
		return ""
	}
	if c.Direction == engine.DirectionInbound {
		return c.Caller
	}
	return first(c.Request.From.Values)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// seconds renders a duration in whole seconds, rounded, never negative.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Round(max(d, 0).Seconds())), 10)
}
