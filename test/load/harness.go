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
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
	Mode   string // "plain", "media", "failover", "media+failover"
	Hold   time.Duration
	Ring   time.Duration
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

// Step is what one rate step measured.
type Step struct {
	Rate     float64
	Duration time.Duration // the firing window as it ran

	Sent, Completed                        int
	OfferedCPS, CompletedCPS               float64
	FailedDriver, FailedEngine, FailedSipp int
	// Failures counts failed calls by reason (driver and engine).
	Failures map[string]int

	SendLagMax time.Duration // the driver's worst lateness against the schedule
	HTTPP50    time.Duration
	HTTPP99    time.Duration

	// From /metrics when the engine has it (the *OK fields say so).
	APIToInviteP50, APIToInviteP99 time.Duration
	APIToInviteOK                  bool
	AnswerToInviteP99              time.Duration
	AnswerToInviteOK               bool
	// From the call records: creation to the first leg, and the from
	// leg's answer to the first to leg.
	RecAPIToLegP50, RecAPIToLegP99 time.Duration
	RecAnswerToLegP99              time.Duration
	MetricOutcomes                 map[string]float64
	Relay                          map[string]float64 // counters named *relay* or *rtp*, deltas
	Trouble                        map[string]float64 // counters of errors and stray SIP messages, deltas

	// CPU over the firing window, percent of one core: the engine, Redis,
	// every sipp, this harness (the load driver), the whole machine.
	CPUEngine, CPURedis, CPUSipp, CPUDriver, CPUMachine float64
	RSSMax                                              uint64 // engine, sampled every second until the step drained
	RSSAfter                                            uint64 // engine, once the step's calls ended
	// PeakLive is the most calls the engine carried at once, from the
	// switchboard_live_calls gauge sampled every second from the step's
	// start until its calls drained (0 without it).
	PeakLive int
	Heap     uint64 // engine go_memstats_heap_alloc_bytes at the end of firing
	HeapOK   bool
	// HeapLive is the live heap after GC (go_gc_heap_live_bytes) at the
	// step's peak (see peakHeap), and HeapLiveCalls the live calls at
	// that collection; GCs is the collections completed while the step
	// was sampled.
	HeapLive      uint64
	HeapLiveCalls int
	HeapLiveOK    bool
	GCs           int
	// PeakGoroutines and PeakStacks are go_goroutines and
	// go_memstats_stack_inuse_bytes at the sample that read HeapLive
	// (stacks are memory per call too, but not heap).
	PeakGoroutines int
	PeakStacks     uint64
	// HeapPerCall is (HeapLive − the live heap before the first step) /
	// HeapLiveCalls, in bytes: the live heap a live call costs.
	HeapPerCall   float64
	HeapPerCallOK bool

	RedisCommands int64
	RedisPerCall  float64
	RedisTop      []cmdCount

	Sipp sippStats // deltas over the step, all far ends together
	// UDP is the kernel's machine-wide UDP counters over the step;
	// TalkerDrops the part of the receive-buffer drops at the talking far
	// end's media socket, which sipp never reads (-media only).
	UDP         udpCounters
	TalkerDrops uint64
	// EchoDrops are the drops at the echoing far end's media socket
	// (-media only): RTP the relay sent that sipp's echo did not read in
	// time.
	EchoDrops uint64
	// EngineSIPDrops and SippSIPDrops are the drops of the engine's SIP
	// socket and of the far ends' SIP sockets: signalling the kernel
	// discarded because the reader fell behind.
	EngineSIPDrops, SippSIPDrops uint64

	// Media: packets in the records of completed calls. FromIn is what
	// the talking side sent the engine, ToOut what the relay sent the
	// echoing side, ToIn what came back, FromOut what was relayed to the
	// talker.
	RTPFromIn, RTPToOut, RTPToIn, RTPFromOut uint64
}

