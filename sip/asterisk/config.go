package asterisk

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
)

// Defaults of Config.
const (
	DefaultApp             = "switchboard"
	DefaultRecordingFormat = "wav"
	DefaultRequestTimeout  = 10 * time.Second
	DefaultReconnectMin    = 250 * time.Millisecond
	DefaultReconnectMax    = 10 * time.Second
)

// Config configures the Asterisk backend. The zero value of every field
// but URL and Trunks means its default.
type Config struct {
	// URL is the ARI REST base, such as "http://127.0.0.1:8088/ari"; the
	// event WebSocket is URL+"/events" (ws:// or wss://). Credentials go in
	// User and Password, never in the URL.
	URL string
	// User and Password are the ARI user (ari.conf), sent as HTTP Basic
	// authentication. They never appear in logs or errors.
	User, Password string
	// App is the Stasis application the backend registers and originates
	// into; default "switchboard". The dialplan sends inbound calls to it
	// with Stasis(<App>) or Stasis(<App>,<called number>).
	App string
	// Trunks route the numbers dialed: the longest matching prefix over
	// all trunks wins; a trunk without prefixes is the default route.
	Trunks []Trunk
	// CallerID is presented when neither the dial request nor its trunk
	// has one; empty leaves it to Asterisk.
	CallerID string
	// Media maps an announcement to the media URI Asterisk plays ("sound:…",
	// "recording:…", "http://…"); ok=false for an announcement that does
	// not exist. Nil: "sound:" + the id without its extension (the file in
	// Asterisk's sounds directory).
	Media func(engine.Announcement) (uri string, ok bool)
	// RecordingFormat is the format bridges are recorded in; default "wav".
	RecordingFormat string
	// RequestTimeout bounds each REST request; default 10 s.
	RequestTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// reconnect the event WebSocket (exponential, full jitter); defaults
	// 250 ms and 10 s.
	ReconnectMin, ReconnectMax time.Duration
}

// Trunk is where numbers are sent: an Asterisk endpoint template.
type Trunk struct {
	Name string
	// Endpoint is the ARI endpoint dialed, with {number} replaced by the
	// number: "PJSIP/{number}@carrier", "SIP/carrier/{number}".
	Endpoint string
	// Prefixes: numbers starting with one of these are sent here.
	Prefixes []string
	// CallerID is presented when the dial request has none.
	CallerID string
}

func (c Config) app() string {
	if c.App == "" {
		return DefaultApp
	}
	return c.App
}

func (c Config) recordingFormat() string {
	if c.RecordingFormat == "" {
		return DefaultRecordingFormat
	}
	return c.RecordingFormat
}

func (c Config) requestTimeout() time.Duration {
	if c.RequestTimeout <= 0 {
		return DefaultRequestTimeout
	}
	return c.RequestTimeout
}

func (c Config) reconnect() (lo, hi time.Duration) {
	lo, hi = c.ReconnectMin, c.ReconnectMax
	if lo <= 0 {
		lo = DefaultReconnectMin
	}
	if hi <= 0 {
		hi = DefaultReconnectMax
	}
	return lo, max(lo, hi)
}

