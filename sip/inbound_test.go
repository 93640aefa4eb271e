package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

// Inbound calls: a hand-driven caller (fakePeer) on a loopback IP sends
// INVITEs to the backend, whose handler hands the calls to the test.

// newFakePeerAt is a fakePeer on ip (any 127.0.0.0/8 address works on
// loopback), so a test chooses the source IP the backend sees.
func newFakePeerAt(t *testing.T, ip string) *fakePeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakePeer{t: t, conn: c}
}

// caller is one call placed by a fakePeer: its dialog's identifiers and
// an RTP end.
type caller struct {
	*fakePeer
	us     netip.AddrPort // the backend's SIP address
	rtp    *rtpEnd
	callID string
	from   string // From header value, with its tag
	branch string // the INVITE's
	to     string // To of the INVITE (no tag)
	ok     string // our 200, once answered
	cseq   int
}

var callerSeq struct {
	sync.Mutex
	n int
}

func newCaller(t *testing.T, b *Backend, ip string) *caller {
	callerSeq.Lock()
	callerSeq.n++
	n := callerSeq.n
	callerSeq.Unlock()
	return &caller{
		fakePeer: newFakePeerAt(t, ip),
		us:       b.LocalAddr(),
		rtp:      newRTPEnd(t, 0xC0C00000+uint32(n)),
		callID:   fmt.Sprintf("in-%d-%d@test", n, time.Now().UnixNano()),
		branch:   fmt.Sprintf("z9hG4bK-in%d", n),
		cseq:     1,
	}
}

// callerSDP offers formats (an m= line's list) with their rtpmaps on the
// caller's RTP port; extra lines are appended.
func (c *caller) sdp(formats string, rtpmaps map[string]string, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\no=caller 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %d RTP/AVP %s\n", c.rtp.port(), formats)
	for _, f := range strings.Fields(formats) {
		if m, ok := rtpmaps[f]; ok {
			fmt.Fprintf(&b, "a=rtpmap:%s %s\n", f, m)
		}
	}
	b.WriteString(extra)
	return b.String()
}

// pcmaOffer is the usual offer: PCMA, PCMU and telephone-event 101.
func (c *caller) pcmaOffer() string {
	return c.sdp("8 0 101", map[string]string{"8": "PCMA/8000", "0": "PCMU/8000", "101": "telephone-event/8000"}, "")
}

// invite sends the INVITE: From "display" <sip:fromUser@…>, to
// sip:ruri@us (and To the same), with body as SDP.
func (c *caller) invite(fromUser, display, ruri, body string) {
	from := fmt.Sprintf("<sip:%s@127.0.0.1>;tag=f%s", fromUser, c.branch)
	if fromUser == "" {
		from = fmt.Sprintf("<sip:127.0.0.1>;tag=f%s", c.branch)
	}
	if display != "" {
		from = fmt.Sprintf("%q %s", display, from)
	}
	c.from = from
	if ruri == "" {
		c.to = fmt.Sprintf("<sip:%s>", c.us)
	} else {
		c.to = fmt.Sprintf("<sip:%s@%s>", ruri, c.us)
	}
	target := strings.Trim(c.to, "<>")
	c.send(c.us, c.request("INVITE", target, c.branch, c.to, 1, body))
}

