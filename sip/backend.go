package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

var _ engine.Backend = (*Backend)(nil)

// Errors of the backend's lifecycle. ErrClosed is also the cause of the
// sessions and attempts a Close ends.
var (
	ErrNotStarted = errors.New("sip: backend not started")
	ErrClosed     = errors.New("sip: backend closed")
	// ErrLocalHangup is a Session's cause when Hangup got a nil cause.
	ErrLocalHangup = errors.New("sip: hung up")
)

// udpReadBuffer is the SO_RCVBUF asked for the SIP UDP socket.
const udpReadBuffer = 4 << 20

const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS"

// Backend is the native SIP engine.Backend.
type Backend struct {
	cfg       Config
	log       *slog.Logger
	listenIP  netip.Addr
	listenPrt int
	advertise netip.Addr
	pool      *media.PortPool

	ua  *sipgo.UserAgent
	srv *sipgo.Server

	// closeCtx is cancelled (cause ErrClosed) by Close; in-flight dials
	// derive from it.
	closeCtx    context.Context
	closeCancel context.CancelCauseFunc

	mu       sync.Mutex
	started  bool
	closed   bool
	client   *sipgo.Client
	dialogUA map[string]*sipgo.DialogUA // by transport
	udpConn  net.PacketConn
	tcpLn    net.Listener
	local    netip.AddrPort
	sessions map[string]*Session // by dialog ID
	strays   strayTable
	rtp      rtpTotals
	dials    sync.WaitGroup
	// recorders counts the recordings not yet finished; added to only
	// while not closed.
	recorders sync.WaitGroup
	serving   sync.WaitGroup
	stopJan   chan struct{} // closed by Close: stops the janitor

	ready atomic.Bool

	// Inbound calls (inbound.go): the handler offered them, the trunks'
	// sources (set by Start), the UAS dialogs by transport, the calls
	// still being offered and the counters.
	onInbound    atomic.Pointer[func(engine.InboundCall)]
	sources      []trunkSource
	uas          map[string]*sipgo.DialogServerCache
	offers       sync.WaitGroup // added to only while not closed
	inboundStats inboundCounters
	// ackTimeout bounds the wait for the ACK of our 200 (Timer H);
	// offerTimeout how long a call may stay offered, neither answered
	// nor rejected. Fields, so tests can shorten them.
	ackTimeout, offerTimeout time.Duration
}

