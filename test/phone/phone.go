package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/media"
)

// Action is what a phone does with an INVITE.
type Action int

const (
	// Answer rings for AnswerAfter, then answers 200 with SDP.
	Answer Action = iota
	// RingForever rings until the caller cancels (or the phone hangs up).
	RingForever
	// Busy answers 486 Busy Here at once.
	Busy
	// Reject answers 603 Decline at once.
	Reject
)

func (a Action) String() string {
	switch a {
	case Answer:
		return "answer"
	case RingForever:
		return "ring forever"
	case Busy:
		return "busy"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Ring is how a phone rings before its final response.
type Ring int

const (
	// Ring180 sends 180 Ringing without SDP: the caller hears nothing
	// from the phone until it answers.
	Ring180 Ring = iota
	// Ring183 sends 183 Session Progress with SDP and plays EarlyTone as
	// early media until it answers (on the same RTP stream it then goes
	// on with).
	Ring183
	// RingSilently sends no provisional response (the SIP stack still
	// sends 100 Trying when the final response takes a while).
	RingSilently
)

// DefaultAmplitude is the peak of the tones played when Behaviour says
// none: about -12 dBFS.
const DefaultAmplitude = 8000

// Behaviour is what the phone of one number does. The zero value answers
// at once, after a 180, and plays silence.
type Behaviour struct {
	Action Action
	Ring   Ring
	// AnswerAfter is how long Answer rings before the 200.
	AnswerAfter time.Duration
	// Tone is the frequency in Hz played once answered; 0 plays silence.
	Tone float64
	// EarlyTone is the frequency played as early media with Ring183; 0
	// plays silence.
	EarlyTone float64
	// Amplitude is the tones' peak in 16-bit sample units; 0 means
	// DefaultAmplitude.
	Amplitude float64
	// HangupAfter makes an answered phone hang up (BYE) by itself after
	// this long; 0 never does.
	HangupAfter time.Duration
	// Codec is "PCMU" or "PCMA" to answer that codec when offered; ""
	// answers the offer's first G.711 codec.
	Codec string
}

func (b Behaviour) validate() error {
	if b.Codec != "" {
		if _, err := media.ParseCodec(b.Codec); err != nil {
			return fmt.Errorf("phone: behaviour: %w", err)
		}
	}
	return nil
}

func (b Behaviour) amplitude() float64 {
	if b.Amplitude <= 0 {
		return DefaultAmplitude
	}
	return min(b.Amplitude, 32767)
}

// Options of a phone.
type Options struct {
	// Addr is the UDP address to listen on for SIP, on 127.0.0.1; "" or
	// port 0 takes a free port.
	Addr string
	// Numbers is the behaviour of each number dialed; Default is that of
	// every other number. Set changes them while the phone runs.
	Numbers map[string]Behaviour
	Default Behaviour
	// Logger receives the phone's and its SIP stack's logs; nil discards
	// them.
	Logger *slog.Logger
}

// Phone is a running test phone: a SIP UAS for any number of numbers.
type Phone struct {
	log       *slog.Logger
	ua        *sipgo.UserAgent
	srv       *sipgo.Server
	dua       *sipgo.DialogUA
	conn      *drainConn
	addr      netip.AddrPort
	ctx       context.Context
	cancel    context.CancelFunc
	stopWatch func() bool
	serveDone chan struct{}

	mu         sync.Mutex
	closed     bool
	behaviours map[string]Behaviour
	def        Behaviour
	calls      []*Call
	dialogs    map[string]*Call // live dialogs by dialog ID
	changed    chan struct{}    // closed and replaced when a call arrives

	wg        sync.WaitGroup // request handlers, calls and their media
	closeOnce sync.Once
	closeErr  error
}

// closeGrace is how long Close lets live calls end politely (BYE, 480)
// before it tears the SIP stack down.
const closeGrace = 3 * time.Second

// Start listens on opts.Addr and serves until Close or the end of ctx.
func Start(ctx context.Context, opts Options) (*Phone, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for n, b := range opts.Numbers {
		if err := b.validate(); err != nil {
			return nil, fmt.Errorf("%w (number %q)", err, n)
		}
	}
	if err := opts.Default.validate(); err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("phone: address %q: %w", opts.Addr, err)
	}
	if !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("phone: address %q is not loopback", opts.Addr)
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("phone: listen %s: %w", ap, err)
	}
	conn := &drainConn{PacketConn: pc}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	host := local.Addr().String()

	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("switchboard-test-phone"),
		sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("phone: user agent: %w", err)
	}
	fail := func(err error) (*Phone, error) {
		ua.Close()
		conn.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		return fail(fmt.Errorf("phone: server: %w", err))
	}
	client, err := sipgo.NewClient(ua,
		sipgo.WithClientHostname(host),
		sipgo.WithClientPort(int(local.Port())),
		sipgo.WithClientLogger(log),
	)
	if err != nil {
		return fail(fmt.Errorf("phone: client: %w", err))
	}
	p := &Phone{
		log:  log.With("component", "test-phone", "addr", local.String()),
		ua:   ua,
		srv:  srv,
		conn: conn,
		addr: local,
		dua: &sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{
			Address: sip.Uri{Scheme: "sip", User: "phone", Host: host, Port: int(local.Port())},
		}},
		serveDone:  make(chan struct{}),
		behaviours: map[string]Behaviour{},
		def:        opts.Default,
		dialogs:    map[string]*Call{},
		changed:    make(chan struct{}),
	}
	for n, b := range opts.Numbers {
		p.behaviours[n] = b
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	srv.OnInvite(p.handle(p.onInvite))
	srv.OnAck(p.handle(p.onAck))
	srv.OnBye(p.handle(p.onBye))
	srv.OnCancel(p.handle(func(req *sip.Request, tx sip.ServerTransaction) {
		// A CANCEL that matched an INVITE was answered by the transaction
		// layer; this one matched nothing.
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	}))
	srv.OnOptions(p.handle(func(req *sip.Request, tx sip.ServerTransaction) { respond(tx, req, 200, "OK") }))
	go func() {
		defer close(p.serveDone)
		if err := srv.ServeUDP(conn); err != nil && !errors.Is(err, net.ErrClosed) {
			p.log.Debug("serve", "error", err)
		}
	}()
	// Requests leave from the listening socket once sipgo pooled it.
	if err := waitPooled(ctx, ua.TransportLayer().Pool("udp"), conn.LocalAddr().String()); err != nil {
		p.Close()
		return nil, fmt.Errorf("phone: %w", err)
	}
	p.stopWatch = context.AfterFunc(ctx, func() { p.Close() })
	return p, nil
}