// baseURL parses URL: http or https, a host, no credentials, query or
// fragment; the result has no trailing slash.
func (c Config) baseURL() (*url.URL, error) {
	if c.URL == "" {
		return nil, errors.New("asterisk: URL is empty (want the ARI base, such as http://127.0.0.1:8088/ari)")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url's error quotes the whole URL, which may hold a password.
		return nil, errors.New("asterisk: URL does not parse (want the ARI base, such as http://127.0.0.1:8088/ari)")
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("asterisk: URL %s: put credentials in User and Password, not in the URL", redactURL(u))
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("asterisk: URL %s: scheme must be http or https", redactURL(u))
	case u.Host == "":
		return nil, fmt.Errorf("asterisk: URL %s: no host", redactURL(u))
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("asterisk: URL %s: no query or fragment allowed", redactURL(u))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// redactURL is u without credentials, query or fragment: what may be
// logged or put in an error.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.User = nil
	v.RawQuery, v.Fragment, v.RawFragment, v.ForceQuery = "", "", "", false
	return v.String()
}

// Validate checks the configuration and says everything that is wrong
// with it.
func (c Config) Validate() error {
	var errs []error
	if _, err := c.baseURL(); err != nil {
		errs = append(errs, err)
	}
	if c.Password != "" && c.User == "" {
		errs = append(errs, errors.New("asterisk: password without user"))
	}
	if strings.ContainsAny(c.User, ":\r\n") {
		errs = append(errs, errors.New("asterisk: user must not contain ':' or line breaks"))
	}
	if !validToken(c.app()) {
		errs = append(errs, fmt.Errorf("asterisk: app %q: want letters, digits, '.', '_' or '-'", c.App))
	}
	if f := c.recordingFormat(); !validFormat(f) {
		errs = append(errs, fmt.Errorf("asterisk: recording format %q: want a format name such as wav or gsm", f))
	}
	if c.CallerID != "" && !validNumber(c.CallerID) {
		errs = append(errs, fmt.Errorf("asterisk: bad caller id %q", c.CallerID))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, errors.New("asterisk: negative request timeout"))
	}
	if c.ReconnectMin < 0 || c.ReconnectMax < 0 {
		errs = append(errs, errors.New("asterisk: negative reconnect backoff"))
	}
	if c.ReconnectMin > 0 && c.ReconnectMax > 0 && c.ReconnectMin > c.ReconnectMax {
		errs = append(errs, fmt.Errorf("asterisk: reconnect min %v is above max %v", c.ReconnectMin, c.ReconnectMax))
	}
	for _, err := range dialer.CheckTrunks(len(c.Trunks),
		func(i int) string { return c.Trunks[i].Name },
		func(i int) []string { return c.Trunks[i].Prefixes }, validNumber) {
		errs = append(errs, fmt.Errorf("asterisk: %w", err))
	}
	for i, t := range c.Trunks {
		label := fmt.Sprintf("trunk %d (%q)", i, t.Name)
		if err := validEndpoint(t.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("asterisk: %s: endpoint %q: %w", label, t.Endpoint, err))
		}
		if t.CallerID != "" && !validNumber(t.CallerID) {
			errs = append(errs, fmt.Errorf("asterisk: %s: bad caller id %q", label, t.CallerID))
		}
	}
	return errors.Join(errs...)
}

// validEndpoint checks an endpoint template: Tech/resource with exactly
// one {number}, and nothing ARI or Asterisk would read as a separator of
// several endpoints ('&') or of dial options (',').
func validEndpoint(t string) error {
	switch {
	case t == "":
		return errors.New("empty")
	case strings.Count(t, "{number}") != 1:
		return errors.New("want exactly one {number}")
	case !strings.Contains(t, "/") || strings.HasPrefix(t, "/"):
		return errors.New("want Tech/resource, such as PJSIP/{number}@carrier")
	case strings.ContainsAny(t, "&,;\"' \t\r\n"):
		return errors.New("contains '&', ',', ';', quotes or spaces")
	}
	return nil
}

// endpoint is the trunk's endpoint for number (checked by validNumber).
func (t Trunk) endpoint(number string) string {
	return strings.ReplaceAll(t.Endpoint, "{number}", number)
}

// route picks the trunk for number: the longest matching prefix, else
// the trunk without prefixes.
func (c Config) route(number string) (*Trunk, error) {
	i := dialer.Route(number, len(c.Trunks), func(i int) []string { return c.Trunks[i].Prefixes })
	if i < 0 {
		return nil, fmt.Errorf("no trunk routes %q", number)
	}
	return &c.Trunks[i], nil
}

// validNumber reports whether s can stand in an endpoint or a caller ID
// as is: digits, letters and + * . _ - (numbers, extensions, caller IDs),
// at most 64 characters.
func validNumber(s string) bool {
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

// validToken: letters, digits, '.', '_', '-'; not empty, at most 128.
func validToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validFormat(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}
