package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/engine/webhook"
	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/media/announce"
)

// Config is the whole configuration of a node. Precedence, lowest first:
// built-in defaults, the YAML file (--config), SWITCHBOARD_* environment
// variables, command-line flags. configs/switchboard.example.yaml
// documents every key.
type Config struct {
	NodeID string `yaml:"node_id"`
	// NodeLeaseTTL is how long this node's lease in the store runs after
	// its last renewal: the time after which other nodes take a silent
	// node for dead and take its calls over. 0 means 15 s.
	NodeLeaseTTL Duration `yaml:"node_lease_ttl"`
	HTTP         string   `yaml:"http"`
	Redis        string   `yaml:"redis"`
	LogLevel     string   `yaml:"log_level"`
	// Backend is what calls are driven on: "sip" (the native SIP backend,
	// the default) or "ari" (an Asterisk, configured by ARI).
	Backend string `yaml:"backend"`

	SIP           SIPConfig           `yaml:"sip"`
	ARI           ARIConfig           `yaml:"ari"`
	Tenants       []Tenant            `yaml:"tenants"`
	Defaults      DefaultsConfig      `yaml:"defaults"`
	Announcements AnnouncementsConfig `yaml:"announcements"`
	Recordings    RecordingsConfig    `yaml:"recordings"`
	Webhooks      WebhooksConfig      `yaml:"webhooks"`

	// Agents and Groups seed the store at start-up: each is created when
	// the store does not have it yet, and left alone when it does (the API
	// owns it from then on, login states included).
	Agents []AgentConfig `yaml:"agents"`
	Groups []GroupConfig `yaml:"groups"`
	Apps   []AppConfig   `yaml:"apps"` // seeded the same way (config_apps.go)
}

// AgentConfig seeds one agent.
type AgentConfig struct {
	Tenant        string   `yaml:"user_id"`
	ID            string   `yaml:"id"`
	Name          string   `yaml:"name"`
	Numbers       []string `yaml:"numbers"`
	CLI           string   `yaml:"cli"`
	WebLogin      bool     `yaml:"web_login"`
	CallLogin     bool     `yaml:"call_login"`
	Paused        bool     `yaml:"paused"`
	MaxCalls      int      `yaml:"max_calls"`
	WrapUpSeconds int      `yaml:"wrap_up_seconds"`
}

// GroupConfig seeds one group.
type GroupConfig struct {
	Tenant       string         `yaml:"user_id"`
	ID           string         `yaml:"id"`
	Name         string         `yaml:"name"`
	Distribution string         `yaml:"distribution"`
	RingTime     int            `yaml:"ring_time"`
	Sticky       bool           `yaml:"sticky"`
	StickyDays   int            `yaml:"sticky_days"`
	Recording    bool           `yaml:"recording"`
	QueueTimeout int            `yaml:"queue_timeout"`
	MaxWait      int            `yaml:"max_wait"`
	Members      []MemberConfig `yaml:"members"`
}

// MemberConfig is one agent in a seeded group.
type MemberConfig struct {
	AgentID  string `yaml:"agent_id"`
	Priority int    `yaml:"priority"`
}

// SIPConfig configures the native SIP backend.
type SIPConfig struct {
	Listen      string `yaml:"listen"`
	Transport   string `yaml:"transport"`
	AdvertiseIP string `yaml:"advertise_ip"`
	UserAgent   string `yaml:"user_agent"`
	RTPPortMin  int    `yaml:"rtp_port_min"`
	RTPPortMax  int    `yaml:"rtp_port_max"`
	// MediaTimeout ends an answered leg that sent no RTP for this long
	// (its phone is gone without a BYE); 0 means 60 s, negative off.
	MediaTimeout Duration `yaml:"media_timeout"`
	Trunks       []Trunk  `yaml:"trunks"`
}

// Trunk is a SIP peer numbers are dialed through.
type Trunk struct {
	Name      string   `yaml:"name"`
	Host      string   `yaml:"host"`
	Port      int      `yaml:"port"`
	Transport string   `yaml:"transport"`
	Username  string   `yaml:"username"`
	Password  string   `yaml:"password"`
	CallerID  string   `yaml:"caller_id"`
	Prefixes  []string `yaml:"prefixes"`
	// Sources are the IPs and CIDRs the trunk's inbound calls come from;
	// empty means its host.
	Sources []string `yaml:"sources"`
}