// New checks cfg and builds a backend; Start makes it listen.
func New(cfg Config, logger *slog.Logger) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "sip")
	listen, port, advertise, err := cfg.addrs()
	if err != nil {
		return nil, err
	}
	pool, err := media.NewPortPool(cfg.poolConfig())
	if err != nil {
		return nil, err
	}
	b := &Backend{
		cfg:       cfg,
		log:       logger,
		listenIP:  listen,
		listenPrt: port,
		advertise: advertise,
		pool:      pool,
		sessions:  map[string]*Session{},

		ackTimeout:   64 * sipmsg.T1,
		offerTimeout: DefaultOfferTimeout,
	}
	siplog := newSipgoLogger(logger)
	b.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent(cfg.userAgent()),
		sipgo.WithUserAgentHostname(advertise.String()),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(siplog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sipmsg.WithTransactionLayerLogger(siplog),
			sipmsg.WithTransactionLayerUnhandledResponseHandler(b.onStrayResponse),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	b.srv, err = sipgo.NewServer(b.ua, sipgo.WithServerLogger(siplog))
	if err != nil {
		b.ua.Close()
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	srv := b.srv
	b.closeCtx, b.closeCancel = context.WithCancelCause(context.Background())
	srv.OnBye(b.onBye)
	srv.OnInvite(b.onInvite)
	srv.OnAck(b.onAck)
	srv.OnCancel(b.onCancel)
	srv.OnOptions(b.onOptions)
	return b, nil
}

// Start opens the SIP listeners (UDP, and TCP when configured) and serves
// them until Close. ctx bounds only the start itself.
func (b *Backend) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return errors.New("sip: backend already started")
	}
	b.sources = b.resolveSources(ctx)
	var lc net.ListenConfig
	addr := net.JoinHostPort(b.listenIP.String(), strconv.Itoa(b.listenPrt))
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("sip: listen udp %s: %w", addr, err)
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(udpReadBuffer) // best effort
	}
	local := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	var ln net.Listener
	if b.cfg.transport() == "tcp" {
		taddr := net.JoinHostPort(b.listenIP.String(), strconv.Itoa(int(local.Port())))
		if ln, err = lc.Listen(ctx, "tcp", taddr); err != nil {
			pc.Close()
			return fmt.Errorf("sip: listen tcp %s: %w", taddr, err)
		}
	}
	client, err := sipgo.NewClient(b.ua,
		sipgo.WithClientHostname(b.advertise.String()),
		sipgo.WithClientPort(int(local.Port())),
		sipgo.WithClientLogger(newSipgoLogger(b.log)),
	)
	if err != nil {
		pc.Close()
		if ln != nil {
			ln.Close()
		}
		return fmt.Errorf("sip: client: %w", err)
	}
	b.client, b.udpConn, b.tcpLn, b.local = client, pc, ln, local
	b.dialogUA = map[string]*sipgo.DialogUA{
		"udp": {Client: client, ContactHDR: b.contact("udp")},
		"tcp": {Client: client, ContactHDR: b.contact("tcp")},
	}
	b.uas = map[string]*sipgo.DialogServerCache{
		"udp": sipgo.NewDialogServerCache(client, b.contact("udp")),
		"tcp": sipgo.NewDialogServerCache(client, b.contact("tcp")),
	}
	b.serving.Add(1)
	go func() {
		defer b.serving.Done()
		if err := b.srv.ServeUDP(pc); err != nil && !errors.Is(err, net.ErrClosed) {
			b.log.Error("SIP UDP listener stopped", "error", err)
		}
	}()
	if ln != nil {
		b.serving.Add(1)
		go func() {
			defer b.serving.Done()
			if err := b.srv.ServeTCP(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				b.log.Error("SIP TCP listener stopped", "error", err)
			}
		}()
	}
	// Requests leave from the listening socket once sipgo has it in its
	// connection pool; wait for that so the first Dial cannot race it.
	if err := waitPooled(ctx, b.ua.TransportLayer().Pool("udp"), pc.LocalAddr().String()); err != nil {
		pc.Close()
		if ln != nil {
			ln.Close()
		}
		b.serving.Wait()
		return fmt.Errorf("sip: serve udp: %w", err)
	}
	b.started = true
	b.ready.Store(true)
	b.stopJan = make(chan struct{})
	b.serving.Add(1)
	go func() {
		defer b.serving.Done()
		b.janitor(b.stopJan)
	}()
	b.log.Info("SIP listening", "addr", local.String(), "tcp", ln != nil, "advertise", b.advertise.String())
	return nil
}

// contact is our Contact header for a transport.
func (b *Backend) contact(transport string) sipmsg.ContactHeader {
	c := sipmsg.ContactHeader{Address: sipmsg.Uri{
		Scheme: "sip",
		User:   "switchboard",
		Host:   uriHost(b.advertise),
		Port:   int(b.local.Port()),
	}}
	if transport == "tcp" {
		c.Address.UriParams = sipmsg.NewParams()
		c.Address.UriParams.Add("transport", "tcp")
	}
	return c
}

func uriHost(ip netip.Addr) string {
	if ip.Is6() {
		return "[" + ip.String() + "]"
	}
	return ip.String()
}

// Ready is nil once the backend listens, until Close.
func (b *Backend) Ready() error {
	if b.ready.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return ErrNotStarted
}

// LocalAddr is the SIP UDP address listened on (valid after Start).
func (b *Backend) LocalAddr() netip.AddrPort {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.local
}

// ActiveStreams is how many RTP streams (ports) are open: one per dialing
// or answered leg. Tests use it to prove nothing leaks.
func (b *Backend) ActiveStreams() int { return b.pool.InUse() }

// ActiveSessions is how many answered legs are up.
func (b *Backend) ActiveSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

