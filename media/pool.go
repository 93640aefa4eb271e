package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// Default RTP port range when PoolConfig leaves it empty.
const (
	DefaultMinPort = 10000
	DefaultMaxPort = 20000
	// DefaultReadBuffer is the socket receive buffer asked for on every
	// stream; the kernel may grant less and that is not an error.
	DefaultReadBuffer = 1 << 20
)

// ErrNoPorts is returned by Listen when every port of the range is taken.
var ErrNoPorts = errors.New("media: no free RTP port in range")

// PoolConfig configures a PortPool. The zero value means ports
// 10000–20000 and 1 MB read buffers.
type PoolConfig struct {
	// MinPort and MaxPort bound the range (inclusive). Only even ports are
	// handed out (RTP convention; the odd port above is RTCP's).
	MinPort, MaxPort int
	// ReadBuffer is the SO_RCVBUF asked for each socket; 0 means
	// DefaultReadBuffer, negative leaves the system default.
	ReadBuffer int
}

func (c PoolConfig) withDefaults() PoolConfig {
	if c.MinPort == 0 && c.MaxPort == 0 {
		c.MinPort, c.MaxPort = DefaultMinPort, DefaultMaxPort
	}
	if c.ReadBuffer == 0 {
		c.ReadBuffer = DefaultReadBuffer
	}
	return c
}

// Validate reports whether the range is usable.
func (c PoolConfig) Validate() error {
	c = c.withDefaults()
	if c.MinPort < 1 || c.MaxPort > 65535 || c.MinPort > c.MaxPort {
		return fmt.Errorf("media: bad RTP port range %d-%d", c.MinPort, c.MaxPort)
	}
	lo := c.MinPort + c.MinPort%2
	if lo > c.MaxPort {
		return fmt.Errorf("media: RTP port range %d-%d holds no even port", c.MinPort, c.MaxPort)
	}
	return nil
}

// PortPool hands out RTP sockets on even ports of a range. It is safe for
// concurrent use. A port returns to the pool when its Stream is closed.
type PortPool struct {
	cfg PoolConfig
	lo  int // first even port
	n   int // number of even ports

	mu    sync.Mutex
	next  int // index of the next port to try
	inUse map[int]struct{}
}

// NewPortPool returns a pool over cfg's range.
func NewPortPool(cfg PoolConfig) (*PortPool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	lo := cfg.MinPort + cfg.MinPort%2
	return &PortPool{
		cfg:   cfg,
		lo:    lo,
		n:     (cfg.MaxPort-lo)/2 + 1,
		inUse: make(map[int]struct{}),
	}, nil
}

// InUse is how many streams of this pool are open (ports not yet
// returned). Tests use it to prove nothing leaks.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// Range returns the pool's inclusive port range.
func (p *PortPool) Range() (lo, hi int) { return p.cfg.MinPort, p.cfg.MaxPort }

// Listen binds a UDP socket on ip and a free even port of the range and
// starts its Stream. Ports this pool already handed out are skipped, and so
// are ports another process holds (the bind fails and the next is tried).
func (p *PortPool) Listen(ip netip.Addr) (*Stream, error) {
	if !ip.IsValid() {
		return nil, errors.New("media: listen address is not set")
	}
	for tries := 0; tries < p.n; tries++ {
		port, ok := p.reserve()
		if !ok {
			break
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err != nil {
			p.release(port)
			if isAddrInUse(err) {
				continue
			}
			return nil, fmt.Errorf("media: listen %s:%d: %w", ip, port, err)
		}
		if p.cfg.ReadBuffer > 0 {
			_ = conn.SetReadBuffer(p.cfg.ReadBuffer) // best effort
		}
		return newStream(conn, p, port), nil
	}
	return nil, ErrNoPorts
}

// reserve marks the next port not in use as taken.
func (p *PortPool) reserve() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < p.n; i++ {
		port := p.lo + 2*((p.next+i)%p.n)
		if _, taken := p.inUse[port]; taken {
			continue
		}
		p.inUse[port] = struct{}{}
		p.next = (p.next + i + 1) % p.n
		return port, true
	}
	return 0, false
}

func (p *PortPool) release(port int) {
	p.mu.Lock()
	delete(p.inUse, port)
	p.mu.Unlock()
}

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE)
}
