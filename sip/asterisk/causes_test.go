package asterisk

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard/switchboard/engine"
)

func TestDispositionOfCause(t *testing.T) {
	for _, tc := range []struct {
		cause int
		want  engine.Disposition
		known bool
	}{
		{17, engine.DispBusy, true},
		{16, engine.DispNoAnswer, true},
		{18, engine.DispNoAnswer, true},
		{19, engine.DispNoAnswer, true},
		{20, engine.DispNoAnswer, true},
		{21, engine.DispRejected, true},
		{26, engine.DispCanceled, true},
		{27, engine.DispCongestion, true},
		{34, engine.DispCongestion, true},
		{38, engine.DispCongestion, true},
		{41, engine.DispCongestion, true},
		{42, engine.DispCongestion, true},
		{44, engine.DispCongestion, true},
		{102, engine.DispCongestion, true},
		{1, engine.DispFailed, true},
		{3, engine.DispFailed, true},
		{28, engine.DispFailed, true},
		{58, engine.DispFailed, true},
		{127, engine.DispFailed, true},
		{0, engine.DispFailed, false},
		{99, engine.DispFailed, false},
	} {
		got, known := dispositionOfCause(tc.cause)
		if got != tc.want || known != tc.known {
			t.Errorf("cause %d: got %s/%v, want %s/%v", tc.cause, got, known, tc.want, tc.known)
		}
	}
}

func TestClassifyDial(t *testing.T) {
	live := context.Background()
	cancelled := func(cause error) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		return ctx
	}
	refused := &APIError{Method: "POST", Path: "/channels/x", StatusCode: 400, Message: "Allocation failed"}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		o      dialOutcome
		want   engine.Disposition
		reason string
		err    error
	}{
		{"busy", live, dialOutcome{sent: true, remote: true, cause: 17, causeTxt: "User busy"}, engine.DispBusy, "User busy (Q.850 cause 17)", nil},
		{"no answer", live, dialOutcome{sent: true, remote: true, cause: 19}, engine.DispNoAnswer, "Q.850 cause 19", nil},
		{"rejected", live, dialOutcome{sent: true, remote: true, cause: 21}, engine.DispRejected, "", nil},
		{"congestion", live, dialOutcome{sent: true, remote: true, cause: 34}, engine.DispCongestion, "", nil},
		{"unallocated", live, dialOutcome{sent: true, remote: true, cause: 1}, engine.DispFailed, "", nil},
		{"unknown cause", live, dialOutcome{sent: true, remote: true, cause: 99}, engine.DispFailed, "", nil},
		{"SIP status decides", live, dialOutcome{sent: true, remote: true, cause: 21, sipCode: 403}, engine.DispFailed, "", nil},
		{"SIP 603", live, dialOutcome{sent: true, remote: true, cause: 21, sipCode: 603}, engine.DispRejected, "", nil},
		{"SIP 486", live, dialOutcome{sent: true, remote: true, cause: 17, sipCode: 486}, engine.DispBusy, "", nil},
		{"SIP 503", live, dialOutcome{sent: true, remote: true, cause: 34, sipCode: 503}, engine.DispCongestion, "", nil},
		{"dialstatus when no cause", live, dialOutcome{sent: true, remote: true, dialStatus: "BUSY"}, engine.DispBusy, "dialstatus BUSY", nil},
		{"no cause at all", live, dialOutcome{sent: true, remote: true}, engine.DispFailed, "ended without a cause", nil},
		{"originate refused", live, dialOutcome{err: refused}, engine.DispFailed, "originate failed", refused},
		{"channel gone", live, dialOutcome{sent: true, err: ErrChannelGone}, engine.DispFailed, "channel gone", ErrChannelGone},
		{"ring timeout", cancelled(engine.ErrRingTimeout), dialOutcome{sent: true}, engine.DispNoAnswer, engine.ErrRingTimeout.Error(), engine.ErrRingTimeout},
		{"lost race", cancelled(engine.ErrLostRace), dialOutcome{sent: true}, engine.DispCanceled, engine.ErrLostRace.Error(), engine.ErrLostRace},
		{"stopped", cancelled(engine.ErrCallStopped), dialOutcome{sent: true}, engine.DispCanceled, "", engine.ErrCallStopped},
		{"answered after cancel", cancelled(engine.ErrLostRace), dialOutcome{sent: true, answeredLate: true}, engine.DispCanceled, "answered after cancel", engine.ErrLostRace},
		{"cancelled before sending", cancelled(engine.ErrCallStopped), dialOutcome{}, engine.DispCanceled, "", engine.ErrCallStopped},
		// A busy that came on its own before the cancel is reported as busy.
		{"busy crossed cancel", cancelled(engine.ErrLostRace), dialOutcome{sent: true, remote: true, cause: 17}, engine.DispBusy, "", nil},
		// Our own hang-up's cause says nothing: the cancel wins.
		{"own hangup cause", cancelled(engine.ErrRingTimeout), dialOutcome{sent: true, cause: 19}, engine.DispNoAnswer, "", engine.ErrRingTimeout},
		{"closed", cancelled(ErrClosed), dialOutcome{sent: true}, engine.DispCanceled, "", ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			de := classifyDial(tc.ctx, tc.o)
			if de.Disposition != tc.want {
				t.Errorf("disposition %s, want %s (%v)", de.Disposition, tc.want, de)
			}
			if tc.reason != "" && de.Reason != tc.reason {
				t.Errorf("reason %q, want %q", de.Reason, tc.reason)
			}
			if tc.err != nil && !errors.Is(de, tc.err) {
				t.Errorf("error %v does not wrap %v", de, tc.err)
			}
			if de.SIPCode != tc.o.sipCode {
				t.Errorf("SIP code %d, want %d", de.SIPCode, tc.o.sipCode)
			}
		})
	}
}

func TestRejectReason(t *testing.T) {
	for code, want := range map[int]string{
		404: "unallocated", 604: "unallocated", 484: "number_incomplete",
		486: "busy", 600: "busy", 408: "timeout", 480: "no_answer", 410: "no_answer",
		403: "rejected", 603: "rejected", 699: "rejected", 488: "codec_mismatch",
		500: "failure", 503: "congestion", 502: "congestion",
	} {
		if got := rejectReason(code); got != want {
			t.Errorf("rejectReason(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestCancelReason(t *testing.T) {
	for _, tc := range []struct {
		cause error
		want  string
	}{
		{engine.ErrRingTimeout, "no_answer"},
		{engine.ErrLostRace, "answered_elsewhere"},
		{engine.ErrCallStopped, "normal"},
		{ErrClosed, "normal"},
		{context.Canceled, "normal"},
	} {
		if got := cancelReason(tc.cause); got != tc.want {
			t.Errorf("cancelReason(%v) = %q, want %q", tc.cause, got, tc.want)
		}
	}
}
