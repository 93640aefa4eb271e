package asterisk

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

func goodConfig() Config {
	return Config{
		URL: "http://127.0.0.1:8088/ari", User: "switchboard", Password: "s3cret-pw",
		Trunks: []Trunk{{Name: "carrier", Endpoint: "PJSIP/{number}@carrier"}},
	}
}

func TestConfigValidate(t *testing.T) {
	if err := goodConfig().Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no URL", func(c *Config) { c.URL = "" }, "URL is empty"},
		{"bad scheme", func(c *Config) { c.URL = "ftp://127.0.0.1/ari" }, "scheme"},
		{"no host", func(c *Config) { c.URL = "http:///ari" }, "no host"},
		{"query", func(c *Config) { c.URL = "http://127.0.0.1:8088/ari?x=1" }, "no query"},
		{"credentials in URL", func(c *Config) { c.URL = "http://u:hunter2pw@127.0.0.1:8088/ari" }, "put credentials in User and Password"},
		{"password without user", func(c *Config) { c.User = "" }, "password without user"},
		{"bad app", func(c *Config) { c.App = "my app" }, "app"},
		{"bad format", func(c *Config) { c.RecordingFormat = "WAV!" }, "recording format"},
		{"bad caller id", func(c *Config) { c.CallerID = "a b" }, "caller id"},
		{"negative timeout", func(c *Config) { c.RequestTimeout = -time.Second }, "negative request timeout"},
		{"backoff order", func(c *Config) { c.ReconnectMin, c.ReconnectMax = time.Minute, time.Second }, "above max"},
		{"no trunks", func(c *Config) { c.Trunks = nil }, "no trunks"},
		{"trunk without name", func(c *Config) { c.Trunks[0].Name = "" }, "name is empty"},
		{"duplicate trunk", func(c *Config) { c.Trunks = append(c.Trunks, c.Trunks[0]) }, "duplicate trunk"},
		{"endpoint without number", func(c *Config) { c.Trunks[0].Endpoint = "PJSIP/carrier" }, "exactly one {number}"},
		{"endpoint twice number", func(c *Config) { c.Trunks[0].Endpoint = "PJSIP/{number}@{number}" }, "exactly one {number}"},
		{"endpoint without tech", func(c *Config) { c.Trunks[0].Endpoint = "{number}@carrier" }, "Tech/resource"},
		{"endpoint with &", func(c *Config) { c.Trunks[0].Endpoint = "PJSIP/{number}@a&PJSIP/x" }, "'&'"},
		{"bad prefix", func(c *Config) { c.Trunks[0].Prefixes = []string{"4 9"} }, "bad prefix"},
		{"two defaults", func(c *Config) {
			c.Trunks = append(c.Trunks, Trunk{Name: "other", Endpoint: "SIP/other/{number}"})
		}, "more than one trunk without prefixes"},
		{"prefix on two trunks", func(c *Config) {
			c.Trunks[0].Prefixes = []string{"49"}
			c.Trunks = append(c.Trunks, Trunk{Name: "other", Endpoint: "SIP/other/{number}", Prefixes: []string{"49"}})
		}, `prefix "49" is on trunks`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := goodConfig()
			c.Trunks = append([]Trunk(nil), c.Trunks...)
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2pw") {
				t.Fatalf("error shows the password: %v", err)
			}
			if _, nerr := New(c, nil); nerr == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := goodConfig()
	if c.app() != "switchboard" || c.recordingFormat() != "wav" || c.requestTimeout() != 10*time.Second {
		t.Fatalf("defaults: app %q format %q timeout %v", c.app(), c.recordingFormat(), c.requestTimeout())
	}
	lo, hi := c.reconnect()
	if lo != 250*time.Millisecond || hi != 10*time.Second {
		t.Fatalf("reconnect defaults %v %v", lo, hi)
	}
	u, err := Config{URL: "https://pbx.example:8089/ari/"}.baseURL()
	if err != nil || u.String() != "https://pbx.example:8089/ari" {
		t.Fatalf("base URL %v %v", u, err)
	}
}

