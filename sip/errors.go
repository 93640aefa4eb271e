package sip

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
)

// finalResponseError carries the final response that ended an INVITE the
// caller had already given up on (the 487 after our CANCEL), next to the
// context error WaitAnswer returned.
type finalResponseError struct {
	res *sipmsg.Response
	err error
}

func (e *finalResponseError) Error() string {
	return fmt.Sprintf("%v (final response %d %s)", e.err, e.res.StatusCode, e.res.Reason)
}

func (e *finalResponseError) Unwrap() error { return e.err }

// finalResponse returns the SIP final response an INVITE error carries.
func finalResponse(err error) *sipmsg.Response {
	var fr *finalResponseError
	if errors.As(err, &fr) {
		return fr.res
	}
	var pdr *sipgo.ErrDialogResponse
	if errors.As(err, &pdr) && pdr != nil {
		return pdr.Res
	}
	var dr sipgo.ErrDialogResponse
	if errors.As(err, &dr) {
		return dr.Res
	}
	return nil
}

// classifyInviteError is the one place that turns how an INVITE ended
// (err from sending it or waiting for its answer, and the dial context)
// into a DialError.
//
//   - The caller gave up (ctx done) and no independent final response came:
//     canceled, or noanswer when context.Cause is engine.ErrRingTimeout.
//     SIPCode still records the final response that closed the INVITE
//     (487 when the far end answered our CANCEL) and Err is the cause.
//   - A final response: 486/600 busy; 603 and other 6xx rejected; 480/408
//     noanswer; 487 canceled; 5xx congestion; 3xx and 4xx (404, 484, 403,
//     401/407 after digest auth failed, …) failed.
//   - A 200 without usable SDP (ACKed and hung up): failed "no usable SDP".
//   - Timer B (no final response in time): noanswer.
//   - Network and transport errors, and anything else: failed.
func classifyInviteError(ctx context.Context, err error) *engine.DialError {
	var code int
	var reason string
	if res := finalResponse(err); res != nil {
		code, reason = res.StatusCode, res.Reason
	}
	ctxErr := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)

	// A final response that came on its own (not the answer to our CANCEL)
	// says more than the cancellation that raced it.
	independent := code >= 300 && code != 487 && !ctxErr
	if ctx.Err() != nil && !independent {
		cause := context.Cause(ctx)
		disp := engine.DispCanceled
		if errors.Is(cause, engine.ErrRingTimeout) {
			disp = engine.DispNoAnswer
		}
		switch {
		case code >= 200 && code < 300:
			reason = "answered after cancel"
		case reason == "":
			reason = cause.Error()
		}
		return &engine.DialError{Disposition: disp, SIPCode: code, Reason: reason, Err: cause}
	}

	if code >= 300 {
		return &engine.DialError{Disposition: engine.DispositionOfSIP(code), SIPCode: code, Reason: reason, Err: err}
	}

	switch {
	case errors.Is(err, ErrClosed):
		return &engine.DialError{Disposition: engine.DispCanceled, SIPCode: code, Reason: "backend closed", Err: err}
	case errors.Is(err, errNoUsableSDP):
		return &engine.DialError{Disposition: engine.DispFailed, SIPCode: code, Reason: "no usable SDP", Err: err}
	case err == nil:
		return &engine.DialError{Disposition: engine.DispFailed, Reason: "no final response"}
	case errors.Is(err, sipmsg.ErrTransactionTimeout):
		return &engine.DialError{Disposition: engine.DispNoAnswer, Reason: "timer B", Err: err}
	case ctxErr:
		// The context error of a context other than ctx (should not happen).
		return &engine.DialError{Disposition: engine.DispCanceled, Reason: err.Error(), Err: err}
	case errors.Is(err, sipmsg.ErrTransactionTransport), isNetError(err):
		return &engine.DialError{Disposition: engine.DispFailed, Reason: "transport error", Err: err}
	default:
		return &engine.DialError{Disposition: engine.DispFailed, Reason: "invite failed", Err: err}
	}
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &de) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, sipmsg.ErrTransportNotSuported)
}
