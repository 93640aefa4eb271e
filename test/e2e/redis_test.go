package e2e

import (
	"net/http"
	"syscall"
	"testing"

	"github.com/switchboard/switchboard/test/redistest"
	"github.com/switchboard/switchboard/test/sipptest"
)

// With the Redis store, a finished call's record outlives the process, and
// a call live when the node stops is ended with a record that says so.
func TestRecordsSurviveARestartWithRedis(t *testing.T) {
	url := redistest.URL(t)
	answer := answerUAS(t)
	n := startNode(t, url, trunk{"1", answer})

	done := n.clickToCall(params("from", "1000001", "to", "1000002", "timeLimit", "1"))
	n.waitState(done, "ended")
	live := n.clickToCall(params("from", "1000003", "to", "1000004"))
	n.waitState(live, "bridged")
	n.stop(syscall.SIGTERM) // drains for drain_timeout (2 s), then ends the call

	m := startNode(t, url, trunk{"1", answer})
	c, code := m.get(done)
	if code != http.StatusOK || c.Outcome != "completed" || len(c.Legs) != 2 {
		t.Fatalf("finished call after restart: HTTP %d %+v", code, c)
	}
	c, code = m.get(live)
	if code != http.StatusOK || c.State != "ended" || c.HangupBy != "system" || c.BridgedAt == nil {
		t.Fatalf("call live at shutdown: HTTP %d %+v", code, c)
	}
	for _, l := range c.Legs {
		if l.State != "ended" {
			t.Fatalf("leg left open: %+v", l)
		}
	}
	answer.WaitCounts(t, "BYEs for both calls", func(s sipptest.Counts) bool { return s.Requests["BYE"] == 4 })
}