func TestRouteAndEndpoint(t *testing.T) {
	c := Config{Trunks: []Trunk{
		{Name: "default", Endpoint: "PJSIP/{number}@carrier"},
		{Name: "de", Endpoint: "SIP/de/{number}", Prefixes: []string{"49"}},
		{Name: "berlin", Endpoint: "PJSIP/{number}@berlin", Prefixes: []string{"4930"}},
	}}
	for number, want := range map[string]string{
		"4930123":  "PJSIP/4930123@berlin",
		"4940123":  "SIP/de/4940123",
		"1555":     "PJSIP/1555@carrier",
		"+4930999": "PJSIP/+4930999@carrier",
	} {
		tr, err := c.route(number)
		if err != nil {
			t.Fatalf("route %s: %v", number, err)
		}
		if got := tr.endpoint(number); got != want {
			t.Errorf("endpoint of %s = %q, want %q", number, got, want)
		}
	}
	c.Trunks = c.Trunks[1:]
	if _, err := c.route("1555"); err == nil {
		t.Fatal("a number no trunk routes was routed")
	}
	for _, n := range []string{"", "1 2", "1/2", "1@x", "1&2", "1,2", strings.Repeat("1", 65)} {
		if validNumber(n) {
			t.Errorf("validNumber(%q) = true", n)
		}
	}
}

func TestCallerIDString(t *testing.T) {
	for _, tc := range []struct{ name, number, want string }{
		{"", "100", "100"},
		{"Alice", "100", `"Alice" <100>`},
		{`Ev"il <x>\`, "100", `"Evil x" <100>`},
		{"  \x01 ", "100", "100"},
		{strings.Repeat("a", 80), "1", `"` + strings.Repeat("a", 64) + `" <1>`},
	} {
		if got := callerIDString(tc.name, tc.number); got != tc.want {
			t.Errorf("callerIDString(%q, %q) = %q, want %q", tc.name, tc.number, got, tc.want)
		}
	}
}

func TestRecordingNames(t *testing.T) {
	for name, want := range map[string]string{
		"tenant/call-1":  "tenant~call-1",
		"a/b/c.d":        "a~b~c.d",
		"plain":          "plain",
		"t_1/2024_01-02": "t_1~2024_01-02",
	} {
		if err := validRecordingName(name); err != nil {
			t.Fatalf("valid name %q refused: %v", name, err)
		}
		if got := recordingName(name); got != want {
			t.Errorf("recordingName(%q) = %q, want %q", name, got, want)
		}
	}
	for _, bad := range []string{"", "/abs", "a//b", "a/../b", ".hidden", "a/.b", "a b", "a~b", "a\\b", strings.Repeat("x", 201)} {
		if validRecordingName(bad) == nil {
			t.Errorf("bad name %q accepted", bad)
		}
	}
}

func TestMediaURI(t *testing.T) {
	b := &Backend{}
	for id, want := range map[string]string{
		"1610448601_84.wav": "sound:1610448601_84",
		"hello":             "sound:hello",
		"a.b.gsm":           "sound:a.b",
	} {
		got, ok := b.mediaURI(engine.Announcement{Tenant: "t", ID: id})
		if !ok || got != want {
			t.Errorf("mediaURI(%q) = %q %v, want %q", id, got, ok, want)
		}
	}
	for _, id := range []string{"", "../etc/passwd", "a/b.wav", ".wav", "x y.wav"} {
		if got, ok := b.mediaURI(engine.Announcement{ID: id}); ok {
			t.Errorf("mediaURI(%q) = %q, want unknown", id, got)
		}
	}
	b.cfg.Media = func(a engine.Announcement) (string, bool) {
		return "recording:" + a.Tenant + "-" + a.ID, a.ID != "nope"
	}
	if got, ok := b.mediaURI(engine.Announcement{Tenant: "t", ID: "x"}); !ok || got != "recording:t-x" {
		t.Errorf("custom media: %q %v", got, ok)
	}
	if _, ok := b.mediaURI(engine.Announcement{ID: "nope"}); ok {
		t.Error("custom media: unknown announcement found")
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 250*time.Millisecond, 10*time.Second
	for n := 0; n < 100; n++ {
		ceil := hi
		if n < 30 {
			ceil = min(hi, lo<<n)
		}
		for range 20 {
			if d := backoff(n, lo, hi); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceil)
			}
		}
	}
}

func TestRedactURL(t *testing.T) {
	u, _ := Config{URL: "http://127.0.0.1:8088/ari"}.baseURL()
	u.RawQuery = "api_key=user:pw"
	if got := redactURL(u); got != "http://127.0.0.1:8088/ari" {
		t.Fatalf("redactURL = %q", got)
	}
	e := &APIError{Method: "DELETE", Path: "/channels/x", StatusCode: 404, Message: "Channel not found"}
	if e.Error() != "asterisk: DELETE /channels/x: 404 Channel not found" {
		t.Fatalf("APIError: %q", e.Error())
	}
}
