package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/test/redistest"
	"github.com/switchboard/switchboard/test/sipptest"
)

var (
	buildOnce sync.Once
	engineBin string
	buildErr  error
)

// envBinary names a prebuilt switchboard binary for the smoke tests to run
// instead of building cmd/switchboard.
const envBinary = "SWITCHBOARD_LOAD_BINARY"

// engineBinary builds cmd/switchboard once for the package's tests.
func engineBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv(envBinary); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		root, err := moduleRoot("")
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "switchboard-load-test")
		if err != nil {
			buildErr = err
			return
		}
		engineBin, buildErr = buildEngine(context.Background(), root, dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return engineBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if engineBin != "" {
		os.RemoveAll(filepath.Dir(engineBin))
	}
	os.Exit(code)
}

// smoke runs the harness for a few seconds at a few calls per second and
// fails on any failed call. It asserts correctness only, never timings.
func smoke(t *testing.T, cfg Config) Report {
	t.Helper()
	if !sipptest.Available() {
		t.Skip("sipp is not installed (apt-get install sip-tester)")
	}
	cfg.Binary = engineBinary(t)
	cfg.Log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg)
	var table strings.Builder
	writeTable(&table, rep)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, table.String())
	}
	t.Logf("\n%s", table.String())
	if len(rep.Steps) != len(cfg.Rates) {
		t.Fatalf("%d steps ran, want %d", len(rep.Steps), len(cfg.Rates))
	}
	for _, s := range rep.Steps {
		want := int(s.Rate*cfg.Step.Seconds() + 0.5)
		if s.Sent != want || s.Completed != s.Sent {
			t.Errorf("%g calls/s: %d sent, %d completed, want %d of each", s.Rate, s.Sent, s.Completed, want)
		}
		if s.Sipp.Incoming == 0 {
			t.Errorf("%g calls/s: sipp saw no call", s.Rate)
		}
	}
	if n := rep.Failed(); n > 0 {
		t.Errorf("%d failed calls (sipp left %d up); work directory %s", n, rep.SippOpen, rep.WorkDir)
	}
	// Correctness, not memory: the live calls (and with Redis the live
	// state) are back where they started. Goroutines and heap are only
	// reported: the smoke test does not wait for the SIP backend to
	// forget the calls.
	if rep.Baseline == nil {
		t.Error("no return-to-baseline check")
	} else if !rep.Baseline.LiveBack() {
		t.Errorf("live state did not return to baseline: live calls %v → %v, Redis %s → %s",
			rep.Baseline.Before.LiveCalls, rep.Baseline.After.LiveCalls, rep.Baseline.Before.Keys, rep.Baseline.After.Keys)
	}
	return rep
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestSmokeMemoryStoreWithMedia(t *testing.T) {
	t.Parallel()
	rep := smoke(t, Config{Rates: []float64{5}, Step: 4 * time.Second, Hold: time.Second, Media: true, Settle: time.Second, SettleWait: 5 * time.Second})
	if s := rep.Steps[0]; s.RTPFromIn == 0 || s.RTPToOut == 0 || s.RTPToIn == 0 || s.RTPFromOut == 0 {
		t.Errorf("media did not flow both ways: %d %d %d %d", s.RTPFromIn, s.RTPToOut, s.RTPToIn, s.RTPFromOut)
	}
}

func TestSmokeRedisWithFailover(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	rep := smoke(t, Config{Rates: []float64{5}, Step: 3 * time.Second, Hold: time.Second, Redis: url, Failover: true, Settle: time.Second, SettleWait: 5 * time.Second})
	if s := rep.Steps[0]; s.RedisCommands == 0 {
		t.Errorf("no Redis commands counted")
	}
	if b := rep.Baseline; b != nil && !b.After.Keys.OK {
		t.Errorf("the Redis live state was not read")
	}
}

