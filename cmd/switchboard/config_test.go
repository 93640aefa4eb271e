package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoadsAndValidates(t *testing.T) {
	cfg := defaultConfig()
	if err := loadFile(&cfg, filepath.Join("..", "..", "configs", "switchboard.example.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.SIP.Trunks) != 1 || cfg.SIP.Trunks[0].Port != 5080 || cfg.Defaults.Retention.Duration != 168*time.Hour || len(cfg.Groups) != 1 || len(cfg.Groups[0].Members) != 1 {
		t.Fatalf("example config read as %+v", cfg)
	}
}

func TestConfigPrecedenceFileThenEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("http: 127.0.0.1:9000\nredis: redis://127.0.0.1:6390/0\ndefaults:\n  retention: 3600\n"), 0o600)
	cfg := defaultConfig()
	if err := loadFile(&cfg, path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SWITCHBOARD_HTTP": "127.0.0.1:9100", "SWITCHBOARD_MAX_LIVE_CALLS": "7"}
	if err := applyEnv(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:9100" || cfg.Redis != "redis://127.0.0.1:6390/0" || cfg.Defaults.MaxLiveCalls != 7 || cfg.Defaults.Retention.Duration != time.Hour {
		t.Fatalf("got %+v", cfg)
	}
	if cfg.SIP.Listen != "127.0.0.1:5060" {
		t.Fatalf("default lost: %q", cfg.SIP.Listen)
	}
}

