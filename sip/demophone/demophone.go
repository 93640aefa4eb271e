// Package demophone is a bank of simulated phones behind one SIP address,
// so `switchboard demo` shows a complete click-to-call with no other
// software. A phone behaves by the last digit of the number dialed:
//
//	0–6  rings, answers after AnswerDelay (1 s) and echoes the RTP it receives
//	7    answers busy (486 Busy Here)
//	8    rings and never answers (until CANCEL)
//	9    rejects (603 Decline)
//
// An answered phone stays up until the caller hangs up (BYE), or until
// HangupAfter when that is set.
package demophone

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
	"github.com/pion/sdp/v3"
)

// Options of the phone bank; zero values mean defaults.
type Options struct {
	// Addr is the loopback UDP address the phones listen on; default
	// 127.0.0.1:5070.
	Addr string
	// AnswerDelay is how long phones 0–6 ring before answering; default 1 s.
	AnswerDelay time.Duration
	// HangupAfter makes an answered phone hang up by itself; 0 never does.
	HangupAfter time.Duration
	Logger      *slog.Logger
}

// Phones is the running bank.
type Phones struct {
	opt     Options
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dialogs *sipgo.DialogServerCache
	log     *slog.Logger
	conn    net.PacketConn

	wg      sync.WaitGroup
	echoed  atomic.Int64
	answers atomic.Int64
}

// Start listens and serves until ctx ends or Close is called.
func Start(ctx context.Context, opt Options) (*Phones, error) {
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:5070"
	}
	if opt.AnswerDelay == 0 {
		opt.AnswerDelay = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	host, portStr, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("demo phones: address %q: %w", opt.Addr, err)
	}
	conn, err := net.ListenPacket("udp", opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("demo phones: listen %s: %w", opt.Addr, err)
	}
	if portStr == "0" {
		portStr = strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
	}
	port, _ := strconv.Atoi(portStr)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("switchboard-demo-phone"))
	if err != nil {
		conn.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		conn.Close()
		return nil, err
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(host))
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &Phones{
		opt:  opt,
		ua:   ua,
		srv:  srv,
		log:  opt.Logger.With("component", "demo-phones"),
		conn: conn,
		dialogs: sipgo.NewDialogServerCache(client, sipmsg.ContactHeader{
			Address: sipmsg.Uri{Scheme: "sip", User: "phone", Host: host, Port: port},
		}),
	}
	p.opt.Addr = net.JoinHostPort(host, portStr)
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) { _ = p.dialogs.ReadAck(req, tx) })
	srv.OnBye(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if err := p.dialogs.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sipmsg.NewResponseFromRequest(req, sipmsg.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		}
	})
	srv.OnOptions(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() {
		if err := srv.ServeUDP(conn); err != nil && !errors.Is(err, net.ErrClosed) {
			p.log.Debug("serve", "err", err)
		}
	}()
	go func() { <-ctx.Done(); p.Close() }()
	return p, nil
}

// Addr is where the phones listen (host:port).
func (p *Phones) Addr() string { return p.opt.Addr }

// Echoed counts RTP packets echoed back to callers.
func (p *Phones) Echoed() int64 { return p.echoed.Load() }

// Answered counts calls the phones answered.
func (p *Phones) Answered() int64 { return p.answers.Load() }

// Close stops the phones and waits for their calls' media to stop.
func (p *Phones) Close() error {
	err := p.ua.Close()
	p.conn.Close()
	p.wg.Wait()
	return err
}

// Behaviour is what the phone for a number does.
type Behaviour int

const (
	Answer Behaviour = iota
	Busy
	NoAnswer
	Reject
)

// BehaviourOf maps a dialed number to its phone's behaviour by last digit.
func BehaviourOf(number string) Behaviour {
	if number == "" {
		return Reject
	}
	switch number[len(number)-1] {
	case '0', '1', '2', '3', '4', '5', '6':
		return Answer
	case '7':
		return Busy
	case '8':
		return NoAnswer
	}
	return Reject
}

func (p *Phones) onInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	dlg, err := p.dialogs.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	defer dlg.Close()
	number := req.Recipient.User
	log := p.log.With("number", number)
	switch BehaviourOf(number) {
	case Busy:
		_ = dlg.Respond(486, "Busy Here", nil)
		return
	case Reject:
		_ = dlg.Respond(603, "Decline", nil)
		return
	}
	if err := dlg.Respond(180, "Ringing", nil); err != nil {
		return
	}
	if BehaviourOf(number) == NoAnswer {
		<-dlg.Context().Done() // a CANCEL ends the dialog; sipgo answers it with 200 and 487
		return
	}
	select {
	case <-dlg.Context().Done():
		return
	case <-time.After(p.opt.AnswerDelay):
	}
	remote, pt, err := parseOffer(req.Body())
	if err != nil {
		log.Info("unusable offer", "err", err)
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(dlg.InviteRequest.Recipient.Host)})
	if err != nil {
		rtp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	}
	if err != nil {
		_ = dlg.Respond(500, "Server Internal Error", nil)
		return
	}
	defer rtp.Close()
	local := rtp.LocalAddr().(*net.UDPAddr)
	if err := dlg.RespondSDP(answerSDP(local.IP.String(), local.Port, pt)); err != nil {
		return
	}
	p.answers.Add(1)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.echo(rtp, remote) }()

	var hangup <-chan time.Time
	if p.opt.HangupAfter > 0 {
		t := time.NewTimer(p.opt.HangupAfter)
		defer t.Stop()
		hangup = t.C
	}
	select {
	case <-dlg.Context().Done():
	case <-hangup:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = dlg.Bye(ctx)
		cancel()
	}
}

// echo sends every packet back to where it came from (symmetric RTP), or
// to the SDP address when nothing arrived yet; it stops when the socket
// closes.
func (p *Phones) echo(conn *net.UDPConn, _ netip.AddrPort) {
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if _, err := conn.WriteToUDPAddrPort(buf[:n], from); err == nil {
			p.echoed.Add(1)
		}
	}
}

// parseOffer returns the offer's RTP address and the first G.711 payload
// type it offers.
func parseOffer(body []byte) (netip.AddrPort, uint8, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("sdp: %w", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return netip.AddrPort{}, 0, errors.New("sdp: no media")
	}
	md := sd.MediaDescriptions[0]
	conn := sd.ConnectionInformation
	if md.ConnectionInformation != nil {
		conn = md.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return netip.AddrPort{}, 0, errors.New("sdp: no connection address")
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("sdp: address: %w", err)
	}
	for _, f := range md.MediaName.Formats {
		if f == "0" || f == "8" {
			pt, _ := strconv.Atoi(f)
			return netip.AddrPortFrom(ip, uint16(md.MediaName.Port.Value)), uint8(pt), nil
		}
	}
	return netip.AddrPort{}, 0, errors.New("sdp: no G.711 codec offered")
}

func answerSDP(ip string, port int, pt uint8) []byte {
	name := "PCMU"
	if pt == 8 {
		name = "PCMA"
	}
	now := uint64(time.Now().Unix())
	return []byte(fmt.Sprintf("v=0\r\no=demo %d %d IN IP4 %s\r\ns=switchboard demo phone\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP %d\r\na=rtpmap:%d %s/8000\r\na=sendrecv\r\n", now, now, ip, ip, port, pt, pt, name))
}