// EchoLoss is the share of the packets the relay sent to the echoing far
// end that did not come back to it (the round trip engine → sipp → engine,
// kernel drops included; packets in flight at hang-up count as lost).
func (s Step) EchoLoss() float64 {
	if s.RTPToOut == 0 {
		return 0
	}
	return 100 * (float64(s.RTPToOut) - float64(s.RTPToIn)) / float64(s.RTPToOut)
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
	from, err := startUAS(ps, sippBin, scenarios, uasOptions{role: "from", scenario: fromScenario, ring: cfg.Ring, lifetime: lifetime})
	if err != nil {
		return rep, err
	}
	to, err := startUAS(ps, sippBin, scenarios, uasOptions{role: "to", scenario: "uas_load_answer.xml", echo: cfg.Media, ring: cfg.Ring, lifetime: lifetime})
	if err != nil {
		return rep, err
	}
	uases := []*uas{from, to}
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
	logf("engine pid %d on %s (SIP 127.0.0.1:%d), store %s; sipp from :%d to :%d%s; work dir %s",
		engine.pid(), base, sipPort, rep.Store, from.port, to.port, failNote(fail), dir)

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
		st, err := runStep(ctx, stepEnv{cfg: cfg, c: c, engine: engine, sipPort: sipPort, uases: uases, probe: probe, nums: nums, perf: perf, logf: logf, base: base0}, rate)
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

func failNote(fail *uas) string {
	if fail == nil {
		return ""
	}
	return fmt.Sprintf(" fail :%d", fail.port)
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
	return nil
}

func (cfg Config) mode() string {
	switch {
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
	trunk("load-from", "1", from)
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

type stepEnv struct {
	cfg     Config
	c       *client
	engine  *proc
	sipPort int
	uases   []*uas
	probe   *redisProbe
	nums    *numbers
	perf    string
	logf    func(string, ...any)
	base    engineState // before the first step
}

// runStep offers one rate, waits until its calls have ended, and measures.
func runStep(ctx context.Context, env stepEnv, rate float64) (Step, error) {
	st := Step{Rate: rate, Failures: map[string]int{}}
	cfg, c := env.cfg, env.c
	pid := env.engine.pid()

	mBefore, _ := c.scrape(ctx)
	redisBefore := env.probe.snapshot(ctx)
	udpBefore := readUDP()
	talker, echo := env.uases[0].mediaPort, env.uases[1].mediaPort
	talkerBefore, echoBefore := socketDrops(talker), socketDrops(echo)
	engineSIPBefore, sippSIPBefore := socketDrops(env.sipPort), sippSIPDrops(env.uases)
	var sippBefore []sippStats
	for _, u := range env.uases {
		sippBefore = append(sippBefore, u.stats())
	}
	cpuEngine0, cpuSipp0, cpuSelf0 := cpuTime(pid), sippCPU(env.uases), cpuTime(os.Getpid())
	idle0, cpus := machineIdle()
	wall0 := time.Now()

	// Sample the engine's RSS, and its live calls and live heap when it
	// has /metrics, every second until the step's calls have drained.
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan []sample, 1)
	go func() {
		var ss []sample
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			sm := sample{rss: rss(pid)}
			if m, ok := c.scrape(sampleCtx); ok {
				sm.state = stateFrom(m, time.Now())
			}
			ss = append(ss, sm)
			select {
			case <-sampleCtx.Done():
				ss = append(ss, sample{rss: rss(pid)})
				sampled <- ss
				return
			case <-t.C:
			}
		}
	}()
	perfDone := make(chan error, 1)
	if env.perf != "" {
		go func() { perfDone <- recordPerf(sampleCtx, pid, env.perf, cfg.Step) }()
	} else {
		perfDone <- nil
	}

	attempts, firing, wait := c.fire(ctx, rate, cfg.Step, func() url.Values { return cfg.params(env.nums.next()) })
	cpuEngine1, cpuSipp1, cpuSelf1 := cpuTime(pid), sippCPU(env.uases), cpuTime(os.Getpid())
	idle1, _ := machineIdle()
	wall1 := time.Now()
	redisMid := env.probe.snapshot(ctx)
	mFired, _ := c.scrape(ctx)
	wait()

	st.Duration = firing
	secs := firing.Seconds()
	st.Sent = len(attempts)
	st.OfferedCPS = float64(st.Sent) / secs
	st.CPUEngine = 100 * (cpuEngine1 - cpuEngine0).Seconds() / secs
	st.CPUSipp = 100 * (cpuSipp1 - cpuSipp0).Seconds() / secs
	st.CPUDriver = 100 * (cpuSelf1 - cpuSelf0).Seconds() / secs
	st.CPURedis = 100 * (redisMid.cpu - redisBefore.cpu).Seconds() / secs
	st.CPUMachine = busyPercent(idle0, idle1, cpus, wall1.Sub(wall0))
	if h, ok := mFired.sum("go_memstats_heap_alloc_bytes"); ok {
		st.Heap, st.HeapOK = uint64(h), true
	} else if h, ok := mFired.sum("go_memstats_heap_inuse_bytes"); ok {
		st.Heap, st.HeapOK = uint64(h), true
	}

	var lat []time.Duration
	var ids []string
	for _, a := range attempts {
		st.SendLagMax = max(st.SendLagMax, a.lag)
		lat = append(lat, a.latency)
		if a.failure != "" {
			st.FailedDriver++
			st.Failures["driver: "+a.failure]++
			continue
		}
		ids = append(ids, a.callID)
	}
	lat = sortedDurations(lat)
	st.HTTPP50, st.HTTPP99 = percentile(lat, 0.50), percentile(lat, 0.99)

	// Wait until the engine has no live call left: every call of the step
	// ran its course (bounded: ring, hold, and Timer B for a far end that
	// stopped answering).
	drainBound := cfg.Ring + cfg.Hold + 45*time.Second
	drained := waitDrained(ctx, c, drainBound)
	if !drained && ctx.Err() == nil {
		env.logf("calls still live %s after the step; counting them as failed", drainBound)
	}
	stopSampling()
	samples := <-sampled
	if err := <-perfDone; err != nil {
		env.logf("perf: %v", err)
	}
	for _, sm := range samples {
		st.RSSMax = max(st.RSSMax, sm.rss)
		if sm.state.LiveOK {
			st.PeakLive = max(st.PeakLive, int(sm.state.LiveCalls))
		}
	}
	var at engineState
	at, st.HeapLiveCalls, st.GCs, st.HeapLiveOK = peakHeap(samples)
	st.HeapLive, st.PeakGoroutines, st.PeakStacks = at.HeapLive, at.Goroutines, at.Stacks
	if st.HeapLiveOK && env.base.HeapOK && st.HeapLiveCalls > 0 {
		st.HeapPerCall = (float64(st.HeapLive) - float64(env.base.HeapLive)) / float64(st.HeapLiveCalls)
		st.HeapPerCallOK = true
	}
	st.RSSAfter = rss(pid)
	mAfter, _ := c.scrape(ctx)
	redisAfter := env.probe.snapshot(ctx)
	st.UDP = readUDP().sub(udpBefore)
	if cfg.Media {
		st.TalkerDrops = socketDrops(talker) - talkerBefore
		st.EchoDrops = socketDrops(echo) - echoBefore
	}
	st.EngineSIPDrops = socketDrops(env.sipPort) - engineSIPBefore
	st.SippSIPDrops = sippSIPDrops(env.uases) - sippSIPBefore
	st.RedisCommands, st.RedisTop = commandDelta(redisBefore, redisAfter)

	// Latencies and outcomes from /metrics, when the engine has them.
	if p50, ok := histogramQuantile(0.5, mBefore, mAfter, "switchboard_api_to_invite_seconds"); ok {
		p99, _ := histogramQuantile(0.99, mBefore, mAfter, "switchboard_api_to_invite_seconds")
		st.APIToInviteP50, st.APIToInviteP99, st.APIToInviteOK = seconds(p50), seconds(p99), true
	}
	if v, ok := histogramQuantile(0.99, mBefore, mAfter, "switchboard_answer_to_next_invite_seconds"); ok {
		st.AnswerToInviteP99, st.AnswerToInviteOK = seconds(v), true
	}
	if mAfter.has("switchboard_calls_total") {
		st.MetricOutcomes = deltaByLabel(mBefore, mAfter, "switchboard_calls_total", "outcome")
	}
	st.Relay = relayDeltas(mBefore, mAfter)
	st.Trouble = trouble(mBefore, mAfter)

	// Classify every accepted call by its record.
	recs, errs := c.fetchRecords(ctx, ids)
	var toLeg, answerToLeg []time.Duration
	for i, r := range recs {
		if errs[i] != nil {
			st.FailedEngine++
			st.Failures["engine: record: "+shortErr(errs[i])]++
			continue
		}
		if why := cfg.judge(r); why != "" {
			st.FailedEngine++
			st.Failures["engine: "+why]++
			continue
		}
		st.Completed++
		first, fromAnswer, firstTo := legTimes(r)
		if !first.IsZero() {
			toLeg = append(toLeg, first.Sub(r.CreatedAt))
		}
		if !fromAnswer.IsZero() && !firstTo.IsZero() {
			answerToLeg = append(answerToLeg, firstTo.Sub(fromAnswer))
		}
		if cfg.Media {
			for _, l := range r.Legs {
				if l.Media == nil || l.Disposition != "answered" {
					continue
				}
				if l.Side == "from" {
					st.RTPFromIn += l.Media.PacketsIn
					st.RTPFromOut += l.Media.PacketsOut
				} else {
					st.RTPToIn += l.Media.PacketsIn
					st.RTPToOut += l.Media.PacketsOut
				}
			}
		}
	}
	toLeg, answerToLeg = sortedDurations(toLeg), sortedDurations(answerToLeg)
	st.RecAPIToLegP50, st.RecAPIToLegP99 = percentile(toLeg, 0.5), percentile(toLeg, 0.99)
	st.RecAnswerToLegP99 = percentile(answerToLeg, 0.99)
	st.CompletedCPS = float64(st.Completed) / secs
	if len(ids) > 0 {
		st.RedisPerCall = float64(st.RedisCommands) / float64(len(ids))
	}

	// sipp writes its counters once a second: take a line written after
	// the calls ended.
	after := time.Now().Add(1100 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		fresh := true
		var sum sippStats
		for i, u := range env.uases {
			s := u.stats()
			fresh = fresh && s.At.After(after)
			sum = sum.add(s.sub(sippBefore[i]))
		}
		st.Sipp = sum
		if fresh || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleep(ctx, 200*time.Millisecond)
	}
	st.FailedSipp = int(st.Sipp.Failed)
	return st, ctx.Err()
}

// sample is one reading of the step's sampler.
type sample struct {
	rss   uint64
	state engineState
}

// peakHeap finds the live heap at the step's peak: among the collections
// that completed while the step was sampled, those that ran with at least
// 95 % of the most live calls any of them ran with, and of these the one
// that left the largest live heap (on a plateau the heap still grows
// with the memory of ended calls). It returns the sample after that
// collection, its live calls (the lower live-calls reading of the samples
// before and after it), and how many collections completed in all. ok is
// false when none completed between two samples.
func peakHeap(ss []sample) (at engineState, calls, gcs int, ok bool) {
	type gc struct {
		at    engineState
		calls int
	}
	var all []gc
	most := 0
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1].state, ss[i].state
		if !a.HeapOK || !b.HeapOK || !a.LiveOK || !b.LiveOK || b.GCCycles <= a.GCCycles {
			continue
		}
		gcs += int(b.GCCycles - a.GCCycles)
		n := int(min(a.LiveCalls, b.LiveCalls))
		all = append(all, gc{b, n})
		most = max(most, n)
	}
	for _, g := range all {
		if float64(g.calls) >= 0.95*float64(most) && (!ok || g.at.HeapLive > at.HeapLive) {
			at, calls, ok = g.at, g.calls, true
		}
	}
	return at, calls, gcs, ok
}

