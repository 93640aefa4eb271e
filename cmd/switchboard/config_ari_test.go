package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/sip/asterisk"
)

func TestARIConfigFileThenEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`backend: ari
ari:
  url: http://10.0.0.5:8088/ari
  user: switchboard
  password: from-file
  caller_id: "8001234567"
  request_timeout: 5s
  reconnect_min: 100ms
  reconnect_max: 30s
  sounds_dir: /srv/switchboard/sounds
  trunks:
    - name: carrier
      endpoint: "PJSIP/{number}@carrier"
      prefixes: ["91", "+91"]
      caller_id: "8000000000"
    - name: local
      endpoint: "SIP/pbx/{number}"
`), 0o600)
	cfg := defaultConfig()
	if cfg.Backend != backendSIP {
		t.Fatalf("default backend %q", cfg.Backend)
	}
	if err := loadFile(&cfg, path); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SWITCHBOARD_ARI_PASSWORD":            "from-env",
		"SWITCHBOARD_ARI_APP":                 "switchboard-2",
		"SWITCHBOARD_ARI_RECORDING_FORMAT":    "gsm",
		"SWITCHBOARD_ARI_ASTERISK_SOUNDS_DIR": "/var/lib/asterisk/sounds/switchboard",
	}
	if err := applyEnv(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	want := asterisk.Config{
		URL: "http://10.0.0.5:8088/ari", User: "switchboard", Password: "from-env", App: "switchboard-2",
		CallerID: "8001234567", RecordingFormat: "gsm",
		RequestTimeout: 5 * time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 30 * time.Second,
		Trunks: []asterisk.Trunk{
			{Name: "carrier", Endpoint: "PJSIP/{number}@carrier", Prefixes: []string{"91", "+91"}, CallerID: "8000000000"},
			{Name: "local", Endpoint: "SIP/pbx/{number}"},
		},
	}
	if got := cfg.ARI.asteriskConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("asterisk config\n got %+v\nwant %+v", got, want)
	}
	if got := cfg.ARI.asteriskSoundsDir(); got != "/var/lib/asterisk/sounds/switchboard" {
		t.Fatalf("asterisk sounds dir %q", got)
	}
	if got := defaultNodeID(&cfg); !strings.HasSuffix(got, "-switchboard-2") {
		t.Fatalf("node id %q: want it named after the Stasis application", got)
	}

	// The zero values are the backend's defaults, and the sounds directory
	// defaults to the same path for both sides.
	cfg = defaultConfig()
	cfg.ARI = ARIConfig{URL: ariURL, SoundsDir: "/srv/sounds/", Trunks: []ARITrunk{{Name: "c", Endpoint: "SIP/c/{number}"}}}
	cfg.Backend = backendARI
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.ARI.app() != asterisk.DefaultApp || cfg.ARI.asteriskSoundsDir() != "/srv/sounds" {
		t.Fatalf("defaults: app %q, sounds %q", cfg.ARI.app(), cfg.ARI.asteriskSoundsDir())
	}
	// The ari section is not checked while the native backend is chosen.
	cfg = defaultConfig()
	cfg.ARI.URL = "not a url"
	if err := cfg.validate(); err != nil {
		t.Fatalf("sip backend, unused ari section: %v", err)
	}
}

// TestARIErrorsNeverShowThePassword goes through configurations that are
// wrong in every way the ari section can be, each with a password set.
func TestARIErrorsNeverShowThePassword(t *testing.T) {
	const secret = "Pa55-w0rd-hunter2"
	for _, c := range []ARIConfig{
		{URL: "http://switchboard:" + secret + "@127.0.0.1:8088/ari", User: "switchboard", Password: secret},
		{URL: "http://127.0.0.1:8088/ari?api_key=switchboard:" + secret, Password: secret},
		{URL: "ftp://127.0.0.1/ari", User: "a:b", Password: secret},
		{URL: "http://[::1" + secret, Password: secret, App: "bad app", RecordingFormat: "?", CallerID: "x y"},
		{URL: "", Password: secret, RequestTimeout: Duration{-time.Second}, ReconnectMin: Duration{time.Hour}, ReconnectMax: Duration{time.Second},
			Trunks: []ARITrunk{{Endpoint: secret}, {Name: "x", Endpoint: "SIP/{number}", Prefixes: []string{"bad prefix"}}}},
	} {
		cfg := defaultConfig()
		cfg.Backend, cfg.ARI = backendARI, c
		err := cfg.validate()
		if err == nil {
			t.Fatalf("%+v accepted", c)
		}
		msg := strings.ReplaceAll(err.Error(), `endpoint "`+secret+`"`, "") // the endpoint is the operator's own text
		if strings.Contains(msg, secret) {
			t.Fatalf("the password shows in: %v", err)
		}
		if !strings.Contains(msg, "ari.") {
			t.Fatalf("no key named in: %v", err)
		}
	}
}

func TestAsteriskSampleConfig(t *testing.T) {
	cfg := defaultConfig()
	if err := loadFile(&cfg, filepath.Join("..", "..", "configs", "asterisk", "switchboard-ari.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	a := cfg.ARI
	if cfg.Backend != backendARI || a.URL != "http://127.0.0.1:8088/ari" || a.app() != "switchboard" || a.SoundsDir == "" ||
		len(a.Trunks) != 1 || a.Trunks[0].Endpoint != "PJSIP/{number}@phones" {
		t.Fatalf("sample read as %+v", cfg)
	}
	// The demo on it keeps the sample's trunk, runs the phones pjsip.conf
	// points at, and needs no more configuration.
	addDemoSettings(&cfg, demoPhonesAddr)
	if len(cfg.ARI.Trunks) != 1 || demoPhonesAddr != "127.0.0.1:5070" {
		t.Fatalf("demo trunks %+v", cfg.ARI.Trunks)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	// Without trunks of its own, the demo reaches the phones through
	// Asterisk's endpoint "phones".
	cfg = defaultConfig()
	cfg.Backend, cfg.ARI.URL = backendARI, ariURL
	addDemoSettings(&cfg, demoPhonesAddr)
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ARI.Trunks) != 1 || cfg.ARI.Trunks[0].Endpoint != "PJSIP/{number}@phones" {
		t.Fatalf("demo trunks %+v", cfg.ARI.Trunks)
	}
}

// TestExampleConfigARISection checks the ari section of the example
// configuration by the Asterisk backend's rules (it is not read while the
// example's backend is sip): only the URL, empty there, is to be filled in.
func TestExampleConfigARISection(t *testing.T) {
	cfg := defaultConfig()
	if err := loadFile(&cfg, filepath.Join("..", "..", "configs", "switchboard.example.yaml")); err != nil {
		t.Fatal(err)
	}
	if cfg.Backend != backendSIP {
		t.Fatalf("example backend %q", cfg.Backend)
	}
	cfg.Backend = backendARI
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "ari.url") {
		t.Fatalf("example with backend ari and no url: %v", err)
	}
	cfg.ARI.URL = ariURL
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	a := cfg.ARI.asteriskConfig()
	if a.App != asterisk.DefaultApp || a.RecordingFormat != asterisk.DefaultRecordingFormat || a.RequestTimeout != asterisk.DefaultRequestTimeout ||
		a.ReconnectMin != asterisk.DefaultReconnectMin || a.ReconnectMax != asterisk.DefaultReconnectMax || len(a.Trunks) != 1 {
		t.Fatalf("the example's values are not the backend's defaults: %+v", a)
	}
}
