package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Inbound mode: instead of the driver placing click-to-calls, a sipp UAC
// per step dials an app of the engine (a virtual number) at the step's
// rate, from 127.0.0.1, the host of every trunk, so the engine takes the
// calls as a trunk's. The app's route rings the to far end: by default a
// round-robin group of agents whose phones are 2… numbers, each agent
// allowed far more calls at once than any step carries (so agent capacity
// never limits the rate, and every call still takes the group's path
// through the store: members read, one agent reserved atomically, the
// rotation pointer moved, the reservation released); or, with route
// number, one 2… number (no agent machinery). The caller answers nothing:
// Switchboard answers it, plays ringback while the route rings, bridges
// it with the agent, and the caller hangs up after -hold.

const (
	inboundScenario = "uac_load_inbound.xml"
	// inboundAgentCalls is every load agent's max_calls: far above the
	// peak of live calls a step reaches (about rate × (hold + 1 s)).
	inboundAgentCalls = 1000
	defaultAgents     = 10
	inboundApp        = "load-inbound"
	inboundGroup      = "load-group"
	// inboundNumber is the route_number target (any 2… number answers).
	inboundNumber = "2999999999"
	// callerRecvTimeout bounds every wait of a caller for an answer: a
	// call the engine never answers (it gives up itself at 60 s) fails
	// before the step's drain bound.
	callerRecvTimeout = 40 * time.Second
	// inboundQueueTimeout is the group's queue_timeout in seconds, as a
	// call centre sets it. (The engine does not apply it to inbound
	// calls yet: their route asks for 0, "do not wait", and a group's
	// own value counts only when the request's is negative; see
	// README.md, "Inbound".)
	inboundQueueTimeout = 60
	// callerMaxOpen bounds the calls a caller keeps open at once (-l).
	callerMaxOpen = 10000
)

// inboundEnv is what the inbound steps share: the app the callers dial
// and how to start them.
type inboundEnv struct {
	ps       *procs
	sippBin  string
	scenario string // path of uac_load_inbound.xml
	sipPort  int    // the engine's
	tenant   string
	number   string // the app's virtual number
	agents   int
	route    string // "group" or "number"
	lifetime time.Duration
}

func newInboundEnv(cfg Config, ps *procs, sippBin, scenarioDir string, sipPort int, tenant string) *inboundEnv {
	in := &inboundEnv{
		ps: ps, sippBin: sippBin, scenario: filepath.Join(scenarioDir, inboundScenario), sipPort: sipPort, tenant: tenant,
		// The tenant is of this run only, and so is the number: apps'
		// numbers are unique over every tenant of a shared Redis.
		number: "7" + tenant, agents: cfg.Agents, route: cfg.InboundRoute,
		lifetime: cfg.Step + cfg.Hold + cfg.Ring + 2*time.Minute,
	}
	if in.agents == 0 {
		in.agents = defaultAgents
	}
	if in.route == "" {
		in.route = "group"
	}
	return in
}

// yaml is the engine configuration of the inbound mode: the agents and
// their group (route group only) and the app.
func (in *inboundEnv) yaml(cfg Config) string {
	var b strings.Builder
	if in.route == "group" {
		b.WriteString("agents:\n")
		for i := 1; i <= in.agents; i++ {
			fmt.Fprintf(&b, "  - {user_id: %q, id: %s, name: Load agent %d, numbers: [\"29%08d\"], web_login: true, call_login: true, max_calls: %d, wrap_up_seconds: 0}\n",
				in.tenant, agentID(i), i, i, inboundAgentCalls)
		}
		fmt.Fprintf(&b, "groups:\n  - user_id: %q\n    id: %s\n    name: Load group\n    distribution: round_robin\n    ring_time: 20\n    queue_timeout: %d\n    members:\n", in.tenant, inboundGroup, inboundQueueTimeout)
		for i := 1; i <= in.agents; i++ {
			fmt.Fprintf(&b, "      - {agent_id: %s}\n", agentID(i))
		}
	}
	route := fmt.Sprintf("{type: route_group, target: %s}", inboundGroup)
	if in.route == "number" {
		route = fmt.Sprintf("{type: route_number, target: %q}", inboundNumber)
	}
	fmt.Fprintf(&b, "apps:\n  - {user_id: %q, id: %s, name: Load inbound, number: %q, route: %s}\n", in.tenant, inboundApp, in.number, route)
	return b.String()
}

func agentID(i int) string { return fmt.Sprintf("load-agent-%d", i) }

