package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

var (
	_ engine.Session      = (*Session)(nil)
	_ engine.MediaCounter = (*Session)(nil)
)

// Session is one answered leg: the SIP dialog and its RTP stream.
type Session struct {
	b      *Backend
	dlg    dialog // a dialed leg's (UAC) or an answered inbound call's (UAS)
	stream *media.Stream
	codec  Codec
	sdp    []byte // our SDP, answered again to re-INVITEs
	id     string // dialog ID
	log    *slog.Logger
	inv    *sentInvite // our INVITE, to tell its late answers

	ctx    context.Context
	cancel context.CancelCauseFunc
	ended  atomic.Bool
	done   chan struct{}
	// acked is closed once Dial sent the ACK (or, on an inbound call,
	// once Answer got it or gave up waiting): a BYE must not overtake it.
	acked chan struct{}

	// Media timeout: since is the unix nanoseconds the silence is counted
	// from at the earliest (answer, end of a hold); held is set while the
	// far end's SDP says it sends nothing; timedOut once it timed out.
	since    atomic.Int64
	held     atomic.Bool
	timedOut atomic.Bool

	// early is the relay whose leg's early media this session's party
	// hears (or a seal: a leg answered for it, or it is bridged); nil
	// when none. earlyRefused counts the packets of other legs dropped.
	early        atomic.Pointer[earlyRelay]
	earlyRefused atomic.Uint64

	// Media: format is how the far end labels its RTP; out is the one
	// output every packet to the party goes through; peer is the other
	// party's output while bridged (where what this party sends goes).
	format legFormat
	out    *output
	peer   atomic.Pointer[output]
	// det finds key presses in what the party sends (read goroutine
	// only); onDTMF is told of them.
	det    *media.DTMFDetector
	onDTMF atomic.Pointer[func(rune)]
	// dtmfTurn holds a token while SendDTMF sends.
	dtmfTurn chan struct{}
	// rec is a recording's tap on what the party sends, nil when none.
	rec atomic.Pointer[recChannel]
}

// newSession is the session of a leg that answered codec and, in the same
// SDP, telephone-event te (or noTelephoneEvent).
func newSession(b *Backend, dlg dialog, stream *media.Stream, codec Codec, te int, sdp []byte, log *slog.Logger) *Session {
	s := &Session{
		b:      b,
		dlg:    dlg,
		stream: stream,
		codec:  codec,
		sdp:    sdp,
		log:    log,
		done:   make(chan struct{}),
		acked:  make(chan struct{}),
	}
	if dlg != nil {
		s.id = dlg.key()
	}
	s.format = newLegFormat(codec, te)
	s.out = newOutput(stream, s.format)
	s.det = media.NewDTMFDetector(uint8(max(te, 0)))
	s.dtmfTurn = make(chan struct{}, 1)
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.since.Store(time.Now().UnixNano())
	return s
}

// listen makes the session's input the sink of its stream: from now on
// what the party sends is looked at (DTMF, recording) and relayed while
// bridged. Called once the leg answered, after its early media stopped.
func (s *Session) listen() { s.stream.SetSink(&input{s: s}) }

// Context is done when the leg ends; context.Cause says why
// (engine.ErrRemoteHangup when the far end sent BYE,
// engine.ErrMediaTimeout when it sent no RTP for the media timeout, else
// the cause given to Hangup).
func (s *Session) Context() context.Context { return s.ctx }

// Codec is the codec the far end answered with.
func (s *Session) Codec() Codec { return s.codec }

// Stream is the leg's RTP stream (for bridging and its counters).
func (s *Session) Stream() *media.Stream { return s.stream }

// MediaStats are the leg's RTP counters: in is what its far end sent us,
// out what we relayed to it. They stay readable after the leg ended.
func (s *Session) MediaStats() engine.MediaStats {
	st := s.stream.Stats()
	return engine.MediaStats{
		PacketsIn:  st.PacketsReceived,
		PacketsOut: st.PacketsSent,
		BytesIn:    st.BytesReceived,
		BytesOut:   st.BytesSent,
	}
}

// SIPCallID is the Call-ID of the leg's dialog.
func (s *Session) SIPCallID() string {
	if s.dlg == nil || s.dlg.invite() == nil {
		return ""
	}
	if h := s.dlg.invite().CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// Hangup ends the leg: BYE (bounded by the backend's ByeTimeout, even when
// ctx is already cancelled), then the media is closed and its port
// released. Only the first call does anything; cause (ErrLocalHangup when
// nil) becomes the Context's cause.
func (s *Session) Hangup(ctx context.Context, cause error) error {
	if !s.ended.CompareAndSwap(false, true) {
		return nil
	}
	if cause == nil {
		cause = ErrLocalHangup
	}
	s.cancel(cause)
	<-s.acked
	byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.b.cfg.byeTimeout())
	defer cancel()
	err := s.dlg.bye(byeCtx)
	s.finish()
	if err != nil {
		s.log.Warn("BYE failed", "cause", cause.Error(), "error", err)
		return fmt.Errorf("sip: BYE: %w", err)
	}
	s.log.Info("hung up", "cause", cause.Error())
	return nil
}

