package e2e

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/test/sipptest"
)

// metrics reads the node's /metrics as series → value (text format).
func (n *node) metrics() map[string]float64 {
	n.t.Helper()
	resp, err := http.Get(n.base + "/metrics")
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		n.t.Fatalf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		n.t.Fatal(err)
	}
	return out
}

func TestMetricsAfterOneCall(t *testing.T) {
	talker := sipptest.Start(t, sipptest.Options{Scenario: "uas_answer_play.xml"})
	echo := answerUAS(t)
	n := startNode(t, "", trunk{"6", talker}, trunk{"1", echo})
	id := n.clickToCall(params("from", "6000001", "to", "1000001", "timeLimit", "1"))
	if c := n.waitState(id, "ended"); c.HangupBy != "time_limit" {
		t.Fatalf("record %+v", c)
	}

	m := n.metrics()
	for series, want := range map[string]float64{
		`switchboard_calls_total{outcome="completed"}`:               1,
		`switchboard_legs_total{disposition="answered",side="from"}`: 1,
		`switchboard_legs_total{disposition="answered",side="to"}`:   1,
		`switchboard_api_to_invite_seconds_count`:                    1,
		`switchboard_answer_to_next_invite_seconds_count`:            1,
		`switchboard_time_limit_error_seconds_count`:                 1,
		`switchboard_live_calls`:                                     0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	// The legs' media ended with the call: the relay's counts are in.
	if m["switchboard_rtp_packets_forwarded_total"] == 0 || m["switchboard_rtp_packets_received_total"] == 0 {
		t.Errorf("RTP counters: forwarded %v, received %v", m["switchboard_rtp_packets_forwarded_total"], m["switchboard_rtp_packets_received_total"])
	}
	if _, ok := m["switchboard_sip_stray_dropped_total"]; !ok {
		t.Error("no switchboard_sip_stray_dropped_total")
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}
