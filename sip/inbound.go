package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
)

// DefaultOfferTimeout is how long an inbound call may stay offered to the
// handler, neither answered nor rejected, before the backend rejects it
// (480) itself.
const DefaultOfferTimeout = 60 * time.Second

// Causes of an InboundCall's Context, and errors of its methods.
var (
	// ErrCallerCancelled: the caller gave up before the answer (CANCEL).
	ErrCallerCancelled = errors.New("sip: the caller cancelled the call")
	// ErrNotAnswered: the call stayed offered for DefaultOfferTimeout and
	// was rejected (480).
	ErrNotAnswered = errors.New("sip: inbound call neither answered nor rejected in time")
	// ErrAlreadyAnswered is returned by Answer, Reject and Ringing once
	// the call was answered or rejected (or while Answer is under way).
	ErrAlreadyAnswered = errors.New("sip: inbound call already answered or rejected")
	// ErrNoACK is why Answer fails when the caller did not ACK our 200.
	ErrNoACK = errors.New("sip: no ACK for the 200 (timer H)")
)

var _ engine.InboundCall = (*inboundCall)(nil)

// OnInbound sets the function inbound calls are offered to (cmd gives
// it the engine's Inbound). It is called on a goroutine of its own for
// each call, which it answers or rejects. Without one, INVITEs are
// refused (403); nil removes it.
func (b *Backend) OnInbound(h func(engine.InboundCall)) {
	if h == nil {
		b.onInbound.Store(nil)
		return
	}
	b.onInbound.Store(&h)
}

// trunkSource is an IP prefix a trunk sends its calls from.
type trunkSource struct {
	prefix netip.Prefix
	trunk  string
}

