package sip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media"
)

// Helpers of the media tests: fake announcements, RTP far ends that
// record what they receive, legs answered by fake peers, tones.

// fakeAnnouncements holds linear audio by "tenant/id"; raw holds G.711
// codes returned as they are, whatever the codec.
type fakeAnnouncements struct {
	audio map[string][]int16
	raw   map[string][]byte
}

func (f *fakeAnnouncements) Payload(tenant, id string, c media.Codec) ([]byte, error) {
	if b, ok := f.raw[tenant+"/"+id]; ok {
		return b, nil
	}
	if s, ok := f.audio[tenant+"/"+id]; ok {
		return (&media.Audio{Samples: s}).Encode(c), nil
	}
	return nil, fmt.Errorf("announcement %s of %s: %w", id, tenant, engine.ErrUnknownAnnouncement)
}

// tone is n samples of a sine at freq Hz and amplitude amp, starting at
// phase sample offset from.
func tone(freq float64, amp float64, from, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(from+i)/media.SampleRate))
	}
	return s
}

// level is the amplitude of the freq Hz component of s (Goertzel): about
// A for a sine of amplitude A at that frequency.
func level(s []int16, freq float64) float64 {
	if len(s) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / media.SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range s {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(s))
}

// rtpEnd is a far end's RTP socket: it keeps every packet it receives and
// sends packets of its own stream.
type rtpEnd struct {
	t    *testing.T
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32

	mu   sync.Mutex
	got  []rtp.Packet
	done chan struct{}
}

func newRTPEnd(t *testing.T, ssrc uint32) *rtpEnd {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(1 << 20)
	e := &rtpEnd{t: t, conn: c, ssrc: ssrc, seq: uint16(ssrc), ts: ssrc * 7, done: make(chan struct{})}
	go e.read()
	t.Cleanup(func() {
		c.Close()
		<-e.done
	})
	return e
}

func (e *rtpEnd) port() int { return e.conn.LocalAddr().(*net.UDPAddr).Port }

func (e *rtpEnd) read() {
	defer close(e.done)
	buf := make([]byte, 2048)
	for {
		n, err := e.conn.Read(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(append([]byte(nil), buf[:n]...)) != nil {
			continue
		}
		e.mu.Lock()
		e.got = append(e.got, p)
		e.mu.Unlock()
	}
}

// packets is a copy of what was received so far.
func (e *rtpEnd) packets() []rtp.Packet {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]rtp.Packet(nil), e.got...)
}

func (e *rtpEnd) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

// waitCount waits until at least n packets were received.
func (e *rtpEnd) waitCount(n int, what string) []rtp.Packet {
	e.t.Helper()
	waitFor(e.t, what, func() bool { return e.count() >= n })
	return e.packets()
}

// send sends one packet of the end's stream: the next sequence number, the
// timestamp moved on by step samples after it.
func (e *rtpEnd) send(to netip.AddrPort, pt uint8, marker bool, ts uint32, payload []byte) {
	e.t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: e.seq, Timestamp: ts, SSRC: e.ssrc}, Payload: payload}
	e.seq++
	b, err := p.Marshal()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.conn.WriteToUDPAddrPort(b, to); err != nil {
		e.t.Fatal(err)
	}
}

// audio sends 20 ms of payload as the next audio packet.
func (e *rtpEnd) audio(to netip.AddrPort, pt uint8, payload []byte) {
	e.send(to, pt, false, e.ts, payload)
	e.ts += uint32(len(payload))
}

// fill is n bytes of b.
func fill(b byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = b
	}
	return p
}

// waitFor polls cond until it holds; the deadline only bounds a broken
// test, nothing asserts how fast things happen.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// legSDP is a far end's SDP: PCMA on port, and telephone-event te unless
// it is noTelephoneEvent.
func legSDP(port, te int) string {
	if te == noTelephoneEvent {
		return fmt.Sprintf("v=0\no=peer 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %d RTP/AVP 8\na=rtpmap:8 PCMA/8000\n", port)
	}
	return fmt.Sprintf("v=0\no=peer 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %d RTP/AVP 8 %d\na=rtpmap:8 PCMA/8000\na=rtpmap:%d telephone-event/8000\n", port, te, te)
}

// testLeg is an answered leg whose far end is a fake peer (SIP) and an
// rtpEnd (RTP).
type testLeg struct {
	s     *Session
	peer  *fakePeer
	phone *rtpEnd
	ours  netip.AddrPort // our RTP address for this leg
}

