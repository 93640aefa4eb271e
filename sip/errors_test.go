package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
)

// dialogErr is what WaitAnswer returns on a non-2xx final response.
func dialogErr(code int) error {
	return &sipgo.ErrDialogResponse{Res: sipmsg.NewResponse(code, fmt.Sprintf("reason %d", code))}
}

// afterCancel is what Dial hands classifyInviteError when WaitAnswer
// returned the context error and the INVITE was closed by res.
func afterCancel(code int, err error) error {
	return &finalResponseError{res: sipmsg.NewResponse(code, fmt.Sprintf("reason %d", code)), err: err}
}

func canceledCtx(cause error) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	return ctx
}

func ringTimeoutCtx() context.Context {
	ctx, cancel := context.WithTimeoutCause(context.Background(), 0, engine.ErrRingTimeout)
	_ = cancel
	<-ctx.Done()
	return ctx
}

func TestClassifyInviteError(t *testing.T) {
	bg := context.Background()
	timerB := errors.Join(errors.New("transaction terminated"), fmt.Errorf("Timer_B timed out. %w", sipmsg.ErrTransactionTimeout))
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	transport := fmt.Errorf("fail to write request: %w", sipmsg.ErrTransactionTransport)
	dns := &net.DNSError{Err: "no such host", Name: "trunk.invalid", IsNotFound: true}

	tests := []struct {
		name  string
		ctx   context.Context
		err   error
		disp  engine.Disposition
		code  int
		cause error // errors.Is(de, cause) must hold
	}{
		// Final responses, the caller still waiting.
		{"486 busy", bg, dialogErr(486), engine.DispBusy, 486, nil},
		{"600 busy everywhere", bg, dialogErr(600), engine.DispBusy, 600, nil},
		{"603 decline", bg, dialogErr(603), engine.DispRejected, 603, nil},
		{"604 other 6xx", bg, dialogErr(604), engine.DispRejected, 604, nil},
		{"606 other 6xx", bg, dialogErr(606), engine.DispRejected, 606, nil},
		{"480 unavailable", bg, dialogErr(480), engine.DispNoAnswer, 480, nil},
		{"408 timeout", bg, dialogErr(408), engine.DispNoAnswer, 408, nil},
		{"487 terminated by far end", bg, dialogErr(487), engine.DispCanceled, 487, nil},
		{"404 not found", bg, dialogErr(404), engine.DispFailed, 404, nil},
		{"484 incomplete", bg, dialogErr(484), engine.DispFailed, 484, nil},
		{"403 forbidden", bg, dialogErr(403), engine.DispFailed, 403, nil},
		{"401 after auth failed", bg, dialogErr(401), engine.DispFailed, 401, nil},
		{"407 after auth failed", bg, dialogErr(407), engine.DispFailed, 407, nil},
		{"488 other 4xx", bg, dialogErr(488), engine.DispFailed, 488, nil},
		{"400 other 4xx", bg, dialogErr(400), engine.DispFailed, 400, nil},
		{"302 redirect not followed", bg, dialogErr(302), engine.DispFailed, 302, nil},
		{"503 unavailable", bg, dialogErr(503), engine.DispCongestion, 503, nil},
		{"500 server error", bg, dialogErr(500), engine.DispCongestion, 500, nil},
		{"502 bad gateway", bg, dialogErr(502), engine.DispCongestion, 502, nil},
		{"504 gateway timeout", bg, dialogErr(504), engine.DispCongestion, 504, nil},
		{"value ErrDialogResponse", bg, sipgo.ErrDialogResponse{Res: sipmsg.NewResponse(486, "Busy")}, engine.DispBusy, 486, nil},

		// No final response.
		{"timer B", bg, timerB, engine.DispNoAnswer, 0, sipmsg.ErrTransactionTimeout},
		{"transport error", bg, transport, engine.DispFailed, 0, sipmsg.ErrTransactionTransport},
		{"connection refused", bg, refused, engine.DispFailed, 0, syscall.ECONNREFUSED},
		{"dns failure", bg, dns, engine.DispFailed, 0, nil},
		{"other error", bg, errors.New("more than 10 responses received"), engine.DispFailed, 0, nil},
		{"no usable SDP", bg, afterCancel(200, fmt.Errorf("%w: no audio stream", errNoUsableSDP)), engine.DispFailed, 200, errNoUsableSDP},
		{"backend closed", bg, afterCancel(200, ErrClosed), engine.DispCanceled, 200, ErrClosed},

		// The caller gave up.
		{"cancelled before any response", canceledCtx(engine.ErrCallStopped), context.Canceled, engine.DispCanceled, 0, engine.ErrCallStopped},
		{"lost race, 487 to our CANCEL", canceledCtx(engine.ErrLostRace), afterCancel(487, context.Canceled), engine.DispCanceled, 487, engine.ErrLostRace},
		{"ring timeout, 487 to our CANCEL", ringTimeoutCtx(), afterCancel(487, context.DeadlineExceeded), engine.DispNoAnswer, 487, engine.ErrRingTimeout},
		{"ring timeout, no final response", ringTimeoutCtx(), context.DeadlineExceeded, engine.DispNoAnswer, 0, engine.ErrRingTimeout},
		{"ring timeout, nothing ever answered", ringTimeoutCtx(), timerB, engine.DispNoAnswer, 0, engine.ErrRingTimeout},
		{"cancelled, CANCEL transaction failed", canceledCtx(engine.ErrCallStopped), transport, engine.DispCanceled, 0, engine.ErrCallStopped},
		{"200 crossed our CANCEL", canceledCtx(engine.ErrLostRace), afterCancel(200, context.Canceled), engine.DispCanceled, 200, engine.ErrLostRace},
		{"200 crossed ring timeout", ringTimeoutCtx(), afterCancel(200, context.DeadlineExceeded), engine.DispNoAnswer, 200, engine.ErrRingTimeout},
		{"far end ignored CANCEL with 486", canceledCtx(engine.ErrLostRace), afterCancel(486, context.Canceled), engine.DispCanceled, 486, engine.ErrLostRace},
		{"486 raced our cancel", canceledCtx(engine.ErrLostRace), dialogErr(486), engine.DispBusy, 486, nil},
		{"first response after cancel was 603", canceledCtx(engine.ErrCallStopped), afterCancel(603, errors.New("non provisional response received during CANCEL")), engine.DispRejected, 603, nil},
		{"487 raced our cancel", canceledCtx(engine.ErrCallStopped), dialogErr(487), engine.DispCanceled, 487, engine.ErrCallStopped},
		{"plain cancel", canceledCtx(nil), context.Canceled, engine.DispCanceled, 0, context.Canceled},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("duplicate row %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			de := classifyInviteError(tt.ctx, tt.err)
			if de == nil {
				t.Fatal("nil DialError")
			}
			if de.Disposition != tt.disp || de.SIPCode != tt.code {
				t.Fatalf("got %s/%d (%v), want %s/%d", de.Disposition, de.SIPCode, de, tt.disp, tt.code)
			}
			if tt.cause != nil && !errors.Is(de, tt.cause) {
				t.Fatalf("%v does not wrap %v", de, tt.cause)
			}
			if de.Error() == "" {
				t.Fatal("empty error text")
			}
		})
	}
}

func TestDispositionOfCoversEveryClass(t *testing.T) {
	for code := 300; code < 700; code++ {
		d := engine.DispositionOfSIP(code)
		if d == "" || d == engine.DispAnswered {
			t.Fatalf("code %d -> %q", code, d)
		}
	}
}