// request is a request of the call; body, when not empty, is SDP.
func (c *caller) request(method, target, branch, to string, cseq int, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\nVia: SIP/2.0/UDP %s;branch=%s;rport\nFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: %d %s\nMax-Forwards: 70\nContact: <sip:caller@%s>\n",
		method, target, c.addr(), branch, c.from, to, c.callID, cseq, method, c.addr())
	if body != "" {
		b.WriteString("Content-Type: application/sdp\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(strings.ReplaceAll(body, "\n", "\r\n")), body)
	return b.String()
}

// ourContact is the URI of the Contact of a response of ours.
func ourContact(t *testing.T, res string) string {
	t.Helper()
	c := header(res, "Contact")
	i, j := strings.Index(c, "<"), strings.Index(c, ">")
	if i < 0 || j < i {
		t.Fatalf("no Contact in:\n%s", res)
	}
	return c[i+1 : j]
}

// ack ACKs our 200 (a request of its own, RFC 3261 13.2.2.4).
func (c *caller) ack(ok string) {
	c.send(c.us, c.request("ACK", ourContact(c.t, ok), c.branch+"-ack", header(ok, "To"), 1, ""))
}

// ackFailure ACKs a final failure (same transaction as the INVITE).
func (c *caller) ackFailure(res string) {
	c.send(c.us, c.request("ACK", strings.Trim(c.to, "<>"), c.branch, header(res, "To"), 1, ""))
}

func (c *caller) cancel() {
	c.send(c.us, c.request("CANCEL", strings.Trim(c.to, "<>"), c.branch, c.to, 1, ""))
}

// inDialog sends a request in the answered dialog.
func (c *caller) inDialog(method, body string) {
	c.cseq++
	c.send(c.us, c.request(method, ourContact(c.t, c.ok), fmt.Sprintf("%s-%d", c.branch, c.cseq), header(c.ok, "To"), c.cseq, body))
}

// inboundBackend starts a backend with trunks whose handler hands every
// inbound call to the returned channel.
func inboundBackend(t *testing.T, cfg Config, tune func(*Backend)) (*Backend, <-chan engine.InboundCall) {
	t.Helper()
	b, _ := startBackendTuned(t, cfg, tune)
	calls := make(chan engine.InboundCall, 8)
	b.OnInbound(func(ic engine.InboundCall) { calls <- ic })
	return b, calls
}

func nextCall(t *testing.T, calls <-chan engine.InboundCall) engine.InboundCall {
	t.Helper()
	select {
	case ic := <-calls:
		return ic
	case <-time.After(testBound):
		t.Fatal("no inbound call offered")
		return nil
	}
}

// carrier is a trunk whose default source is 127.0.0.1.
func carrier() Trunk { return Trunk{Name: "carrier", Host: "127.0.0.1", Port: 5999} }

// answer answers ic in the background, ACKs our 200 as c and returns the
// session; it is hung up at cleanup (c answering the BYE) unless it
// ended.
func answer(t *testing.T, ic engine.InboundCall, c *caller) *Session {
	t.Helper()
	type result struct {
		s   engine.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := ic.Answer(testCtx(t))
		ch <- result{s, err}
	}()
	c.ok = c.recv("SIP/2.0 200")
	c.ack(c.ok)
	r := <-ch
	if r.err != nil {
		t.Fatalf("Answer: %v", r.err)
	}
	s := r.s.(*Session)
	t.Cleanup(func() {
		if s.Context().Err() != nil {
			return
		}
		done := make(chan error, 1)
		go func() { done <- s.Hangup(context.Background(), nil) }()
		bye := c.recv("BYE ")
		c.send(c.us, c.reply(bye, "200 OK", "", ""))
		<-done
	})
	return s
}

func TestInboundOnlyFromTrunkSources(t *testing.T) {
	tests := []struct {
		name   string
		trunk  Trunk
		refuse bool
	}{
		{"host is the source", carrier(), false},
		{"not the host", Trunk{Name: "c", Host: "192.0.2.1"}, true},
		{"sources replace the host", Trunk{Name: "c", Host: "127.0.0.1", Sources: []string{"192.0.2.7"}}, true},
		{"source IP", Trunk{Name: "c", Host: "192.0.2.1", Sources: []string{"127.0.0.1"}}, false},
		{"source CIDR", Trunk{Name: "c", Host: "192.0.2.1", Sources: []string{"2001:db8::/32", "127.0.0.0/30"}}, false},
		{"outside the CIDR", Trunk{Name: "c", Host: "192.0.2.1", Sources: []string{"127.0.0.2/31"}}, true},
		{"another trunk's source", Trunk{Name: "c", Host: "192.0.2.1", Sources: []string{"::1"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, calls := inboundBackend(t, Config{Trunks: []Trunk{tc.trunk}}, nil)
			// Every caller sends from 127.0.0.1 (tests use no other
			// address); the trunks say whether that is a source.
			c := newCaller(t, b, "127.0.0.1")
			c.invite("4930111", "", "800", c.pcmaOffer())
			if !tc.refuse {
				ic := nextCall(t, calls)
				if err := ic.Reject(404, "Not Found"); err != nil {
					t.Fatal(err)
				}
				c.recv("SIP/2.0 404")
				if st := b.Stats().Inbound; st.Accepted != 1 || st.RefusedNotTrunk != 0 {
					t.Fatalf("stats %+v", st)
				}
				return
			}
			res := c.recv("SIP/2.0 ")
			if !strings.HasPrefix(res, "SIP/2.0 403") {
				t.Fatalf("answered:\n%s", res)
			}
			if st := b.Stats().Inbound; st.RefusedNotTrunk != 1 || st.Accepted != 0 {
				t.Fatalf("stats %+v", st)
			}
			select {
			case <-calls:
				t.Fatal("a refused call was offered")
			default:
			}
		})
	}
}

func TestInboundCallFieldsRingingAndReject(t *testing.T) {
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}}, nil)
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "Alice Smith", "800123", c.pcmaOffer())
	c.recv("SIP/2.0 100")
	ic := nextCall(t, calls)
	if ic.Caller() != "4930111" || ic.CallerName() != "Alice Smith" || ic.Called() != "800123" {
		t.Fatalf("caller %q name %q called %q", ic.Caller(), ic.CallerName(), ic.Called())
	}
	if err := ic.Ringing(); err != nil {
		t.Fatal(err)
	}
	if err := ic.Ringing(); err != nil {
		t.Fatal(err)
	}
	if res := c.recv("SIP/2.0 1"); !strings.HasPrefix(res, "SIP/2.0 180") || !strings.Contains(header(res, "To"), "tag=") {
		t.Fatalf("ringing:\n%s", res)
	}
	if err := ic.Reject(486, "Busy Here"); err != nil {
		t.Fatal(err)
	}
	res := c.recv("SIP/2.0 ") // a second 180 would come first
	if !strings.HasPrefix(res, "SIP/2.0 486") {
		t.Fatalf("rejected with:\n%s", res)
	}
	c.ackFailure(res)
	if err := ic.Reject(404, "Not Found"); !errors.Is(err, ErrAlreadyAnswered) {
		t.Fatalf("second Reject: %v", err)
	}
	if _, err := ic.Answer(testCtx(t)); !errors.Is(err, ErrAlreadyAnswered) {
		t.Fatalf("Answer after Reject: %v", err)
	}
}

