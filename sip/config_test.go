package sip

import (
	"net/netip"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := Trunk{Name: "main", Host: "sip.example.com"}
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{"defaults with one trunk", Config{Trunks: []Trunk{ok}}, ""},
		{"no trunks", Config{}, "no trunks"},
		{"bad host", Config{Trunks: []Trunk{{Name: "a", Host: "sip.example.com:5060"}}}, "bad host"},
		{"empty host", Config{Trunks: []Trunk{{Name: "a"}}}, "bad host"},
		{"host with scheme", Config{Trunks: []Trunk{{Name: "a", Host: "sip:x.com"}}}, "bad host"},
		{"bad port", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Port: 70000}}}, "bad port"},
		{"negative port", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Port: -1}}}, "bad port"},
		{"duplicate names", Config{Trunks: []Trunk{ok, {Name: "main", Host: "10.0.0.2", Prefixes: []string{"1"}}}}, "duplicate trunk name"},
		{"empty name", Config{Trunks: []Trunk{{Host: "10.0.0.1"}}}, "name is empty"},
		{"bad trunk transport", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Transport: "sctp"}}}, "want udp or tcp"},
		{"bad transport", Config{Transport: "tls", Trunks: []Trunk{ok}}, "want udp or tcp"},
		{"two defaults", Config{Trunks: []Trunk{ok, {Name: "b", Host: "10.0.0.2"}}}, "default route is ambiguous"},
		{"prefix on two trunks", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Prefixes: []string{"44"}}, {Name: "b", Host: "10.0.0.2", Prefixes: []string{"44"}}}}, "is on trunks"},
		{"bad prefix", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Prefixes: []string{"4 4"}}}}, "bad prefix"},
		{"password without user", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Password: "x"}}}, "password without username"},
		{"bad caller id", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", CallerID: "a b"}}}, "bad caller id"},
		{"bad listen addr", Config{ListenAddr: "nope", Trunks: []Trunk{ok}}, "listen address"},
		{"listen on a name", Config{ListenAddr: "localhost:5060", Trunks: []Trunk{ok}}, "must be an IP"},
		{"all addresses without advertise", Config{ListenAddr: "0.0.0.0:5060", Trunks: []Trunk{ok}}, "AdvertiseIP is required"},
		{"all addresses with advertise", Config{ListenAddr: "0.0.0.0:5060", AdvertiseIP: "192.0.2.10", Trunks: []Trunk{ok}}, ""},
		{"bad advertise", Config{AdvertiseIP: "example.com", Trunks: []Trunk{ok}}, "advertise IP"},
		{"bad RTP range", Config{RTPPortMin: 30000, RTPPortMax: 20000, Trunks: []Trunk{ok}}, "RTP port range"},
		{"ipv6 trunk", Config{Trunks: []Trunk{{Name: "a", Host: "2001:db8::1", Transport: "TCP"}}}, ""},
		{"trunk sources", Config{Trunks: []Trunk{{Name: "a", Host: "sip.example.com", Sources: []string{"192.0.2.7", "198.51.100.0/24", "2001:db8::/32", "::ffff:203.0.113.0/120"}}}}, ""},
		{"bad source", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Sources: []string{"10.0.0.0/8", "carrier.example"}}}}, `source "carrier.example": not an IP or a CIDR`},
		{"bad source CIDR", Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1", Sources: []string{"10.0.0.0/40"}}}}, "not a CIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted, want error %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			b, err2 := New(tt.cfg, nil)
			if (err2 == nil) != (err == nil) {
				t.Fatalf("New disagrees with Validate: %v vs %v", err2, err)
			}
			if b != nil {
				if err := b.Close(); err != nil {
					t.Fatalf("Close of a backend never started: %v", err)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Trunks: []Trunk{{Name: "a", Host: "10.0.0.1"}}}
	listen, port, advertise, err := c.addrs()
	if err != nil {
		t.Fatal(err)
	}
	if listen != netip.MustParseAddr("127.0.0.1") || port != 5060 || advertise != listen {
		t.Fatalf("defaults %v %d %v", listen, port, advertise)
	}
	if c.transport() != "udp" || c.userAgent() != "Switchboard" || c.Trunks[0].port() != 5060 || c.Trunks[0].transport() != "udp" {
		t.Fatal("defaults not applied")
	}
	if lo, hi := c.poolConfig().MinPort, c.poolConfig().MaxPort; lo != 0 || hi != 0 {
		t.Fatalf("pool config %d-%d", lo, hi)
	}
}

func TestRouteLongestPrefix(t *testing.T) {
	c := Config{Trunks: []Trunk{
		{Name: "default", Host: "10.0.0.1"},
		{Name: "uk", Host: "10.0.0.2", Prefixes: []string{"44", "+44"}},
		{Name: "london", Host: "10.0.0.3", Prefixes: []string{"4420"}},
		{Name: "us", Host: "10.0.0.4", Prefixes: []string{"1"}},
	}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]string{
		"442071234567":  "london",
		"441611234567":  "uk",
		"+441611234567": "uk",
		"15551234567":   "us",
		"33123456789":   "default",
		"4":             "default",
	} {
		tr, err := c.route(number)
		if err != nil || tr.Name != want {
			t.Errorf("route(%s) = %v, %v; want %s", number, tr, err, want)
		}
	}

	noDefault := Config{Trunks: []Trunk{{Name: "us", Host: "10.0.0.4", Prefixes: []string{"1"}}}}
	if _, err := noDefault.route("44123"); err == nil {
		t.Fatal("routed a number no trunk takes")
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{"198.51.100.9/24", "198.51.100.0/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"::ffff:203.0.113.0/120", "203.0.113.0/24"},
	}
	for _, tt := range tests {
		p, err := parseSource(tt.in)
		if err != nil || p.String() != tt.want {
			t.Errorf("parseSource(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
	b := &Backend{sources: []trunkSource{
		{prefix: netip.MustParsePrefix("192.0.2.0/24"), trunk: "v4"},
		{prefix: netip.MustParsePrefix("2001:db8::/32"), trunk: "v6"},
	}}
	for src, want := range map[string]string{
		"192.0.2.55:5060":          "v4",
		"[::ffff:192.0.2.55]:5060": "v4",
		"[2001:db8::5]:5060":       "v6",
		"198.51.100.1:5060":        "",
		"garbage":                  "",
	} {
		if got, _ := b.trunkOf(src); got != want {
			t.Errorf("trunkOf(%q) = %q, want %q", src, got, want)
		}
	}
}
