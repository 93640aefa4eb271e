package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/media"
)

// Defaults of Config and Trunk.
const (
	DefaultListenAddr = "127.0.0.1:5060"
	DefaultUserAgent  = "Switchboard"
	DefaultTrunkPort  = 5060
	DefaultCallerID   = "switchboard"
	// DefaultByeTimeout bounds how long Hangup waits for the BYE's answer.
	DefaultByeTimeout = 5 * time.Second
	// DefaultMediaTimeout ends an answered leg that sent no RTP this long.
	DefaultMediaTimeout = 60 * time.Second
)

// Config configures the native SIP backend. The zero value of every field
// means its default; at least one trunk is required.
type Config struct {
	// ListenAddr is the host:port SIP listens on (UDP, and TCP too when
	// Transport is "tcp"). Default 127.0.0.1:5060; port 0 picks one.
	ListenAddr string
	// Transport is "udp" (default) or "tcp": with "tcp" a TCP listener is
	// opened on the same address besides UDP.
	Transport string
	// AdvertiseIP is the IP put in Contact, Via and SDP. Default: the
	// listen IP, which then must not be unspecified (0.0.0.0).
	AdvertiseIP string
	// RTPPortMin and RTPPortMax bound the RTP ports (default 10000-20000).
	RTPPortMin, RTPPortMax int
	// UserAgent is the User-Agent header (default "Switchboard").
	UserAgent string
	// ByeTimeout bounds a BYE (default 5 s).
	ByeTimeout time.Duration
	// MediaTimeout ends an answered leg whose far end sent no RTP for
	// this long (cause engine.ErrMediaTimeout, BYE sent). Zero means
	// DefaultMediaTimeout (60 s); negative turns the check off.
	MediaTimeout time.Duration
	// Trunks route the numbers dialed.
	Trunks []Trunk
	// Announcements is where Session.Play finds the audio it plays; nil
	// means every Play fails with engine.ErrUnknownAnnouncement.
	Announcements Announcements
	// RecordingDir is the directory recordings are written to, as
	// <RecordingDir>/<name>.wav (Bridge.StartRecording); empty means the
	// backend does not record.
	RecordingDir string
}

// Trunk is a SIP peer numbers are sent to.
type Trunk struct {
	Name string
	// Host is an IP or a DNS name; Port defaults to 5060.
	Host string
	Port int
	// Transport is "udp" (default) or "tcp".
	Transport string
	// Username and Password answer digest challenges (401/407).
	Username string
	Password string
	// CallerID is presented when the dial request has none (default
	// "switchboard").
	CallerID string
	// Prefixes: numbers starting with one of these are sent here; the
	// longest matching prefix over all trunks wins. A trunk without
	// prefixes is the default route.
	Prefixes []string
	// Sources are the IPs and CIDRs (IPv4 or IPv6) the trunk sends its
	// calls from: an INVITE is accepted only when the IP it came from (the
	// packet's source, never a header) is among some trunk's sources.
	// Empty means the trunk's Host: its IP, or the addresses its DNS name
	// resolves to at Start.
	Sources []string
}

func (c Config) listenAddr() string {
	if c.ListenAddr == "" {
		return DefaultListenAddr
	}
	return c.ListenAddr
}

func (c Config) transport() string {
	if c.Transport == "" {
		return "udp"
	}
	return strings.ToLower(c.Transport)
}

func (c Config) userAgent() string {
	if c.UserAgent == "" {
		return DefaultUserAgent
	}
	return c.UserAgent
}

func (c Config) byeTimeout() time.Duration {
	if c.ByeTimeout <= 0 {
		return DefaultByeTimeout
	}
	return c.ByeTimeout
}

// mediaTimeout is the media timeout in force; 0 when off.
func (c Config) mediaTimeout() time.Duration {
	switch {
	case c.MediaTimeout == 0:
		return DefaultMediaTimeout
	case c.MediaTimeout < 0:
		return 0
	}
	return c.MediaTimeout
}

func (c Config) poolConfig() media.PoolConfig {
	return media.PoolConfig{MinPort: c.RTPPortMin, MaxPort: c.RTPPortMax}
}

func (t Trunk) port() int {
	if t.Port == 0 {
		return DefaultTrunkPort
	}
	return t.Port
}

func (t Trunk) transport() string {
	if t.Transport == "" {
		return "udp"
	}
	return strings.ToLower(t.Transport)
}

