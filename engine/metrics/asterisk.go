package metrics

import "github.com/prometheus/client_golang/prometheus"

// AsteriskStats are the Asterisk (ARI) backend's counters (cmd copies them
// from asterisk.Backend.Stats), totals since the backend started, and
// whether its event connection is up.
type AsteriskStats struct {
	// Events the ARI WebSocket delivered; of them, unrouted (about nothing
	// the backend holds) and undecodable.
	Events, EventsUnrouted, EventsUndecodable uint64
	// Reconnects of the event WebSocket; reconciliations completed after
	// them; sessions, dials and inbound calls those ended because their
	// channel was gone.
	Reconnects, Reconciles, ReconciledEnds uint64
	// Inbound calls offered to the engine; refused before, because no
	// handler was set.
	InboundOffered, InboundRefusedNoHandler uint64
	// Connected: the event WebSocket is up (the backend's Ready is nil).
	Connected bool
}

// RegisterAsterisk registers an Asterisk backend's counters with reg;
// read is called once per scrape and must be safe for concurrent use.
func RegisterAsterisk(reg prometheus.Registerer, read func() AsteriskStats) error {
	return reg.Register(&asteriskCollector{read: read})
}

type asteriskSeries struct {
	desc      *prometheus.Desc
	valueType prometheus.ValueType
	value     func(AsteriskStats) float64
}

func ariCounter(name, help string, value func(AsteriskStats) uint64) asteriskSeries {
	return asteriskSeries{desc: prometheus.NewDesc(name, help, nil, nil), valueType: prometheus.CounterValue,
		value: func(s AsteriskStats) float64 { return float64(value(s)) }}
}

var asteriskSeriesList = []asteriskSeries{
	ariCounter("switchboard_ari_events_total", "Events the ARI WebSocket delivered.",
		func(s AsteriskStats) uint64 { return s.Events }),
	ariCounter("switchboard_ari_events_unrouted_total", "ARI events about nothing the backend holds (no channel, bridge or playback of its own).",
		func(s AsteriskStats) uint64 { return s.EventsUnrouted }),
	ariCounter("switchboard_ari_events_undecodable_total", "ARI events that did not decode.",
		func(s AsteriskStats) uint64 { return s.EventsUndecodable }),
	ariCounter("switchboard_ari_reconnects_total", "Reconnections of the ARI event WebSocket after it dropped.",
		func(s AsteriskStats) uint64 { return s.Reconnects }),
	ariCounter("switchboard_ari_reconciles_total", "Reconciliations with Asterisk's channels, bridges and playbacks completed after a reconnection.",
		func(s AsteriskStats) uint64 { return s.Reconciles }),
	ariCounter("switchboard_ari_reconciled_ends_total", "Legs and inbound calls ended by a reconciliation because their channel was gone while the event connection was down.",
		func(s AsteriskStats) uint64 { return s.ReconciledEnds }),
	ariCounter("switchboard_ari_inbound_offered_total", "Inbound calls (channels the dialplan sent to the Stasis application) offered to the engine.",
		func(s AsteriskStats) uint64 { return s.InboundOffered }),
	{desc: prometheus.NewDesc("switchboard_ari_inbound_refused_total",
		"Inbound calls hung up before they were offered to the engine, by reason.",
		nil, prometheus.Labels{"reason": "no_handler"}), valueType: prometheus.CounterValue,
		value: func(s AsteriskStats) float64 { return float64(s.InboundRefusedNoHandler) }},
	{desc: prometheus.NewDesc("switchboard_ari_connected",
		"1 while the ARI event WebSocket is connected, 0 while it is down (no calls can be placed).", nil, nil),
		valueType: prometheus.GaugeValue,
		value: func(s AsteriskStats) float64 {
			if s.Connected {
				return 1
			}
			return 0
		}},
}

// asteriskCollector reads the backend's own counters at each scrape.
type asteriskCollector struct {
	read func() AsteriskStats
}

func (c *asteriskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range asteriskSeriesList {
		ch <- s.desc
	}
}

func (c *asteriskCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.read()
	for _, s := range asteriskSeriesList {
		ch <- prometheus.MustNewConstMetric(s.desc, s.valueType, s.value(st))
	}
}