// RecordingsConfig says where call recordings are kept.
type RecordingsConfig struct {
	// Dir holds the recordings as <dir>/<user_id>/<callid>.wav; created
	// if missing. Empty: calls are not recorded (record=yes is noted on
	// the record as not carried out). Nodes should share it, since
	// GET /v1/calls/{callid}/recording reads it on whichever node answers.
	Dir string `yaml:"dir"`
}

// Tenant is an API customer: the click-to-call user_id and token, and
// where the events of its calls are delivered.
type Tenant struct {
	UserID string `yaml:"user_id"`
	Token  string `yaml:"token"`
	// Webhooks are URLs every event of the tenant's calls is POSTed to.
	Webhooks []string `yaml:"webhooks"`
	// WebhookSecret signs the deliveries (its webhooks' and its calls'
	// statusCallback): "whsec_" and the base64 of at least 24 random
	// bytes. Required with webhooks.
	WebhookSecret string `yaml:"webhook_secret"`
}

// WebhooksConfig tunes webhook delivery (engine/webhook).
type WebhooksConfig struct {
	// Timeout bounds one attempt (10s).
	Timeout Duration `yaml:"timeout"`
	// RetryWindow is how long a failing delivery is retried before it is
	// kept as a dead letter (24h).
	RetryWindow Duration `yaml:"retry_window"`
	// MinBackoff and MaxBackoff bound the jittered, doubling waits
	// between attempts (1s, 1h).
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// Workers bounds the requests in flight at once (16).
	Workers int `yaml:"workers"`
}

// Limits of the webhook settings.
const (
	maxTenantWebhooks = 10
	maxWebhookURLLen  = 2048
)

func (w WebhooksConfig) validate() []error {
	var errs []error
	if d := w.Timeout.Duration; d < time.Second || d > 5*time.Minute {
		errs = append(errs, fmt.Errorf("webhooks.timeout %v: use 1s to 5m", d))
	}
	if d := w.RetryWindow.Duration; d < time.Second || d > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("webhooks.retry_window %v: use 1s to 720h (30 days)", d))
	}
	if d := w.MinBackoff.Duration; d < 10*time.Millisecond || d > time.Hour {
		errs = append(errs, fmt.Errorf("webhooks.min_backoff %v: use 10ms to 1h", d))
	}
	if d := w.MaxBackoff.Duration; d < w.MinBackoff.Duration || d > 24*time.Hour {
		errs = append(errs, fmt.Errorf("webhooks.max_backoff %v: use min_backoff (%v) to 24h", d, w.MinBackoff.Duration))
	}
	if w.Workers < 1 || w.Workers > 1000 {
		errs = append(errs, fmt.Errorf("webhooks.workers %d: use 1 to 1000", w.Workers))
	}
	return errs
}

// validateWebhooks checks a tenant's webhook URLs and secret.
func (t Tenant) validateWebhooks(i int) []error {
	var errs []error
	name := fmt.Sprintf("tenants[%d] (user_id %s)", i, t.UserID)
	if len(t.Webhooks) > maxTenantWebhooks {
		errs = append(errs, fmt.Errorf("%s: %d webhooks; at most %d", name, len(t.Webhooks), maxTenantWebhooks))
	}
	seen := map[string]bool{}
	for j, u := range t.Webhooks {
		if msg := checkWebhookURL(u); msg != "" {
			errs = append(errs, fmt.Errorf("%s webhooks[%d]: %s", name, j, msg))
		} else if seen[u] {
			errs = append(errs, fmt.Errorf("%s webhooks[%d]: %s appears twice", name, j, u))
		}
		seen[u] = true
	}
	switch {
	case t.WebhookSecret == "" && len(t.Webhooks) > 0:
		errs = append(errs, fmt.Errorf("%s has webhooks but no webhook_secret to sign them with; make one with: echo \"whsec_$(openssl rand -base64 32)\"", name))
	case t.WebhookSecret != "":
		if _, err := webhook.ParseSecret(t.WebhookSecret); err != nil {
			errs = append(errs, fmt.Errorf("%s webhook_secret: must be \"whsec_\" followed by the base64 of at least %d random bytes; make one with: echo \"whsec_$(openssl rand -base64 32)\"", name, webhook.MinSecretBytes))
		}
	}
	return errs
}