// describe is the report's line about the app.
func (in *inboundEnv) describe(cfg Config) string {
	s := fmt.Sprintf("sipp callers dial app %s; route_group: round_robin over %d agents (max_calls %d each, no wrap-up), phones at the to far end",
		in.number, in.agents, inboundAgentCalls)
	if in.route == "number" {
		s = fmt.Sprintf("sipp callers dial app %s; route_number %s (the to far end)", in.number, inboundNumber)
	}
	return s + fmt.Sprintf("; the caller hangs up after %s", cfg.Hold)
}

// callerRun is one step's caller: a sipp UAC placing the step's calls.
type callerRun struct {
	*proc
	n               int // calls to place (-m)
	port, mediaPort int
	statFile        string
	errFile         string
	started         time.Time
	// The drops of its SIP and media sockets, read while it runs (the
	// sockets go with it). Nothing reads its media socket.
	sipDrops, mediaDrops atomic.Uint64
}

// startCaller runs sipp as the step's UAC: n calls at rate, each held
// for the hold, statistics every second, every response time traced.
func (in *inboundEnv) startCaller(cfg Config, rate float64, n, index int) (*callerRun, error) {
	if _, err := os.Stat(in.scenario); err != nil {
		return nil, fmt.Errorf("sipp scenario: %w", err)
	}
	var lastErr error
	for attempt := range 5 {
		sipPort, err := freeUDPPorts(1)
		if err != nil {
			return nil, err
		}
		mediaPort, err := freeUDPPorts(2)
		if err != nil {
			return nil, err
		}
		ctlPort, err := freeUDPPorts(1)
		if err != nil {
			return nil, err
		}
		label := fmt.Sprintf("sipp-caller-%d-%d", index+1, attempt)
		cr := &callerRun{
			n: n, port: sipPort, mediaPort: mediaPort,
			statFile: filepath.Join(in.ps.dir, label+"-stat.csv"),
			errFile:  filepath.Join(in.ps.dir, label+"-errors.log"),
		}
		args := []string{
			fmt.Sprintf("127.0.0.1:%d", in.sipPort),
			"-sf", in.scenario, "-s", in.number,
			"-i", "127.0.0.1", "-p", strconv.Itoa(sipPort),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort),
			"-ci", "127.0.0.1", "-cp", strconv.Itoa(ctlPort),
			"-bind_local", "-t", "u1",
			// Open loop: n calls at the rate, never held back by the
			// calls still open (-l: far more than a step carries at
			// once; above 10000 sipp wants more open files than its
			// limit allows), whatever the engine does.
			"-r", strconv.FormatFloat(rate, 'f', -1, 64), "-rp", "1000", "-m", strconv.Itoa(n), "-l", strconv.Itoa(min(n, callerMaxOpen)),
			"-d", strconv.FormatInt(cfg.Hold.Milliseconds(), 10),
			"-recv_timeout", strconv.FormatInt(callerRecvTimeout.Milliseconds(), 10),
			"-buff_size", "4194304",
			"-trace_stat", "-stf", cr.statFile, "-fd", "1",
			"-trace_err", "-error_file", cr.errFile,
			"-trace_counts", "-trace_rtt", "-rtt_freq", "1",
			"-timeout", fmt.Sprintf("%ds", int(in.lifetime.Seconds())+1),
			"-nostdin",
		}
		if cfg.Media {
			args = append(args, "-set", "media", "1")
		}
		p, err := in.ps.start(label, in.sippBin, args...)
		if err != nil {
			return nil, err
		}
		cr.proc, cr.started = p, time.Now()
		if err := waitUDPBound(p, sipPort); err != nil {
			p.stop(syscall.SIGKILL, 5*time.Second)
			lastErr = err
			continue
		}
		go cr.watchDrops()
		return cr, nil
	}
	return nil, fmt.Errorf("sipp caller did not start: %w", lastErr)
}

// watchDrops keeps the drop counters of the caller's sockets until it
// exits.
func (cr *callerRun) watchDrops() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		cr.sipDrops.Store(max(cr.sipDrops.Load(), socketDrops(cr.port)))
		cr.mediaDrops.Store(max(cr.mediaDrops.Load(), socketDrops(cr.mediaPort)))
		select {
		case <-cr.exited:
			return
		case <-t.C:
		}
	}
}

