package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
	"github.com/switchboard/switchboard/engine/webhook"
)

// fakeBackend decides an attempt by its number: "busy" is sent and
// answered 486, "unsent" fails before anything is sent (no route), any
// other number is sent, rings and answers.
type fakeBackend struct{}

func (fakeBackend) Ready() error { return nil }

func (fakeBackend) Bridge(a, b engine.Session) (engine.Bridge, error) { return nopBridge{}, nil }

func (fakeBackend) Dial(ctx context.Context, req engine.DialRequest, progress func(engine.Progress)) (engine.Session, error) {
	if req.Number == "unsent" {
		return nil, &engine.DialError{Disposition: engine.DispFailed, Reason: "no route"}
	}
	progress(engine.ProgressSent)
	if req.Number == "busy" {
		return nil, &engine.DialError{Disposition: engine.DispBusy, SIPCode: 486}
	}
	progress(engine.ProgressRinging)
	sctx, cancel := context.WithCancelCause(context.Background())
	return &fakeSession{ctx: sctx, cancel: cancel}, nil
}

type nopBridge struct{}

func (nopBridge) Close() error { return nil }

type fakeSession struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func (s *fakeSession) Context() context.Context { return s.ctx }
func (s *fakeSession) Hangup(_ context.Context, cause error) error {
	s.cancel(cause)
	return nil
}

// failingStore fails every write that carries a leg: SaveLeg, and
// SaveCall with legs. SaveCall without legs goes through.
type failingStore struct{ engine.Store }

func (failingStore) SaveLeg(context.Context, *engine.Leg) error { return errors.New("store down") }

func (s failingStore) SaveCall(ctx context.Context, c *engine.Call, legs []*engine.Leg, events ...engine.Event) error {
	if len(legs) > 0 {
		return errors.New("store down")
	}
	return s.Store.SaveCall(ctx, c, nil, events...)
}

func newEngine(t *testing.T, wrap func(engine.Store) engine.Store) (*engine.Engine, *Metrics, *prometheus.Registry) {
	t.Helper()
	reg := NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	var st engine.Store = memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	if wrap != nil {
		st = wrap(st)
	}
	return engine.New(st, fakeBackend{}, engine.Options{NodeID: "test", Observer: m}), m, reg
}

func numbers(values ...string) engine.SideRequest {
	return engine.SideRequest{Type: engine.TargetNumber, Values: values, Strategy: dialer.OneByOne, RingTime: 5}
}