// judge says why a record is not a call that went as planned ("" when it
// did): ended, completed, both sides answered, ended by its time limit;
// with failover, from fell through its busy number and to's unanswered
// number was cancelled.
func (cfg Config) judge(r record) string {
	switch {
	case r.State != "ended":
		return "state " + r.State + " after the step"
	case r.Outcome != "completed":
		return "outcome " + r.Outcome + " (" + r.Reason + ")"
	case r.HangupBy != "time_limit":
		return "hung up by " + r.HangupBy + " (" + r.Reason + ")"
	}
	var got []string
	for _, l := range r.Legs {
		got = append(got, l.Side+":"+l.Disposition)
	}
	want := "from:answered to:answered"
	if cfg.Failover {
		want = "from:busy from:answered to:answered to:canceled"
		sort.SliceStable(got[2:], func(i, j int) bool { return got[2+i] < got[2+j] })
	}
	if len(got) < 2 || strings.Join(got, " ") != want {
		return "legs " + strings.Join(got, " ")
	}
	return ""
}

// legTimes are the first leg's creation, the answer of the from leg that
// answered, and the creation of the first to leg.
func legTimes(r record) (first, fromAnswer, firstTo time.Time) {
	for _, l := range r.Legs {
		if first.IsZero() {
			first = l.CreatedAt
		}
		if l.Side == "from" && l.AnsweredAt != nil && fromAnswer.IsZero() {
			fromAnswer = *l.AnsweredAt
		}
		if l.Side == "to" && firstTo.IsZero() {
			firstTo = l.CreatedAt
		}
	}
	return first, fromAnswer, firstTo
}

