package redistest

import (
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestURLServesPing(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skip("a server given by " + EnvURL + " may need a password to PING")
	}
	u, err := url.Parse(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(u.Host); err != nil {
		t.Fatalf("PING %s: %v", u.Host, err)
	}
}

func TestPrefixUniqueAndPlain(t *testing.T) {
	a, b := Prefix(t), Prefix(t)
	if a == b {
		t.Fatalf("two prefixes are both %q", a)
	}
	if strings.ContainsAny(a, "{}*?[]: ") {
		t.Fatalf("prefix %q has characters that need escaping", a)
	}
}