// call places a call and waits for its end.
func call(t *testing.T, e *engine.Engine, req engine.CallRequest) *engine.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := e.Originate(ctx, "1", req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Get(ctx, "1", c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

func samples(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestCallEndedByTimeLimit(t *testing.T) {
	e, m, _ := newEngine(t, nil)
	c := call(t, e, engine.CallRequest{From: numbers("busy", "1001"), To: numbers("2001"), TimeLimit: 1, TimeLimitHangup: true})
	if c.Outcome != engine.OutcomeCompleted || c.HangupBy != engine.HangupTimeLimit {
		t.Fatalf("record: outcome %s, hung up by %s", c.Outcome, c.HangupBy)
	}
	if n := samples(t, m.apiToInvite); n != 1 {
		t.Errorf("api to invite: %d samples, want 1 (the call's first INVITE only)", n)
	}
	if n := samples(t, m.answerToInvite); n != 1 {
		t.Errorf("answer to next invite: %d samples, want 1", n)
	}
	if n := samples(t, m.timeLimitError); n != 1 {
		t.Errorf("time limit error: %d samples, want 1", n)
	}
	for _, want := range []struct {
		c    prometheus.Collector
		name string
		v    float64
	}{
		{m.calls.WithLabelValues("completed"), "completed calls", 1},
		{m.calls.WithLabelValues("from_unanswered"), "from_unanswered calls", 0},
		{m.legs.WithLabelValues("from", "busy"), "busy from legs", 1},
		{m.legs.WithLabelValues("from", "answered"), "answered from legs", 1},
		{m.legs.WithLabelValues("to", "answered"), "answered to legs", 1},
		{m.live, "live calls", 0},
	} {
		if got := testutil.ToFloat64(want.c); got != want.v {
			t.Errorf("%s: %v, want %v", want.name, got, want.v)
		}
	}
	if n := testutil.CollectAndCount(m.storeErrors); n != 0 {
		t.Errorf("%d store error series, want none", n)
	}
}

func TestUnansweredCalls(t *testing.T) {
	e, m, _ := newEngine(t, nil)
	call(t, e, engine.CallRequest{From: numbers("busy"), To: numbers("2001")})
	call(t, e, engine.CallRequest{From: numbers("unsent"), To: numbers("2001")})
	if n := samples(t, m.apiToInvite); n != 1 {
		t.Errorf("api to invite: %d samples, want 1 (the call that sent nothing has none)", n)
	}
	if n := samples(t, m.answerToInvite) + samples(t, m.timeLimitError); n != 0 {
		t.Errorf("%d samples of answer or time limit, want none", n)
	}
	if got := testutil.ToFloat64(m.calls.WithLabelValues("from_unanswered")); got != 2 {
		t.Errorf("from_unanswered calls: %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.legs.WithLabelValues("from", "failed")); got != 1 {
		t.Errorf("failed from legs: %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.live); got != 0 {
		t.Errorf("live calls: %v, want 0", got)
	}
}

func TestStoreErrorsCounted(t *testing.T) {
	e, m, _ := newEngine(t, func(s engine.Store) engine.Store { return failingStore{s} })
	call(t, e, engine.CallRequest{From: numbers("2001"), To: numbers("busy")})
	// The from leg is written before the call goes on to the to side,
	// alone (save_leg) or with the call's fields (save_call), and that
	// write fails. How many leg writes a call makes depends on how the
	// engine batches them, so the count is at least one.
	saveLeg := testutil.ToFloat64(m.storeErrors.WithLabelValues("save_leg"))
	saveCall := testutil.ToFloat64(m.storeErrors.WithLabelValues("save_call"))
	if saveLeg+saveCall < 1 {
		t.Errorf("save_leg errors %v, save_call errors %v: want at least one failed leg write counted", saveLeg, saveCall)
	}
}

func TestSIPCountersAndHandler(t *testing.T) {
	e, _, reg := newEngine(t, nil)
	stats := SIPStats{StrayDropped: 3, StrayACKs: 2, StrayBYEs: 1, RTPReceived: 500, RTPForwarded: 498, RTPRejected: 7, RTPInvalid: 4, RTPDropped: 2,
		InboundAccepted: 9, InboundRefusedNotTrunk: 5, InboundRefusedBadRequest: 1, InboundRefusedNoHandler: 0}
	if err := RegisterSIP(reg, func() SIPStats { return stats }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP switchboard_sip_stray_dropped_total SIP responses that matched no transaction and were dropped.
# TYPE switchboard_sip_stray_dropped_total counter
switchboard_sip_stray_dropped_total 3
# HELP switchboard_rtp_packets_forwarded_total RTP packets the relay sent to far ends (counted as each leg's media ends).
# TYPE switchboard_rtp_packets_forwarded_total counter
switchboard_rtp_packets_forwarded_total 498
# HELP switchboard_rtp_packets_rejected_total RTP packets refused for coming from another source than the far end's (counted as each leg's media ends).
# TYPE switchboard_rtp_packets_rejected_total counter
switchboard_rtp_packets_rejected_total 7
# HELP switchboard_sip_inbound_accepted_total Inbound INVITEs from trunks offered to the engine.
# TYPE switchboard_sip_inbound_accepted_total counter
switchboard_sip_inbound_accepted_total 9
# HELP switchboard_sip_inbound_refused_total Inbound INVITEs refused before they were offered to the engine, by reason.
# TYPE switchboard_sip_inbound_refused_total counter
switchboard_sip_inbound_refused_total{reason="bad_request"} 1
switchboard_sip_inbound_refused_total{reason="no_handler"} 0
switchboard_sip_inbound_refused_total{reason="not_trunk"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"switchboard_sip_stray_dropped_total", "switchboard_rtp_packets_forwarded_total", "switchboard_rtp_packets_rejected_total",
		"switchboard_sip_inbound_accepted_total", "switchboard_sip_inbound_refused_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	call(t, e, engine.CallRequest{From: numbers("busy"), To: numbers("2001")})
	srv := httptest.NewServer(Handler(reg, nil))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, line := range []string{
		`switchboard_calls_total{outcome="from_unanswered"} 1`,
		`switchboard_api_to_invite_seconds_count 1`,
		`switchboard_live_calls 0`,
		`switchboard_rtp_packets_invalid_total 4`,
		`switchboard_sip_inbound_refused_total{reason="not_trunk"} 5`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(string(body), line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// TestRuntimeMetrics checks that the registry exposes the live heap after
// garbage collection, the collections completed and the goroutines, read
// from the runtime at each scrape.
func TestRuntimeMetrics(t *testing.T) {
	reg := NewRegistry()
	runtime.GC()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			got[mf.GetName()] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			got[mf.GetName()] = m.GetCounter().GetValue()
		}
	}
	for _, name := range []string{"go_gc_heap_live_bytes", "go_gc_cycles_total_gc_cycles_total", "go_goroutines"} {
		if v, ok := got[name]; !ok || v <= 0 {
			t.Errorf("%s: %v (exposed: %v), want a positive value after a collection", name, v, ok)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestWebhookCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	w, err := NewWebhooks(reg)
	if err != nil {
		t.Fatal(err)
	}
	w.Delivered(webhook.KindEndpoint)
	w.Delivered(webhook.KindEndpoint)
	w.AttemptFailed(webhook.KindCallback)
	w.DeadLettered(webhook.KindCallback)
	for _, c := range []struct {
		v    prometheus.Collector
		kind webhook.Kind
		want float64
	}{
		{w.delivered.WithLabelValues("endpoint"), webhook.KindEndpoint, 2},
		{w.delivered.WithLabelValues("status_callback"), webhook.KindCallback, 0},
		{w.failed.WithLabelValues("status_callback"), webhook.KindCallback, 1},
		{w.dead.WithLabelValues("status_callback"), webhook.KindCallback, 1},
		{w.dead.WithLabelValues("endpoint"), webhook.KindEndpoint, 0},
	} {
		if got := testutil.ToFloat64(c.v); got != c.want {
			t.Errorf("%s: %v, want %v", c.kind, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg); n != 6 {
		t.Errorf("%d series, want 6 (three counters, two kinds each)", n)
	}
}
