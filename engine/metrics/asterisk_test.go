package metrics

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAsteriskCounters(t *testing.T) {
	reg := NewRegistry()
	var connected atomic.Bool
	connected.Store(true)
	read := func() AsteriskStats {
		return AsteriskStats{Events: 61, EventsUnrouted: 4, EventsUndecodable: 1, Reconnects: 2, Reconciles: 2, ReconciledEnds: 3,
			InboundOffered: 7, InboundRefusedNoHandler: 1, Connected: connected.Load()}
	}
	if err := RegisterAsterisk(reg, read); err != nil {
		t.Fatal(err)
	}
	// Beside the SIP backend's: no name is shared.
	if err := RegisterSIP(reg, func() SIPStats { return SIPStats{} }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP switchboard_ari_events_total Events the ARI WebSocket delivered.
# TYPE switchboard_ari_events_total counter
switchboard_ari_events_total 61
# HELP switchboard_ari_events_unrouted_total ARI events about nothing the backend holds (no channel, bridge or playback of its own).
# TYPE switchboard_ari_events_unrouted_total counter
switchboard_ari_events_unrouted_total 4
# HELP switchboard_ari_events_undecodable_total ARI events that did not decode.
# TYPE switchboard_ari_events_undecodable_total counter
switchboard_ari_events_undecodable_total 1
# HELP switchboard_ari_reconnects_total Reconnections of the ARI event WebSocket after it dropped.
# TYPE switchboard_ari_reconnects_total counter
switchboard_ari_reconnects_total 2
# HELP switchboard_ari_reconciles_total Reconciliations with Asterisk's channels, bridges and playbacks completed after a reconnection.
# TYPE switchboard_ari_reconciles_total counter
switchboard_ari_reconciles_total 2
# HELP switchboard_ari_reconciled_ends_total Legs and inbound calls ended by a reconciliation because their channel was gone while the event connection was down.
# TYPE switchboard_ari_reconciled_ends_total counter
switchboard_ari_reconciled_ends_total 3
# HELP switchboard_ari_inbound_offered_total Inbound calls (channels the dialplan sent to the Stasis application) offered to the engine.
# TYPE switchboard_ari_inbound_offered_total counter
switchboard_ari_inbound_offered_total 7
# HELP switchboard_ari_inbound_refused_total Inbound calls hung up before they were offered to the engine, by reason.
# TYPE switchboard_ari_inbound_refused_total counter
switchboard_ari_inbound_refused_total{reason="no_handler"} 1
# HELP switchboard_ari_connected 1 while the ARI event WebSocket is connected, 0 while it is down (no calls can be placed).
# TYPE switchboard_ari_connected gauge
switchboard_ari_connected 1
`
	names := []string{"switchboard_ari_events_total", "switchboard_ari_events_unrouted_total", "switchboard_ari_events_undecodable_total",
		"switchboard_ari_reconnects_total", "switchboard_ari_reconciles_total", "switchboard_ari_reconciled_ends_total",
		"switchboard_ari_inbound_offered_total", "switchboard_ari_inbound_refused_total", "switchboard_ari_connected"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	// Read at each scrape.
	connected.Store(false)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP switchboard_ari_connected 1 while the ARI event WebSocket is connected, 0 while it is down (no calls can be placed).
# TYPE switchboard_ari_connected gauge
switchboard_ari_connected 0
`), "switchboard_ari_connected"); err != nil {
		t.Error(err)
	}
}