// finish releases what the leg holds; the BYE (if any) was sent first.
func (s *Session) finish() {
	if c, ok := s.dlg.(clientDialog); ok && s.inv != nil {
		s.b.strays.byed(s.inv, toTag(c.d.InviteResponse))
	}
	s.b.unregister(s)
	s.b.closeStream(s.stream)
	close(s.done)
}

// remoteBye handles the far end's BYE: 200, media closed, then the leg
// ends with engine.ErrRemoteHangup.
func (s *Session) remoteBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if !s.ended.CompareAndSwap(false, true) {
		// Crossed our own BYE: just answer it.
		s.b.respond(req, tx, 200, "OK", nil)
		return
	}
	if err := s.dlg.readBye(req, tx); err != nil {
		s.log.Warn("answering BYE failed", "error", err)
	}
	// Release first, so whoever sees the Context end finds the leg gone.
	s.finish()
	s.cancel(engine.ErrRemoteHangup)
	s.log.Info("far end hung up")
}

// watchDialog ends the session if sipgo ends its dialog on its own (an
// ACK that cannot be retransmitted).
func (s *Session) watchDialog() {
	dctx := s.dlg.context()
	context.AfterFunc(dctx, func() {
		cause := context.Cause(dctx)
		if cause == nil || errors.Is(cause, context.Canceled) {
			cause = errors.New("sip: dialog ended")
		}
		s.Hangup(context.Background(), cause)
	})
}

// reInvite answers a re-INVITE (a session refresh) with our SDP again,
// unchanged (same o= version). A new remote RTP address in its offer is
// followed; an offer without the leg's codec is refused (488): the relay
// does not transcode.
func (s *Session) reInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if s.ended.Load() {
		s.b.respond(req, tx, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	if body := req.Body(); len(body) > 0 {
		remote, _, err := parseAnswer(body, []Codec{s.codec})
		if err != nil {
			s.log.Info("re-INVITE refused", "error", err)
			s.b.respond(req, tx, 488, "Not Acceptable Here", nil)
			return
		}
		if remote != s.stream.Remote() {
			s.log.Info("re-INVITE moves remote RTP", "remote_rtp", remote.String())
		}
		setRemote(s.stream, remote, req.Source())
		s.setDirection(body, time.Now())
	}
	contact := s.b.dialogUA[sipmsg.NetworkToLower(s.dlg.invite().Transport())].ContactHDR
	s.b.respond(req, tx, 200, "OK", s.sdp,
		sipmsg.HeaderClone(&contact),
		sipmsg.NewHeader("Content-Type", "application/sdp"))
}

// Bridge joins the media of two answered legs of this backend: what each
// party sends is relayed through the other leg's output (see the package
// doc). The bridge ends when closed or when either leg ends. It is a
// *Bridge, which can record.
func (b *Backend) Bridge(x, y engine.Session) (engine.Bridge, error) {
	sx, ok1 := x.(*Session)
	sy, ok2 := y.(*Session)
	if !ok1 || !ok2 || sx == nil || sy == nil {
		return nil, errors.New("sip: bridge: not sessions of the SIP backend")
	}
	if sx.b != b || sy.b != b {
		return nil, errors.New("sip: bridge: session of another backend")
	}
	if sx == sy {
		return nil, errors.New("sip: bridge: a session with itself")
	}
	for _, s := range []*Session{sx, sy} {
		if s.ctx.Err() != nil {
			return nil, fmt.Errorf("sip: bridge: leg already ended: %w", context.Cause(s.ctx))
		}
	}
	if sx.codec.Name != sy.codec.Name {
		sx.log.Warn("bridging legs with different codecs; audio will be garbled", "peer_leg", sy.SIPCallID(),
			"codec_a", sx.codec.Name, "codec_b", sy.codec.Name)
	}
	// No leg's early media reaches a bridged party any more.
	seal := &earlyRelay{}
	sx.early.Store(seal)
	sy.early.Store(seal)
	sx.peer.Store(sy.out)
	sy.peer.Store(sx.out)
	br := &Bridge{b: b, x: sx, y: sy, unseal: func() {
		sx.early.CompareAndSwap(seal, nil)
		sy.early.CompareAndSwap(seal, nil)
	}}
	br.mu.Lock()
	br.stops = []func() bool{
		context.AfterFunc(sx.ctx, func() { br.Close() }),
		context.AfterFunc(sy.ctx, func() { br.Close() }),
	}
	br.mu.Unlock()
	sx.log.Info("bridged", "peer_leg", sy.SIPCallID(), "codec", sx.codec.Name)
	return br, nil
}

var (
	_ engine.Bridge          = (*Bridge)(nil)
	_ engine.RecordingBridge = (*Bridge)(nil)
)

// Bridge is two legs' media joined by Backend.Bridge. It records them on
// request (engine.RecordingBridge; see the package doc).
type Bridge struct {
	b      *Backend
	x, y   *Session
	unseal func()

	mu     sync.Mutex
	closed bool
	stops  []func() bool
	rec    *recorder // the recording under way, nil when none
	last   *recorder // the latest recording started, for Recording
}

// Close stops a recording under way (finishing its file) and unjoins the
// media; the legs stay up. Idempotent.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	stops := br.stops
	br.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	err := br.StopRecording()
	br.x.peer.CompareAndSwap(br.y.out, nil)
	br.y.peer.CompareAndSwap(br.x.out, nil)
	br.unseal()
	return err
}
