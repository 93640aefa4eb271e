package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/switchboard/switchboard/engine"
)

// Dial rings req.Number through its trunk and blocks until the far end
// answers (a *Session) or the attempt ends (a *engine.DialError). See
// engine.Backend for the contract; every path closes the leg's RTP stream
// unless it is handed over to the returned Session.
func (b *Backend) Dial(ctx context.Context, req engine.DialRequest, progress func(engine.Progress)) (engine.Session, error) {
	log := b.log.With("call_id", req.CallID, "leg_id", req.LegID)
	if err := b.beginDial(); err != nil {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "backend not ready", Err: err}
	}
	defer b.dials.Done()

	if !validUser(req.Number) {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "bad number", Err: fmt.Errorf("sip: number %q cannot be dialed", req.Number)}
	}
	callerID := req.CallerID
	trunk, err := b.cfg.route(req.Number)
	if err != nil {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "no route", Err: err}
	}
	if callerID == "" {
		callerID = trunk.CallerID
	}
	if callerID == "" {
		callerID = DefaultCallerID
	}
	if !validUser(callerID) {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "bad caller id", Err: fmt.Errorf("sip: caller id %q", callerID)}
	}
	if ctx.Err() != nil { // nothing sent yet
		return nil, classifyInviteError(ctx, ctx.Err())
	}

	// Close cancels the attempt too (CANCEL, or ACK+BYE of a late 200).
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(b.closeCtx, func() { cancel(ErrClosed) })
	defer stop()

	codecs := defaultCodecs
	if peer, ok := req.Peer.(*Session); ok && peer != nil && peer.b == b {
		codecs = []Codec{peer.codec}
	}
	stream, err := b.pool.Listen(b.listenIP)
	if err != nil {
		log.Warn("no RTP port", "error", err)
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "no RTP port", Err: err}
	}
	handedOver := false
	defer func() {
		if !handedOver {
			b.closeStream(stream)
		}
	}()

	// While it rings, the leg's early media is relayed to its peer (unless
	// the request says NoEarlyMedia).
	early := b.newEarlyMedia(req.Peer, stream, codecs, req.NoEarlyMedia, log)
	defer early.stop()

	sdpID := rand.Uint64() >> 1
	offer, err := buildOffer(b.advertise, stream.Port(), codecs, sdpID)
	if err != nil {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "SDP offer", Err: err}
	}
	invite := b.newInvite(trunk, req.Number, callerID, req.CallerName, offer)
	log = log.With("sip_call_id", invite.CallID().Value(), "trunk", trunk.Name)
	// Answers that reach us after the attempt are recognised by it.
	inv := b.strays.add(invite, trunk, time.Now())
	defer func() { b.strays.end(inv, time.Now()) }()
	log.Info("dialing", "number", req.Number, "caller_id", callerID, "rtp_port", stream.Port())

	dlg, err := b.dialogUA[trunk.transport()].WriteInvite(ctx, invite)
	if err != nil {
		de := classifyInviteError(ctx, err)
		log.Info("dial failed", dialAttrs(de)...)
		return nil, de
	}
	if progress != nil {
		progress(engine.ProgressSent) // the INVITE is written
	}

	ringing := false
	opts := sipgo.AnswerOptions{
		Username: trunk.Username,
		Password: trunk.Password,
		OnResponse: func(res *sipmsg.Response) error {
			log.Debug("INVITE response", "code", res.StatusCode, "reason", res.Reason)
			b.strays.seen(inv, res.Source())
			if res.IsSuccess() {
				b.strays.answer(inv, toTag(res))
			}
			early.provisional(res)
			if (res.StatusCode == 180 || res.StatusCode == 183) && !ringing {
				ringing = true
				log.Info("ringing", "code", res.StatusCode)
				if progress != nil {
					progress(engine.ProgressRinging)
				}
			}
			return nil
		},
	}
	err = dlg.WaitAnswer(ctx, opts)
	// sipgo gives up after 11 responses even while the INVITE still rings
	// (a far end repeating 180/183); keep waiting on the same transaction
	// (which also CANCELs it if ctx is done by now).
	for round := 0; err != nil && round < 100 && isResponseFlood(err) &&
		dlg.InviteResponse != nil && dlg.InviteResponse.IsProvisional(); round++ {
		err = dlg.WaitAnswer(ctx, opts)
	}
	res := dlg.InviteResponse
	if err == nil && ctx.Err() != nil {
		// Answered, but the caller gave up meanwhile.
		err = ctx.Err()
	}
	if err != nil {
		if res != nil && res.StatusCode >= 200 && finalResponse(err) == nil {
			err = &finalResponseError{res: res, err: err}
		}
		if res != nil && res.IsSuccess() {
			// A 200 crossed our CANCEL (or came as we gave up): take the
			// call and drop it at once.
			log.Info("answered after cancel; dropping it")
			b.ackAndBye(dlg, inv, log)
		}
		de := classifyInviteError(ctx, err)
		log.Info("dial ended", dialAttrs(de)...)
		return nil, de
	}

	remote, codec, err := parseAnswer(res.Body(), codecs)
	if err != nil {
		log.Warn("answer without usable SDP; dropping it", "error", err)
		b.ackAndBye(dlg, inv, log)
		de := classifyInviteError(ctx, &finalResponseError{res: res, err: err})
		return nil, de
	}
	setRemote(stream, remote, res.Source())

	s := newSession(b, clientDialog{b: b, d: dlg}, stream, codec, telephoneEvent(res.Body()), offer, log)
	s.inv = inv
	s.setDirection(res.Body(), time.Now())
	if !b.register(s) {
		log.Info("answered while closing; dropping it")
		b.ackAndBye(dlg, inv, log)
		return nil, classifyInviteError(ctx, &finalResponseError{res: res, err: ErrClosed})
	}
	early.answered(s)
	s.listen()
	handedOver = true
	err = dlg.Ack(ctx)
	close(s.acked)
	if err != nil {
		log.Warn("ACK failed; hanging up", "error", err)
		s.Hangup(context.Background(), err)
		return nil, classifyInviteError(ctx, err)
	}
	s.watchDialog()
	log.Info("answered", "codec", codec.Name, "remote_rtp", remote.String())
	return s, nil
}

