package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
	AnswerToInviteP50              time.Duration
	AnswerToInviteP99              time.Duration
	AnswerToInviteOK               bool
	// From the call records: creation to the first leg, and the from
	// leg's answer to the first to leg.
	RecAPIToLegP50, RecAPIToLegP99 time.Duration
	RecAnswerToLegP50              time.Duration
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

	// Inbound mode: the step's caller (sipp UAC) as it ended, the calls
	// it still held when stopped, its INVITE→200 times (sipp's response
	// time, whole milliseconds), how far past the step's end it placed
	// its last call, and the start of its error file. Sent is the calls
	// it placed.
	Caller                                     sippStats
	CallerOpen                                 int64
	InviteN                                    int
	InviteP50, InviteP95, InviteP99, InviteMax time.Duration
	CallerLate                                 time.Duration
	CallerErrors                               string
	// RecAnsweredP50/P99 are, from the records, the inbound call's
	// creation (its INVITE taken) to the caller's answer (its ACK).
	RecAnsweredP50, RecAnsweredP99 time.Duration
	// Skips are the agents completed inbound calls skipped, by reason.
	Skips map[string]int
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
	// talker and echo are the media ports of the far ends that play and
	// echo under -media (talker 0 in inbound mode: the caller's).
	talker, echo int
	// in is the inbound mode's (nil otherwise); index the step's.
	in    *inboundEnv
	index int
}

// runStep offers one rate, waits until its calls have ended, and measures.
func runStep(ctx context.Context, env stepEnv, rate float64) (Step, error) {
	st := Step{Rate: rate, Failures: map[string]int{}}
	cfg, c := env.cfg, env.c
	pid := env.engine.pid()

	mBefore, _ := c.scrape(ctx)
	redisBefore := env.probe.snapshot(ctx)
	udpBefore := readUDP()
	talker, echo := env.talker, env.echo
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

	var (
		attempts []attempt
		firing   time.Duration
		wait     = func() {}
		cr       *callerRun // inbound: the step's caller
	)
	if env.in != nil {
		var err error
		if cr, firing, err = env.in.place(ctx, cfg, rate, env.index); err != nil {
			stopSampling()
			<-sampled
			<-perfDone
			return st, err
		}
	} else {
		attempts, firing, wait = c.fire(ctx, rate, cfg.Step, func() url.Values { return cfg.params(env.nums.next()) })
	}
	cpuEngine1, cpuSipp1, cpuSelf1 := cpuTime(pid), sippCPU(env.uases), cpuTime(os.Getpid())
	if cr != nil {
		// The load driver of the inbound mode is the caller sipp.
		cpuSelf1 += cpuTime(cr.pid())
	}
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
	if cr != nil {
		// First the caller: once it has ended its calls, so has the
		// engine (or the calls are stuck, and the records say so).
		res := cr.finish(ctx, cfg.Step, drainBound)
		st.callerDone(res)
		st.Duration = firing + res.late
		secs = st.Duration.Seconds()
		st.OfferedCPS = float64(st.Sent) / secs
	}
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
	if cr != nil {
		// The caller never reads its media socket (the engine plays it
		// ringback while the route rings): its drops are the talker's.
		st.TalkerDrops = cr.mediaDrops.Load()
		st.SippSIPDrops += cr.sipDrops.Load()
	}
	st.RedisCommands, st.RedisTop = commandDelta(redisBefore, redisAfter)

	// Latencies and outcomes from /metrics, when the engine has them.
	if p50, ok := histogramQuantile(0.5, mBefore, mAfter, "switchboard_api_to_invite_seconds"); ok {
		p99, _ := histogramQuantile(0.99, mBefore, mAfter, "switchboard_api_to_invite_seconds")
		st.APIToInviteP50, st.APIToInviteP99, st.APIToInviteOK = seconds(p50), seconds(p99), true
	}
	if v, ok := histogramQuantile(0.99, mBefore, mAfter, "switchboard_answer_to_next_invite_seconds"); ok {
		p50, _ := histogramQuantile(0.5, mBefore, mAfter, "switchboard_answer_to_next_invite_seconds")
		st.AnswerToInviteP50, st.AnswerToInviteP99, st.AnswerToInviteOK = seconds(p50), seconds(v), true
	}
	if mAfter.has("switchboard_calls_total") {
		st.MetricOutcomes = deltaByLabel(mBefore, mAfter, "switchboard_calls_total", "outcome")
	}
	st.Relay = relayDeltas(mBefore, mAfter)
	st.Trouble = trouble(mBefore, mAfter)

	// Classify every accepted call by its record.
	var recs []record
	var errs []error
	if cr != nil {
		recs = st.inboundRecords(ctx, c, cr)
		errs = make([]error, len(recs))
		ids = make([]string, len(recs))
	} else {
		recs, errs = c.fetchRecords(ctx, ids)
	}
	var toLeg, answerToLeg, answered []time.Duration
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
		if cfg.Inbound {
			st.noteSkips(r)
		}
		first, fromAnswer, firstTo := legTimes(r)
		if !first.IsZero() {
			toLeg = append(toLeg, first.Sub(r.CreatedAt))
		}
		if !fromAnswer.IsZero() && !firstTo.IsZero() {
			answerToLeg = append(answerToLeg, firstTo.Sub(fromAnswer))
		}
		if cfg.Inbound && !fromAnswer.IsZero() {
			answered = append(answered, fromAnswer.Sub(r.CreatedAt))
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
	st.RecAnswerToLegP50, st.RecAnswerToLegP99 = percentile(answerToLeg, 0.5), percentile(answerToLeg, 0.99)
	answered = sortedDurations(answered)
	st.RecAnsweredP50, st.RecAnsweredP99 = percentile(answered, 0.5), percentile(answered, 0.99)
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
	if cfg.Inbound {
		return judgeInbound(r)
	}
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
