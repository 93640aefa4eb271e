package asterisk

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/engine"
)

// This file is the one place where what Asterisk says about a call's end
// (the Q.850 cause of ChannelDestroyed, the dialstatus of a Dial event)
// becomes an engine disposition, and where the engine's reasons become
// the hang-up reasons Asterisk is given.
//
// A channel that ended before it answered is classified by the SIP status
// of its final response when Asterisk reports it (tech_cause, chan_pjsip),
// with the native backend's table; else by its Q.850 cause (chan_pjsip
// and chan_sip map the SIP final response to these; the native backend's
// disposition of that response is in brackets):
//
//	17 user busy                                   busy       (486, 600)
//	16 normal clearing, 18 no user response,
//	19 no answer, 20 subscriber absent              noanswer   (408, 480)
//	21 call rejected                                rejected   (603)
//	26 answered elsewhere                           canceled
//	27 destination out of order, 29 facility
//	rejected, 34 circuit congestion, 38 network out
//	of order, 41 temporary failure, 42 switch
//	congestion, 44 requested channel unavailable,
//	47 resource unavailable, 102 timer expired      congestion (5xx: try later)
//	1 unallocated number, 2/3 no route, 22 number
//	changed, 28 invalid number format, 58 bearer
//	capability not available (no common codec),
//	31 normal unspecified, 111 protocol error,
//	127 interworking, and every other cause         failed     (404, 484, 488, other 4xx)
//
// Cause 21 is also what a 401, 403 or 407 becomes: where Asterisk reports
// the status (chan_pjsip) it decides, and those are failed as on the
// native backend; with chan_sip only the cause is known, and they are
// rejected.
//
// 16 before an answer means the attempt was cleared without a failure
// cause: it did not answer. After the answer every cause is a normal end
// of the session (its Context's cause says who hung up). The temporary
// network conditions (27, 38, 41, 44, 47) are congestion rather than
// failed because, like a 5xx, they say nothing against the number itself:
// the same number may well work later. The permanent ones (1, 3, 22, 28,
// 58) are failed, as the native backend's 404/484/488 are.

// dispositionOfCause maps a Q.850 cause of a channel that never answered;
// ok is false for a cause the table does not name (then: failed).
func dispositionOfCause(cause int) (d engine.Disposition, ok bool) {
	switch cause {
	case 17:
		return engine.DispBusy, true
	case 16, 18, 19, 20:
		return engine.DispNoAnswer, true
	case 21:
		return engine.DispRejected, true
	case 26:
		return engine.DispCanceled, true
	case 27, 29, 34, 38, 41, 42, 44, 47, 102:
		return engine.DispCongestion, true
	case 1, 2, 3, 22, 28, 31, 58, 65, 66, 88, 111, 127:
		return engine.DispFailed, true
	}
	return engine.DispFailed, false
}

// dispositionOfDialStatus maps the final dialstatus of a Dial event (used
// when the channel ended without a cause the table knows).
func dispositionOfDialStatus(status string) (engine.Disposition, bool) {
	switch status {
	case "BUSY":
		return engine.DispBusy, true
	case "NOANSWER":
		return engine.DispNoAnswer, true
	case "CONGESTION":
		return engine.DispCongestion, true
	case "CHANUNAVAIL", "INVALIDARGS":
		return engine.DispFailed, true
	case "CANCEL":
		return engine.DispCanceled, true
	case "DONTCALL", "TORTURE":
		return engine.DispRejected, true
	}
	return "", false
}

// dialOutcome is what is known of a dial attempt that did not answer.
type dialOutcome struct {
	// err: why the originate request failed (sent false), or
	// ErrChannelGone (the channel vanished while events were lost).
	err  error
	sent bool // the originate request was accepted
	// remote: the channel ended on its own (ChannelDestroyed, not after
	// our hang-up), with cause, causeTxt and the last dialStatus seen.
	remote     bool
	cause      int
	causeTxt   string
	sipCode    int // tech_cause, when it is a SIP final status
	dialStatus string
	// answeredLate: it answered while we were giving it up.
	answeredLate bool
}

