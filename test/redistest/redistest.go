// Package redistest gives Switchboard's tests a Redis server.
//
// URL returns the server named by SWITCHBOARD_TEST_REDIS_URL when it is set
// (a shared or CI-provided server) and otherwise starts a private
// redis-server for the calling test, on a free loopback port, with no
// persistence, and stops it when the test ends. Tests that share one server
// keep apart by giving each store a key prefix from Prefix.
//
// Without redis-server installed and without the variable, URL skips the
// test, except under CI=true where a missing Redis must fail loudly rather
// than let the Redis tests pass by skipping.
package redistest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvURL names the environment variable that points tests at an existing
// Redis instead of a private redis-server.
const EnvURL = "SWITCHBOARD_TEST_REDIS_URL"

// URL returns a Redis URL for t; see the package comment.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redistest: redis-server is not installed (apt-get install -y redis-server) and " + EnvURL + " is not set"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Another process can take the free port between our probe and
	// redis-server's bind; a few attempts make that race harmless.
	var errs []string
	for range 5 {
		addr, err := start(t, bin)
		if err == nil {
			return "redis://" + addr + "/0"
		}
		errs = append(errs, err.Error())
	}
	t.Fatalf("redistest: could not start redis-server:\n%s", strings.Join(errs, "\n"))
	return ""
}

// Prefix returns a key prefix unique to this test run and test, made of
// characters that need no escaping in a key pattern, so that stores of
// different tests never see each other's keys on a shared server.
func Prefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "sbtest-" + name + "-" + hex.EncodeToString(b[:])
}

// start runs one redis-server on a free loopback port and returns its
// address once it answers PING.
func start(t testing.TB, bin string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
		"--daemonize", "no", "--loglevel", "warning")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(addr) == nil {
			t.Cleanup(stop)
			return addr, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("redis-server on %s exited: %s", addr, strings.TrimSpace(out.String()))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("redis-server on %s did not answer PING within 10s: %s", addr, strings.TrimSpace(out.String()))
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping speaks just enough RESP to see that the server is serving, so that
// this package needs no Redis client.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// syncBuffer collects the server's output for error messages; the process
// writes it from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