func (b *Backend) beginDial() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case !b.started:
		return ErrNotStarted
	}
	b.dials.Add(1)
	return nil
}

func isResponseFlood(err error) bool {
	return err != nil && strings.Contains(err.Error(), "more than 10 responses")
}

func dialAttrs(de *engine.DialError) []any {
	a := []any{"disposition", string(de.Disposition), "sip_code", de.SIPCode, "reason", de.Reason}
	if de.Err != nil {
		a = append(a, "error", de.Err.Error())
	}
	return a
}

// quotable keeps what can stand between the quotes of a display name
// (RFC 3261 quoted-string) without escaping: no quotes, backslashes or
// control characters, at most 64 characters. The name may come from a
// caller's own INVITE or a lookup webhook, so it is never trusted as is.
func quotable(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == utf8.RuneError {
			continue
		}
		if n == 64 {
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// newInvite builds the INVITE of one attempt; callerName, when set, is
// the From display name the phone shows (an inbound caller's name).
func (b *Backend) newInvite(t *Trunk, number, callerID, callerName string, sdp []byte) *sipmsg.Request {
	transport := t.transport()
	host := t.Host
	if ip, err := netip.ParseAddr(host); err == nil {
		host = uriHost(ip)
	}
	recipient := sipmsg.Uri{Scheme: "sip", User: number, Host: host, Port: t.port()}
	if transport == "tcp" {
		recipient.UriParams = sipmsg.NewParams()
		recipient.UriParams.Add("transport", "tcp")
	}
	req := sipmsg.NewRequest(sipmsg.INVITE, recipient)
	req.SetTransport(sipmsg.NetworkToUpper(transport))

	from := &sipmsg.FromHeader{
		DisplayName: quotable(callerName),
		Address:     sipmsg.Uri{Scheme: "sip", User: callerID, Host: uriHost(b.advertise)},
		Params:      sipmsg.NewParams(),
	}
	from.Params.Add("tag", sipmsg.GenerateTagN(16))
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: number, Host: host}}
	callID := sipmsg.CallIDHeader(uuid.NewString())
	contact := b.dialogUA[transport].ContactHDR
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(sipmsg.HeaderClone(&contact))
	req.AppendHeader(sipmsg.NewHeader("User-Agent", b.cfg.userAgent()))
	req.AppendHeader(sipmsg.NewHeader("Allow", allowMethods))
	req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdp)
	b.pinUDP(req)
	return req
}