// classifyDial turns how an attempt ended, and its context, into the
// DialError Dial returns. The rules follow the native backend's
// classifyInviteError:
//
//   - The engine gave up (ctx done) and the channel had not ended on its
//     own: canceled, or noanswer when context.Cause is
//     engine.ErrRingTimeout; Err is the cause.
//   - The originate request failed: failed, with the request's error
//     (nothing rang if Asterisk refused it; if its answer was lost, the
//     channel is hung up, never dialed again).
//   - The channel vanished while the event connection was down: failed,
//     Err ErrChannelGone.
//   - The channel ended on its own: its cause by the table above, else its
//     dialstatus, else failed.
//
// When Asterisk reports the SIP status of the final response (chan_pjsip
// sets ChannelDestroyed's tech_cause, Asterisk 20), it decides, by the
// one table both backends use (engine.DispositionOfSIP), and is the SIPCode;
// otherwise SIPCode is 0 and the Q.850 cause decides. Reason carries the
// Q.850 cause and Asterisk's text for it.
func classifyDial(ctx context.Context, o dialOutcome) *engine.DialError {
	independent := o.remote && !errors.Is(o.err, ErrChannelGone)
	if ctx.Err() != nil && !independent {
		cause := context.Cause(ctx)
		disp := engine.DispCanceled
		if errors.Is(cause, engine.ErrRingTimeout) {
			disp = engine.DispNoAnswer
		}
		reason := cause.Error()
		if o.answeredLate {
			reason = "answered after cancel"
		}
		return &engine.DialError{Disposition: disp, Reason: reason, Err: cause}
	}
	switch {
	case errors.Is(o.err, ErrClosed):
		return &engine.DialError{Disposition: engine.DispCanceled, Reason: "backend closed", Err: o.err}
	case o.err != nil && !o.sent:
		return &engine.DialError{Disposition: engine.DispFailed, Reason: "originate failed", Err: o.err}
	case errors.Is(o.err, ErrChannelGone):
		return &engine.DialError{Disposition: engine.DispFailed, Reason: "channel gone", Err: o.err}
	}
	reason := causeReason(o.cause, o.causeTxt)
	if o.sipCode >= 300 && o.sipCode < 700 {
		return &engine.DialError{Disposition: engine.DispositionOfSIP(o.sipCode), SIPCode: o.sipCode, Reason: reason}
	}
	if d, ok := dispositionOfCause(o.cause); ok {
		return &engine.DialError{Disposition: d, Reason: reason}
	}
	if d, ok := dispositionOfDialStatus(o.dialStatus); ok {
		if o.cause == 0 {
			reason = "dialstatus " + o.dialStatus
		}
		return &engine.DialError{Disposition: d, Reason: reason}
	}
	if o.cause == 0 {
		reason = "ended without a cause"
	}
	return &engine.DialError{Disposition: engine.DispFailed, Reason: reason}
}

func causeReason(cause int, txt string) string {
	if txt == "" {
		return fmt.Sprintf("Q.850 cause %d", cause)
	}
	return fmt.Sprintf("%s (Q.850 cause %d)", txt, cause)
}

// cancelReason is the hang-up reason of an attempt the engine gave up,
// by the context's cause: Asterisk sends it on (Reason header, Q.850).
func cancelReason(cause error) string {
	switch {
	case errors.Is(cause, engine.ErrRingTimeout):
		return "no_answer"
	case errors.Is(cause, engine.ErrLostRace):
		return "answered_elsewhere" // SIP: Reason "Call completed elsewhere"
	}
	return "normal"
}

// rejectReason maps the SIP status an inbound call is rejected with to
// ARI's hang-up reason, chosen so that chan_pjsip answers the caller with
// that status (or the nearest it can send):
//
//	404, 604            unallocated        → 404
//	484                 number_incomplete  → 484
//	486, 600            busy               → 486
//	408                 timeout            → 408
//	480, other 4xx      no_answer          → 480
//	403, 603, other 6xx rejected           → 403
//	488, 606            codec_mismatch     → 488
//	500                 failure            → 500
//	503, other 5xx      congestion         → 503
func rejectReason(code int) string {
	switch code {
	case 404, 604:
		return "unallocated"
	case 484:
		return "number_incomplete"
	case 486, 600:
		return "busy"
	case 408:
		return "timeout"
	case 403, 603:
		return "rejected"
	case 488, 606:
		return "codec_mismatch"
	case 500:
		return "failure"
	}
	switch {
	case code >= 600:
		return "rejected"
	case code >= 500:
		return "congestion"
	default:
		return "no_answer"
	}
}
