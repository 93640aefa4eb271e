package metrics

import "github.com/prometheus/client_golang/prometheus"

// SIPStats are the native SIP backend's counters (cmd copies them from
// sip.Backend.Stats), totals since the backend started.
type SIPStats struct {
	// Responses that matched no transaction: dropped, or answered with
	// an ACK and a BYE (stray 2xx answers to our INVITEs).
	StrayDropped, StrayACKs, StrayBYEs uint64
	// RTP packets of the legs' streams, added as each leg's media ends:
	// accepted from a far end, forwarded (sent) to a far end, rejected
	// (from a source other than the far end), invalid (not RTP), dropped
	// (accepted but not passed on, or not sendable).
	RTPReceived, RTPForwarded, RTPRejected, RTPInvalid, RTPDropped uint64
	// Inbound INVITEs: offered to the engine (accepted), or refused
	// before, by reason: not from a trunk's source (403), malformed or
	// without a usable SDP offer (400/404/488), no inbound handler (403).
	InboundAccepted, InboundRefusedNotTrunk, InboundRefusedBadRequest, InboundRefusedNoHandler uint64
}

// RegisterSIP registers a SIP backend's counters with reg; read is called
// once per scrape and must be safe for concurrent use.
func RegisterSIP(reg prometheus.Registerer, read func() SIPStats) error {
	return reg.Register(&sipCollector{read: read})
}

type sipCounter struct {
	desc  *prometheus.Desc
	value func(SIPStats) uint64
}

func counter(name, help string, value func(SIPStats) uint64) sipCounter {
	return sipCounter{desc: prometheus.NewDesc(name, help, nil, nil), value: value}
}

// refused is one reason's series of switchboard_sip_inbound_refused_total.
func refused(reason string, value func(SIPStats) uint64) sipCounter {
	return sipCounter{desc: prometheus.NewDesc("switchboard_sip_inbound_refused_total",
		"Inbound INVITEs refused before they were offered to the engine, by reason.",
		nil, prometheus.Labels{"reason": reason}), value: value}
}

var sipCounters = []sipCounter{
	counter("switchboard_sip_stray_dropped_total", "SIP responses that matched no transaction and were dropped.",
		func(s SIPStats) uint64 { return s.StrayDropped }),
	counter("switchboard_sip_stray_acks_total", "ACKs sent for stray 2xx answers to our INVITEs.",
		func(s SIPStats) uint64 { return s.StrayACKs }),
	counter("switchboard_sip_stray_byes_total", "BYEs sent to hang up stray 2xx answers to our INVITEs.",
		func(s SIPStats) uint64 { return s.StrayBYEs }),
	counter("switchboard_rtp_packets_received_total", "RTP packets accepted from far ends (counted as each leg's media ends).",
		func(s SIPStats) uint64 { return s.RTPReceived }),
	counter("switchboard_rtp_packets_forwarded_total", "RTP packets the relay sent to far ends (counted as each leg's media ends).",
		func(s SIPStats) uint64 { return s.RTPForwarded }),
	counter("switchboard_rtp_packets_rejected_total", "RTP packets refused for coming from another source than the far end's (counted as each leg's media ends).",
		func(s SIPStats) uint64 { return s.RTPRejected }),
	counter("switchboard_rtp_packets_invalid_total", "Packets on RTP ports that were not RTP (counted as each leg's media ends).",
		func(s SIPStats) uint64 { return s.RTPInvalid }),
	counter("switchboard_rtp_packets_dropped_total", "Accepted RTP packets not passed on, or not sendable (counted as each leg's media ends).",
		func(s SIPStats) uint64 { return s.RTPDropped }),
	counter("switchboard_sip_inbound_accepted_total", "Inbound INVITEs from trunks offered to the engine.",
		func(s SIPStats) uint64 { return s.InboundAccepted }),
	refused("not_trunk", func(s SIPStats) uint64 { return s.InboundRefusedNotTrunk }),
	refused("bad_request", func(s SIPStats) uint64 { return s.InboundRefusedBadRequest }),
	refused("no_handler", func(s SIPStats) uint64 { return s.InboundRefusedNoHandler }),
}

// sipCollector reads the backend's own counters at each scrape.
type sipCollector struct {
	read func() SIPStats
}

func (c *sipCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, sc := range sipCounters {
		ch <- sc.desc
	}
}

func (c *sipCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	for _, sc := range sipCounters {
		ch <- prometheus.MustNewConstMetric(sc.desc, prometheus.CounterValue, float64(sc.value(s)))
	}
}