// resolveSources builds the source table: each trunk's Sources, or its
// Host (resolved now when it is a DNS name; a name that does not resolve
// leaves the trunk without sources, so its calls are refused, and says
// so in the log).
func (b *Backend) resolveSources(ctx context.Context) []trunkSource {
	var out []trunkSource
	for _, t := range b.cfg.Trunks {
		if len(t.Sources) > 0 {
			for _, src := range t.Sources {
				if p, err := parseSource(src); err == nil { // Validate checked them
					out = append(out, trunkSource{prefix: p, trunk: t.Name})
				}
			}
			continue
		}
		if ip, err := netip.ParseAddr(t.Host); err == nil {
			ip = ip.Unmap()
			out = append(out, trunkSource{prefix: netip.PrefixFrom(ip, ip.BitLen()), trunk: t.Name})
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(lctx, "ip", t.Host)
		cancel()
		if err != nil || len(ips) == 0 {
			b.log.Warn("trunk host does not resolve; its inbound calls will be refused (set its sources)",
				"trunk", t.Name, "host", t.Host, "error", err)
			continue
		}
		for _, ip := range ips {
			ip = ip.Unmap()
			out = append(out, trunkSource{prefix: netip.PrefixFrom(ip, ip.BitLen()), trunk: t.Name})
		}
	}
	return out
}

// trunkOf names the trunk whose sources hold the IP of a packet source
// ("ip:port"), or false.
func (b *Backend) trunkOf(source string) (string, bool) {
	ap, err := netip.ParseAddrPort(source)
	if err != nil {
		return "", false
	}
	ip := ap.Addr().Unmap().WithZone("")
	for _, s := range b.sources {
		if s.prefix.Contains(ip) {
			return s.trunk, true
		}
	}
	return "", false
}

// offerState is where an inbound call stands.
type offerState int

const (
	offerPending   offerState = iota // offered: may be answered or rejected
	offerAnswering                   // Answer under way
	offerDone                        // answered, rejected or gone
)

// rejection is a final response to send when Answer, under way, fails
// before its 200.
type rejection struct {
	code   int
	reason string
	cause  error
}

// inboundCall is an INVITE offered to the handler (engine.InboundCall).
type inboundCall struct {
	b      *Backend
	dlg    *sipgo.DialogServerSession
	tx     sipmsg.ServerTransaction
	source string // the INVITE's packet source
	log    *slog.Logger

	caller, callerName, called string

	// The caller's offer: its SDP, where its RTP goes, the codec (its
	// first that we support) and its telephone-event payload type.
	offer  []byte
	remote netip.AddrPort
	codec  Codec
	te     int

	ctx    context.Context
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	state   offerState
	ringing bool
	late    *rejection    // came while Answer was under way
	stops   []func() bool // the watchers of closeCtx and the dialog
	settle  sync.Once
	settled chan struct{} // closed once nothing more will be sent
}

// offer handles an out-of-dialog INVITE: refused (see the package doc,
// "Inbound calls"), or offered to the handler. It returns, ending the
// handler's hold on the INVITE transaction, once the call is answered
// or rejected.
func (b *Backend) offer(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	var callID string
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	log := b.log.With("sip_call_id", callID, "source", req.Source())
	trunk, ok := b.trunkOf(req.Source())
	if !ok {
		// Debug: whoever can send a UDP packet must not flood the log.
		b.inboundStats.notTrunk.Add(1)
		log.Debug("inbound call refused: not from a trunk")
		b.respond(req, tx, 403, "Forbidden", nil)
		return
	}
	log = log.With("trunk", trunk)
	h := b.onInbound.Load()
	if h == nil {
		b.inboundStats.noHandler.Add(1)
		log.Info("inbound call refused: inbound calls are not handled")
		b.respond(req, tx, 403, "Forbidden", nil)
		return
	}
	ic, code, reason, why := parseInbound(req)
	if code != 0 {
		b.inboundStats.badRequest.Add(1)
		log.Info("inbound call refused", "sip_code", code, "why", why)
		b.respond(req, tx, code, reason, nil)
		return
	}
	b.mu.Lock()
	closed, cache := b.closed, b.uas[sipmsg.NetworkToLower(req.Transport())]
	if !closed {
		b.offers.Add(1)
	}
	b.mu.Unlock()
	if closed || cache == nil {
		b.respond(req, tx, 503, "Service Unavailable", nil)
		return
	}
	defer b.offers.Done()
	dlg, err := cache.ReadInvite(req, tx)
	if err != nil {
		if tx.Err() != nil { // cancelled already: the 487 went out
			log.Info("inbound call cancelled before it was offered")
			return
		}
		b.inboundStats.badRequest.Add(1)
		log.Info("inbound call refused", "sip_code", 400, "why", err.Error())
		b.respond(req, tx, 400, "Bad Request", nil)
		return
	}
	b.respond(req, tx, 100, "Trying", nil)

	ic.b, ic.dlg, ic.tx, ic.source = b, dlg, tx, req.Source()
	ic.log = log.With("caller", ic.caller, "called", ic.called)
	ic.settled = make(chan struct{})
	ic.ctx, ic.cancel = context.WithCancelCause(context.Background())
	stops := []func() bool{
		context.AfterFunc(b.closeCtx, func() { ic.expire(503, "Service Unavailable", ErrClosed) }),
		context.AfterFunc(dlg.Context(), func() { ic.gone(context.Cause(dlg.Context())) }),
	}
	ic.mu.Lock()
	ic.stops = stops
	ic.mu.Unlock()
	select {
	case <-ic.settled: // the watchers stopped before they were known
		for _, stop := range stops {
			stop()
		}
	default:
	}

	b.inboundStats.accepted.Add(1)
	ic.log.Info("inbound call", "caller_name", ic.callerName, "codec", ic.codec.Name, "remote_rtp", ic.remote.String())
	go (*h)(ic)

	timer := time.NewTimer(b.offerTimeout)
	defer timer.Stop()
	select {
	case <-ic.settled:
	case <-timer.C:
		ic.log.Warn("inbound call neither answered nor rejected in time; rejecting it", "offer_timeout", b.offerTimeout.String())
		ic.expire(480, "Temporarily Unavailable", ErrNotAnswered)
		<-ic.settled
	}
}

// parseInbound reads what an offered call needs from its INVITE; a
// non-zero code is the response refusing it, why says what was wrong.
func parseInbound(req *sipmsg.Request) (ic *inboundCall, code int, reason, why string) {
	from := req.From()
	if from == nil || from.Address.User == "" {
		return nil, 400, "Bad Request", "no caller (user part of From)"
	}
	called := req.Recipient.User
	if called == "" && req.To() != nil {
		called = req.To().Address.User
	}
	if called == "" {
		return nil, 404, "Not Found", "no number called (user part of the Request-URI or To)"
	}
	if req.Contact() == nil {
		return nil, 400, "Bad Request", "no Contact"
	}
	body := req.Body()
	if len(body) == 0 {
		// A delayed offer (SDP in the ACK) is not supported.
		return nil, 488, "Not Acceptable Here", "no SDP offer"
	}
	remote, codec, err := parseAnswer(body, defaultCodecs)
	if err != nil {
		return nil, 488, "Not Acceptable Here", err.Error()
	}
	return &inboundCall{
		caller:     from.Address.User,
		callerName: from.DisplayName,
		called:     called,
		offer:      body,
		remote:     remote,
		codec:      codec,
		te:         telephoneEvent(body),
	}, 0, "", ""
}

func (ic *inboundCall) Caller() string           { return ic.caller }
func (ic *inboundCall) CallerName() string       { return ic.callerName }
func (ic *inboundCall) Called() string           { return ic.called }
func (ic *inboundCall) Context() context.Context { return ic.ctx }

// Ringing sends 180 Ringing, once.
func (ic *inboundCall) Ringing() error {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	switch {
	case ic.state != offerPending:
		return ErrAlreadyAnswered
	case ic.ringing:
		return nil
	}
	ic.ringing = true
	res := ic.response(180, "Ringing", nil)
	contact := ic.contact()
	res.AppendHeader(&contact)
	if err := ic.tx.Respond(res); err != nil {
		return fmt.Errorf("sip: 180: %w", err)
	}
	return nil
}

// Reject sends the final response code (300-699).
func (ic *inboundCall) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("sip: reject: %d is not a final failure status (300-699)", code)
	}
	ic.mu.Lock()
	if ic.state != offerPending {
		ic.mu.Unlock()
		return ErrAlreadyAnswered
	}
	ic.state = offerDone
	ic.mu.Unlock()
	defer ic.done()
	ic.log.Info("inbound call rejected", "sip_code", code, "reason", reason)
	return ic.final(code, reason)
}

