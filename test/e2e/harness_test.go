// Package e2e runs the switchboard binary as a user would — built from
// cmd/switchboard, configured with a YAML file, driven through its HTTP
// API — against sipp as the far end of real SIP calls on loopback.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/test/sipptest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "switchboard")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-race", "-o", binary, "./cmd/switchboard")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build switchboard: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// trunk routes numbers starting with prefix to a sipp UAS.
type trunk struct {
	prefix string
	uas    *sipptest.UAS
}

// node is one running switchboard process.
type node struct {
	t      *testing.T
	base   string
	sip    netip.AddrPort // where it listens for SIP (UDP)
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

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

const (
	tenant = "1"
	token  = "secret-token"
)

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNode writes a configuration with the given trunks and starts the
// engine, waiting until /readyz says it is ready.
func startNode(t *testing.T, redisURL string, trunks ...trunk) *node {
	t.Helper()
	return startNodeWith(t, redisURL, "", trunks...)
}

// startNodeWith is startNode with more YAML (agents, groups) appended to
// the configuration.
func startNodeWith(t *testing.T, redisURL, extraYAML string, trunks ...trunk) *node {
	t.Helper()
	return startNodeFull(t, redisURL, "", extraYAML, trunks...)
}

// startNodeFull is startNodeWith with more YAML for the tenant's entry
// (webhooks), each line indented by four spaces.
func startNodeFull(t *testing.T, redisURL, tenantYAML, extraYAML string, trunks ...trunk) *node {
	t.Helper()
	var cfg strings.Builder
	rtpMin := 30000 + 2*(os.Getpid()%2000)
	fmt.Fprintf(&cfg, "http: 127.0.0.1:%d\nredis: %q\nlog_level: debug\n", freePort(t, "tcp"), redisURL)
	fmt.Fprintf(&cfg, "node_id: e2e-%d\n", time.Now().UnixNano())
	sipPort := freePort(t, "udp")
	fmt.Fprintf(&cfg, "sip:\n  listen: 127.0.0.1:%d\n  rtp_port_min: %d\n  rtp_port_max: %d\n  trunks:\n", sipPort, rtpMin, rtpMin+2000)
	for i, tr := range trunks {
		fmt.Fprintf(&cfg, "    - name: t%d\n      host: 127.0.0.1\n      port: %d\n      caller_id: \"5550000\"\n      prefixes: [%q]\n", i, tr.uas.Addr.Port(), tr.prefix)
	}
	fmt.Fprintf(&cfg, "tenants:\n  - user_id: %q\n    token: %q\n%sdefaults:\n  drain_timeout: 2s\n", tenant, token, tenantYAML)
	cfg.WriteString(extraYAML)
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := strings.TrimPrefix(strings.SplitN(cfg.String(), "\n", 2)[0], "http: ")

	n := &node{t: t, base: "http://" + httpAddr, sip: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sipPort)),
		out: &syncBuffer{}, exited: make(chan struct{})}
	n.cmd = exec.Command(binary, "serve", "--config", path)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		n.stop(syscall.SIGINT)
		if t.Failed() {
			t.Logf("switchboard output:\n%s", n.out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(n.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n
			}
		}
		select {
		case <-n.exited:
			t.Fatalf("switchboard exited at start:\n%s", n.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchboard never became ready:\n%s", n.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop signals the process and waits for it to exit.
func (n *node) stop(sig os.Signal) {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
}

// clickToCall places a call through the spec's API and returns the callid.
func (n *node) clickToCall(params url.Values) string {
	n.t.Helper()
	params.Set("user_id", tenant)
	params.Set("token", token)
	resp, err := http.Post(n.base+"/v2/clickToCall/para?"+params.Encode(), "", nil)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ CallID, Status, Code, Message string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil || body.Status != "success" || body.CallID == "" {
		n.t.Fatalf("click-to-call %v: HTTP %d %s", params, resp.StatusCode, b)
	}
	return body.CallID
}

// call is the part of a record the tests read.
type call struct {
	CallID    string     `json:"callid"`
	Node      string     `json:"node"`
	Reason    string     `json:"reason"`
	State     string     `json:"state"`
	Outcome   string     `json:"outcome"`
	HangupBy  string     `json:"hangup_by"`
	BridgedAt *time.Time `json:"bridged_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Talk      float64    `json:"talk_seconds"`
	Legs      []struct {
		AgentID     string     `json:"agent_id"`
		Routing     string     `json:"routing"`
		CreatedAt   time.Time  `json:"created_at"`
		LegEndedAt  *time.Time `json:"ended_at"`
		Seq         int        `json:"seq"`
		Side        string     `json:"side"`
		Number      string     `json:"number"`
		Round       int        `json:"round"`
		State       string     `json:"state"`
		Disposition string     `json:"disposition"`
		SIPCode     int        `json:"sip_code"`
		Reason      string     `json:"reason"`
	} `json:"legs"`
}

func (c call) legs() []string {
	var out []string
	for _, l := range c.Legs {
		out = append(out, fmt.Sprintf("%s:%s:%s", l.Side, l.Number, l.Disposition))
	}
	return out
}

func (n *node) get(id string) (call, int) {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.base+"/v1/calls/"+id, nil)
	req.SetBasicAuth(tenant, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var c call
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			n.t.Fatal(err)
		}
	}
	return c, resp.StatusCode
}

// waitState polls the record until the call reaches state.
func (n *node) waitState(id, state string) call {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, code := n.get(id)
		if code == 200 && c.State == state {
			return c
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("call %s never reached %s; last %+v (HTTP %d)", id, state, c, code)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (n *node) hangup(id string) int {
	req, _ := http.NewRequest(http.MethodDelete, n.base+"/v1/calls/"+id, nil)
	req.SetBasicAuth(tenant, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func equal(a, b []string) bool {
	return strings.Join(a, " ") == strings.Join(b, " ")
}
