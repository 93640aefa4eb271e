package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// maxPacket is the read buffer of a stream. RTP packets of telephony codecs
// are far smaller; anything longer than this is truncated by the kernel.
const maxPacket = 2048

// ErrNoRemote is returned by WriteRTP before SetRemote was called.
var ErrNoRemote = errors.New("media: stream has no remote address")

// ErrDropped is returned by a Sink for a packet it did not pass on because
// it had nowhere to send it: the stream counts the packet as Dropped, as
// when no sink is attached. Other errors of a sink are its own business
// and are not counted by the stream.
var ErrDropped = errors.New("media: packet dropped")

// Sink receives the packets a Stream reads. WriteRTP is called from the
// stream's single read goroutine; pkt is only valid during the call (the
// stream reuses its buffer) and must not be retained. The sink may modify
// pkt in place.
type Sink interface {
	WriteRTP(pkt []byte) error
}

// Stats are a stream's counters.
//
// PacketsReceived and BytesReceived count the packets accepted: RTP from
// the far end (see the package doc for the source rule). Packets that are
// not RTP count as Invalid and packets from any other source as Rejected;
// neither is received nor forwarded. An accepted packet that cannot be
// passed on (no sink attached, or the sink returned ErrDropped) counts as
// Dropped, and so does a packet the stream could not send (no remote,
// socket error).
type Stats struct {
	PacketsReceived uint64
	BytesReceived   uint64
	PacketsSent     uint64
	BytesSent       uint64
	Dropped         uint64
	// Rejected packets came from a source other than the far end's.
	Rejected uint64
	// Invalid packets were shorter than an RTP header or not RTP version 2.
	Invalid uint64
}

type sinkRef struct{ s Sink }

// remote is the far end of a stream as the signalling described it, plus
// what the read goroutine learnt from the packets (latching). A new
// SetRemote replaces it, which restarts latching.
type remote struct {
	sdp netip.AddrPort // from the SDP
	nat netip.Addr     // signalling source of a far end with a private SDP address, or invalid

	// sdpSeen is set once a packet came from sdp: the latch window is
	// closed. Only the read goroutine touches it.
	sdpSeen bool
	// latched is the source latched to; written once by the read
	// goroutine before isLatched is set, read by senders after it.
	latched   netip.AddrPort
	isLatched atomic.Bool
}

// dest is where packets to the far end go: the latched source if any,
// else the SDP address.
func (r *remote) dest() netip.AddrPort {
	if r.isLatched.Load() {
		return r.latched
	}
	return r.sdp
}

// accept applies the source rule to a packet from src, latching when the
// rule says so. It runs on the read goroutine only and does not allocate.
func (r *remote) accept(src netip.AddrPort) bool {
	if src == r.sdp {
		r.sdpSeen = true
		return true
	}
	if r.isLatched.Load() {
		return src == r.latched
	}
	if r.sdpSeen {
		return false
	}
	if ip := src.Addr(); ip == r.sdp.Addr() || (r.nat.IsValid() && ip == r.nat) {
		r.latched = src
		r.isLatched.Store(true)
		return true
	}
	return false
}

// Stream is one leg's RTP socket. A single goroutine reads it and hands
// every packet to the current sink. Its methods are safe for concurrent
// use.
type Stream struct {
	conn  *net.UDPConn
	pool  *PortPool
	port  int
	local netip.AddrPort

	remote atomic.Pointer[remote]
	sink   atomic.Pointer[sinkRef]

	rxPackets, rxBytes atomic.Uint64
	txPackets, txBytes atomic.Uint64
	dropped            atomic.Uint64
	rejected, invalid  atomic.Uint64
	// lastRx is the unix nanoseconds of the last packet accepted, 0
	// before the first.
	lastRx atomic.Int64

	closed    atomic.Bool
	closeOnce sync.Once
	done      chan struct{}
}

func newStream(conn *net.UDPConn, pool *PortPool, port int) *Stream {
	s := &Stream{
		conn: conn,
		pool: pool,
		port: port,
		done: make(chan struct{}),
	}
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		s.local = ua.AddrPort()
	}
	go s.readLoop()
	return s
}

// LocalAddr is the address the socket is bound to.
func (s *Stream) LocalAddr() netip.AddrPort { return s.local }

// Port is the stream's local RTP port (what goes in the SDP m= line).
func (s *Stream) Port() int { return s.port }

