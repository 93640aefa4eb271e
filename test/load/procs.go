package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process the harness started. Every proc is stopped when
// the run ends, whatever way it ends; on Linux the kernel also kills it if
// the harness dies first.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *os.File // stdout and stderr
	exited chan struct{}
}

func (p *proc) pid() int {
	if p == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends sig, waits up to grace, then kills.
func (p *proc) stop(sig os.Signal, grace time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	if p.alive() {
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.out.Close()
}

// tail returns the last n bytes the process wrote.
func (p *proc) tail(n int64) string {
	b, err := os.ReadFile(p.out.Name())
	if err != nil {
		return ""
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// procs is the set of processes of one run.
type procs struct {
	mu   sync.Mutex
	list []*proc
	dir  string
}

// start runs name with args, its output to dir/<label>.log.
func (ps *procs) start(label, name string, args ...string) (*proc, error) {
	out, err := os.Create(filepath.Join(ps.dir, label+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = ps.dir
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	p := &proc{name: label, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// stopAll stops every process, newest first: the engine before the far
// ends it talks to, the far ends before Redis.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		p := list[i]
		switch {
		case strings.HasPrefix(p.name, "switchboard"):
			p.stop(syscall.SIGINT, 15*time.Second)
		case strings.HasPrefix(p.name, "redis"):
			p.stop(syscall.SIGTERM, 5*time.Second)
		default:
			p.stop(syscall.SIGKILL, 5*time.Second)
		}
	}
}

// moduleRoot finds the Switchboard module: root when given, else the
// directory two above this source file, else the working directory's
// nearest go.mod.
func moduleRoot(root string) (string, error) {
	var candidates []string
	if root != "" {
		candidates = append(candidates, root)
	} else {
		if _, file, _, ok := runtime.Caller(0); ok {
			candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", ".."))
		}
		if wd, err := os.Getwd(); err == nil {
			for d := wd; ; d = filepath.Dir(d) {
				candidates = append(candidates, d)
				if filepath.Dir(d) == d {
					break
				}
			}
		}
	}
	for _, c := range candidates {
		b, err := os.ReadFile(filepath.Join(c, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/switchboard/switchboard\n")) {
			return filepath.Abs(c)
		}
	}
	return "", errors.New("cannot find the Switchboard module root; pass -root")
}

// buildEngine builds cmd/switchboard (no race detector: this measures
// the engine as it ships) into dir.
func buildEngine(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "switchboard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/switchboard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/switchboard: %v\n%s", err, out)
	}
	return bin, nil
}

// freeTCPPort and freeUDPPort ask the kernel for a free loopback port.
// Both land in the ephemeral range (32768-60999 on Linux), which is kept
// apart from the engine's RTP range (rtpPortMin-rtpPortMax).
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeUDPPorts finds an even port p with p, p+2, … (span ports) free.
func freeUDPPorts(span int) (int, error) {
	for range 200 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 == 1 || p+2*span > 65535 || (p >= rtpPortMin && p <= rtpPortMax+1) {
			continue
		}
		ok := true
		for k := 0; k < span && ok; k++ {
			ok = udpFree(p + 2*k)
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("no free UDP port on loopback")
}

func udpFree(port int) bool {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// udpBound reports whether a UDP socket is bound on 127.0.0.1:port, from
// /proc/net/udp (without /proc it waits a little and says yes).
func udpBound(port int) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		time.Sleep(300 * time.Millisecond)
		return true
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 1 && f[1] == want {
			return true
		}
	}
	return false
}

// uas is one sipp UAS far end.
type uas struct {
	*proc
	role      string // "from", "to", "fail"
	scenario  string
	port      int // SIP
	mediaPort int
	statFile  string
	errFile   string
}

type uasOptions struct {
	role     string
	scenario string // file in test/sipp
	echo     bool   // -rtp_echo
	ring     time.Duration
	lifetime time.Duration // sipp -timeout
}

// startUAS runs sipp as a UAS on 127.0.0.1 with its statistics dumped to
// CSV every second, retrying on fresh ports if one raced away.
func startUAS(ps *procs, sippBin, scenarioDir string, o uasOptions) (*uas, error) {
	scenario := filepath.Join(scenarioDir, o.scenario)
	if _, err := os.Stat(scenario); err != nil {
		return nil, fmt.Errorf("sipp scenario: %w", err)
	}
	var lastErr error
	for attempt := range 5 {
		sipPort, err := freeUDPPorts(1)
		if err != nil {
			return nil, err
		}
		// -rtp_echo binds the media port and the one two above it.
		mediaPort, err := freeUDPPorts(3)
		if err != nil {
			return nil, err
		}
		ctlPort, err := freeUDPPorts(1)
		if err != nil {
			return nil, err
		}
		label := fmt.Sprintf("sipp-%s-%d", o.role, attempt)
		u := &uas{
			role: o.role, scenario: o.scenario, port: sipPort, mediaPort: mediaPort,
			statFile: filepath.Join(ps.dir, label+"-stat.csv"),
			errFile:  filepath.Join(ps.dir, label+"-errors.log"),
		}
		args := []string{
			"-sf", scenario,
			"-i", "127.0.0.1", "-p", strconv.Itoa(sipPort),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort),
			"-ci", "127.0.0.1", "-cp", strconv.Itoa(ctlPort),
			"-bind_local", "-t", "u1",
			"-buff_size", "4194304",
			"-trace_stat", "-stf", u.statFile, "-fd", "1",
			"-trace_err", "-error_file", u.errFile,
			"-trace_counts", "-pause_msg_ign",
			"-timeout", fmt.Sprintf("%ds", int(o.lifetime.Seconds())+1),
			"-nostdin",
		}
		if o.echo {
			args = append(args, "-rtp_echo")
		}
		if o.ring > 0 {
			args = append(args, "-d", strconv.FormatInt(o.ring.Milliseconds(), 10))
		}
		p, err := ps.start(label, sippBin, args...)
		if err != nil {
			return nil, err
		}
		u.proc = p
		if err := waitUDPBound(p, sipPort); err != nil {
			p.stop(syscall.SIGKILL, 5*time.Second)
			lastErr = err
			continue
		}
		return u, nil
	}
	return nil, fmt.Errorf("sipp %s did not start: %w", o.scenario, lastErr)
}

func waitUDPBound(p *proc, port int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return fmt.Errorf("%s exited: %s", p.name, p.tail(2000))
		}
		if udpBound(port) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s is not listening on 127.0.0.1:%d", p.name, port)
}

// stats is the UAS's latest statistics line.
func (u *uas) stats() sippStats {
	st, _ := lastSippStats(u.statFile)
	// sipp names its -trace_counts file after the scenario and its pid,
	// in its working directory.
	name := strings.TrimSuffix(u.scenario, ".xml")
	st.Caught = caughtRetransmissions(filepath.Join(filepath.Dir(u.statFile), fmt.Sprintf("%s_%d_counts.csv", name, u.pid())))
	return st
}

// startRedis runs a private redis-server on a free loopback port with no
// persistence and returns its URL once it answers PING.
func startRedis(ctx context.Context, ps *procs) (string, *proc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("-redis auto needs redis-server (apt-get install redis-server)")
	}
	var lastErr error
	for attempt := range 5 {
		port, err := freeTCPPort()
		if err != nil {
			return "", nil, err
		}
		p, err := ps.start(fmt.Sprintf("redis-%d", attempt), bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", ps.dir,
			"--daemonize", "no", "--loglevel", "warning")
		if err != nil {
			return "", nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		deadline := time.Now().Add(10 * time.Second)
		for p.alive() && time.Now().Before(deadline) && ctx.Err() == nil {
			if redisPing(addr) == nil {
				return "redis://" + addr + "/0", p, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		lastErr = fmt.Errorf("redis-server on %s: %s", addr, strings.TrimSpace(p.tail(1000)))
		p.stop(syscall.SIGTERM, 5*time.Second)
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
	}
	return "", nil, lastErr
}

func redisPing(addr string) error {
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

// waitReady polls the engine's /readyz until it answers 200.
func waitReady(ctx context.Context, p *proc, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}
	// Its connection would be one more goroutine of the engine's in the
	// baseline taken next.
	defer client.CloseIdleConnections()
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !p.alive() {
			return fmt.Errorf("switchboard exited at start:\n%s", p.tail(4000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("switchboard never became ready:\n%s", p.tail(4000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