// The inbound mode: a sipp caller dials the app, the group's round-robin
// rings the agents' phones (the to far end), the caller hangs up, and
// every call's record is a completed inbound call.
func TestSmokeInbound(t *testing.T) {
	t.Parallel()
	rep := smoke(t, Config{Rates: []float64{5}, Step: 3 * time.Second, Hold: time.Second, Inbound: true, Settle: time.Second, SettleWait: 5 * time.Second})
	s := rep.Steps[0]
	if s.Caller.Successful != int64(s.Sent) || s.Caller.Failed != 0 {
		t.Errorf("caller: %d placed, %d successful, %d failed", s.Sent, s.Caller.Successful, s.Caller.Failed)
	}
	if s.InviteN != s.Sent {
		t.Errorf("%d INVITE→200 times for %d calls", s.InviteN, s.Sent)
	}
	if s.Sipp.Incoming != int64(s.Sent) {
		// (Their successful calls are counted after a timewait.)
		t.Errorf("the agents' phones took %d calls of %d", s.Sipp.Incoming, s.Sent)
	}
	var table strings.Builder
	writeTable(&table, rep)
	if !strings.Contains(table.String(), "INBOUND MODE") || rep.Mode != "inbound" {
		t.Errorf("the report does not say it is inbound:\n%s", table.String())
	}
}

func TestParseStatCPU(t *testing.T) {
	line := "1234 (switch board) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 12 0 100 0 0"
	if got := parseStatCPU(line); got != 4*time.Second {
		t.Fatalf("cpu %v, want 4s", got)
	}
	if got := parseStatCPU("garbage"); got != 0 {
		t.Fatalf("garbage: %v", got)
	}
}

func TestMachineBusy(t *testing.T) {
	if got := parseUptimeIdle("6360.12 12000.50\n"); got != 12000500*time.Millisecond {
		t.Fatalf("idle %v", got)
	}
	if n := countCPUs("cpu  1 2 3\ncpu0 1 2\ncpu1 1 2\nintr 5\n"); n != 2 {
		t.Fatalf("cpus %d", n)
	}
	// Two CPUs for 10 s with 15 s idle between them: 5 s busy, 50% of one.
	if p := busyPercent(100*time.Second, 115*time.Second, 2, 10*time.Second); p != 50 {
		t.Fatalf("busy %v", p)
	}
}

func TestParseSNMP(t *testing.T) {
	in := "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors\nUdp: 100 3 7 90 6 1 0\nUdpLite: InDatagrams\nUdpLite: 0\n"
	c := parseSNMP(strings.NewReader(in))
	if c != (udpCounters{InDatagrams: 100, NoPorts: 3, InErrors: 7, RcvbufErrors: 6, SndbufErrors: 1}) {
		t.Fatalf("%+v", c)
	}
}

func TestParseSocketDrops(t *testing.T) {
	in := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		" 1: 0100007F:4E20 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 42\n" +
		" 2: 0100007F:4E22 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 5\n"
	if got := parseSocketDrops([]byte(in), 20000); got != 42 {
		t.Fatalf("drops %d", got)
	}
	if got := parseSocketDrops([]byte(in), 1); got != 0 {
		t.Fatalf("absent port: %d", got)
	}
}

const exposition = `# HELP switchboard_api_to_invite_seconds API request to first INVITE.
# TYPE switchboard_api_to_invite_seconds histogram
switchboard_api_to_invite_seconds_bucket{le="0.001"} %d
switchboard_api_to_invite_seconds_bucket{le="0.01"} %d
switchboard_api_to_invite_seconds_bucket{le="0.1"} %d
switchboard_api_to_invite_seconds_bucket{le="+Inf"} %d
switchboard_api_to_invite_seconds_sum 1
switchboard_api_to_invite_seconds_count %d
# TYPE switchboard_calls_total counter
switchboard_calls_total{outcome="completed"} %d
switchboard_calls_total{outcome="failed",node="a b"} 2
# TYPE switchboard_relay_packets_dropped_total counter
switchboard_relay_packets_dropped_total{reason="source"} %d
# TYPE switchboard_store_errors_total counter
switchboard_store_errors_total{op="save_leg"} %d
# TYPE switchboard_live_calls gauge
switchboard_live_calls 0
go_memstats_heap_alloc_bytes 1.048576e+07
`