// expire rejects the call on the backend's behalf (backend closing, or
// the offer timed out) and ends its Context with cause. While Answer is
// under way it is left to Answer: if that fails before its 200, the
// rejection is sent then.
func (ic *inboundCall) expire(code int, reason string, cause error) {
	ic.mu.Lock()
	switch ic.state {
	case offerPending:
		ic.state = offerDone
		ic.mu.Unlock()
		ic.cancel(cause)
		if err := ic.final(code, reason); err != nil {
			ic.log.Debug("rejecting inbound call failed", "sip_code", code, "error", err)
		}
		ic.done()
	case offerAnswering:
		ic.late = &rejection{code: code, reason: reason, cause: cause}
		ic.mu.Unlock()
	default:
		ic.mu.Unlock()
	}
}

// gone ends the call when its INVITE transaction ends before the answer:
// a CANCEL (the transaction sent 487 already) or a transport failure.
func (ic *inboundCall) gone(cause error) {
	switch {
	case errors.Is(cause, sipmsg.ErrTransactionCanceled):
		cause = ErrCallerCancelled
	case cause == nil || errors.Is(cause, context.Canceled):
		cause = errors.New("sip: the INVITE transaction ended")
	}
	ic.cancel(cause)
	ic.mu.Lock()
	if ic.state != offerPending {
		ic.mu.Unlock()
		return
	}
	ic.state = offerDone
	ic.mu.Unlock()
	ic.log.Info("inbound call ended before the answer", "cause", cause.Error())
	ic.dlg.Close()
	ic.done()
}

// done marks the call settled: nothing more will be answered for its
// INVITE, and the watchers are stopped.
func (ic *inboundCall) done() {
	ic.settle.Do(func() {
		close(ic.settled)
		ic.mu.Lock()
		stops := ic.stops
		ic.mu.Unlock()
		for _, stop := range stops {
			stop()
		}
	})
}

// response is a response to the INVITE in its dialog (our To tag).
func (ic *inboundCall) response(code int, reason string, body []byte) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(ic.dlg.InviteRequest, code, reason, body)
	res.AppendHeader(sipmsg.NewHeader("User-Agent", ic.b.cfg.userAgent()))
	return res
}

func (ic *inboundCall) contact() sipmsg.ContactHeader {
	return ic.b.contact(sipmsg.NetworkToLower(ic.dlg.InviteRequest.Transport()))
}

// final sends a final failure response; the transaction retransmits it
// and absorbs its ACK.
func (ic *inboundCall) final(code int, reason string) error {
	defer ic.dlg.Close()
	if err := ic.tx.Respond(ic.response(code, reason, nil)); err != nil {
		return fmt.Errorf("sip: %d: %w", code, err)
	}
	return nil
}

// Answer answers with 200 OK and our SDP (the caller's first codec we
// support, and its telephone-event if it offered one), waits for the ACK
// and returns the call's Session. It fails without having answered when
// ctx or the call ended first or no RTP port is free (the call can then
// still be rejected); it fails after the 200, hanging up (BYE), when no
// ACK came within Timer H (32 s), ctx ended or the backend closed.
func (ic *inboundCall) Answer(ctx context.Context) (engine.Session, error) {
	ic.mu.Lock()
	switch {
	case ic.state != offerPending:
		ic.mu.Unlock()
		return nil, ErrAlreadyAnswered
	case ic.ctx.Err() != nil:
		ic.mu.Unlock()
		return nil, fmt.Errorf("sip: answer: %w", context.Cause(ic.ctx))
	}
	ic.state = offerAnswering
	ic.mu.Unlock()

	s, sent, err := ic.answer(ctx)
	if err == nil || sent {
		ic.mu.Lock()
		ic.state = offerDone
		ic.mu.Unlock()
		ic.done()
		return s, err
	}
	// Not answered: the call is offered again, unless it was to be
	// rejected meanwhile.
	ic.mu.Lock()
	ic.state = offerPending
	late := ic.late
	ic.mu.Unlock()
	if late != nil {
		ic.expire(late.code, late.reason, late.cause)
	}
	return nil, err
}