// callerResult is what a caller measured once it exited (or was stopped).
type callerResult struct {
	stats sippStats
	// open is the calls it still held when it had to be stopped.
	open int64
	// invite are its INVITE→200 times (sipp's "invite" response time,
	// whole milliseconds), sorted.
	invite []time.Duration
	// late is how far past the step's end it placed its last call (0
	// when it kept to its rate).
	late time.Duration
	// errors is the start of its error file, when it has one.
	errors string
}

// finish waits up to bound for the caller to have ended all its calls
// and exited, stops it if it did not, and reads what it measured.
func (cr *callerRun) finish(ctx context.Context, step, bound time.Duration) callerResult {
	var res callerResult
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-cr.exited:
	case <-t.C:
	case <-ctx.Done():
	}
	if cr.alive() {
		// What it still holds is a call that never ended.
		if st, ok := lastSippStats(cr.statFile); ok {
			res.open = st.Current
		}
		cr.stop(syscall.SIGKILL, 5*time.Second)
	}
	b, _ := os.ReadFile(cr.statFile)
	res.stats, _ = parseSippStats(b)
	// sipp dumps its counters once a second: a first line with every
	// call placed written more than a second after the step's end means
	// it fell behind its rate.
	eachSippStats(b, func(s sippStats) bool {
		if s.Outgoing < int64(cr.n) {
			return true
		}
		if d := s.At.Sub(cr.started) - step; d > 1100*time.Millisecond {
			res.late = d
		}
		return false
	})
	res.invite = sortedDurations(readRTT(filepath.Join(cr.dir(), fmt.Sprintf("%s_%d_rtt.csv", strings.TrimSuffix(inboundScenario, ".xml"), cr.pid()))))
	if e, err := os.ReadFile(cr.errFile); err == nil && len(e) > 0 {
		res.errors = strings.TrimSpace(string(e[:min(len(e), 600)]))
	}
	return res
}

func (cr *callerRun) dir() string { return filepath.Dir(cr.statFile) }

// eachSippStats calls fn with every complete line of a sipp statistics
// file, in order, until fn returns false.
func eachSippStats(b []byte, fn func(sippStats) bool) {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return
	}
	header := strings.Split(strings.TrimRight(lines[0], "\r;"), ";")
	for _, l := range lines[1 : len(lines)-1] { // the last one may be half written
		if st, ok := parseSippLine(header, l); ok && !fn(st) {
			return
		}
	}
}

// readRTT reads a sipp -trace_rtt file ("Date_ms;response_time_ms;rtd_no"
// lines) for the response time named invite.
func readRTT(path string) []time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return parseRTT(string(b))
}