// pinUDP makes a UDP request leave from our listening socket (so replies
// and in-dialog requests come back to the port in Via and Contact) rather
// than from an ephemeral one.
func (b *Backend) pinUDP(req *sipmsg.Request) {
	if sipmsg.NetworkToLower(req.Transport()) != "udp" {
		return
	}
	ua, ok := b.udpConn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return
	}
	req.Laddr = sipmsg.Addr{IP: ua.IP, Port: ua.Port}
}

// ackAndBye ACKs a 200 we do not want and hangs it up at once; its
// retransmissions will not be hung up again.
func (b *Backend) ackAndBye(dlg *sipgo.DialogClientSession, inv *sentInvite, log *slog.Logger) {
	b.strays.byed(inv, toTag(dlg.InviteResponse))
	if err := dlg.Ack(context.Background()); err != nil {
		log.Warn("ACK of unwanted 200 failed", "error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.byeTimeout())
	defer cancel()
	if err := b.sendBye(ctx, dlg); err != nil {
		log.Warn("BYE of unwanted 200 failed", "error", err)
	}
}

// sendBye sends BYE in dlg and waits for its answer (or ctx). A dialog
// the far end already ended is not an error, nor is its 481.
func (b *Backend) sendBye(ctx context.Context, dlg *sipgo.DialogClientSession) error {
	if dlg.InviteResponse == nil {
		return errors.New("sip: BYE without an answered INVITE")
	}
	bye := newBye(dlg.InviteRequest, dlg.InviteResponse)
	b.pinUDP(bye)
	err := dlg.WriteBye(ctx, bye)
	var dr sipgo.ErrDialogResponse
	if errors.As(err, &dr) && dr.Res != nil && dr.Res.StatusCode == 481 {
		return nil
	}
	return err
}

// newBye builds a BYE in the dialog of an answered INVITE (RFC 3261
// 15.1.1): to the remote target, with the route set of the 2xx. sipgo adds
// Via, CSeq and Contact when it sends it.
func newBye(inv *sipmsg.Request, res *sipmsg.Response) *sipmsg.Request {
	target := inv.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	bye := sipmsg.NewRequest(sipmsg.BYE, *target.Clone())
	bye.SipVersion = inv.SipVersion
	if h := inv.From(); h != nil {
		bye.AppendHeader(sipmsg.HeaderClone(h))
	}
	if h := res.To(); h != nil {
		bye.AppendHeader(sipmsg.HeaderClone(h))
	}
	if h := inv.CallID(); h != nil {
		bye.AppendHeader(sipmsg.HeaderClone(h))
	}
	bye.SetTransport(inv.Transport())
	bye.SetSource(inv.Source())
	return bye
}

// toTag is the To tag of a response ("" without one).
func toTag(res *sipmsg.Response) string {
	if res == nil || res.To() == nil {
		return ""
	}
	tag, _ := res.To().Params.Get("tag")
	return tag
}