// addrs resolves the listen and advertised IPs and the listen port.
func (c Config) addrs() (listen netip.Addr, port int, advertise netip.Addr, err error) {
	host, p, err := net.SplitHostPort(c.listenAddr())
	if err != nil {
		return listen, 0, advertise, fmt.Errorf("sip: listen address %q: %w", c.listenAddr(), err)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	listen, err = netip.ParseAddr(host)
	if err != nil {
		return listen, 0, advertise, fmt.Errorf("sip: listen address %q: host must be an IP", c.listenAddr())
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return listen, 0, advertise, fmt.Errorf("sip: listen address %q: bad port", c.listenAddr())
	}
	switch {
	case c.AdvertiseIP != "":
		advertise, err = netip.ParseAddr(c.AdvertiseIP)
		if err != nil || advertise.IsUnspecified() {
			return listen, 0, advertise, fmt.Errorf("sip: advertise IP %q is not a usable IP", c.AdvertiseIP)
		}
	case listen.IsUnspecified():
		return listen, 0, advertise, errors.New("sip: AdvertiseIP is required when listening on all addresses")
	default:
		advertise = listen
	}
	return listen.Unmap(), port, advertise.Unmap(), nil
}

// Validate checks the configuration and says what is wrong with it.
func (c Config) Validate() error {
	var errs []error
	if _, _, _, err := c.addrs(); err != nil {
		errs = append(errs, err)
	}
	if tr := c.transport(); tr != "udp" && tr != "tcp" {
		errs = append(errs, fmt.Errorf("sip: transport %q: want udp or tcp", c.Transport))
	}
	if err := c.poolConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, err := range dialer.CheckTrunks(len(c.Trunks),
		func(i int) string { return c.Trunks[i].Name },
		func(i int) []string { return c.Trunks[i].Prefixes }, validUser) {
		errs = append(errs, fmt.Errorf("sip: %w", err))
	}
	for i, t := range c.Trunks {
		label := fmt.Sprintf("trunk %d (%q)", i, t.Name)
		if !validHost(t.Host) {
			errs = append(errs, fmt.Errorf("sip: %s: bad host %q (want an IP or a DNS name, no port)", label, t.Host))
		}
		if t.Port < 0 || t.Port > 65535 {
			errs = append(errs, fmt.Errorf("sip: %s: bad port %d", label, t.Port))
		}
		if tr := t.transport(); tr != "udp" && tr != "tcp" {
			errs = append(errs, fmt.Errorf("sip: %s: transport %q: want udp or tcp", label, t.Transport))
		}
		if t.Password != "" && t.Username == "" {
			errs = append(errs, fmt.Errorf("sip: %s: password without username", label))
		}
		if t.CallerID != "" && !validUser(t.CallerID) {
			errs = append(errs, fmt.Errorf("sip: %s: bad caller id %q", label, t.CallerID))
		}
		for _, src := range t.Sources {
			if _, err := parseSource(src); err != nil {
				errs = append(errs, fmt.Errorf("sip: %s: source %q: %w", label, src, err))
			}
		}
	}
	return errors.Join(errs...)
}

// route picks the trunk for number: the longest matching prefix, else the
// trunk without prefixes.
func (c Config) route(number string) (*Trunk, error) {
	i := dialer.Route(number, len(c.Trunks), func(i int) []string { return c.Trunks[i].Prefixes })
	if i < 0 {
		return nil, fmt.Errorf("no trunk routes %q", number)
	}
	return &c.Trunks[i], nil
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validUser reports whether s can be the user part of a SIP URI as is:
// digits, letters and + * . _ - (what numbers, extensions and caller IDs
// use), so nothing needs escaping.
func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			r == '+' || r == '*' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// parseSource reads a trunk source: an IP (a one-address prefix) or a
// CIDR.
func parseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not a CIDR (want an IP or a CIDR such as 192.0.2.0/24)")
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, errors.New("a zone is not allowed")
		}
		return netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-unmapBits(p.Addr()), 0)).Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Prefix{}, errors.New("not an IP or a CIDR")
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// unmapBits is how many prefix bits an IPv4-mapped IPv6 address loses
// when unmapped.
func unmapBits(ip netip.Addr) int {
	if ip.Is4In6() {
		return 96
	}
	return 0
}