func parseRTT(s string) []time.Duration {
	var out []time.Duration
	for _, l := range strings.Split(s, "\n") {
		f := strings.Split(strings.TrimSpace(l), ";")
		if len(f) < 3 || f[2] != "invite" {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		out = append(out, time.Duration(v*float64(time.Millisecond)))
	}
	return out
}

// inboundRecords lists the app's calls created in [since, until): the
// calls of one step (the engine had no live call before it began).
func (c *client) inboundRecords(ctx context.Context, since, until time.Time) ([]record, error) {
	var out []record
	cursor := ""
	for range 10000 {
		q := url.Values{}
		q.Set("direction", "inbound")
		q.Set("app", inboundApp)
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
		q.Set("until", until.UTC().Format(time.RFC3339Nano))
		q.Set("limit", "500")
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/calls?"+q.Encode(), nil)
		if err != nil {
			return out, err
		}
		req.SetBasicAuth(c.tenant, c.token)
		resp, err := c.http.Do(req)
		if err != nil {
			return out, err
		}
		var page struct {
			Calls      []record `json:"calls"`
			NextCursor string   `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return out, fmt.Errorf("GET /v1/calls: HTTP %d", resp.StatusCode)
		}
		if err != nil {
			return out, err
		}
		out = append(out, page.Calls...)
		if cursor = page.NextCursor; cursor == "" || len(page.Calls) == 0 {
			return out, nil
		}
	}
	return out, fmt.Errorf("GET /v1/calls: more than 10000 pages")
}

// judgeInbound says why an inbound record is not a call that went as
// planned ("" when it did): ended, completed, hung up by the caller, the
// caller's leg and the last agent leg answered (agents skipped before it
// are counted apart: noteSkips). A call that went wrong
// is told by its outcome and its legs, with their SIP codes and reasons.
func judgeInbound(r record) string {
	var got, told []string
	for _, l := range r.Legs {
		got = append(got, l.Side+":"+l.Disposition)
		t := l.Side + ":" + l.Disposition
		if l.SIPCode != 0 && l.Disposition != "answered" {
			t += fmt.Sprintf(" %d", l.SIPCode)
		}
		if l.Reason != "" && l.Disposition != "answered" {
			t += " (" + l.Reason[:min(len(l.Reason), 60)] + ")"
		}
		told = append(told, t)
	}
	legs := "; legs " + strings.Join(told, ", ")
	switch {
	case r.Direction != "inbound":
		return "direction " + r.Direction
	case r.State != "ended":
		return "state " + r.State + " after the step" + legs
	case r.Outcome != "completed":
		return "outcome " + r.Outcome + " (" + r.Reason + ")" + legs
	case r.HangupBy != "from":
		return "hung up by " + r.HangupBy + " (" + r.Reason + ")" + legs
	case len(got) < 2 || got[0] != "from:answered" || got[len(got)-1] != "to:answered":
		return "completed" + legs
	}
	for _, g := range got[1 : len(got)-1] {
		if g != "to:skipped" {
			return "completed" + legs
		}
	}
	return ""
}

// noteSkips counts the agents a completed inbound call skipped before
// one answered, by reason: not a failure of the call, but each one an
// agent the group did not offer it to.
func (st *Step) noteSkips(r record) {
	for _, l := range r.Legs {
		if l.Disposition == "skipped" {
			if st.Skips == nil {
				st.Skips = map[string]int{}
			}
			st.Skips[l.Reason[:min(len(l.Reason), 60)]]++
		}
	}
}

// callerFailures are the reasons sipp gives for the caller's failed
// calls, by sipp's counters.
func callerFailures(res callerResult, failures map[string]int) {
	s := res.stats
	for _, f := range []struct {
		why string
		n   int64
	}{
		{"caller: unexpected message (sipp)", s.Unexpected},
		{"caller: no answer within " + callerRecvTimeout.String() + " (sipp)", s.RecvTimeout},
		{"caller: retransmitted to the limit (sipp)", s.MaxUDPRetrans},
		{"caller: call rejected (sipp)", s.Rejected},
		{"caller: still open when stopped", res.open},
	} {
		if f.n > 0 {
			failures[f.why] += int(f.n)
		}
	}
	if other := s.Failed - s.Unexpected - s.RecvTimeout - s.MaxUDPRetrans - s.Rejected; other > 0 {
		failures["caller: other failures (sipp)"] += int(other)
	}
}

// place starts the step's caller and returns when the step's time is up
// (its calls then still run their course), with the firing window.
func (in *inboundEnv) place(ctx context.Context, cfg Config, rate float64, index int) (*callerRun, time.Duration, error) {
	n := int(rate*cfg.Step.Seconds() + 0.5)
	start := time.Now()
	cr, err := in.startCaller(cfg, rate, n, index)
	if err != nil {
		return nil, 0, err
	}
	sleep(ctx, time.Until(start.Add(cfg.Step)))
	return cr, time.Since(start), ctx.Err()
}

// callerDone takes what the step's caller measured: the calls it placed
// (Sent), those it failed (FailedDriver, with sipp's reasons) and its
// INVITE→200 times.
func (st *Step) callerDone(res callerResult) {
	st.Caller, st.CallerOpen, st.CallerLate, st.CallerErrors = res.stats, res.open, res.late, res.errors
	st.Sent = int(res.stats.Outgoing)
	st.FailedDriver = int(res.stats.Failed + res.open)
	callerFailures(res, st.Failures)
	st.InviteN = len(res.invite)
	st.InviteP50, st.InviteP95 = percentile(res.invite, 0.50), percentile(res.invite, 0.95)
	st.InviteP99, st.InviteMax = percentile(res.invite, 0.99), percentile(res.invite, 1)
}

// inboundRecords are the records of the step's calls; a call the caller
// placed that has none (refused, or never reached the engine) is an
// engine failure.
func (st *Step) inboundRecords(ctx context.Context, c *client, cr *callerRun) []record {
	recs, err := c.inboundRecords(ctx, cr.started.Add(-100*time.Millisecond), time.Now().Add(time.Second))
	if err != nil {
		st.Failures["engine: listing the calls: "+shortErr(err)]++
	}
	if missing := st.Sent - len(recs); missing > 0 {
		st.FailedEngine += missing
		st.Failures["engine: calls placed without a record"] += missing
	}
	return recs
}