func TestMetricsDeltasAndQuantiles(t *testing.T) {
	before := parseMetrics(strings.NewReader(fmt.Sprintf(exposition, 10, 10, 10, 10, 10, 5, 1, 0)))
	// 100 new observations: 50 under 1 ms, 40 in (1 ms, 10 ms], 10 in (10 ms, 100 ms].
	after := parseMetrics(strings.NewReader(fmt.Sprintf(exposition, 60, 100, 110, 110, 110, 105, 4, 2)))
	p50, ok := histogramQuantile(0.5, before, after, "switchboard_api_to_invite_seconds")
	if !ok || p50 != 0.001 {
		t.Fatalf("p50 %v %v", p50, ok)
	}
	p90, _ := histogramQuantile(0.9, before, after, "switchboard_api_to_invite_seconds")
	if p90 < 0.00999 || p90 > 0.01001 {
		t.Fatalf("p90 %v", p90)
	}
	p99, _ := histogramQuantile(0.99, before, after, "switchboard_api_to_invite_seconds")
	if want := 0.01 + 0.09*0.9; p99 < want-1e-9 || p99 > want+1e-9 {
		t.Fatalf("p99 %v, want %v", p99, want)
	}
	if _, ok := histogramQuantile(0.5, before, before, "switchboard_api_to_invite_seconds"); ok {
		t.Fatal("a histogram that gained nothing has no quantile")
	}
	if _, ok := histogramQuantile(0.5, before, after, "absent_seconds"); ok {
		t.Fatal("an absent histogram has no quantile")
	}
	if d := deltaByLabel(before, after, "switchboard_calls_total", "outcome"); d["completed"] != 100 || len(d) != 1 {
		t.Fatalf("outcomes %v", d)
	}
	if r := relayDeltas(before, after); len(r) != 1 || r[`switchboard_relay_packets_dropped_total{reason="source"}`] != 3 {
		t.Fatalf("relay %v", r)
	}
	if e := trouble(before, after); len(e) != 1 || e[`switchboard_store_errors_total{op="save_leg"}`] != 2 {
		t.Fatalf("errors %v", e)
	}
	if v, ok := after.sum("go_memstats_heap_alloc_bytes"); !ok || v != 10485760 {
		t.Fatalf("heap %v %v", v, ok)
	}
	if !after.has("switchboard_live_calls") || after.has("switchboard_live") {
		t.Fatal("has")
	}
}

func TestParseSippStats(t *testing.T) {
	csv := "StartTime;CurrentTime;IncomingCall(C);SuccessfulCall(C);FailedCall(C);CurrentCall;Retransmissions(C);OutOfCallMsgs(C);\n" +
		"2026-11-22\t07:04:35.5\t1795331075.5;2026-11-22\t07:04:36.5\t1795331076.5;1;0;0;1;0;0;\n" +
		"2026-11-22\t07:04:35.5\t1795331075.5;2026-11-22\t07:04:37.5\t1795331077.5;10;8;1;1;3;2;\n" +
		"2026-11-22\t07:04:35.5\t1795331075.5;2026-11-22\t07:04:38" // a line being written
	st, ok := parseSippStats([]byte(csv))
	if !ok || st.Incoming != 10 || st.Successful != 8 || st.Failed != 1 || st.Current != 1 || st.Retrans != 3 || st.OutOfCall != 2 {
		t.Fatalf("%+v %v", st, ok)
	}
	if st.At.Unix() != 1795331077 {
		t.Fatalf("at %v", st.At)
	}
	if _, ok := parseSippStats([]byte("StartTime;\n")); ok {
		t.Fatal("a header alone has no counters")
	}
}