func TestInboundMalformedInvites(t *testing.T) {
	tests := []struct {
		name               string
		fromUser, ruri     string
		sdp                func(c *caller) string
		want               string
		noHandler, counted bool
	}{
		{name: "no SDP", fromUser: "1", ruri: "800", sdp: func(*caller) string { return "" }, want: "488"},
		{name: "no common codec", fromUser: "1", ruri: "800", sdp: func(c *caller) string {
			return c.sdp("18 101", map[string]string{"18": "G729/8000", "101": "telephone-event/8000"}, "")
		}, want: "488"},
		{name: "garbage SDP", fromUser: "1", ruri: "800", sdp: func(*caller) string { return "not sdp at all\n" }, want: "488"},
		{name: "no caller", fromUser: "", ruri: "800", sdp: (*caller).pcmaOffer, want: "400"},
		{name: "no number called", fromUser: "1", ruri: "", sdp: (*caller).pcmaOffer, want: "404"},
		{name: "no handler", fromUser: "1", ruri: "800", sdp: (*caller).pcmaOffer, want: "403", noHandler: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}}, nil)
			if tc.noHandler {
				b.OnInbound(nil)
			}
			c := newCaller(t, b, "127.0.0.1")
			c.invite(tc.fromUser, "", tc.ruri, tc.sdp(c))
			if res := c.recv("SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 "+tc.want) {
				t.Fatalf("answered:\n%s", res)
			}
			st := b.Stats().Inbound
			want := InboundStats{RefusedBadRequest: 1}
			if tc.noHandler {
				want = InboundStats{RefusedNoHandler: 1}
			}
			if st != want {
				t.Fatalf("stats %+v, want %+v", st, want)
			}
			select {
			case <-calls:
				t.Fatal("a refused call was offered")
			default:
			}
		})
	}
}

