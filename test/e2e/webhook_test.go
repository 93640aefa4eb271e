package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine/webhook"
)

// hookReceiver records the verified deliveries of each path.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	got    map[string][]webhook.Payload
	bad    []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p webhook.Payload
	err := webhook.Verify(h.secret, r.Header, body, 0)
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.bad = append(h.bad, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.got[r.URL.Path] = append(h.got[r.URL.Path], p)
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) events(path string) []webhook.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Payload(nil), h.got[path]...)
}

// TestWebhooksDeliverEveryEventOfACall: the tenant's webhook and the
// call's statusCallback each get every event of a click-to-call, signed
// with the tenant's secret, in order, from call.created (IN) to call.ended
// (H, with the summary).
func TestWebhooksDeliverEveryEventOfACall(t *testing.T) {
	secret := webhook.NewSecret()
	rcv := &hookReceiver{secret: secret, got: map[string][]webhook.Payload{}}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	answer := answerUAS(t)
	tenantYAML := fmt.Sprintf("    webhooks: [%q]\n    webhook_secret: %q\n", srv.URL+"/hook", secret)
	n := startNodeFull(t, "", tenantYAML, "", trunk{"1", answer})

	id := n.clickToCall(params("from", "1000001", "to", "1000002", "timeLimit", "1", "statusCallback", srv.URL+"/cb"))
	n.waitState(id, "ended")
	for _, path := range []string{"/hook", "/cb"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			evs := rcv.events(path)
			if len(evs) > 0 && evs[len(evs)-1].Type == "call.ended" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no call.ended among %d deliveries", path, len(evs))
			}
			time.Sleep(20 * time.Millisecond)
		}
		evs := rcv.events(path)
		for i, p := range evs {
			if p.Seq != i+1 || p.CallID != id || p.ID != fmt.Sprintf("%s-e%d", id, i+1) {
				t.Fatalf("%s: delivery %d is %s %s seq %d", path, i, p.ID, p.Type, p.Seq)
			}
		}
		first, last := evs[0], evs[len(evs)-1]
		if first.Type != "call.created" || first.IVR == nil || first.IVR.Event != "IN" {
			t.Fatalf("%s: first delivery %+v", path, first)
		}
		if last.IVR == nil || last.IVR.Event != "H" || last.Summary == nil || last.Summary.Outcome != "completed" || last.Summary.CallerNumber != "1000001" {
			t.Fatalf("%s: last delivery %+v %+v", path, last.IVR, last.Summary)
		}
		tas := 0
		for _, p := range evs {
			if p.IVR != nil && p.IVR.Event == "TA" {
				tas++
			}
		}
		if tas != 2 {
			t.Fatalf("%s: %d TA events for a call of two legs", path, tas)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bad) > 0 {
		t.Fatalf("deliveries that failed verification: %v", rcv.bad)
	}
}
