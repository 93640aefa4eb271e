package asterisk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard/switchboard/engine"
)

// Stasis arguments that mark the channels this backend creates, so that
// their StasisStart is never taken for an inbound call.
const (
	dialArg  = "sb:dial"
	snoopArg = "sb:snoop"
)

// originateTimeout is the originate's own timeout, in seconds: longer
// than any ring time (the engine cancels the attempt when its ring time
// ends), so it only bounds a channel whose engine vanished.
const originateTimeout = 300

// Dial rings req.Number through its trunk: it registers a channel id of
// its own, then originates that channel into the Stasis application and
// blocks until it answers (a *Session) or ends (a *engine.DialError). See
// engine.Backend for the contract and classifyDial for the dispositions.
func (b *Backend) Dial(ctx context.Context, req engine.DialRequest, progress func(engine.Progress)) (engine.Session, error) {
	log := b.log.With("call_id", req.CallID, "leg_id", req.LegID)
	if err := b.beginDial(); err != nil {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "backend not ready", Err: err}
	}
	defer b.dials.Done()

	if !validNumber(req.Number) {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "bad number", Err: fmt.Errorf("asterisk: number %q cannot be dialed", req.Number)}
	}
	trunk, err := b.cfg.route(req.Number)
	if err != nil {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "no route", Err: err}
	}
	callerID := req.CallerID
	if callerID == "" {
		callerID = trunk.CallerID
	}
	if callerID == "" {
		callerID = b.cfg.CallerID
	}
	if callerID != "" && !validNumber(callerID) {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "bad caller id", Err: fmt.Errorf("asterisk: caller id %q", callerID)}
	}
	if ctx.Err() != nil { // nothing sent yet
		return nil, classifyDial(ctx, dialOutcome{})
	}

	// Close cancels the attempt too.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(b.closeCtx, func() { cancel(ErrClosed) })
	defer stop()

	id := dialChannelID(req.LegID)
	log = log.With("channel_id", id, "trunk", trunk.Name)
	s, ok := b.newLeg(id, kindDial, log)
	if !ok {
		return nil, &engine.DialError{Disposition: engine.DispCanceled, Reason: "backend closed", Err: ErrClosed}
	}
	endpoint := trunk.endpoint(req.Number)
	q := url.Values{
		"endpoint": {endpoint},
		"app":      {b.cfg.app()},
		"appArgs":  {dialArg},
		"timeout":  {strconv.Itoa(originateTimeout)},
	}
	if callerID != "" {
		q.Set("callerId", callerIDString(req.CallerName, callerID))
	}
	log.Info("dialing", "number", req.Number, "endpoint", endpoint, "caller_id", callerID)
	var ch ariChannel
	if err := b.c.do(ctx, http.MethodPost, esc("channels", id), q, nil, &ch); err != nil {
		s.endLocal(err)
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode >= 500 {
			// The answer was lost (or Asterisk failed half way): the
			// channel may exist. Hang it up; it is never dialed again.
			b.dropChannel(id, "normal")
		}
		de := classifyDial(ctx, dialOutcome{err: err})
		log.Info("dial failed", dialAttrs(de)...)
		return nil, de
	}
	s.created.Store(true)
	if progress != nil {
		progress(engine.ProgressSent)
	}

	ringing := s.ringing
	for {
		select {
		case <-ringing:
			ringing = nil
			log.Info("ringing")
			if progress != nil {
				progress(engine.ProgressRinging)
			}
		case <-s.answered:
			if ctx.Err() != nil {
				return nil, b.giveUp(ctx, s, log)
			}
			log.Info("answered")
			return s, nil
		case <-s.gone:
			if s.up.Load() && !s.local.Load() {
				// Answered and hung up at once: the engine gets the
				// session, already ended (ErrRemoteHangup).
				log.Info("answered")
				return s, nil
			}
			de := classifyDial(ctx, s.outcome())
			log.Info("dial ended", dialAttrs(de)...)
			return nil, de
		case <-ctx.Done():
			return nil, b.giveUp(ctx, s, log)
		}
	}
}

// giveUp ends an attempt the engine no longer wants (ctx done): the
// channel is hung up with the reason of the cause, unless it ended on its
// own first (then that end is reported, as the native backend reports a
// final response that crossed its CANCEL).
func (b *Backend) giveUp(ctx context.Context, s *Session, log *slog.Logger) *engine.DialError {
	select {
	case <-s.gone:
		de := classifyDial(ctx, s.outcome())
		log.Info("dial ended", dialAttrs(de)...)
		return de
	default:
	}
	cause := context.Cause(ctx)
	answered := s.up.Load()
	if s.endLocal(cause) {
		b.dropChannel(s.id, cancelReason(cause))
	}
	o := s.outcome()
	o.answeredLate = answered
	de := classifyDial(ctx, o)
	log.Info("dial cancelled", dialAttrs(de)...)
	return de
}

// dropChannel hangs up a channel we gave up on, bounded by the request
// timeout; one that cannot be hung up now is remembered as an orphan.
func (b *Backend) dropChannel(id, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.requestTimeout())
	defer cancel()
	if err := b.c.hangup(ctx, id, reason); err != nil {
		b.log.Warn("hanging up an abandoned channel failed; will retry", "channel_id", id, "error", err)
		b.orphan(id)
	}
}

func dialAttrs(de *engine.DialError) []any {
	a := []any{"disposition", string(de.Disposition), "reason", de.Reason}
	if de.Err != nil {
		a = append(a, "error", de.Err.Error())
	}
	return a
}

// callerIDString is ARI's callerId: `"name" <number>` with a name, else
// the number. The name may come from a caller's own INVITE or a lookup
// webhook, so it is never trusted as is: no quotes, backslashes, angle
// brackets or control characters, at most 64 characters.
func callerIDString(name, number string) string {
	var b strings.Builder
	n := 0
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '<' || r == '>' || r == utf8.RuneError {
			continue
		}
		if n == 64 {
			break
		}
		b.WriteRune(r)
		n++
	}
	clean := strings.TrimSpace(b.String())
	if clean == "" {
		return number
	}
	return `"` + clean + `" <` + number + `>`
}