// dialLeg dials req through b to peer, which answers with te; the leg is
// hung up at cleanup (the peer answering the BYE) unless it ended.
func dialLeg(t *testing.T, b *Backend, peer *fakePeer, phone *rtpEnd, te int, req engine.DialRequest) *testLeg {
	t.Helper()
	type result struct {
		s   engine.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := b.Dial(testCtx(t), req, nil)
		ch <- result{s, err}
	}()
	inv := peer.recv("INVITE ")
	peer.send(b.LocalAddr(), peer.reply(inv, "200 OK", "t"+req.LegID, legSDP(phone.port(), te)))
	r := <-ch
	if r.err != nil {
		t.Fatalf("Dial %s: %v", req.Number, r.err)
	}
	peer.recv("ACK ")
	l := &testLeg{s: r.s.(*Session), peer: peer, phone: phone, ours: offerRTP(t, inv)}
	t.Cleanup(func() { l.hangup(t) })
	return l
}

// hangup hangs the leg up, the peer answering the BYE.
func (l *testLeg) hangup(t *testing.T) {
	t.Helper()
	if l.s.Context().Err() != nil {
		return
	}
	done := make(chan error, 1)
	go func() { done <- l.s.Hangup(context.Background(), nil) }()
	bye := l.peer.recv("BYE ")
	l.peer.send(l.s.b.LocalAddr(), l.peer.reply(bye, "200 OK", "", ""))
	if err := <-done; err != nil {
		t.Errorf("hangup: %v", err)
	}
}

// pair is two answered legs of one backend: a (trunk prefix 1) and b
// (prefix 2, dialed with a as its peer), with the telephone-event types
// teA and teB.
func pair(t *testing.T, cfg Config, teA, teB int) (*Backend, *testLeg, *testLeg) {
	t.Helper()
	pa, pb := newFakePeer(t), newFakePeer(t)
	tr := func(name string, p *fakePeer, prefix string) Trunk {
		tr := fakeTrunk(p)
		tr.Name, tr.Prefixes = name, []string{prefix}
		return tr
	}
	cfg.Trunks = []Trunk{tr("a", pa, "1"), tr("b", pb, "2")}
	b, _ := startBackendCfg(t, cfg)
	a := dialLeg(t, b, pa, newRTPEnd(t, 0xA0A0A0A0), teA, engine.DialRequest{CallID: "m", LegID: "m-1", Number: "1000"})
	bb := dialLeg(t, b, pb, newRTPEnd(t, 0xB0B0B0B0), teB, engine.DialRequest{CallID: "m", LegID: "m-2", Number: "2000", Peer: a.s})
	return b, a, bb
}

// readStereoWAV parses a two-channel 16-bit WAV as StartRecording writes
// it (the canonical 44-byte header), trusting the header's data size, and
// returns its channels; an error if the header does not describe that or
// the file is shorter than it says.
func readStereoWAV(b []byte) (left, right []int16, err error) {
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		return nil, nil, errors.New("not a canonical WAV header")
	}
	if le.Uint16(b[20:]) != 1 || le.Uint16(b[22:]) != 2 || le.Uint32(b[24:]) != 8000 || le.Uint16(b[34:]) != 16 {
		return nil, nil, fmt.Errorf("format %x", b[20:36])
	}
	// The data size is what a player goes by. (The RIFF size is written
	// just before it: a reader racing the writer may see one updated and
	// not yet the other.)
	size := int(le.Uint32(b[40:]))
	if size%4 != 0 || 44+size > len(b) {
		return nil, nil, fmt.Errorf("data size %d, file holds %d", size, len(b)-44)
	}
	for i := 44; i < 44+size; i += 4 {
		left = append(left, int16(le.Uint16(b[i:])))
		right = append(right, int16(le.Uint16(b[i+2:])))
	}
	return left, right, nil
}

// Unit-test sessions: a Session on a real stream, without SIP.

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// unitSession is an answered-looking session of b (a Backend that was
// never started) on a stream of pool that sends to phone.
func unitSession(t testing.TB, b *Backend, pool *media.PortPool, codec Codec, te int, phone netip.AddrPort) *Session {
	t.Helper()
	st, err := pool.Listen(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	st.SetRemote(phone)
	s := newSession(b, nil, st, codec, te, nil, discardLog)
	s.listen()
	t.Cleanup(func() {
		s.cancel(ErrLocalHangup)
		st.Close()
	})
	return s
}