// New starts a phone for a test and closes it when the test ends; the
// test fails at once if the phone cannot start.
func New(t testing.TB, opts Options) *Phone {
	t.Helper()
	p, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Logf("phone close: %v", err)
		}
	})
	return p
}

func waitPooled(ctx context.Context, pool *sip.ConnectionPool, addr string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c := pool.Get(addr); c != nil {
			c.TryClose() // Get took a reference
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("SIP listener did not start")
		}
		time.Sleep(time.Millisecond)
	}
}

// Addr is where the phone listens for SIP.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// Set changes the behaviour of number for the calls that arrive from now
// on. An invalid behaviour (an unknown Codec) panics: it is a mistake in
// the test.
func (p *Phone) Set(number string, b Behaviour) {
	if err := b.validate(); err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.behaviours[number] = b
}

// SetDefault changes the behaviour of numbers without their own; it
// panics like Set.
func (p *Phone) SetDefault(b Behaviour) {
	if err := b.validate(); err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.def = b
}

func (p *Phone) behaviour(number string) Behaviour {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.behaviours[number]; ok {
		return b
	}
	return p.def
}

// Calls is every call the phone got, in order of arrival.
func (p *Phone) Calls() []*Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Call(nil), p.calls...)
}

// CallsTo is the calls to number, in order of arrival.
func (p *Phone) CallsTo(number string) []*Call {
	var out []*Call
	for _, c := range p.Calls() {
		if c.number == number {
			out = append(out, c)
		}
	}
	return out
}

// List is a snapshot of every call: state, SIP Call-ID, what was heard.
func (p *Phone) List() []CallInfo {
	calls := p.Calls()
	out := make([]CallInfo, len(calls))
	for i, c := range calls {
		out[i] = c.Info()
	}
	return out
}

