package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/test/aritest"
	"github.com/switchboard/switchboard/test/redistest"
)

// ariYAML is a node's configuration for the Asterisk backend on srv, on
// its own Stasis application, with a short node lease.
func ariYAML(srv *aritest.Server, app string) string {
	return fmt.Sprintf(`backend: ari
node_lease_ttl: 1s
ari:
  url: %s
  user: switchboard
  password: secret
  app: %s
  trunks:
    - {name: phones, endpoint: "SIP/phones/{number}"}
`, srv.URL(), app)
}

// Two nodes share Redis and one Asterisk. The node that placed two
// calls is killed (SIGKILL: no drain, no hang-up, no last write) while
// both are bridged; the other node adopts them within a few lease times
// and carries them on: one ends at its time limit, counted from its
// bridge, the other when its far end hangs up, each recorded as the
// surviving node's, and nothing is left up on Asterisk.
func TestAsteriskCallsSurviveTheirNode(t *testing.T) {
	url := redistest.URL(t)
	srv := aritest.Start(t, aritest.Options{Far: func(endpoint string) aritest.Far {
		return aritest.Far{Ring: 20 * time.Millisecond, Answer: true}
	}})
	a := startNodeWith(t, url, ariYAML(srv, "sb-node-a"))
	b := startNodeWith(t, url, ariYAML(srv, "sb-node-b"))

	limited := a.clickToCall(params("from", "9100001", "to", "9100002", "timeLimit", "6"))
	open := a.clickToCall(params("from", "9100011", "to", "9100012"))
	bridged := a.waitState(limited, "bridged")
	a.waitState(open, "bridged")

	a.cmd.Process.Kill()
	<-a.exited
	adopted := func(id string) call {
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, code := b.get(id)
			if code == 200 && c.State == "bridged" && c.Node != bridged.Node {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("call %s not adopted: HTTP %d %+v", id, code, c)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	adopted(limited)
	survivor := adopted(open).Node

	// The far end of the open call's to party hangs up.
	var toChannel string
	for _, ch := range srv.Channels() {
		if strings.Contains(ch.Endpoint, "9100012") && !ch.Ended {
			toChannel = ch.ID
		}
	}
	if toChannel == "" {
		t.Fatalf("no live channel to 9100012: %+v", srv.Channels())
	}
	if err := srv.HangupFar(toChannel, 16); err != nil {
		t.Fatal(err)
	}
	c := b.waitState(open, "ended")
	if c.Node != survivor || c.Outcome != "completed" || c.HangupBy != "to" {
		t.Fatalf("open call: node %s, %s by %s: %q", c.Node, c.Outcome, c.HangupBy, c.Reason)
	}
	c = b.waitState(limited, "ended")
	if c.Node != survivor || c.Outcome != "completed" || c.HangupBy != "time_limit" || !strings.Contains(c.Reason, "time limit of 6 s") {
		t.Fatalf("limited call: node %s, %s by %s: %q", c.Node, c.Outcome, c.HangupBy, c.Reason)
	}
	for _, l := range c.Legs {
		if l.State != "ended" || l.Disposition != "answered" {
			t.Fatalf("leg %s/%s: %s %s", l.Side, l.Number, l.State, l.Disposition)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var up []string
		for _, ch := range srv.Channels() {
			if !ch.Ended {
				up = append(up, ch.ID)
			}
		}
		for _, br := range srv.Bridges() {
			if !br.Destroyed {
				up = append(up, "bridge "+br.ID)
			}
		}
		if len(up) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left up on Asterisk: %v", up)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
