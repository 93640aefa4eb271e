package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The engine's RTP range; sipp and every other port the harness picks come
// from the kernel's ephemeral range above it.
const (
	rtpPortMin = 16000
	rtpPortMax = 32000
)

// Config is one load run.
type Config struct {
	// Rates are the steps' arrival rates in calls per second, in order.
	Rates []float64
	// Step is how long each rate is offered.
	Step time.Duration
	// Hold is the talk time of every call, whole seconds: the engine ends
	// each call with timeLimit.
	Hold time.Duration
	// Ring is how long the far ends ring before answering (sipp -d).
	Ring time.Duration
	// Redis is "" for the memory store, "auto" to start a private
	// redis-server, or a redis:// URL.
	Redis string
	// Media has the from side play audio and the to side echo it.
	Media bool
	// Failover makes every call hunt: from is "busy, then the answering
	// number" ONE_BY_ONE, to is "never answers, answering number" TO_ALL.
	Failover bool
	// Inbound has sipp callers dial an app of the engine (a virtual
	// number whose route rings the to far end) instead of the driver
	// placing click-to-calls: one sipp UAC per step at the step's rate.
	Inbound bool
	// InboundRoute is the app's route: "group" (empty too: a round-robin
	// group of Agents agents) or "number" (route_number to one 2… number).
	InboundRoute string
	// Agents is the size of the inbound group; 0 means 10.
	Agents int
	// Binary is a switchboard binary to run; empty builds cmd/switchboard.
	Binary string
	// Root is the module root; empty finds it.
	Root string
	// Sipp is the sipp executable; empty means "sipp" from PATH.
	Sipp string
	// ExtraYAML is appended to the engine's configuration (for settings
	// the harness does not write itself, such as another backend's).
	ExtraYAML string
	// Perf, when set, records a CPU profile of the engine with perf(1)
	// during the middle of the last step into this file.
	Perf string
	// Keep leaves the work directory (configuration, logs, sipp CSV).
	Keep bool
	// Settle is how long after the last step drained the return-to-
	// baseline check waits before it reads the live heap (the SIP
	// backend remembers calls that long after they end); 0 means 32 s.
	// SettleWait is how much longer it waits for goroutines and heap to
	// come back; 0 means 60 s. A negative Settle skips the check.
	Settle, SettleWait time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Report is what a run measured.
type Report struct {
	Machine string
	Store   string // "memory" or "redis"
	Backend string
	// Engine says which engine ran: the commit it was built from, or the
	// binary given.
	Engine string
	Mode   string // "plain", "media", "failover", "media+failover", "inbound", "inbound+media"
	// Inbound describes the app the callers dial in inbound mode; empty
	// otherwise.
	Inbound string
	Hold    time.Duration
	Ring    time.Duration
	// Metrics says whether the engine served /metrics; without it the
	// latencies come from the call records.
	Metrics bool
	Steps   []Step
	// SippOpen is how many calls the sipp far ends still held once
	// everything had ended: a call the engine never hung up.
	SippOpen int64
	// Baseline is the return-to-baseline check after the last step (nil
	// when it did not run: the run was cut short, or Settle < 0).
	Baseline *Baseline
	// WorkDir holds the configuration, logs and sipp CSV files (removed
	// at the end unless Config.Keep).
	WorkDir string
	Notes   []string
}

// BaselineFailed reports whether the live calls or the Redis store's live
// state did not return to the baseline after the run.
func (r Report) BaselineFailed() bool { return r.Baseline != nil && !r.Baseline.LiveBack() }

// Failed is every failed call of the run, from the driver, the engine and
// sipp, plus calls sipp was left holding.
func (r Report) Failed() int64 {
	n := r.SippOpen
	for _, s := range r.Steps {
		n += int64(s.FailedDriver + s.FailedEngine + s.FailedSipp)
	}
	return n
}

const tenantToken = "load-token"

// run starts the engine and the far ends, offers every rate step, and
// stops everything it started before it returns, also when ctx is
// cancelled (then with what was measured so far and ctx's error).
func run(ctx context.Context, cfg Config) (rep Report, err error) {
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	logf := func(format string, a ...any) { fmt.Fprintf(logw, format+"\n", a...) }
	if err := cfg.check(); err != nil {
		return rep, err
	}
	sippBin := cfg.Sipp
	if sippBin == "" {
		sippBin = "sipp"
	}
	if _, err := exec.LookPath(sippBin); err != nil {
		return rep, fmt.Errorf("sipp is not installed (apt-get install sip-tester): %w", err)
	}
	root, err := moduleRoot(cfg.Root)
	if err != nil {
		return rep, err
	}
	dir, err := os.MkdirTemp("", "switchboard-load")
	if err != nil {
		return rep, err
	}
	rep.WorkDir = dir
	ps := &procs{dir: dir}
	defer func() {
		ps.stopAll()
		if !cfg.Keep && err == nil {
			os.RemoveAll(dir)
		}
	}()
	rep.Machine = machine()
	rep.Hold, rep.Ring = cfg.Hold, cfg.Ring
	rep.Mode = cfg.mode()
	rep.Backend = "native SIP (sipgo)"

	bin := cfg.Binary
	if bin == "" {
		logf("building cmd/switchboard")
		if bin, err = buildEngine(ctx, root, dir); err != nil {
			return rep, err
		}
		rep.Engine = "built from " + describe(root)
	} else {
		rep.Engine = bin
	}

	// The far ends live for the whole run, with room to spare.
	lifetime := time.Duration(len(cfg.Rates))*(cfg.Step+2*time.Minute) + 5*time.Minute
	scenarios := filepath.Join(root, "test", "sipp")
	fromScenario := "uas_load_answer.xml"
	if cfg.Media {
		fromScenario = "uas_load_play.xml"
	}
	// In inbound mode the callers are the from side: one sipp UAC per
	// step (inbound.go), no from far end.
	var from *uas
	var uases []*uas
	if !cfg.Inbound {
		if from, err = startUAS(ps, sippBin, scenarios, uasOptions{role: "from", scenario: fromScenario, ring: cfg.Ring, lifetime: lifetime}); err != nil {
			return rep, err
		}
		uases = append(uases, from)
	}
	to, err := startUAS(ps, sippBin, scenarios, uasOptions{role: "to", scenario: "uas_load_answer.xml", echo: cfg.Media, ring: cfg.Ring, lifetime: lifetime})
	if err != nil {
		return rep, err
	}
	uases = append(uases, to)
	var fail *uas
	if cfg.Failover {
		if fail, err = startUAS(ps, sippBin, scenarios, uasOptions{role: "fail", scenario: "uas_load_fail.xml", lifetime: lifetime}); err != nil {
			return rep, err
		}
		uases = append(uases, fail)
	}

	redisURL := cfg.Redis
	switch redisURL {
	case "":
		rep.Store = "memory"
	case "auto":
		logf("starting redis-server")
		if redisURL, _, err = startRedis(ctx, ps); err != nil {
			return rep, err
		}
		rep.Store = "redis (private redis-server)"
	default:
		rep.Store = "redis"
	}
	var probe *redisProbe
	if redisURL != "" {
		if probe, err = newRedisProbe(redisURL); err != nil {
			return rep, fmt.Errorf("redis URL: %w", err)
		}
		defer probe.close()
	}

	tenant := randomTenant()
	nodeID := fmt.Sprintf("load-%d-%d", os.Getpid(), time.Now().UnixNano())
	httpPort, err := freeTCPPort()
	if err != nil {
		return rep, err
	}
	sipPort, err := freeUDPPorts(1)
	if err != nil {
		return rep, err
	}
	confPath := filepath.Join(dir, "switchboard.yaml")
	conf := engineConfig(cfg, httpPort, sipPort, redisURL, tenant, nodeID, from, to, fail)
	var in *inboundEnv
	if cfg.Inbound {
		in = newInboundEnv(cfg, ps, sippBin, scenarios, sipPort, tenant)
		conf += in.yaml(cfg)
		rep.Inbound = in.describe(cfg)
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return rep, err
	}
	engine, err := ps.start("switchboard", bin, "serve", "--config", confPath)
	if err != nil {
		return rep, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	if err := waitReady(ctx, engine, base); err != nil {
		return rep, err
	}
	logf("engine pid %d on %s (SIP 127.0.0.1:%d), store %s; sipp %s; work dir %s",
		engine.pid(), base, sipPort, rep.Store, farEndsNote(from, to, fail), dir)

	c := newClient(base, tenant, tenantToken)
	defer c.close()
	if _, ok := c.scrape(ctx); ok {
		rep.Metrics = true
	} else {
		rep.Notes = append(rep.Notes, "the engine serves no /metrics: API→INVITE and answer→INVITE latencies come from the call records (leg creation times), engine heap is not reported")
	}
	// The baseline: the engine as it is before the first step, read
	// through a client of its own (one connection, so the engine's
	// goroutines count the same connections before and after).
	c.close()
	pc := newClient(base, tenant, tenantToken)
	pc.http.Transport.(*http.Transport).MaxIdleConnsPerHost = 1
	defer pc.close()
	benv := baselineEnv{probe: pc, redis: probe, node: nodeID, tenant: tenant, logf: logf}
	base0, collected := takeBaseline(ctx, benv)
	if ctx.Err() == nil {
		if !collected && rep.Metrics {
			logf("the engine did not collect before the first step: no live heap baseline")
		}
		logf("baseline: %.0f live calls, %d goroutines, live heap after GC %.1f MiB", base0.LiveCalls, base0.Goroutines, mb(base0.HeapLive))
	}
	if !collected {
		base0.HeapOK = false
	}

	nums := &numbers{}
	for i, rate := range cfg.Rates {
		if ctx.Err() != nil {
			break
		}
		logf("step %d/%d: %g calls/s for %s", i+1, len(cfg.Rates), rate, cfg.Step)
		perf := ""
		if i == len(cfg.Rates)-1 {
			perf = cfg.Perf
		}
		env := stepEnv{cfg: cfg, c: c, engine: engine, sipPort: sipPort, uases: uases, echo: to.mediaPort, probe: probe, nums: nums, perf: perf, logf: logf, base: base0, in: in, index: i}
		if from != nil {
			env.talker = from.mediaPort
		}
		st, err := runStep(ctx, env, rate)
		if ctx.Err() != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("interrupted during the %g calls/s step, which is not reported", rate))
			return rep, ctx.Err()
		}
		rep.Steps = append(rep.Steps, st)
		if err != nil {
			return rep, err
		}
		if !engine.alive() {
			return rep, fmt.Errorf("switchboard exited during the run:\n%s", engine.tail(4000))
		}
	}

	// Every far-end call should end once its timewait is over: what sipp
	// still holds then is a call the engine never hung up.
	deadline := time.Now().Add(15 * time.Second)
	for ctx.Err() == nil {
		var open int64
		fresh := true
		settled := time.Now().Add(-1 * time.Second)
		for _, u := range uases {
			s := u.stats()
			open += s.Current
			fresh = fresh && s.At.After(settled)
		}
		rep.SippOpen = open
		if (open == 0 && fresh) || time.Now().After(deadline) {
			break
		}
		sleep(ctx, 250*time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if cfg.Settle < 0 {
		return rep, nil
	}

	// Return to baseline: the load client's connections closed (each is
	// a goroutine of the engine's), the engine with no live call, the
	// SIP backend's memory of the calls expired, the engine collected.
	c.close()
	drained := time.Now()
	settle, wait := cfg.Settle, cfg.SettleWait
	if settle == 0 {
		settle = sipStateLifetime
	}
	if wait == 0 {
		wait = time.Minute
	}
	b := &Baseline{Before: base0, BeforeCollected: collected, MemoryStore: redisURL == "", Redis: redisURL != ""}
	for _, st := range rep.Steps {
		b.Calls += st.Sent - st.FailedDriver
		b.PeakLive = max(b.PeakLive, st.PeakLive)
	}
	logf("return to baseline: waiting up to %s for the engine's memory of the calls to go", settle+wait)
	checkBaseline(ctx, benv, b, drained, settle, wait)
	rep.Baseline = b
	return rep, ctx.Err()
}

func farEndsNote(from, to, fail *uas) string {
	s := fmt.Sprintf("to :%d", to.port)
	if from != nil {
		s = fmt.Sprintf("from :%d %s", from.port, s)
	}
	if fail != nil {
		s += fmt.Sprintf(" fail :%d", fail.port)
	}
	return s
}

func (cfg Config) check() error {
	if len(cfg.Rates) == 0 {
		return errors.New("no rates")
	}
	for _, r := range cfg.Rates {
		if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return fmt.Errorf("rate %g: give calls per second above 0", r)
		}
		if r*cfg.Step.Seconds() > 1e6 {
			return fmt.Errorf("rate %g for %s is over a million calls", r, cfg.Step)
		}
	}
	if cfg.Step < time.Second {
		return errors.New("step must be at least 1s")
	}
	if cfg.Hold < time.Second || cfg.Hold%time.Second != 0 {
		return fmt.Errorf("hold %s: give whole seconds, at least 1s (it is the engine's timeLimit)", cfg.Hold)
	}
	if cfg.Ring < 0 || cfg.Ring > 15*time.Second {
		return fmt.Errorf("ring %s: give 0 to 15s (the calls' ring time is 20s)", cfg.Ring)
	}
	if cfg.Inbound {
		if cfg.Failover {
			return errors.New("-inbound and -failover do not go together")
		}
		if cfg.InboundRoute != "" && cfg.InboundRoute != "group" && cfg.InboundRoute != "number" {
			return fmt.Errorf("inbound route %q: give group or number", cfg.InboundRoute)
		}
		if cfg.Agents < 0 || cfg.Agents > 1000 {
			return fmt.Errorf("agents %d: give 1 to 1000", cfg.Agents)
		}
	}
	return nil
}

func (cfg Config) mode() string {
	switch {
	case cfg.Inbound && cfg.Media:
		return "inbound+media"
	case cfg.Inbound:
		return "inbound"
	case cfg.Media && cfg.Failover:
		return "media+failover"
	case cfg.Media:
		return "media"
	case cfg.Failover:
		return "failover"
	}
	return "plain"
}

// engineConfig writes the node's YAML: trunks by first digit (1 → from
// UAS, 2 → to UAS, 3 → the failing UAS), a wide RTP range, no live-call
// limit in the way, warnings only in the log.
func engineConfig(cfg Config, httpPort, sipPort int, redisURL, tenant, nodeID string, from, to, fail *uas) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http: 127.0.0.1:%d\nredis: %q\nlog_level: warn\n", httpPort, redisURL)
	fmt.Fprintf(&b, "node_id: %s\n", nodeID)
	fmt.Fprintf(&b, "sip:\n  listen: 127.0.0.1:%d\n  rtp_port_min: %d\n  rtp_port_max: %d\n", sipPort, rtpPortMin, rtpPortMax)
	if !cfg.Media && cfg.Hold >= 50*time.Second {
		// Without media no far end sends RTP; keep the media timeout
		// (60 s) from ending long calls.
		b.WriteString("  media_timeout: -1s\n")
	}
	b.WriteString("  trunks:\n")
	trunk := func(name, prefix string, u *uas) {
		fmt.Fprintf(&b, "    - name: %s\n      host: 127.0.0.1\n      port: %d\n      caller_id: \"5550000\"\n      prefixes: [%q]\n", name, u.port, prefix)
	}
	// Every trunk's host is 127.0.0.1, so the inbound callers (sipp on
	// 127.0.0.1) are a trunk's source too.
	if from != nil {
		trunk("load-from", "1", from)
	}
	trunk("load-to", "2", to)
	if fail != nil {
		trunk("load-fail", "3", fail)
	}
	fmt.Fprintf(&b, "tenants:\n  - user_id: %q\n    token: %q\n", tenant, tenantToken)
	b.WriteString("defaults:\n  max_live_calls: 1000000\n  drain_timeout: 2s\n  retention: 1h\n")
	if cfg.ExtraYAML != "" {
		b.WriteString(cfg.ExtraYAML)
		if !strings.HasSuffix(cfg.ExtraYAML, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// randomTenant is a user id of this run only, so a shared Redis never
// mixes its calls into another run's listings.
func randomTenant() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(1_000_000+binary.BigEndian.Uint64(b[:])%1_000_000_000, 10)
}

// params makes one call's request.
func (cfg Config) params(seq int) url.Values {
	v := url.Values{}
	v.Set("timeLimit", strconv.Itoa(int(cfg.Hold/time.Second)))
	if cfg.Failover {
		v.Set("from", num("3", seq, "7")+","+num("1", seq, ""))
		v.Set("fromStrategy", "ONE_BY_ONE")
		v.Set("to", num("3", seq, "8")+","+num("2", seq, ""))
		v.Set("toStrategy", "TO_ALL")
		return v
	}
	v.Set("from", num("1", seq, ""))
	v.Set("to", num("2", seq, ""))
	return v
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// describe names the commit of the working tree at root, "-dirty" when it
// has changes.
func describe(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "a working tree that is not a git checkout"
	}
	return "commit " + strings.TrimSpace(string(out))
}

// machine describes the host: cores, CPU model, memory.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					mem = fmt.Sprintf(", %.1f GiB RAM", kb/1024/1024)
				}
			}
		}
	}
	_, cpus := machineIdle()
	if cpus == 0 {
		cpus = runtime.NumCPU()
	}
	return fmt.Sprintf("%d × %s%s", cpus, model, mem)
}