func TestParseCaught(t *testing.T) {
	counts := "CurrentTime;ElapsedTime;0_INVITE_Recv;0_INVITE_Retrans;1_100_Sent;2_INVITE_Recv;3_CANCEL_Recv;5_CANCEL_Recv;6_ACK_Recv;\n" +
		"t;e;9;1;9;0;0;0;0;\n" +
		"t;e;10;1;10;4;3;2;7;\n"
	if n := parseCaught([]byte(counts)); n != 6 {
		t.Fatalf("caught %d, want 4 INVITEs and 2 CANCELs", n)
	}
}

func TestParseRedisInfo(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.25\r\n\r\n# Commandstats\r\n" +
		"cmdstat_hset:calls=10,usec=5,usec_per_call=0.5,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=99,usec=5\r\ncmdstat_evalsha:calls=4,usec=9\r\n"
	s := parseRedisInfo(info)
	if s.cpu != 3750*time.Millisecond || s.calls["hset"] != 10 || s.calls["evalsha"] != 4 || s.calls["info"] != 0 {
		t.Fatalf("%+v", s)
	}
	total, by := commandDelta(redisSnapshot{calls: map[string]int64{"hset": 4}}, s)
	if total != 10 || by[0] != (cmdCount{"hset", 6}) || by[1] != (cmdCount{"evalsha", 4}) {
		t.Fatalf("%d %v", total, by)
	}
}

func TestJudge(t *testing.T) {
	leg := func(side, disp string) recordLeg { return recordLeg{Side: side, Disposition: disp} }
	ok := record{State: "ended", Outcome: "completed", HangupBy: "time_limit"}
	ok.Legs = append(ok.Legs, leg("from", "answered"), leg("to", "answered"))
	if why := (Config{}).judge(ok); why != "" {
		t.Fatal(why)
	}
	hunt := record{State: "ended", Outcome: "completed", HangupBy: "time_limit"}
	hunt.Legs = append(hunt.Legs, leg("from", "busy"), leg("from", "answered"), leg("to", "canceled"), leg("to", "answered"))
	if why := (Config{Failover: true}).judge(hunt); why != "" {
		t.Fatal(why)
	}
	if why := (Config{}).judge(hunt); why == "" {
		t.Fatal("four legs without failover")
	}
	bad := ok
	bad.Outcome, bad.Reason = "to_unanswered", "busy"
	if why := (Config{}).judge(bad); !strings.Contains(why, "to_unanswered") {
		t.Fatal(why)
	}
}

func TestParamsAndNumbers(t *testing.T) {
	v := (Config{Hold: 2 * time.Second}).params(7)
	if v.Get("from") != "100000007" || v.Get("to") != "200000007" || v.Get("timeLimit") != "2" {
		t.Fatalf("%v", v)
	}
	f := (Config{Hold: time.Second, Failover: true}).params(7)
	if f.Get("from") != "3000000077,100000007" || f.Get("to") != "3000000078,200000007" || f.Get("toStrategy") != "TO_ALL" {
		t.Fatalf("%v", f)
	}
}

