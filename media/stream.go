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

// Sink receives the packets a Stream reads. WriteRTP is called from the
// stream's single read goroutine; pkt is only valid during the call (the
// stream reuses its buffer) and must not be retained.
type Sink interface {
	WriteRTP(pkt []byte) error
}

// Stats are a stream's counters. Packets that arrive with no sink attached,
// are not RTP, or cannot be sent (no remote, socket error) count as dropped.
type Stats struct {
	PacketsReceived uint64
	BytesReceived   uint64
	PacketsSent     uint64
	BytesSent       uint64
	Dropped         uint64
}

type sinkRef struct{ s Sink }

// Stream is one leg's RTP socket. A single goroutine reads it and hands
// every packet to the current sink. Its methods are safe for concurrent
// use.
type Stream struct {
	conn  *net.UDPConn
	pool  *PortPool
	port  int
	local netip.AddrPort

	remote atomic.Pointer[netip.AddrPort]
	sink   atomic.Pointer[sinkRef]

	rxPackets, rxBytes atomic.Uint64
	txPackets, txBytes atomic.Uint64
	dropped            atomic.Uint64

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

// SetRemote sets where WriteRTP sends: the far end's RTP address from its
// SDP. It may be changed at any time (re-INVITE).
func (s *Stream) SetRemote(addr netip.AddrPort) {
	a := addr
	s.remote.Store(&a)
}

// Remote returns the address set by SetRemote, or the zero AddrPort.
func (s *Stream) Remote() netip.AddrPort {
	if r := s.remote.Load(); r != nil {
		return *r
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

// WriteRTP sends pkt from this stream's socket to its remote address. It
// makes Stream a Sink: a bridge attaches each stream as the other's sink.
func (s *Stream) WriteRTP(pkt []byte) error {
	r := s.remote.Load()
	if r == nil {
		s.dropped.Add(1)
		return ErrNoRemote
	}
	n, err := s.conn.WriteToUDPAddrPort(pkt, *r)
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
	}
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
		n, _, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (an ICMP error surfacing on some
			// systems): keep reading, without spinning.
			time.Sleep(time.Millisecond)
			continue
		}
		s.handle(buf[:n])
	}
}

// handle is the per-packet path: count, check it looks like RTP, pass it
// to the sink. It must not allocate.
func (s *Stream) handle(pkt []byte) {
	s.rxPackets.Add(1)
	s.rxBytes.Add(uint64(len(pkt)))
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		s.dropped.Add(1)
		return
	}
	ref := s.sink.Load()
	if ref == nil {
		s.dropped.Add(1)
		return
	}
	_ = ref.s.WriteRTP(pkt)
}