// checkWebhookURL says what is wrong with a webhook URL, "" if nothing.
func checkWebhookURL(s string) string {
	if len(s) > maxWebhookURLLen {
		return fmt.Sprintf("a URL of %d characters; at most %d", len(s), maxWebhookURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Sprintf("%q is not an absolute http:// or https:// URL", s)
	}
	return ""
}

// DefaultsConfig holds node-wide limits and durations.
type DefaultsConfig struct {
	// Retention of finished calls; default 168h (7 days); "0" or a
	// negative value keeps them forever.
	Retention    Duration `yaml:"retention"`
	DrainTimeout Duration `yaml:"drain_timeout"`
	MaxLiveCalls int      `yaml:"max_live_calls"`
}

// AnnouncementsConfig configures the announcement store (media/announce):
// ringTone, alertAudio and hold music.
type AnnouncementsConfig struct {
	// Dir is where uploads (/v1/announcements) are written and read back
	// at start, one directory per tenant; created if missing. Empty:
	// uploads are kept in memory and lost when the process stops. Nodes
	// that share one directory share the uploads.
	Dir string `yaml:"dir"`
	// SharedDir holds read-only WAV files every tenant may use, each named
	// by its id (welcome.wav); read at start.
	SharedDir string `yaml:"shared_dir"`
	// Hold is the default hold announcement: a shared id, a built-in
	// (hold.wav, the default; ringback.wav, beep.wav) or a file of
	// SharedDir.
	Hold string `yaml:"hold"`
	// MaxUploadBytes bounds an uploaded file (default 10 MiB).
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// MaxDuration bounds an uploaded announcement's length (default and
	// at most 10m).
	MaxDuration Duration `yaml:"max_duration"`
	// MaxPerTenant bounds each tenant's uploads (default 500; negative:
	// no bound).
	MaxPerTenant int `yaml:"max_per_tenant"`
}

// Limits of the announcement settings.
const (
	minUploadBytes = 1 << 10
	maxUploadBytes = 64 << 20
)

func (a AnnouncementsConfig) options() announce.Options {
	return announce.Options{
		Dir: a.Dir, SharedDir: a.SharedDir, Hold: a.Hold,
		MaxBytes: a.MaxUploadBytes, MaxDuration: a.MaxDuration.Duration, MaxPerTenant: a.MaxPerTenant,
	}
}

func (a AnnouncementsConfig) validate() []error {
	var errs []error
	if a.Hold != "" && !announce.ValidID(a.Hold) {
		errs = append(errs, fmt.Errorf("announcements.hold %q: an announcement id is %s", a.Hold, announce.IDRule))
	}
	if a.Dir != "" && a.SharedDir != "" && filepath.Clean(a.Dir) == filepath.Clean(a.SharedDir) {
		errs = append(errs, fmt.Errorf("announcements: dir and shared_dir are both %q: uploads need a directory of their own", a.Dir))
	}
	if a.MaxUploadBytes < minUploadBytes || a.MaxUploadBytes > maxUploadBytes {
		errs = append(errs, fmt.Errorf("announcements.max_upload_bytes %d: use %d (1 KiB) to %d (64 MiB)", a.MaxUploadBytes, minUploadBytes, maxUploadBytes))
	}
	if d := a.MaxDuration.Duration; d < time.Second || d > media.MaxAudioDuration {
		errs = append(errs, fmt.Errorf("announcements.max_duration %v: use 1s to %v", d, media.MaxAudioDuration))
	}
	return errs
}

// Duration reads "90s", "168h" or a bare number of seconds from YAML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Duration = v
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 168h)", s)
	}
	return d, nil
}