// SetRemote sets the far end's RTP address from its SDP: packets are
// accepted from it (or from the source latched to, see the package doc)
// and WriteRTP sends there. It may be changed at any time (early media,
// answer, re-INVITE); setting a different address restarts latching,
// setting the same one again changes nothing.
func (s *Stream) SetRemote(addr netip.AddrPort) { s.setRemote(addr, netip.Addr{}) }

// SetRemoteNAT is SetRemote for a far end behind NAT: its SDP names addr,
// a private address, while its signalling came from publicIP. Until a
// packet arrives from addr, the first packet from publicIP (any port) may
// latch as well as one from addr's IP.
func (s *Stream) SetRemoteNAT(addr netip.AddrPort, publicIP netip.Addr) {
	s.setRemote(addr, publicIP.Unmap())
}

func (s *Stream) setRemote(addr netip.AddrPort, nat netip.Addr) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if nat == addr.Addr() {
		nat = netip.Addr{}
	}
	if cur := s.remote.Load(); cur != nil && cur.sdp == addr && cur.nat == nat {
		return
	}
	s.remote.Store(&remote{sdp: addr, nat: nat})
}

// Remote returns the address set by SetRemote, or the zero AddrPort.
func (s *Stream) Remote() netip.AddrPort {
	if r := s.remote.Load(); r != nil {
		return r.sdp
	}
	return netip.AddrPort{}
}

// SendAddr is where WriteRTP sends: the source latched to, else the
// address set by SetRemote; the zero AddrPort before SetRemote.
func (s *Stream) SendAddr() netip.AddrPort {
	if r := s.remote.Load(); r != nil {
		return r.dest()
	}
	return netip.AddrPort{}
}

// SetSink makes sink receive every packet read from now on; nil drops
// them. It returns nothing: use a Bridge to join two streams.
func (s *Stream) SetSink(sink Sink) {
	if sink == nil {
		s.sink.Store(nil)
		return
	}
	s.sink.Store(&sinkRef{s: sink})
}

// WriteRTP sends pkt from this stream's socket to its far end (SendAddr).
// It makes Stream a Sink: a bridge attaches each stream as the other's
// sink.
func (s *Stream) WriteRTP(pkt []byte) error {
	r := s.remote.Load()
	if r == nil {
		s.dropped.Add(1)
		return ErrNoRemote
	}
	n, err := s.conn.WriteToUDPAddrPort(pkt, r.dest())
	if err != nil {
		s.dropped.Add(1)
		return err
	}
	s.txPackets.Add(1)
	s.txBytes.Add(uint64(n))
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Stream) Stats() Stats {
	return Stats{
		PacketsReceived: s.rxPackets.Load(),
		BytesReceived:   s.rxBytes.Load(),
		PacketsSent:     s.txPackets.Load(),
		BytesSent:       s.txBytes.Load(),
		Dropped:         s.dropped.Load(),
		Rejected:        s.rejected.Load(),
		Invalid:         s.invalid.Load(),
	}
}

// LastReceived is when the last packet was accepted from the far end; the
// zero Time before the first. A media timeout compares it to the clock.
func (s *Stream) LastReceived() time.Time {
	if ns := s.lastRx.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Close stops the read goroutine, closes the socket and returns the port
// to its pool. It is idempotent and waits for the read goroutine to exit.
func (s *Stream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.sink.Store(nil)
		err = s.conn.Close()
		<-s.done
		if s.pool != nil {
			s.pool.release(s.port)
		}
	})
	return err
}

// Done is closed once the stream is closed and its reader has stopped.
func (s *Stream) Done() <-chan struct{} { return s.done }

func (s *Stream) readLoop() {
	defer close(s.done)
	buf := make([]byte, maxPacket)
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (an ICMP error surfacing on some
			// systems): keep reading, without spinning.
			time.Sleep(time.Millisecond)
			continue
		}
		s.handle(buf[:n], src)
	}
}

// handle is the per-packet path: check it looks like RTP, check its
// source, count it, pass it to the sink. It must not allocate.
func (s *Stream) handle(pkt []byte, src netip.AddrPort) {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		s.invalid.Add(1)
		return
	}
	r := s.remote.Load()
	if r == nil || !r.accept(netip.AddrPortFrom(src.Addr().Unmap(), src.Port())) {
		s.rejected.Add(1)
		return
	}
	s.rxPackets.Add(1)
	s.rxBytes.Add(uint64(len(pkt)))
	s.lastRx.Store(time.Now().UnixNano())
	ref := s.sink.Load()
	if ref == nil {
		s.dropped.Add(1)
		return
	}
	if err := ref.s.WriteRTP(pkt); err == ErrDropped {
		s.dropped.Add(1)
	}
}