// waitDrained polls until the engine carries no call: the live-calls
// gauge when /metrics has it (the records fetched afterwards still show
// any call that did not end), else the listing of live calls, which on a
// long run has many ended calls to look through.
func waitDrained(ctx context.Context, c *client, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if m, ok := c.scrape(ctx); ok && m.has("switchboard_live_calls") {
			if v, _ := m.sum("switchboard_live_calls"); v == 0 {
				// The gauge drops as a call's goroutine ends; give its
				// last store write a moment.
				sleep(ctx, 300*time.Millisecond)
				return true
			}
		} else if live, err := c.anyLive(ctx); err == nil && !live {
			return true
		}
		sleep(ctx, 250*time.Millisecond)
	}
	return false
}

func deltaByLabel(before, after metrics, name, label string) map[string]float64 {
	a, b := after.byLabel(name, label), before.byLabel(name, label)
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// relayDeltas are the changes of every switchboard counter about the
// media relay (its name mentions relay or rtp).
func relayDeltas(before, after metrics) map[string]float64 {
	return counterDeltas(before, after, "relay", "rtp")
}

// trouble are the changes of the switchboard counters of errors and of
// stray SIP messages.
func trouble(before, after metrics) map[string]float64 {
	return counterDeltas(before, after, "error", "stray")
}

// counterDeltas are the changes of the switchboard counters whose name
// holds one of words.
func counterDeltas(before, after metrics, words ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after.samples {
		name, _, _ := strings.Cut(k, "{")
		if !strings.HasPrefix(name, "switchboard_") || !slices.ContainsFunc(words, func(w string) bool { return strings.Contains(name, w) }) {
			continue
		}
		if strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") {
			continue
		}
		if t := after.types[name]; t != "" && t != "counter" {
			continue
		}
		if d := v - before.samples[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func sippSIPDrops(us []*uas) uint64 {
	var n uint64
	for _, u := range us {
		n += socketDrops(u.port)
	}
	return n
}

func sippCPU(us []*uas) time.Duration {
	var t time.Duration
	for _, u := range us {
		t += cpuTime(u.pid())
	}
	return t
}

// recordPerf profiles pid with perf(1) for the middle half of the step.
func recordPerf(ctx context.Context, pid int, out string, step time.Duration) error {
	if _, err := exec.LookPath("perf"); err != nil {
		return errors.New("perf is not installed")
	}
	if !sleep(ctx, step/4) {
		return ctx.Err()
	}
	secs := max(1, int((step / 2).Seconds()))
	cmd := exec.CommandContext(ctx, "perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", out, "--", "sleep", strconv.Itoa(secs))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	b, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(b)))
	}
	return nil
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