func defaultConfig() Config {
	return Config{
		HTTP:     "127.0.0.1:8080",
		LogLevel: "info",
		Backend:  backendSIP,
		SIP: SIPConfig{
			Listen:     "127.0.0.1:5060",
			Transport:  "udp",
			RTPPortMin: 10000,
			RTPPortMax: 20000,
		},
		Defaults: DefaultsConfig{
			Retention:    Duration{7 * 24 * time.Hour},
			DrainTimeout: Duration{30 * time.Second},
			MaxLiveCalls: 10000,
		},
		Webhooks: WebhooksConfig{
			Timeout:     Duration{webhook.DefaultTimeout},
			RetryWindow: Duration{webhook.DefaultRetryWindow},
			MinBackoff:  Duration{webhook.DefaultMinBackoff},
			MaxBackoff:  Duration{webhook.DefaultMaxBackoff},
			Workers:     webhook.DefaultWorkers,
		},
		Announcements: AnnouncementsConfig{
			Hold:           announce.HoldID,
			MaxUploadBytes: announce.DefaultMaxBytes,
			MaxDuration:    Duration{media.MaxAudioDuration},
			MaxPerTenant:   announce.DefaultMaxPerTenant,
		},
	}
}

// loadFile merges a YAML file over cfg. Unknown keys are errors, so a typo
// never silently falls back to a default.
func loadFile(cfg *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	setAppsDir(cfg, filepath.Dir(path))
	return nil
}