// WaitCall waits for the first call to number (returning at once if it
// already came).
func (p *Phone) WaitCall(ctx context.Context, number string) (*Call, error) {
	for {
		p.mu.Lock()
		ch := p.changed
		for _, c := range p.calls {
			if c.number == number {
				p.mu.Unlock()
				return c, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("phone: no call to %s: %w", number, ctx.Err())
		case <-p.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// ErrClosed is returned for what a closed phone cannot do.
var ErrClosed = errors.New("phone: closed")

// Close ends live calls (BYE when answered, 480 while ringing, within a
// few seconds), then stops the SIP stack, every goroutine and every socket
// of the phone. It is idempotent.
func (p *Phone) Close() error {
	p.closeOnce.Do(func() {
		if p.stopWatch != nil {
			p.stopWatch()
		}
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cancel()
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		t := time.NewTimer(closeGrace)
		select {
		case <-done:
		case <-t.C:
			p.log.Warn("calls still live after the grace period; closing the SIP stack under them")
		}
		t.Stop()
		p.closeErr = closeSIP(p.ua, p.conn, p.serveDone)
		<-done
	})
	return p.closeErr
}

// drainConn is the SIP listener's socket. Once draining, it drops what
// arrives instead of handing it to the SIP stack.
type drainConn struct {
	net.PacketConn
	draining atomic.Bool
}

func (d *drainConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := d.PacketConn.ReadFrom(b)
		if err != nil || !d.draining.Load() {
			return n, addr, err
		}
	}
}

// sipSettle is how long closeSIP lets requests already read finish before
// it tears the SIP stack down.
const sipSettle = 50 * time.Millisecond

// closeSIP stops a sipgo user agent serving conn without leaving a socket
// or goroutine behind. sipgo handles each request read in a goroutine of
// its own that finds, or else opens, a socket to answer from; one that
// runs after the listener left the connection pool opens a socket nothing
// closes. So: stop taking requests in, let those already read finish,
// close the stack, then the socket, then sweep the pool once more.
func closeSIP(ua *sipgo.UserAgent, conn *drainConn, served <-chan struct{}) error {
	conn.draining.Store(true)
	time.Sleep(sipSettle)
	err := ua.Close()
	conn.PacketConn.Close()
	<-served
	time.Sleep(sipSettle)
	_ = ua.TransportLayer().Pool("udp").Clear()
	return err
}

// handle wraps a request handler: it counts in p.wg, and a closed phone
// answers 503.
func (p *Phone) handle(h func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !p.enter() {
			if !req.IsAck() {
				respond(tx, req, 503, "Service Unavailable")
			}
			return
		}
		defer p.wg.Done()
		h(req, tx)
	}
}

// enter counts one more goroutine in p.wg unless the phone is closed.
func (p *Phone) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	return true
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func (p *Phone) callByDialog(req *sip.Request) *Call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dialogs[id]
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		c := p.callByDialog(req)
		if c == nil {
			respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
		c.reinvite(req, tx)
		return
	}
	dlg, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		p.log.Info("bad INVITE", "error", err)
		respond(tx, req, 400, "Bad Request")
		return
	}
	c := p.newCall(req, dlg)
	defer func() {
		p.mu.Lock()
		delete(p.dialogs, dlg.ID)
		p.mu.Unlock()
		dlg.Close()
	}()
	c.run()
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := p.callByDialog(req); c != nil {
		// An ACK of a re-INVITE's 200 fails the CSeq check: nothing to do.
		_ = c.dlg.ReadAck(req, tx)
	}
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.callByDialog(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.byeReceived.Store(true)
	if err := c.dlg.ReadBye(req, tx); err != nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	}
}

// newCall registers the call of an INVITE.
func (p *Phone) newCall(req *sip.Request, dlg *sipgo.DialogServerSession) *Call {
	number := req.Recipient.User
	b := p.behaviour(number)
	c := &Call{
		p:         p,
		dlg:       dlg,
		number:    number,
		behaviour: b,
		arrived:   time.Now(),
		hangupCh:  make(chan hangupReq),
		done:      make(chan struct{}),
		changed:   make(chan struct{}),
		state:     Ringing,
		eventPT:   -1,
		session:   uint64(time.Now().UnixNano()),
	}
	if h := req.From(); h != nil {
		c.from = h.Address.User
	}
	if h := req.CallID(); h != nil {
		c.callID = h.Value()
	}
	c.rec = NewRecorder(c.arrived, -1)
	c.log = p.log.With("number", number, "sip_call_id", c.callID)
	if b.Codec != "" {
		if codec, err := media.ParseCodec(b.Codec); err == nil {
			c.want = codec
			c.wantSet = true
		}
	}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.dialogs[dlg.ID] = c
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	return c
}