// An answered inbound call is a full session: codec pinned to the
// caller's first supported one, its telephone-event type echoed, media
// both ways (an announcement heard by the caller, its key presses
// reported once each), ended by the caller's BYE.
func TestInboundAnswerMediaDTMFAndCallerBye(t *testing.T) {
	ann := &fakeAnnouncements{audio: map[string][]int16{"t/hello": tone(440, 8000, 0, 8*media.FrameSamples)}}
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}, Announcements: ann}, nil)
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "", "800", c.sdp("18 0 8 96",
		map[string]string{"18": "G729/8000", "0": "PCMU/8000", "8": "PCMA/8000", "96": "telephone-event/8000"}, ""))
	ic := nextCall(t, calls)
	s := answer(t, ic, c)
	body := c.ok[strings.Index(c.ok, "\n\n")+2:]
	if !strings.Contains(body, " RTP/AVP 0 96\n") || !strings.Contains(body, "a=rtpmap:96 telephone-event/8000") ||
		strings.Contains(body, "PCMA") || header(c.ok, "Content-Type") != "application/sdp" {
		t.Fatalf("200 SDP:\n%s", body)
	}
	if s.Codec() != PCMU {
		t.Fatalf("codec %v", s.Codec())
	}
	var es engine.Session = s
	if _, ok := es.(engine.Player); !ok {
		t.Fatal("not a Player")
	}
	if _, ok := es.(engine.MediaCounter); !ok {
		t.Fatal("not a MediaCounter")
	}
	ours := offerRTP(t, c.ok)

	// The caller hears an announcement, in PCMU.
	if err := s.Play(testCtx(t), engine.Announcement{Tenant: "t", ID: "hello"}, engine.PlayOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.rtp.waitCount(8, "the announcement") {
		if p.PayloadType != 0 {
			t.Fatalf("caller received payload type %d", p.PayloadType)
		}
	}

	// Its key presses are reported once each.
	var mu sync.Mutex
	var keys []rune
	s.OnDTMF(func(d rune) {
		mu.Lock()
		keys = append(keys, d)
		mu.Unlock()
	})
	sent := 0
	ts := c.rtp.ts
	for _, d := range "5#5" {
		sent += sendPress(c.rtp, ours, 96, d, ts)
		ts += 1600
	}
	c.rtp.ts = ts
	c.rtp.audio(ours, 0, fill(0xff, media.FrameSamples))
	sent++
	waitFor(t, "the caller's packets", func() bool { return s.Stream().Stats().PacketsReceived >= uint64(sent) })
	mu.Lock()
	got := string(keys)
	mu.Unlock()
	if got != "5#5" {
		t.Fatalf("reported %q, want \"5#5\"", got)
	}
	if st := s.MediaStats(); st.PacketsIn < uint64(sent) || st.PacketsOut < 8 {
		t.Fatalf("media stats %+v", st)
	}

	// The caller hangs up.
	c.inDialog("BYE", "")
	if res := c.recv("SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("BYE answered:\n%s", res)
	}
	waitDone(t, s.Context(), "the session")
	if cause := context.Cause(s.Context()); !errors.Is(cause, engine.ErrRemoteHangup) {
		t.Fatalf("cause %v", cause)
	}
	if n := b.ActiveSessions(); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// A re-INVITE (hold) is answered with our SDP; Hangup sends BYE, once.
func TestInboundReInviteAndHangup(t *testing.T) {
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}}, nil)
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "", "800", c.pcmaOffer())
	s := answer(t, nextCall(t, calls), c)

	c.inDialog("INVITE", c.pcmaOffer()+"a=sendonly\n")
	res := c.recv("SIP/2.0 ")
	if !strings.HasPrefix(res, "SIP/2.0 200") || offerRTP(t, res) != offerRTP(t, c.ok) {
		t.Fatalf("re-INVITE answered:\n%s", res)
	}
	c.send(c.us, c.request("ACK", ourContact(t, c.ok), c.branch+"-reack", header(c.ok, "To"), c.cseq, ""))
	if s.Context().Err() != nil {
		t.Fatal("session ended by a re-INVITE")
	}

	done := make(chan error, 1)
	go func() { done <- s.Hangup(context.Background(), nil) }()
	bye := c.recv("BYE ")
	if header(bye, "Call-ID") != c.callID || !strings.Contains(header(bye, "From"), header(c.ok, "To")[strings.Index(header(c.ok, "To"), "tag="):]) {
		t.Fatalf("BYE not in the dialog:\n%s", bye)
	}
	c.send(c.us, c.reply(bye, "200 OK", "", ""))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Hangup(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if cause := context.Cause(s.Context()); !errors.Is(cause, ErrLocalHangup) {
		t.Fatalf("cause %v", cause)
	}
}

func TestInboundCancelBeforeAnswer(t *testing.T) {
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}}, nil)
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "", "800", c.pcmaOffer())
	ic := nextCall(t, calls)
	if err := ic.Ringing(); err != nil {
		t.Fatal(err)
	}
	c.recv("SIP/2.0 180")
	c.cancel()
	got := map[string]bool{}
	for len(got) < 2 {
		res := c.recv("SIP/2.0 ")
		switch {
		case strings.HasPrefix(res, "SIP/2.0 200") && strings.HasSuffix(header(res, "CSeq"), "CANCEL"):
			got["200 CANCEL"] = true
		case strings.HasPrefix(res, "SIP/2.0 487") && strings.HasSuffix(header(res, "CSeq"), "INVITE"):
			got["487"] = true
			c.ackFailure(res)
		case strings.HasPrefix(res, "SIP/2.0 1"):
		default:
			t.Fatalf("unexpected:\n%s", res)
		}
	}
	waitDone(t, ic.Context(), "the offered call")
	if cause := context.Cause(ic.Context()); !errors.Is(cause, ErrCallerCancelled) {
		t.Fatalf("cause %v", cause)
	}
	if _, err := ic.Answer(testCtx(t)); err == nil {
		t.Fatal("answered a cancelled call")
	}
	if err := ic.Reject(480, "Temporarily Unavailable"); !errors.Is(err, ErrAlreadyAnswered) {
		t.Fatalf("Reject after CANCEL: %v", err)
	}
}