// envVars maps SWITCHBOARD_* variables onto scalar settings.
var envVars = []struct {
	name string
	set  func(*Config, string) error
}{
	{"SWITCHBOARD_NODE_ID", func(c *Config, v string) error { c.NodeID = v; return nil }},
	{"SWITCHBOARD_HTTP", func(c *Config, v string) error { c.HTTP = v; return nil }},
	{"SWITCHBOARD_REDIS", func(c *Config, v string) error { c.Redis = v; return nil }},
	{"SWITCHBOARD_LOG_LEVEL", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"SWITCHBOARD_SIP", func(c *Config, v string) error { c.SIP.Listen = v; return nil }},
	{"SWITCHBOARD_SIP_TRANSPORT", func(c *Config, v string) error { c.SIP.Transport = v; return nil }},
	{"SWITCHBOARD_ADVERTISE_IP", func(c *Config, v string) error { c.SIP.AdvertiseIP = v; return nil }},
	{"SWITCHBOARD_RTP_PORT_MIN", func(c *Config, v string) error { return setInt(&c.SIP.RTPPortMin, v) }},
	{"SWITCHBOARD_RTP_PORT_MAX", func(c *Config, v string) error { return setInt(&c.SIP.RTPPortMax, v) }},
	{"SWITCHBOARD_MEDIA_TIMEOUT", func(c *Config, v string) error { return setDuration(&c.SIP.MediaTimeout, v) }},
	{"SWITCHBOARD_BACKEND", func(c *Config, v string) error { c.Backend = v; return nil }},
	{"SWITCHBOARD_ARI_URL", func(c *Config, v string) error { c.ARI.URL = v; return nil }},
	{"SWITCHBOARD_ARI_USER", func(c *Config, v string) error { c.ARI.User = v; return nil }},
	{"SWITCHBOARD_ARI_PASSWORD", func(c *Config, v string) error { c.ARI.Password = v; return nil }},
	{"SWITCHBOARD_ARI_APP", func(c *Config, v string) error { c.ARI.App = v; return nil }},
	{"SWITCHBOARD_ARI_CALLER_ID", func(c *Config, v string) error { c.ARI.CallerID = v; return nil }},
	{"SWITCHBOARD_ARI_RECORDING_FORMAT", func(c *Config, v string) error { c.ARI.RecordingFormat = v; return nil }},
	{"SWITCHBOARD_ARI_REQUEST_TIMEOUT", func(c *Config, v string) error { return setDuration(&c.ARI.RequestTimeout, v) }},
	{"SWITCHBOARD_ARI_RECONNECT_MIN", func(c *Config, v string) error { return setDuration(&c.ARI.ReconnectMin, v) }},
	{"SWITCHBOARD_ARI_RECONNECT_MAX", func(c *Config, v string) error { return setDuration(&c.ARI.ReconnectMax, v) }},
	{"SWITCHBOARD_ARI_SOUNDS_DIR", func(c *Config, v string) error { c.ARI.SoundsDir = v; return nil }},
	{"SWITCHBOARD_ARI_ASTERISK_SOUNDS_DIR", func(c *Config, v string) error { c.ARI.AsteriskSoundsDir = v; return nil }},
	{"SWITCHBOARD_NODE_LEASE_TTL", func(c *Config, v string) error { return setDuration(&c.NodeLeaseTTL, v) }},
	{"SWITCHBOARD_RETENTION", func(c *Config, v string) error { return setDuration(&c.Defaults.Retention, v) }},
	{"SWITCHBOARD_DRAIN_TIMEOUT", func(c *Config, v string) error { return setDuration(&c.Defaults.DrainTimeout, v) }},
	{"SWITCHBOARD_MAX_LIVE_CALLS", func(c *Config, v string) error { return setInt(&c.Defaults.MaxLiveCalls, v) }},
	{"SWITCHBOARD_RECORDINGS_DIR", func(c *Config, v string) error { c.Recordings.Dir = v; return nil }},
	{"SWITCHBOARD_ANNOUNCEMENTS_DIR", func(c *Config, v string) error { c.Announcements.Dir = v; return nil }},
	{"SWITCHBOARD_ANNOUNCEMENTS_SHARED_DIR", func(c *Config, v string) error { c.Announcements.SharedDir = v; return nil }},
	{"SWITCHBOARD_ANNOUNCEMENTS_HOLD", func(c *Config, v string) error { c.Announcements.Hold = v; return nil }},
	{"SWITCHBOARD_ANNOUNCEMENTS_MAX_UPLOAD_BYTES", func(c *Config, v string) error { return setInt64(&c.Announcements.MaxUploadBytes, v) }},
	{"SWITCHBOARD_ANNOUNCEMENTS_MAX_DURATION", func(c *Config, v string) error { return setDuration(&c.Announcements.MaxDuration, v) }},
	{"SWITCHBOARD_ANNOUNCEMENTS_MAX_PER_TENANT", func(c *Config, v string) error { return setInt(&c.Announcements.MaxPerTenant, v) }},
	{"SWITCHBOARD_WEBHOOKS_TIMEOUT", func(c *Config, v string) error { return setDuration(&c.Webhooks.Timeout, v) }},
	{"SWITCHBOARD_WEBHOOKS_RETRY_WINDOW", func(c *Config, v string) error { return setDuration(&c.Webhooks.RetryWindow, v) }},
	{"SWITCHBOARD_WEBHOOKS_MIN_BACKOFF", func(c *Config, v string) error { return setDuration(&c.Webhooks.MinBackoff, v) }},
	{"SWITCHBOARD_WEBHOOKS_MAX_BACKOFF", func(c *Config, v string) error { return setDuration(&c.Webhooks.MaxBackoff, v) }},
	{"SWITCHBOARD_WEBHOOKS_WORKERS", func(c *Config, v string) error { return setInt(&c.Webhooks.Workers, v) }},
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not an integer: %q", v)
	}
	*dst = n
	return nil
}

func setInt64(dst *int64, v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %q", v)
	}
	*dst = n
	return nil
}

func setDuration(dst *Duration, v string) error {
	d, err := parseDuration(v)
	if err != nil {
		return err
	}
	dst.Duration = d
	return nil
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	for _, ev := range envVars {
		if v := getenv(ev.name); v != "" {
			if err := ev.set(cfg, v); err != nil {
				return fmt.Errorf("%s: %w", ev.name, err)
			}
		}
	}
	return nil
}