// Close cancels the attempts in flight (CANCEL where one can be sent),
// hangs up every session (BYE), then stops listening. It is idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.ready.Store(false)
	sessions := make([]*Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	b.mu.Unlock()

	b.closeCancel(ErrClosed)
	if b.stopJan != nil {
		close(b.stopJan)
	}
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Hangup(context.Background(), ErrClosed)
			<-s.done // a hang-up already under way (media timeout) ends too
		}()
	}
	wg.Wait()
	// The legs' ends close their bridges, which finish their recordings.
	b.recorders.Wait()
	// Attempts end once their CANCEL is answered; one still waiting for a
	// first response (it may not CANCEL yet) is cut short by closing the
	// transactions.
	// Calls still offered were rejected (503) as closeCtx ended; an answer
	// under way gives up and hangs up.
	dialsDone := make(chan struct{})
	go func() { b.dials.Wait(); b.offers.Wait(); close(dialsDone) }()
	select {
	case <-dialsDone:
	case <-time.After(b.cfg.byeTimeout()):
	}
	b.ua.Close() // transactions and transport connections
	<-dialsDone
	b.mu.Lock()
	pc, ln := b.udpConn, b.tcpLn
	b.mu.Unlock()
	var err error
	if pc != nil {
		err = errors.Join(err, pc.Close())
	}
	if ln != nil {
		err = errors.Join(err, ln.Close())
	}
	b.serving.Wait()
	b.log.Info("SIP backend closed")
	return err
}

// register adds an answered session so in-dialog requests find it; false
// once the backend is closing.
func (b *Backend) register(s *Session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.sessions[s.id] = s
	return true
}

func (b *Backend) unregister(s *Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions[s.id] == s {
		delete(b.sessions, s.id)
	}
}

// sessionFor finds the session of an in-dialog request sent to us: in the
// dialog of a leg we dialed (we are its UAC) or of an inbound call we
// answered (its UAS).
func (b *Backend) sessionFor(req *sipmsg.Request) *Session {
	uac, err1 := sipmsg.DialogIDFromRequestUAC(req)
	uas, err2 := sipmsg.DialogIDFromRequestUAS(req)
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sessions[uac]; err1 == nil && s != nil {
		return s
	}
	if err2 != nil {
		return nil
	}
	return b.sessions[serverKeyPrefix+uas]
}

func (b *Backend) respond(req *sipmsg.Request, tx sipmsg.ServerTransaction, code int, reason string, body []byte, hdrs ...sipmsg.Header) {
	if tx == nil {
		return
	}
	res := sipmsg.NewResponseFromRequest(req, code, reason, body)
	res.AppendHeader(sipmsg.NewHeader("User-Agent", b.cfg.userAgent()))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		b.log.Debug("respond failed", "code", code, "method", req.Method.String(), "error", err)
	}
}

// onBye ends the session the BYE belongs to; a BYE for no dialog of ours
// gets 481.
func (b *Backend) onBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s := b.sessionFor(req)
	if s == nil {
		b.respond(req, tx, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	s.remoteBye(req, tx)
}

// onInvite: a re-INVITE in one of our dialogs refreshes the session;
// another INVITE is an inbound call (inbound.go).
func (b *Backend) onInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		if s := b.sessionFor(req); s != nil {
			s.reInvite(req, tx)
			return
		}
		b.respond(req, tx, 481, "Call/Transaction Does Not Exist", nil)
		return
	}
	b.offer(req, tx)
}

// onAck confirms the dialog of an inbound call we answered; other ACKs
// (of our answers to re-INVITEs) need nothing.
func (b *Backend) onAck(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	b.mu.Lock()
	cache := b.uas[sipmsg.NetworkToLower(req.Transport())]
	b.mu.Unlock()
	if cache != nil {
		_ = cache.ReadAck(req, tx) // not one of ours: nothing to confirm
	}
}

// onCancel answers a CANCEL that matched no INVITE transaction (matching
// ones are answered by the transaction layer).
func (b *Backend) onCancel(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	b.respond(req, tx, 481, "Call/Transaction Does Not Exist", nil)
}

// onOptions answers keepalives from trunks.
func (b *Backend) onOptions(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	b.respond(req, tx, 200, "OK", nil,
		sipmsg.NewHeader("Allow", allowMethods),
		sipmsg.NewHeader("Accept", "application/sdp"))
}

// waitPooled waits until sipgo's transport serves addr.
func waitPooled(ctx context.Context, pool *sipmsg.ConnectionPool, addr string) error {
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
			return errors.New("listener did not start")
		}
		time.Sleep(time.Millisecond)
	}
}
