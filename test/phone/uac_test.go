package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard/switchboard/media"
)

// The test side of the self-tests: a small sipgo UAC that calls the phone,
// and an RTP peer that plays a tone to it and records what comes back.
// Neither shares code with the phone's media, so the phone is checked
// against an independent implementation.

type uac struct {
	t       *testing.T
	ua      *sipgo.UserAgent
	dialogs *sipgo.DialogClientCache
	conn    *drainConn
	served  chan struct{}
	byes    chan string // Call-IDs of BYEs the phone sent
	closed  sync.Once
}

func newUAC(t *testing.T) *uac {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &drainConn{PacketConn: pc}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-uac"), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port),
		sipgo.WithClientConnectionAddr(conn.LocalAddr().String()), sipgo.WithClientLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	u := &uac{
		t: t, ua: ua, conn: conn, served: make(chan struct{}), byes: make(chan string, 16),
		dialogs: sipgo.NewDialogClientCache(client, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "uac", Host: "127.0.0.1", Port: port}}),
	}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := u.dialogs.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		u.byes <- req.CallID().Value()
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	go func() { defer close(u.served); _ = srv.ServeUDP(conn) }()
	if err := waitPooled(context.Background(), ua.TransportLayer().Pool("udp"), conn.LocalAddr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.close)
	return u
}

func (u *uac) close() {
	u.closed.Do(func() { _ = closeSIP(u.ua, u.conn, u.served) })
}

// invite calls number at the phone with offer and waits for the final
// response; provisional ones go to onResponse. A 2xx is ACKed.
func (u *uac) invite(ctx context.Context, ph *Phone, number string, offer []byte, onResponse func(*sip.Response)) (*sipgo.DialogClientSession, error) {
	dlg, err := u.dialogs.Invite(ctx, sip.Uri{Scheme: "sip", User: number, Host: "127.0.0.1", Port: int(ph.Addr().Port())},
		offer, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, err
	}
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if onResponse != nil {
			onResponse(r)
		}
		return nil
	}})
	if err != nil {
		return dlg, err
	}
	return dlg, dlg.Ack(ctx)
}

// reinvite sends a re-INVITE with offer in the dialog, ACKs its 200 and
// returns it.
func reinvite(ctx context.Context, dlg *sipgo.DialogClientSession, offer []byte) (*sip.Response, error) {
	target := dlg.InviteResponse.Contact().Address
	req := sip.NewRequest(sip.INVITE, target)
	req.SetBody(offer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := dlg.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, target)
		if err := dlg.WriteRequest(ack); err != nil {
			return res, err
		}
	}
	return res, nil
}

func statusOf(err error) int {
	var dr *sipgo.ErrDialogResponse
	if errors.As(err, &dr) {
		return dr.Res.StatusCode
	}
	return 0
}

// peer is the test's RTP end: it plays a tone to where it is pointed and
// records everything it receives.
type peer struct {
	conn *net.UDPConn
	rec  *Recorder
	tone float64
	dtmf chan dtmfRequest
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu     sync.Mutex
	remote netip.AddrPort
	codec  media.Codec
	sendOn bool
}

type dtmfRequest struct {
	digits string
	done   chan struct{}
}

func newPeer(t *testing.T, tone float64) *peer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{conn: conn, rec: NewRecorder(time.Now(), 101), tone: tone, dtmf: make(chan dtmfRequest), stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, _, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_ = p.rec.Record(buf[:n], time.Now())
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *peer) close() {
	p.once.Do(func() {
		close(p.stop)
		p.conn.Close()
		p.wg.Wait()
	})
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// offer is an SDP offer for the peer's socket: payload types as given
// ("0 8 101"), telephone-event when 101 is among them.
func (p *peer) offer(formats string, attrs ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=uac 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP %s\r\n", p.addr().Port(), formats)
	for _, f := range strings.Fields(formats) {
		switch f {
		case "0":
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case "8":
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		case "101":
			b.WriteString("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n")
		}
	}
	for _, a := range attrs {
		b.WriteString("a=" + a + "\r\n")
	}
	return []byte(b.String())
}

// play starts sending the tone to the phone's SDP (answer) in its codec.
func (p *peer) play(t *testing.T, answer []byte) {
	t.Helper()
	o, err := parseOffer(answer)
	if err != nil {
		t.Fatalf("phone's SDP: %v\n%s", err, answer)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remote, p.codec = o.remote, o.codecs[0]
	if p.sendOn {
		return
	}
	p.sendOn = true
	p.wg.Add(1)
	go p.send()
}

func (p *peer) target() (netip.AddrPort, media.Codec) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remote, p.codec
}

func (p *peer) send() {
	defer p.wg.Done()
	_, codec := p.target()
	pk, _ := media.NewPacketizer(media.RandomPacketizerConfig(codec))
	ds := media.NewDTMFSender(pk, 101)
	write := func(b []byte) {
		remote, _ := p.target()
		_, _ = p.conn.WriteToUDPAddrPort(b, remote)
	}
	sleepUntil := func(at time.Time) bool {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-p.stop:
			return false
		}
	}
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	phase, step := 0.0, 2*math.Pi*p.tone/media.SampleRate
	frame, payload := make([]int16, media.FrameSamples), make([]byte, media.FrameSamples)
	for {
		select {
		case <-p.stop:
			return
		case req := <-p.dtmf:
			for _, d := range req.digits {
				start := time.Now()
				if err := ds.Start(d, 100*time.Millisecond, start); err != nil {
					panic(err)
				}
				for off, ok := ds.Due(); ok; off, ok = ds.Due() {
					if !sleepUntil(start.Add(off)) {
						return
					}
					b, _ := ds.Next(nil)
					write(b)
				}
				if !sleepUntil(time.Now().Add(60 * time.Millisecond)) {
					return
				}
			}
			close(req.done)
		case now := <-ticker.C:
			for i := range frame {
				frame[i] = int16(8000 * math.Sin(phase))
				phase += step
			}
			phase = math.Mod(phase, 2*math.Pi)
			codec.Encode(payload, frame)
			write(pk.Packetize(nil, payload, now))
		}
	}
}

// sendDTMF sends digits as RFC 4733 events and returns once they are sent.
func (p *peer) sendDTMF(t *testing.T, digits string) {
	t.Helper()
	req := dtmfRequest{digits: digits, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case p.dtmf <- req:
	case <-ctx.Done():
		t.Fatal("peer not sending")
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		t.Fatal("DTMF not sent")
	}
}

// eventually polls cond until it holds; the deadline is only a bound on a
// broken test, never a measurement.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
