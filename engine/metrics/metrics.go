// Package metrics exposes Switchboard's own measurements as Prometheus
// metrics: the engine's latencies and outcomes (Metrics, an
// engine.Observer) and a backend's counters (RegisterSIP), gathered in a
// private registry (NewRegistry) and served by Handler. Only cmd imports
// it; the engine knows nothing of Prometheus.
package metrics

import (
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard/switchboard/engine"
)

// latencyBuckets span 100 µs to about 13 s, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 18)

var _ engine.Observer = (*Metrics)(nil)

// Metrics is the engine.Observer that feeds the engine's metrics. Its
// methods are safe for concurrent use and do no I/O.
type Metrics struct {
	apiToInvite    prometheus.Histogram
	answerToInvite prometheus.Histogram
	timeLimitError prometheus.Histogram
	calls          *prometheus.CounterVec
	legs           *prometheus.CounterVec
	live           prometheus.Gauge
	storeErrors    *prometheus.CounterVec
}

// New registers the engine's metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		apiToInvite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_api_to_invite_seconds",
			Help:    "Time from a call's Originate (the API request handed to the engine) to its first INVITE written.",
			Buckets: latencyBuckets,
		}),
		answerToInvite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_answer_to_next_invite_seconds",
			Help:    "Time from the from side's answer to the to side's first INVITE written.",
			Buckets: latencyBuckets,
		}),
		timeLimitError: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_time_limit_error_seconds",
			Help:    "Recorded talk time minus timeLimit, for calls ended by their time limit.",
			Buckets: latencyBuckets,
		}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_calls_total",
			Help: "Calls ended on this node, by outcome.",
		}, []string{"outcome"}),
		legs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_legs_total",
			Help: "Leg attempts of the calls ended on this node, by side and disposition.",
		}, []string{"side", "disposition"}),
		live: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_live_calls",
			Help: "Calls this node is running.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_store_errors_total",
			Help: "Failed store operations of the engine, by operation.",
		}, []string{"op"}),
	}
	for _, c := range []prometheus.Collector{m.apiToInvite, m.answerToInvite, m.timeLimitError, m.calls, m.legs, m.live, m.storeErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The usual series exist from the start, at 0, so rates over them
	// need no first event.
	for _, o := range []engine.Outcome{engine.OutcomeCompleted, engine.OutcomeFromUnanswered, engine.OutcomeToUnanswered,
		engine.OutcomeFromHungUp, engine.OutcomeCanceled, engine.OutcomeFailed} {
		m.calls.WithLabelValues(string(o))
	}
	for _, s := range []engine.SideName{engine.SideFrom, engine.SideTo} {
		for _, d := range []engine.Disposition{engine.DispAnswered, engine.DispBusy, engine.DispNoAnswer, engine.DispRejected,
			engine.DispCongestion, engine.DispFailed, engine.DispCanceled, engine.DispSkipped} {
			m.legs.WithLabelValues(string(s), string(d))
		}
	}
	return m, nil
}

// CallStarted counts a live call.
func (m *Metrics) CallStarted() { m.live.Inc() }

// CallEnded counts the call's outcome and legs and, when its time limit
// ended it, how far past the limit its recorded talk time went.
func (m *Metrics) CallEnded(c *engine.Call) {
	m.live.Dec()
	m.calls.WithLabelValues(string(c.Outcome)).Inc()
	for _, l := range c.Legs {
		m.legs.WithLabelValues(string(l.Side), string(l.Disposition)).Inc()
	}
	if c.HangupBy == engine.HangupTimeLimit && c.BridgedAt != nil && c.Request.TimeLimit > 0 {
		m.timeLimitError.Observe(c.TalkSeconds - float64(c.Request.TimeLimit))
	}
}

// FirstDialSent observes switchboard_api_to_invite_seconds.
func (m *Metrics) FirstDialSent(d time.Duration) { m.apiToInvite.Observe(d.Seconds()) }

// NextDialSent observes switchboard_answer_to_next_invite_seconds.
func (m *Metrics) NextDialSent(d time.Duration) { m.answerToInvite.Observe(d.Seconds()) }

// StoreFailed counts a failed store operation.
func (m *Metrics) StoreFailed(op string) { m.storeErrors.WithLabelValues(op).Inc() }

// runtimeMetrics are the runtime/metrics the Go collector exposes on top
// of its defaults (go_goroutines, go_memstats_*, go_gc_duration_seconds,
// …), read at every scrape:
//
//   - /gc/heap/live:bytes as go_gc_heap_live_bytes: the heap the last
//     garbage collection marked live, the memory the engine really holds
//     (go_memstats_heap_alloc_bytes also counts garbage not yet
//     collected). It changes only when a collection completes.
//   - /gc/cycles/total:gc-cycles as go_gc_cycles_total_gc_cycles_total:
//     completed collections, so a reader knows when the live heap was
//     last brought up to date.
var runtimeMetrics = regexp.MustCompile(`^/gc/(heap/live:bytes|cycles/total:gc-cycles)$`)

// NewRegistry returns a private registry with the Go runtime and process
// collectors; the metrics of this package are added to it by New and
// RegisterSIP.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: runtimeMetrics})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves reg in the Prometheus exposition formats (GET
// /metrics); errors gathering it are logged to log (nil: slog.Default()).
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
		Registry: reg,
	})
}
