// Package sipptest runs sipp as a scripted far end for Switchboard's SIP
// tests: a UAS on 127.0.0.1 playing one of the scenarios of test/sipp, with
// its message log parsed into counts of what it received and sent.
//
// Every process is bounded by sipp's -timeout and killed at test cleanup.
// Only loopback addresses are used: SIP, RTP and sipp's remote-control
// socket are all bound to 127.0.0.1.
package sipptest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary is the sipp executable.
var Binary = "sipp"

// Loopback is the only address sipp is given.
var Loopback = netip.MustParseAddr("127.0.0.1")

// Options say how to run one sipp UAS.
type Options struct {
	// Scenario is a file name of test/sipp ("uas_answer.xml") or a path.
	Scenario string
	// Transport is "udp" (default) or "tcp".
	Transport string
	// RTPEcho echoes RTP received on the media port back to its sender.
	RTPEcho bool
	// Duration is sipp's -d: the length of <pause/> without milliseconds
	// (uas_answer_bye.xml hangs up after it).
	Duration time.Duration
	// Timeout bounds the process (sipp -timeout); default 300 s.
	Timeout time.Duration
	// Args are extra sipp arguments.
	Args []string
}

// UAS is a running sipp UAS.
type UAS struct {
	// Addr is where it listens for SIP.
	Addr netip.AddrPort
	// MediaPort is its RTP port ([media_port] in the scenario's SDP).
	MediaPort int
	// LogFile is its -message_file.
	LogFile string

	cmd  *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer
}

// Available reports whether sipp can be run.
func Available() bool {
	_, err := exec.LookPath(Binary)
	return err == nil
}

// ScenarioDir is the directory of the sipp scenarios (test/sipp).
func ScenarioDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "sipp")
}

// Start runs a sipp UAS for the test and waits until it listens. The
// process is killed when the test ends; the test is skipped when sipp is
// not installed.
func Start(t testing.TB, opts Options) *UAS {
	t.Helper()
	if !Available() {
		t.Skip("sipp is not installed (apt-get install sip-tester)")
	}
	scenario := opts.Scenario
	if !filepath.IsAbs(scenario) && !strings.ContainsRune(scenario, os.PathSeparator) {
		scenario = filepath.Join(ScenarioDir(), scenario)
	}
	if _, err := os.Stat(scenario); err != nil {
		t.Fatalf("sipp scenario: %v", err)
	}
	transport := strings.ToLower(opts.Transport)
	if transport == "" {
		transport = "udp"
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 300 * time.Second
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		sipPort, err := freePort(transport, 1)
		if err != nil {
			t.Fatal(err)
		}
		// -rtp_echo binds the media port and the one two above it.
		mediaPort, err := freePort("udp", 3)
		if err != nil {
			t.Fatal(err)
		}
		ctlPort, err := freePort("udp", 1)
		if err != nil {
			t.Fatal(err)
		}
		u := &UAS{
			Addr:      netip.AddrPortFrom(Loopback, uint16(sipPort)),
			MediaPort: mediaPort,
			LogFile:   filepath.Join(t.TempDir(), "messages.log"),
			done:      make(chan struct{}),
			out:       &bytes.Buffer{},
		}
		args := []string{
			"-sf", scenario,
			"-i", Loopback.String(), "-p", strconv.Itoa(sipPort),
			"-mi", Loopback.String(), "-mp", strconv.Itoa(mediaPort),
			"-ci", Loopback.String(), "-cp", strconv.Itoa(ctlPort),
			"-bind_local",
			"-t", map[string]string{"udp": "u1", "tcp": "t1"}[transport],
			"-trace_msg", "-message_file", u.LogFile,
			"-timeout", fmt.Sprintf("%ds", int(timeout.Seconds())),
			"-nostdin",
		}
		if opts.RTPEcho {
			args = append(args, "-rtp_echo")
		}
		if opts.Duration > 0 {
			args = append(args, "-d", strconv.FormatInt(opts.Duration.Milliseconds(), 10))
		}
		args = append(args, opts.Args...)
		u.cmd = exec.Command(Binary, args...)
		dieWithParent(u.cmd)
		u.cmd.Stdout = &lockedWriter{w: u.out}
		u.cmd.Stderr = u.cmd.Stdout
		if err := u.cmd.Start(); err != nil {
			t.Fatalf("start sipp: %v", err)
		}
		go func() { u.cmd.Wait(); close(u.done) }()

		if err := u.waitListening(transport); err != nil {
			u.kill()
			lastErr = err // most likely a port raced away; try others
			continue
		}
		t.Cleanup(func() {
			u.kill()
			if t.Failed() {
				t.Logf("sipp %s output:\n%s", filepath.Base(scenario), u.Output())
				if b, err := os.ReadFile(u.LogFile); err == nil {
					t.Logf("sipp message log:\n%s", b)
				}
			}
		})
		return u
	}
	t.Fatalf("sipp did not start: %v", lastErr)
	return nil
}

// Output is what sipp printed so far.
func (u *UAS) Output() string {
	w := u.cmd.Stdout.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return u.out.String()
}

// Exited reports whether the sipp process has ended.
func (u *UAS) Exited() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

func (u *UAS) kill() {
	if u.cmd.Process != nil {
		u.cmd.Process.Kill()
	}
	<-u.done
}

// waitListening polls the kernel's socket table until sipp has bound its
// SIP port (or exits).
func (u *UAS) waitListening(transport string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if u.Exited() {
			return fmt.Errorf("sipp exited: %s", u.Output())
		}
		if bound(transport, int(u.Addr.Port())) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("sipp is not listening on %v", u.Addr)
}

// bound reports whether a socket is bound on 127.0.0.1:port (listening,
// for TCP), read from /proc/net; without /proc it waits a little instead.
func bound(transport string, port int) bool {
	file, listenState := "/proc/net/udp", ""
	if transport == "tcp" {
		file, listenState = "/proc/net/tcp", "0A"
	}
	b, err := os.ReadFile(file)
	if err != nil {
		time.Sleep(300 * time.Millisecond)
		return true
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 3 && f[1] == want && (listenState == "" || f[3] == listenState) {
			return true
		}
	}
	return false
}

// freePort finds a port p such that p, p+2, … (span ports of the same
// parity) are free on loopback right now.
func freePort(transport string, span int) (int, error) {
	for i := 0; i < 100; i++ {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 == 1 || p+2*span > 65535 {
			continue
		}
		ok := true
		for k := 0; k < span && ok; k++ {
			ok = portFree(transport, p+2*k)
		}
		if ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port for sipp")
}

func portFree(transport string, port int) bool {
	if transport == "tcp" {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