func TestCheckRefusesBadSettings(t *testing.T) {
	good := Config{Rates: []float64{1}, Step: time.Second, Hold: time.Second}
	if err := good.check(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"no rates":         {Step: time.Second, Hold: time.Second},
		"zero rate":        {Rates: []float64{0}, Step: time.Second, Hold: time.Second},
		"fractional hold":  {Rates: []float64{1}, Step: time.Second, Hold: 1500 * time.Millisecond},
		"short step":       {Rates: []float64{1}, Step: time.Millisecond, Hold: time.Second},
		"ring beyond ring": {Rates: []float64{1}, Step: time.Second, Hold: time.Second, Ring: 30 * time.Second},
		"inbound failover": {Rates: []float64{1}, Step: time.Second, Hold: time.Second, Inbound: true, Failover: true},
		"inbound route":    {Rates: []float64{1}, Step: time.Second, Hold: time.Second, Inbound: true, InboundRoute: "agent"},
	} {
		if err := c.check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPeakHeap(t *testing.T) {
	st := func(live float64, heap, cycles uint64) sample {
		return sample{state: engineState{LiveCalls: live, LiveOK: true, HeapLive: heap, GCCycles: cycles, HeapOK: true}}
	}
	ss := []sample{
		st(0, 10, 1),
		st(100, 10, 1),  // no collection
		st(300, 40, 3),  // two collections, with 100 live calls
		st(600, 70, 4),  // 300
		st(598, 90, 5),  // 598: the peak's collections start here
		st(600, 85, 6),  // 598
		st(400, 120, 7), // 400: more heap, but past the peak
		{},              // the sampler's last reading, without a scrape
	}
	at, calls, gcs, ok := peakHeap(ss)
	if !ok || at.HeapLive != 90 || calls != 598 || gcs != 6 {
		t.Fatalf("heap %d calls %d gcs %d ok %v, want 90 598 6 true", at.HeapLive, calls, gcs, ok)
	}
	if _, _, _, ok := peakHeap(ss[:2]); ok {
		t.Fatal("no collection between samples: no reading")
	}
}

func TestStateFrom(t *testing.T) {
	m := parseMetrics(strings.NewReader("switchboard_live_calls 3\ngo_goroutines 42\ngo_gc_heap_live_bytes 1.048576e+06\n" +
		"go_gc_cycles_total_gc_cycles_total 7\ngo_memstats_heap_alloc_bytes 2e+06\ngo_memstats_stack_inuse_bytes 65536\n"))
	s := stateFrom(m, time.Now())
	if !s.LiveOK || s.LiveCalls != 3 || !s.GoroutinesOK || s.Goroutines != 42 || !s.HeapOK || s.HeapLive != 1<<20 ||
		s.GCCycles != 7 || s.HeapAlloc != 2e6 || s.Stacks != 65536 {
		t.Fatalf("%+v", s)
	}
	if s := stateFrom(parseMetrics(strings.NewReader("go_gc_heap_live_bytes 5\n")), time.Now()); s.HeapOK || s.LiveOK {
		t.Fatalf("a live heap without the collection counter is not a reading: %+v", s)
	}
}

func TestBaselineVerdicts(t *testing.T) {
	before := engineState{LiveOK: true, GoroutinesOK: true, Goroutines: 12, HeapOK: true, HeapLive: 3 << 20, GCCycles: 4,
		Keys: liveKeys{OK: true}}
	b := Baseline{Before: before, After: before, Calls: 1000, PeakLive: 600, Redis: true}
	if !b.LiveBack() || !b.done() {
		t.Fatal("identical readings are back")
	}
	b.After.Keys.Nodes, b.After.Keys.OtherNodes = 1, 5 // the node registry and other nodes do not count
	if !b.LiveBack() {
		t.Fatal("the node registry is not live state")
	}
	b.After.Keys.Live = 2
	if b.LiveBack() {
		t.Fatal("members left in the node's live set")
	}
	b.After.Keys = liveKeys{OK: true, Reservations: 1}
	if b.LiveBack() {
		t.Fatal("a reservation left")
	}
	b.After.Keys = liveKeys{OK: true}
	b.After.LiveCalls = 1
	if b.LiveBack() {
		t.Fatal("a live call left")
	}
	b.After.LiveCalls = 0
	b.After.Goroutines = 12 + goroutineTolerance + 1
	if back, ok := b.GoroutinesBack(); back || !ok || b.done() {
		t.Fatal("goroutines beyond the tolerance")
	}
	b.After.Goroutines = 12
	// Redis: no record allowance.
	if want := uint64(heapToleranceFixed + 600*heapTolerancePerPeak); b.HeapTolerance() != want {
		t.Fatalf("tolerance %d, want %d", b.HeapTolerance(), want)
	}
	b.After.HeapLive = before.HeapLive + b.HeapTolerance() + 1
	if back, ok := b.HeapBack(); back || !ok {
		t.Fatal("heap beyond the tolerance")
	}
	b.MemoryStore, b.Redis = true, false
	if back, _ := b.HeapBack(); !back {
		t.Fatal("the memory store's records are allowed for")
	}
	b.Before.GCCycles = 0
	if _, ok := b.HeapBack(); ok {
		t.Fatal("a baseline before any collection is no reading")
	}
	var out strings.Builder
	writeBaseline(&out, &b)
	if !strings.Contains(out.String(), "verdict: returned to baseline") {
		t.Fatalf("report:\n%s", out.String())
	}
	b.After.LiveCalls = 2
	out.Reset()
	writeBaseline(&out, &b)
	if !strings.Contains(out.String(), "FAILED") || !(Report{Baseline: &b}).BaselineFailed() {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestInbound(t *testing.T) {
	rtt := "Date_ms;response_time_ms;rtd_no\n56.001;4;invite\n108.001;0;invite\n120;7;other\n156.5;12.5;invite\n"
	got := parseRTT(rtt)
	if len(got) != 3 || got[0] != 4*time.Millisecond || got[1] != 0 || got[2] != 12500*time.Microsecond {
		t.Fatalf("rtt %v", got)
	}

	leg := func(side, disp string) recordLeg { return recordLeg{Side: side, Disposition: disp} }
	ok := record{Direction: "inbound", State: "ended", Outcome: "completed", HangupBy: "from", Legs: []recordLeg{leg("from", "answered"), leg("to", "answered")}}
	if why := (Config{Inbound: true}).judge(ok); why != "" {
		t.Fatal(why)
	}
	for name, bad := range map[string]func(*record){
		"outbound":        func(r *record) { r.Direction = "outbound" },
		"hung up by time": func(r *record) { r.HangupBy = "time_limit" },
		"unanswered":      func(r *record) { r.Outcome = "to_unanswered" },
		"no agent":        func(r *record) { r.Legs = r.Legs[:1] },
		"agent canceled":  func(r *record) { r.Legs = append([]recordLeg{r.Legs[0], leg("to", "canceled")}, r.Legs[1:]...) },
	} {
		r := ok
		r.Legs = append([]recordLeg(nil), ok.Legs...)
		bad(&r)
		if why := (Config{Inbound: true}).judge(r); why == "" {
			t.Errorf("%s: judged fine", name)
		}
	}

	skipped := ok
	skipped.Legs = []recordLeg{leg("from", "answered"), {Side: "to", Disposition: "skipped", Reason: "in wrap-up"}, leg("to", "answered")}
	if why := (Config{Inbound: true}).judge(skipped); why != "" {
		t.Fatalf("a completed call that skipped an agent: %s", why)
	}
	var st Step
	st.noteSkips(skipped)
	if st.Skips["in wrap-up"] != 1 {
		t.Fatalf("skips %v", st.Skips)
	}

	// Every line of a statistics file, to find when the caller had
	// placed every call.
	csv := "StartTime;CurrentTime;OutgoingCall(C);FailedTimeoutOnRecv(C);\n" +
		"s;2026-11-22\t07:04:36.5\t1795331076.5;10;0;\n" +
		"s;2026-11-22\t07:04:37.5\t1795331077.5;20;1;\n" +
		"s;2026-11-22\t07:04:38" // being written
	var seen []int64
	eachSippStats([]byte(csv), func(s sippStats) bool { seen = append(seen, s.Outgoing); return true })
	if len(seen) != 2 || seen[1] != 20 {
		t.Fatalf("lines %v", seen)
	}
	if st, _ := parseSippStats([]byte(csv)); st.Outgoing != 20 || st.RecvTimeout != 1 {
		t.Fatalf("%+v", st)
	}

	in := newInboundEnv(Config{Step: time.Second}, &procs{}, "sipp", "test/sipp", 5060, "42")
	y := in.yaml(Config{})
	if in.number != "742" || strings.Count(y, "max_calls: 1000") != defaultAgents || !strings.Contains(y, "queue_timeout: 60") || !strings.Contains(y, "route: {type: route_group, target: load-group}") {
		t.Fatalf("number %s, configuration:\n%s", in.number, y)
	}
	in.route = "number"
	if y := in.yaml(Config{}); strings.Contains(y, "agents:") || !strings.Contains(y, "route_number") {
		t.Fatalf("route number:\n%s", y)
	}
}