// answer does Answer's work; sent says whether the 200 went out.
func (ic *inboundCall) answer(ctx context.Context) (_ *Session, sent bool, _ error) {
	b := ic.b
	if ctx.Err() != nil {
		return nil, false, fmt.Errorf("sip: answer: %w", context.Cause(ctx))
	}
	stream, err := b.pool.Listen(b.listenIP)
	if err != nil {
		ic.log.Warn("no RTP port to answer with", "error", err)
		return nil, false, fmt.Errorf("sip: answer: no RTP port: %w", err)
	}
	answer, err := buildSDP(b.advertise, stream.Port(), []Codec{ic.codec}, ic.te, rand.Uint64()>>1)
	if err != nil {
		b.closeStream(stream)
		return nil, false, fmt.Errorf("sip: answer: SDP: %w", err)
	}
	setRemote(stream, ic.remote, ic.source)
	s := newSession(b, serverDialog{b: b, d: ic.dlg, tx: ic.tx}, stream, ic.codec, ic.te, answer, ic.log)
	s.setDirection(ic.offer, time.Now())
	if !b.register(s) {
		b.closeStream(stream)
		return nil, false, fmt.Errorf("sip: answer: %w", ErrClosed)
	}
	// Released without a BYE when the 200 cannot go out.
	abandon := func(err error) (*Session, bool, error) {
		close(s.acked)
		if s.ended.CompareAndSwap(false, true) {
			s.cancel(err)
			s.finish()
		}
		return nil, false, err
	}
	s.listen() // the caller may send RTP as soon as it has our 200

	res := ic.response(200, "OK", answer)
	contact := ic.contact()
	res.AppendHeader(&contact)
	res.AppendHeader(sipmsg.NewHeader("Allow", allowMethods))
	res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	// Registered before the 200 so that an ACK that comes at once is seen.
	states := ic.dlg.StateRead()
	if ic.ctx.Err() != nil {
		return abandon(fmt.Errorf("sip: answer: %w", context.Cause(ic.ctx)))
	}
	ic.dlg.InviteResponse = res // what the dialog's BYE is built from
	if err := ic.tx.Respond(res); err != nil {
		if ic.ctx.Err() != nil {
			err = context.Cause(ic.ctx) // a CANCEL crossed the answer
		}
		return abandon(fmt.Errorf("sip: answer: 200: %w", err))
	}
	err = ic.waitACK(ctx, res, states)
	close(s.acked)
	if err != nil {
		ic.log.Warn("answered call not confirmed; hanging up", "error", err)
		s.Hangup(context.Background(), err)
		return nil, true, err
	}
	s.watchDialog()
	ic.log.Info("inbound call answered", "codec", ic.codec.Name, "rtp_port", stream.Port())
	return s, true, nil
}

// waitACK retransmits our 200 (T1, doubling up to T2, RFC 3261 13.3.1.4)
// until the ACK confirms the dialog, for at most Timer H.
func (ic *inboundCall) waitACK(ctx context.Context, res *sipmsg.Response, states <-chan sipmsg.DialogState) error {
	interval := sipmsg.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	deadline := time.NewTimer(ic.b.ackTimeout)
	defer deadline.Stop()
	for {
		select {
		case st := <-states:
			switch st {
			case sipmsg.DialogStateConfirmed:
				return nil
			case sipmsg.DialogStateEnded:
				return errors.New("sip: answer: the dialog ended before the ACK")
			}
		case <-retransmit.C:
			if err := ic.tx.Respond(res); err != nil {
				return fmt.Errorf("sip: answer: retransmitting 200: %w", err)
			}
			interval = min(2*interval, sipmsg.T2)
			retransmit.Reset(interval)
		case <-deadline.C:
			return ErrNoACK
		case <-ctx.Done():
			return fmt.Errorf("sip: answer: %w", context.Cause(ctx))
		case <-ic.b.closeCtx.Done():
			return fmt.Errorf("sip: answer: %w", ErrClosed)
		}
	}
}