// validate checks what the components do not check themselves.
func (c *Config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		errs = append(errs, fmt.Errorf("http: %q is not host:port", c.HTTP))
	}
	if _, _, err := net.SplitHostPort(c.SIP.Listen); err != nil {
		errs = append(errs, fmt.Errorf("sip.listen: %q is not host:port", c.SIP.Listen))
	}
	if c.Redis != "" && !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") && !strings.HasPrefix(c.Redis, "unix://") {
		errs = append(errs, fmt.Errorf("redis: %q is not a redis://, rediss:// or unix:// URL", c.Redis))
	}
	if c.SIP.RTPPortMin <= 0 || c.SIP.RTPPortMax > 65535 || c.SIP.RTPPortMin >= c.SIP.RTPPortMax {
		errs = append(errs, fmt.Errorf("sip: rtp port range %d-%d is not a range within 1-65535", c.SIP.RTPPortMin, c.SIP.RTPPortMax))
	}
	for i, t := range c.SIP.Trunks {
		for j, src := range t.Sources {
			if _, err := netip.ParsePrefix(src); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(src); err != nil {
				errs = append(errs, fmt.Errorf("sip.trunks[%d] (%q): sources[%d] %q is not an IP or a CIDR", i, t.Name, j, src))
			}
		}
	}
	if c.Defaults.MaxLiveCalls < 0 {
		errs = append(errs, errors.New("defaults.max_live_calls must not be negative"))
	}
	if c.Defaults.DrainTimeout.Duration < 0 {
		errs = append(errs, errors.New("defaults.drain_timeout must not be negative"))
	}
	if ttl := c.NodeLeaseTTL.Duration; ttl != 0 && (ttl < time.Second || ttl > 10*time.Minute) {
		errs = append(errs, fmt.Errorf("node_lease_ttl %s: want 1s to 10m (0: 15s)", ttl))
	}
	seen := map[string]bool{}
	for i, t := range c.Tenants {
		if n, err := strconv.ParseUint(t.UserID, 10, 64); err != nil {
			errs = append(errs, fmt.Errorf("tenants[%d].user_id %q must be a positive integer", i, t.UserID))
		} else if strconv.FormatUint(n, 10) != t.UserID {
			// The API compares user ids as integers; records are kept
			// under the plain form.
			errs = append(errs, fmt.Errorf("tenants[%d].user_id %q: write it without leading zeros", i, t.UserID))
		}
		if t.Token == "" {
			errs = append(errs, fmt.Errorf("tenants[%d] (user_id %s) has no token", i, t.UserID))
		}
		if seen[t.UserID] {
			errs = append(errs, fmt.Errorf("tenants[%d]: user_id %s appears twice", i, t.UserID))
		}
		seen[t.UserID] = true
		errs = append(errs, t.validateWebhooks(i)...)
	}
	errs = append(errs, c.validateSeeds(seen)...)
	errs = append(errs, c.Announcements.validate()...)
	errs = append(errs, c.Webhooks.validate()...)
	switch c.Backend {
	case backendSIP:
	case backendARI:
		errs = append(errs, c.ARI.validate()...)
		for _, d := range []string{c.Announcements.Dir, c.Announcements.SharedDir} {
			if c.ARI.SoundsDir != "" && d != "" && filepath.Clean(c.ARI.SoundsDir) == filepath.Clean(d) {
				errs = append(errs, fmt.Errorf("ari.sounds_dir %q is an announcements directory: give the copies for Asterisk a directory of their own", c.ARI.SoundsDir))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("backend %q: use sip (the native SIP backend) or ari (Asterisk)", c.Backend))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: use debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

func (c *Config) tenantTokens() map[string]string {
	m := make(map[string]string, len(c.Tenants))
	for _, t := range c.Tenants {
		m[t.UserID] = t.Token
	}
	return m
}

// webhookEndpoints returns each tenant's webhook endpoints.
func (c *Config) webhookEndpoints() map[string][]webhook.Endpoint {
	m := map[string][]webhook.Endpoint{}
	for _, t := range c.Tenants {
		for _, u := range t.Webhooks {
			m[t.UserID] = append(m[t.UserID], webhook.Endpoint{URL: u, Secret: t.WebhookSecret})
		}
	}
	return m
}

// webhookSecrets returns each tenant's signing secret.
func (c *Config) webhookSecrets() map[string]string {
	m := map[string]string{}
	for _, t := range c.Tenants {
		if t.WebhookSecret != "" {
			m[t.UserID] = t.WebhookSecret
		}
	}
	return m
}
