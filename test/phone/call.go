package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/media"
)

// State is where a call stands.
type State int

// A call rings, may be answered, and ends.
const (
	Ringing State = iota + 1
	Answered
	Ended
)

func (s State) String() string {
	switch s {
	case Ringing:
		return "ringing"
	case Answered:
		return "answered"
	case Ended:
		return "ended"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// EndReason says why a call ended.
type EndReason string

const (
	EndBye    EndReason = "bye"    // the caller hung up (BYE received)
	EndHangup EndReason = "hangup" // the phone hung up (Hangup or HangupAfter)
	EndCancel EndReason = "cancel" // the caller cancelled while it rang (487)
	EndBusy   EndReason = "busy"   // answered 486
	EndReject EndReason = "reject" // answered 603
	EndClosed EndReason = "closed" // the phone was closed
	EndFailed EndReason = "failed" // unusable offer, no ACK, transaction failure
)

// Call is one INVITE the phone got, from its arrival to its end.
type Call struct {
	p         *Phone
	dlg       *sipgo.DialogServerSession
	log       *slog.Logger
	number    string
	from      string
	callID    string
	behaviour Behaviour
	arrived   time.Time
	want      media.Codec // the codec to answer when offered
	wantSet   bool        // want is set (Behaviour.Codec)
	session   uint64
	rec       *Recorder

	hangupCh    chan hangupReq
	done        chan struct{} // closed when the call ended
	byeReceived atomic.Bool

	mu        sync.Mutex
	state     State
	changed   chan struct{} // closed and replaced on every change of state
	finalCode int
	reason    EndReason
	detail    string
	answered  time.Time
	ended     time.Time
	codec     media.Codec
	eventPT   int
	local     netip.AddrPort
	remote    netip.AddrPort
	dir       Direction // the phone's direction, as answered
	tone      float64
	version   uint64 // SDP session version
	reinvites int
	media     *mediaLeg
}

type hangupReq struct {
	ctx context.Context
	res chan error
}

// CallInfo is a snapshot of a call.
type CallInfo struct {
	Number string // dialed: the user part of the Request-URI
	From   string // the user part of From
	CallID string // SIP Call-ID
	State  State
	// FinalCode is the INVITE's final response (200, 486, 603, 487, …);
	// 0 while ringing.
	FinalCode int
	Reason    EndReason // why it ended; "" while live
	Detail    string    // more about a failure
	Codec     media.Codec
	EventPT   int            // telephone-event payload type; -1 when not offered
	Local     netip.AddrPort // the phone's RTP socket; invalid before media
	Remote    netip.AddrPort // where it sends RTP
	Direction Direction      // the phone's direction, as last answered
	ReInvites int
	Arrived   time.Time
	Answered  time.Time // zero unless answered
	Ended     time.Time // zero while live
	// Sent and Received count RTP packets.
	Sent, Received int64
	Digits         string     // DTMF heard
	Heard          *Recording // everything heard so far
}

// Number is the number dialed.
func (c *Call) Number() string { return c.number }

// CallID is the SIP Call-ID.
func (c *Call) CallID() string { return c.callID }

// State is where the call stands.
func (c *Call) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done is closed when the call has ended and its media stopped: from then
// on its recording is complete.
func (c *Call) Done() <-chan struct{} { return c.done }

// Heard is a snapshot of everything the phone heard on this call.
func (c *Call) Heard() *Recording { return c.rec.Recording() }

// Digits is the DTMF keys heard so far.
func (c *Call) Digits() string { return c.Heard().DigitString() }

// Info is a snapshot of the call.
func (c *Call) Info() CallInfo {
	heard := c.Heard()
	c.mu.Lock()
	defer c.mu.Unlock()
	ci := CallInfo{
		Number: c.number, From: c.from, CallID: c.callID, State: c.state,
		FinalCode: c.finalCode, Reason: c.reason, Detail: c.detail,
		Codec: c.codec, EventPT: c.eventPT, Local: c.local, Remote: c.remote, Direction: c.dir,
		ReInvites: c.reinvites, Arrived: c.arrived, Answered: c.answered, Ended: c.ended,
		Digits: heard.DigitString(), Heard: heard,
	}
	if m := c.media; m != nil {
		ci.Sent, ci.Received = m.sent.Load(), m.received.Load()
	}
	return ci
}

// WaitState waits until the call reaches s (or is past it: an Ended call
// has passed Ringing). Waiting for Answered on a call that ended without
// being answered is an error.
func (c *Call) WaitState(ctx context.Context, s State) error {
	for {
		c.mu.Lock()
		st, ch, answered := c.state, c.changed, !c.answered.IsZero()
		reason := c.reason
		c.mu.Unlock()
		if st >= s {
			if s == Answered && !answered {
				return fmt.Errorf("phone: call to %s ended (%s) without being answered", c.number, reason)
			}
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("phone: call to %s still %s: %w", c.number, st, ctx.Err())
		}
	}
}

// ErrEnded is returned for what an ended call cannot do.
var ErrEnded = errors.New("phone: call ended")

// Hangup hangs up: BYE when answered (waiting for its 200), 603 Decline
// while ringing. It returns when the call has ended.
func (c *Call) Hangup(ctx context.Context) error {
	req := hangupReq{ctx: ctx, res: make(chan error, 1)}
	select {
	case c.hangupCh <- req:
	case <-c.done:
		return ErrEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	var err error
	select {
	case err = <-req.res:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

// DTMFLength is how long each digit SendDTMF sends lasts; DTMFGap is the
// audio between two digits.
const (
	DTMFLength = 100 * time.Millisecond
	DTMFGap    = 60 * time.Millisecond
)

// SendDTMF sends digits ('0'-'9', '*', '#', 'A'-'D') on the answered call
// as RFC 4733 events of the payload type the caller offered, each
// DTMFLength long and DTMFGap apart, and returns when the last one is
// sent. The phone's audio pauses during each digit.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	for _, d := range digits {
		if _, ok := media.DigitEvent(d); !ok {
			return fmt.Errorf("phone: %q is not a DTMF digit", d)
		}
	}
	c.mu.Lock()
	m, st, pt := c.media, c.state, c.eventPT
	c.mu.Unlock()
	switch {
	case st == Ended:
		return ErrEnded
	case st != Answered || m == nil:
		return errors.New("phone: DTMF needs an answered call")
	case pt < 0:
		return errors.New("phone: the caller offered no telephone-event")
	}
	job := &dtmfJob{digits: []rune(digits), res: make(chan error, 1)}
	select {
	case m.dtmf <- job:
	case <-m.ctx.Done():
		return ErrEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-job.res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setState moves the call on and wakes its waiters.
func (c *Call) setState(s State) {
	c.state = s
	close(c.changed)
	c.changed = make(chan struct{})
}

// end records the end of the call; media must be stopped already.
func (c *Call) end(reason EndReason, code int, detail string) {
	c.mu.Lock()
	if c.finalCode == 0 {
		c.finalCode = code
	}
	c.reason, c.detail, c.ended = reason, detail, time.Now()
	c.setState(Ended)
	c.mu.Unlock()
	c.log.Debug("call ended", "reason", reason, "code", code, "detail", detail)
	close(c.done)
}

// run plays the call out; it is the INVITE handler's goroutine and returns
// when the call has ended.
func (c *Call) run() {
	b := c.behaviour
	defer c.stopMedia()
	switch b.Action {
	case Busy:
		_ = c.dlg.Respond(486, "Busy Here", nil)
		c.end(EndBusy, 486, "")
		return
	case Reject:
		_ = c.dlg.Respond(603, "Decline", nil)
		c.end(EndReject, 603, "")
		return
	}
	o, err := parseOffer(c.dlg.InviteRequest.Body())
	if err != nil {
		_ = c.dlg.Respond(488, "Not Acceptable Here", nil)
		c.end(EndFailed, 488, err.Error())
		return
	}
	c.mu.Lock()
	c.codec = o.codecs[0]
	if c.wantSet {
		c.codec = o.choose(c.want)
	}
	c.eventPT, c.remote, c.dir = o.eventPT, o.remote, o.direction.answer()
	c.mu.Unlock()
	c.rec.SetEventPT(o.eventPT)

	switch b.Ring {
	case Ring180:
		if err := c.dlg.Respond(180, "Ringing", nil); err != nil {
			c.failed(err)
			return
		}
	case Ring183:
		sdp, err := c.startMedia(b.EarlyTone)
		if err != nil {
			_ = c.dlg.Respond(500, "Server Internal Error", nil)
			c.end(EndFailed, 500, err.Error())
			return
		}
		if err := c.dlg.Respond(183, "Session Progress", sdp, sip.NewHeader("Content-Type", "application/sdp")); err != nil {
			c.failed(err)
			return
		}
	}

	var answer <-chan time.Time
	if b.Action == Answer {
		t := time.NewTimer(b.AnswerAfter)
		defer t.Stop()
		answer = t.C
	}
	select {
	case <-answer:
	case <-c.dlg.Context().Done():
		c.stopMedia()
		if errors.Is(context.Cause(c.dlg.Context()), sip.ErrTransactionCanceled) {
			c.end(EndCancel, 487, "")
		} else {
			c.end(EndFailed, 0, fmt.Sprintf("INVITE transaction ended: %v", context.Cause(c.dlg.Context())))
		}
		return
	case req := <-c.hangupCh:
		err := c.dlg.Respond(603, "Decline", nil)
		c.stopMedia()
		c.end(EndHangup, 603, "")
		req.res <- err
		return
	case <-c.p.ctx.Done():
		_ = c.dlg.Respond(480, "Temporarily Unavailable", nil)
		c.stopMedia()
		c.end(EndClosed, 480, "")
		return
	}

	sdp, err := c.startMedia(b.Tone)
	if err != nil {
		_ = c.dlg.Respond(500, "Server Internal Error", nil)
		c.stopMedia()
		c.end(EndFailed, 500, err.Error())
		return
	}
	c.mu.Lock()
	c.answered, c.finalCode, c.tone = time.Now(), 200, b.Tone
	c.setState(Answered)
	c.mu.Unlock()
	// RespondSDP returns once the ACK came (or the SIP stack closed).
	if err := c.dlg.RespondSDP(sdp); err != nil {
		c.stopMedia()
		reason := EndFailed
		if c.byeReceived.Load() {
			reason = EndBye
		}
		c.end(reason, 200, fmt.Sprintf("answer: %v", err))
		return
	}

	var hangupAfter <-chan time.Time
	if b.HangupAfter > 0 {
		t := time.NewTimer(b.HangupAfter)
		defer t.Stop()
		hangupAfter = t.C
	}
	select {
	case <-c.dlg.Context().Done():
		c.stopMedia()
		c.end(EndBye, 200, "")
	case req := <-c.hangupCh:
		err := c.bye(req.ctx)
		c.end(EndHangup, 200, errString(err))
		req.res <- err
	case <-hangupAfter:
		ctx, cancel := context.WithTimeout(c.p.ctx, 5*time.Second)
		err := c.bye(ctx)
		cancel()
		c.end(EndHangup, 200, errString(err))
	case <-c.p.ctx.Done():
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.bye(ctx)
		cancel()
		c.end(EndClosed, 200, errString(err))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// failed ends a call whose response could not be sent.
func (c *Call) failed(err error) {
	c.stopMedia()
	reason := EndFailed
	if errors.Is(context.Cause(c.dlg.Context()), sip.ErrTransactionCanceled) || errors.Is(err, sip.ErrTransactionCanceled) {
		reason = EndCancel
	}
	c.end(reason, 0, err.Error())
}

// bye stops the media and sends BYE.
func (c *Call) bye(ctx context.Context) error {
	c.stopMedia()
	if err := c.dlg.Bye(ctx); err != nil {
		return fmt.Errorf("BYE: %w", err)
	}
	return nil
}

// sdp is the phone's current SDP; c.mu is held.
func (c *Call) sdp() []byte {
	return answerSDP(c.local, c.session, c.session+c.version, c.codec, c.eventPT, c.dir)
}

// startMedia opens the call's RTP socket and starts playing tone (the
// first time), or switches the tone; it returns the phone's SDP.
func (c *Call) startMedia(tone float64) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tone = tone
	if c.media != nil {
		return c.sdp(), nil
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("RTP socket: %w", err)
	}
	_ = conn.SetReadBuffer(1 << 20)
	c.local = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	m := &mediaLeg{c: c, conn: conn, codec: c.codec, dtmf: make(chan *dtmfJob)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	c.media = m
	// Counted in the phone's wait group: the handler running this call is
	// counted already, so this Add cannot race Close's Wait.
	c.p.wg.Add(2)
	m.running.Add(2)
	go m.receive()
	go m.send()
	return c.sdp(), nil
}

// stopMedia stops sending and receiving and closes the RTP socket; the
// recording is complete when it returns. Idempotent.
func (c *Call) stopMedia() {
	c.mu.Lock()
	m := c.media
	c.mu.Unlock()
	if m == nil {
		return
	}
	m.stop()
}

// reinvite answers a re-INVITE with the phone's SDP, taking the new
// offer's address and direction.
func (c *Call) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	if c.State() != Answered {
		respond(tx, req, 491, "Request Pending")
		return
	}
	if err := c.dlg.ReadRequest(req, tx); err != nil {
		respond(tx, req, 500, "Server Internal Error")
		return
	}
	o, err := parseOffer(req.Body())
	c.mu.Lock()
	switch {
	case errors.Is(err, errNoSDP):
		// No offer: ours goes in the 200 and the answer would come in the
		// ACK; the phone keeps what it has.
	case err != nil || !slices.Contains(o.codecs, c.codec):
		c.mu.Unlock()
		c.log.Info("re-INVITE refused", "error", err)
		respond(tx, req, 488, "Not Acceptable Here")
		return
	default:
		c.remote, c.dir = o.remote, o.direction.answer()
		if o.eventPT >= 0 {
			c.eventPT = o.eventPT
		}
	}
	c.version++
	c.reinvites++
	body, pt := c.sdp(), c.eventPT
	c.mu.Unlock()
	c.rec.SetEventPT(pt)
	res := sip.NewSDPResponseFromRequest(req, body)
	if res.Contact() == nil {
		res.AppendHeader(sip.HeaderClone(&c.p.dua.ContactHDR))
	}
	_ = tx.Respond(res)
}

// mediaParams is what the sender needs for the next packet.
func (c *Call) mediaParams() (remote netip.AddrPort, tone, amp float64, sending bool, eventPT int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote, c.tone, c.behaviour.amplitude(), c.dir.sends(), c.eventPT
}
