package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

type sseEvent struct {
	name string
	data string
}

// readSSE reads events until the stream ends; comment lines are skipped.
func readSSE(t *testing.T, resp *http.Response) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	return out
}

func openEvents(t *testing.T, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("101", "tok101")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp
}

func TestSSEDeliversEventsInOrder(t *testing.T) {
	eng := newFakeEngine()
	eng.put(&engine.Call{ID: "c1", Tenant: "101", State: engine.StateDialingFrom})
	ch := make(chan engine.Event, 16)
	subscribed := make(chan struct{})
	var unsubscribed atomic.Bool
	eng.SubscribeFn = func(id string) (<-chan engine.Event, func()) {
		if id != "c1" {
			t.Errorf("subscribed to %q", id)
		}
		close(subscribed)
		return ch, func() { unsubscribed.Store(true) }
	}
	srv := newTestServer(t, eng)
	resp := openEvents(t, srv.URL+"/v1/calls/c1/events")
	<-subscribed

	types := []engine.EventType{engine.EventLegDialing, engine.EventLegRinging, engine.EventLegAnswered,
		engine.EventLegDialing, engine.EventLegAnswered, engine.EventBridged, engine.EventCallEnded}
	for i, typ := range types {
		ev := engine.Event{Type: typ, CallID: "c1", Tenant: "101", Time: time.Unix(int64(i), 0).UTC()}
		if typ == engine.EventLegDialing || typ == engine.EventLegAnswered {
			ev.Leg = &engine.Leg{ID: "c1-" + string(rune('0'+i)), CallID: "c1", Seq: i}
		}
		ch <- ev
	}
	ch <- engine.Event{Type: engine.EventLegEnded, CallID: "c1", Tenant: "101"} // after the end: not sent

	events := readSSE(t, resp)
	if len(events) != len(types)+1 {
		t.Fatalf("got %d events: %v", len(events), events)
	}
	var first engine.Call
	if events[0].name != "call" || json.Unmarshal([]byte(events[0].data), &first) != nil || first.ID != "c1" {
		t.Fatalf("first event %v", events[0])
	}
	for i, typ := range types {
		got := events[i+1]
		var ev engine.Event
		if err := json.Unmarshal([]byte(got.data), &ev); err != nil {
			t.Fatal(err)
		}
		if got.name != string(typ) || ev.Type != typ || !ev.Time.Equal(time.Unix(int64(i), 0)) {
			t.Errorf("event %d = %s %s, want %s", i, got.name, got.data, typ)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !unsubscribed.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !unsubscribed.Load() {
		t.Fatal("subscription not ended")
	}
}

func TestSSEEndedCall(t *testing.T) {
	eng := newFakeEngine()
	end := time.Now().UTC()
	eng.put(&engine.Call{ID: "done", Tenant: "101", State: engine.StateEnded, Outcome: engine.OutcomeCompleted, EndedAt: &end})
	srv := newTestServer(t, eng)
	events := readSSE(t, openEvents(t, srv.URL+"/v1/calls/done/events"))
	if len(events) != 1 || events[0].name != "call" || !strings.Contains(events[0].data, `"outcome":"completed"`) {
		t.Fatalf("got %v", events)
	}
}

// A call that ends where this node sees no events (another node, or a
// lost event) still ends the stream, from the stored record.
func TestSSECallEndedElsewhere(t *testing.T) {
	eng := newFakeEngine()
	eng.put(&engine.Call{ID: "c2", Tenant: "101", State: engine.StateBridged})
	subscribed := make(chan struct{})
	eng.SubscribeFn = func(string) (<-chan engine.Event, func()) {
		close(subscribed)
		return make(chan engine.Event), func() {}
	}
	srv := newTestServer(t, eng)
	resp := openEvents(t, srv.URL+"/v1/calls/c2/events")
	<-subscribed
	end := time.Now().UTC()
	eng.put(&engine.Call{ID: "c2", Tenant: "101", State: engine.StateEnded, Outcome: engine.OutcomeCompleted, EndedAt: &end})

	events := readSSE(t, resp)
	if len(events) != 2 || events[0].name != "call" || events[1].name != string(engine.EventCallEnded) {
		t.Fatalf("got %v", events)
	}
	var ev engine.Event
	if err := json.Unmarshal([]byte(events[1].data), &ev); err != nil || ev.Call == nil || ev.Call.State != engine.StateEnded || !ev.Time.Equal(end) {
		t.Fatalf("synthesised end %s", events[1].data)
	}
}