// No ACK for our 200: Answer fails once Timer H (shortened here) passes,
// and the call is hung up with a BYE.
func TestInboundAnswerWithoutACK(t *testing.T) {
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}}, func(b *Backend) { b.ackTimeout = 300 * time.Millisecond })
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "", "800", c.pcmaOffer())
	ic := nextCall(t, calls)
	errc := make(chan error, 1)
	go func() {
		_, err := ic.Answer(testCtx(t))
		errc <- err
	}()
	c.recv("SIP/2.0 200")
	bye := c.recv("BYE ")
	c.send(c.us, c.reply(bye, "200 OK", "", ""))
	if err := <-errc; !errors.Is(err, ErrNoACK) {
		t.Fatalf("Answer: %v", err)
	}
	waitFor(t, "the leg released", func() bool { return b.ActiveStreams() == 0 && b.ActiveSessions() == 0 })
}

// A call left offered is rejected by the backend (480), its Context ended.
func TestInboundOfferTimeout(t *testing.T) {
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}}, func(b *Backend) { b.offerTimeout = 100 * time.Millisecond })
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "", "800", c.pcmaOffer())
	ic := nextCall(t, calls)
	res := c.recv("SIP/2.0 4")
	if !strings.HasPrefix(res, "SIP/2.0 480") {
		t.Fatalf("answered:\n%s", res)
	}
	c.ackFailure(res)
	waitDone(t, ic.Context(), "the offered call")
	if cause := context.Cause(ic.Context()); !errors.Is(cause, ErrNotAnswered) {
		t.Fatalf("cause %v", cause)
	}
}

// Close rejects the calls still offered (503) and ends their Contexts.
func TestInboundCloseRejectsOffered(t *testing.T) {
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{carrier()}}, nil)
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "", "800", c.pcmaOffer())
	ic := nextCall(t, calls)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if res := c.recv("SIP/2.0 5"); !strings.HasPrefix(res, "SIP/2.0 503") {
		t.Fatalf("answered:\n%s", res)
	}
	waitDone(t, ic.Context(), "the offered call")
	if cause := context.Cause(ic.Context()); !errors.Is(cause, ErrClosed) {
		t.Fatalf("cause %v", cause)
	}
	if _, err := ic.Answer(testCtx(t)); err == nil {
		t.Fatal("answered after Close")
	}
}

// An inbound session bridged with a dialed leg: media flows both ways.
func TestInboundBridgedWithDialedLeg(t *testing.T) {
	callee := newFakePeer(t)
	tr := fakeTrunk(callee)
	tr.Name = "carrier"
	b, calls := inboundBackend(t, Config{Trunks: []Trunk{tr}}, nil)
	c := newCaller(t, b, "127.0.0.1")
	c.invite("4930111", "", "800", c.pcmaOffer())
	in := answer(t, nextCall(t, calls), c)
	inRTP := offerRTP(t, c.ok)

	out := dialLeg(t, b, callee, newRTPEnd(t, 0xD0D0D0D0), 101, engine.DialRequest{CallID: "x", LegID: "x-2", Number: "2000", Peer: in})
	br, err := b.Bridge(in, out.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	for i := range 5 {
		c.rtp.audio(inRTP, 8, fill(byte(0x10+i), media.FrameSamples))
		out.phone.audio(out.ours, 8, fill(byte(0x20+i), media.FrameSamples))
	}
	for _, p := range out.phone.waitCount(5, "the caller's audio at the callee") {
		if p.PayloadType != 8 || p.Payload[0] < 0x10 || p.Payload[0] > 0x14 {
			t.Fatalf("callee received %v %x", p.PayloadType, p.Payload[:1])
		}
	}
	for _, p := range c.rtp.waitCount(5, "the callee's audio at the caller") {
		if p.PayloadType != 8 || p.Payload[0] < 0x20 || p.Payload[0] > 0x24 {
			t.Fatalf("caller received %v %x", p.PayloadType, p.Payload[:1])
		}
	}
}