func TestBadConfigGetsClearErrors(t *testing.T) {
	tests := []struct {
		name, yaml, env, want string
	}{
		{"unknown key", "htp: x\n", "", "field htp not found"},
		{"bad duration", "defaults:\n  retention: forever\n", "", "invalid duration"},
		{"bad yaml", "http: [\n", "", "config"},
		{"bad env int", "", "SWITCHBOARD_MAX_LIVE_CALLS=lots", "SWITCHBOARD_MAX_LIVE_CALLS"},
		{"bad http addr", "http: nowhere\n", "", "http:"},
		{"bad redis url", "redis: localhost:6379\n", "", "redis:"},
		{"bad trunk source", "sip:\n  trunks:\n    - {name: carrier, host: 192.0.2.1, sources: [\"192.0.2.0/33\"]}\n", "", `sip.trunks[0] ("carrier"): sources[0] "192.0.2.0/33" is not an IP or a CIDR`},
		{"node lease too short", "node_lease_ttl: 200ms\n", "", "node_lease_ttl 200ms: want 1s to 10m"},
		{"node lease too long", "", "SWITCHBOARD_NODE_LEASE_TTL=1h", "node_lease_ttl 1h0m0s: want 1s to 10m"},
		{"bad rtp range", "sip:\n  rtp_port_min: 3000\n  rtp_port_max: 2000\n", "", "rtp port range"},
		{"tenant id not integer", "tenants:\n  - user_id: abc\n    token: t\n", "", "must be a positive integer"},
		{"tenant without token", "tenants:\n  - user_id: \"5\"\n", "", "has no token"},
		{"duplicate tenant", "tenants:\n  - {user_id: \"5\", token: a}\n  - {user_id: \"5\", token: b}\n", "", "appears twice"},
		{"bad log level", "log_level: loud\n", "", "log_level"},
		{"agent of unknown tenant", "agents:\n  - {user_id: \"9\", id: a, numbers: [\"1000\"]}\n", "", "not a configured tenant"},
		{"agent without number", "tenants: [{user_id: \"1\", token: t}]\nagents:\n  - {user_id: \"1\", id: a}\n", "", "at least one number"},
		{"agent bad number", "tenants: [{user_id: \"1\", token: t}]\nagents:\n  - {user_id: \"1\", id: a, numbers: [\"12ab\"]}\n", "", "neither a number nor a sip: URI"},
		{"group bad distribution", "tenants: [{user_id: \"1\", token: t}]\ngroups:\n  - {user_id: \"1\", id: g, distribution: fastest}\n", "", "distribution"},
		{"webhooks without a secret", "tenants:\n  - {user_id: \"1\", token: t, webhooks: [\"https://crm.example/h\"]}\n", "", "has webhooks but no webhook_secret"},
		{"webhook secret without prefix", "tenants:\n  - {user_id: \"1\", token: t, webhooks: [\"https://crm.example/h\"], webhook_secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n", "", "webhook_secret: must be \"whsec_\""},
		{"webhook secret too short", "tenants:\n  - {user_id: \"1\", token: t, webhook_secret: whsec_c2hvcnQ=}\n", "", "at least 24 random bytes"},
		{"webhook not a URL", "tenants:\n  - {user_id: \"1\", token: t, webhooks: [\"crm.example/h\"], webhook_secret: " + testSecret + "}\n", "", "webhooks[0]: \"crm.example/h\" is not an absolute http:// or https:// URL"},
		{"webhook twice", "tenants:\n  - {user_id: \"1\", token: t, webhooks: [\"https://a.example/\", \"https://a.example/\"], webhook_secret: " + testSecret + "}\n", "", "appears twice"},
		{"webhooks timeout", "webhooks:\n  timeout: 0s\n", "", "webhooks.timeout"},
		{"webhooks backoff", "webhooks:\n  min_backoff: 2h\n", "", "webhooks.min_backoff"},
		{"webhooks max backoff", "webhooks:\n  max_backoff: 500ms\n", "", "webhooks.max_backoff"},
		{"webhooks workers", "", "SWITCHBOARD_WEBHOOKS_WORKERS=0", "webhooks.workers"},
		{"webhooks retry window env", "", "SWITCHBOARD_WEBHOOKS_RETRY_WINDOW=soon", "SWITCHBOARD_WEBHOOKS_RETRY_WINDOW"},
		{"hold not an id", "announcements:\n  hold: music.mp3\n", "", `announcements.hold "music.mp3"`},
		{"hold with a path", "", "SWITCHBOARD_ANNOUNCEMENTS_HOLD=../x.wav", "announcements.hold"},
		{"same directories", "announcements:\n  dir: /srv/a\n  shared_dir: /srv/a/\n", "", "dir and shared_dir"},
		{"upload limit too big", "announcements:\n  max_upload_bytes: 1073741824\n", "", "max_upload_bytes"},
		{"upload limit too small", "announcements:\n  max_upload_bytes: 10\n", "", "max_upload_bytes"},
		{"upload limit not a number", "", "SWITCHBOARD_ANNOUNCEMENTS_MAX_UPLOAD_BYTES=10MB", "SWITCHBOARD_ANNOUNCEMENTS_MAX_UPLOAD_BYTES"},
		{"duration too long", "announcements:\n  max_duration: 1h\n", "", "max_duration"},
		{"duration zero", "announcements:\n  max_duration: 0\n", "", "max_duration"},
		{"announcements unknown key", "announcements:\n  directory: /x\n", "", "field directory not found"},
		{"unknown backend", "backend: h323\n", "", `backend "h323": use sip`},
		{"unknown backend env", "", "SWITCHBOARD_BACKEND=asterisk", `backend "asterisk"`},
		{"ari without url", "backend: ari\nari:\n  trunks: [" + ariTrunk + "]\n", "", "ari.url: URL is empty"},
		{"ari by env without url", "", "SWITCHBOARD_BACKEND=ari", "ari.url: URL is empty"},
		{"ari url scheme", ariBase("url: ws://127.0.0.1:8088/ari\n  trunks: [" + ariTrunk + "]"), "", "ari.url: URL ws://127.0.0.1:8088/ari: scheme must be http or https"},
		{"ari url with query", ariBase("url: http://127.0.0.1:8088/ari?api_key=a\n  trunks: [" + ariTrunk + "]"), "", "ari.url: URL http://127.0.0.1:8088/ari: no query"},
		{"ari url with credentials", ariBase("url: http://switchboard:s3cret@127.0.0.1:8088/ari\n  trunks: [" + ariTrunk + "]"), "", "ari.url: URL http://127.0.0.1:8088/ari: put credentials in User and Password"},
		{"ari password without user", ariBase("url: " + ariURL + "\n  trunks: [" + ariTrunk + "]"), "SWITCHBOARD_ARI_PASSWORD=s3cret", "ari.user: password without user"},
		{"ari user with colon", ariBase("url: " + ariURL + "\n  user: \"a:b\"\n  trunks: [" + ariTrunk + "]"), "", "ari.user: user must not contain ':'"},
		{"ari no trunks", ariBase("url: " + ariURL), "", "ari.trunks: no trunks configured"},
		{"ari trunk without number", ariBase("url: " + ariURL + "\n  trunks: [{name: c, endpoint: PJSIP/carrier}]"), "", `ari.trunks: trunk 0 ("c"): endpoint "PJSIP/carrier": want exactly one {number}`},
		{"ari trunk without name", ariBase("url: " + ariURL + "\n  trunks: [{endpoint: \"SIP/carrier/{number}\"}]"), "", "ari.trunks: trunk 0: name is empty"},
		{"ari trunk bad prefix", ariBase("url: " + ariURL + "\n  trunks: [{name: c, endpoint: \"SIP/c/{number}\", prefixes: [\"9 1\"]}]"), "", `ari.trunks: trunk 0 ("c"): bad prefix "9 1"`},
		{"ari two default trunks", ariBase("url: " + ariURL + "\n  trunks: [" + ariTrunk + ", {name: d, endpoint: \"SIP/d/{number}\"}]"), "", "ari.trunks: more than one trunk without prefixes"},
		{"ari trunk unknown key", ariBase("url: " + ariURL + "\n  trunks: [{name: c, host: 192.0.2.1}]"), "", "field host not found"},
		{"ari unknown key", ariBase("uri: " + ariURL), "", "field uri not found"},
		{"ari bad app", ariBase("url: " + ariURL + "\n  app: \"my app\"\n  trunks: [" + ariTrunk + "]"), "", `ari.app: app "my app"`},
		{"ari bad recording format", ariBase("url: " + ariURL + "\n  recording_format: WAV!\n  trunks: [" + ariTrunk + "]"), "", `ari.recording_format: recording format "WAV!"`},
		{"ari bad caller id", ariBase("url: " + ariURL + "\n  caller_id: \"+1 555\"\n  trunks: [" + ariTrunk + "]"), "", `ari.caller_id: bad caller id "+1 555"`},
		{"ari reconnect min above max", ariBase("url: " + ariURL + "\n  reconnect_min: 30s\n  reconnect_max: 1s\n  trunks: [" + ariTrunk + "]"), "", "ari.reconnect_min: reconnect min 30s is above max 1s"},
		{"ari negative request timeout", ariBase("url: " + ariURL + "\n  trunks: [" + ariTrunk + "]"), "SWITCHBOARD_ARI_REQUEST_TIMEOUT=-1s", "ari.request_timeout: negative request timeout"},
		{"ari bad env duration", "", "SWITCHBOARD_ARI_RECONNECT_MAX=later", "SWITCHBOARD_ARI_RECONNECT_MAX"},
		{"ari relative sounds dir", ariBase("url: " + ariURL + "\n  sounds_dir: sounds\n  trunks: [" + ariTrunk + "]"), "", `ari.sounds_dir "sounds": use an absolute path`},
		{"ari sounds dir is the uploads", ariBase("url: "+ariURL+"\n  sounds_dir: /srv/ann\n  trunks: ["+ariTrunk+"]") + "announcements:\n  dir: /srv/ann/\n", "", "is an announcements directory"},
		{"ari sounds dir with a space", ariBase("url: " + ariURL + "\n  sounds_dir: \"/srv/my sounds\"\n  trunks: [" + ariTrunk + "]"), "", "no spaces"},
		{"ari asterisk sounds dir alone", ariBase("url: " + ariURL + "\n  trunks: [" + ariTrunk + "]"), "SWITCHBOARD_ARI_ASTERISK_SOUNDS_DIR=/var/lib/asterisk/sounds/sb", "ari.asterisk_sounds_dir is set without ari.sounds_dir"},
		{"group unknown member", "tenants: [{user_id: \"1\", token: t}]\ngroups:\n  - {user_id: \"1\", id: g, members: [{agent_id: ghost}]}\n", "", "member \"ghost\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o600)
			cfg := defaultConfig()
			err := loadFile(&cfg, path)
			if err == nil {
				k, v, _ := strings.Cut(tc.env, "=")
				err = applyEnv(&cfg, func(name string) string {
					if name == k {
						return v
					}
					return ""
				})
			}
			if err == nil {
				err = cfg.validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// Fixtures of the ari section's cases.
const (
	ariURL   = "http://127.0.0.1:8088/ari"
	ariTrunk = `{name: c, endpoint: "PJSIP/{number}@carrier"}`
)

// ariBase is a configuration choosing the Asterisk backend with the given
// lines of its ari section (each but the first indented already).
func ariBase(lines string) string { return "backend: ari\nari:\n  " + lines + "\n" }

func TestRedactURL(t *testing.T) {
	if got := redactURL("redis://:secret@10.0.0.1:6379/0"); strings.Contains(got, "secret") {
		t.Fatalf("password shown: %s", got)
	}
	if got := redactURL("redis://127.0.0.1:6379/0"); got != "redis://127.0.0.1:6379/0" {
		t.Fatalf("changed: %s", got)
	}
}

// testSecret is the Standard Webhooks example secret.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestWebhookConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`tenants:
  - user_id: "1"
    token: t
    webhooks: ["https://crm.example/a", "http://10.0.0.5:8080/b"]
    webhook_secret: `+testSecret+`
  - user_id: "2"
    token: u
    webhook_secret: `+testSecret+`
  - user_id: "3"
    token: v
webhooks:
  timeout: 5s
  retry_window: 48h
`), 0o600)
	cfg := defaultConfig()
	if err := loadFile(&cfg, path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SWITCHBOARD_WEBHOOKS_MAX_BACKOFF": "30m", "SWITCHBOARD_WEBHOOKS_WORKERS": "4", "SWITCHBOARD_WEBHOOKS_MIN_BACKOFF": "2s"}
	if err := applyEnv(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	w := cfg.Webhooks
	if w.Timeout.Duration != 5*time.Second || w.RetryWindow.Duration != 48*time.Hour || w.MinBackoff.Duration != 2*time.Second ||
		w.MaxBackoff.Duration != 30*time.Minute || w.Workers != 4 {
		t.Fatalf("webhooks %+v", w)
	}
	eps, secrets := cfg.webhookEndpoints(), cfg.webhookSecrets()
	if len(eps) != 1 || len(eps["1"]) != 2 || eps["1"][1].URL != "http://10.0.0.5:8080/b" || eps["1"][0].Secret != testSecret {
		t.Fatalf("endpoints %+v", eps)
	}
	if len(secrets) != 2 || secrets["2"] != testSecret || secrets["3"] != "" {
		t.Fatalf("secrets %v", secrets)
	}
	def := defaultConfig().Webhooks
	if def.Timeout.Duration != 10*time.Second || def.RetryWindow.Duration != 24*time.Hour || def.MinBackoff.Duration != time.Second ||
		def.MaxBackoff.Duration != time.Hour || def.Workers != 16 {
		t.Fatalf("defaults %+v", def)
	}
}
