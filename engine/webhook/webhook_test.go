package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/api"
	"github.com/switchboard/switchboard/engine/webhook"
)

// TestReceiverDownThenBack: with the tenant's receiver down, its
// deliveries are retried while the status callbacks go on; once it is
// back, every event reaches it, in order per call, signed.
func TestReceiverDownThenBack(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		st := open()
		rcv, cb := newReceiver(t), newReceiver(t)
		rcv.down()
		w := newCalls(t, st, "n1")
		for i := range 6 {
			callback := ""
			if i%2 == 0 {
				callback = cb.URL
			}
			w.write(callback)
		}
		d := start(t, st, "n1", []string{rcv.URL}, nil)
		waitFor(t, "failed attempts while the receiver is down", func() bool { return d.obs.failed.Load() >= 10 })
		waitFor(t, "the status callbacks", func() bool { return cb.distinct() == 3*eventsPerCall })
		w.write(cb.URL) // one more while down
		rcv.up()
		waitFor(t, "every event at the receiver", func() bool { return rcv.distinct() == 7*eventsPerCall })
		waitFor(t, "every event at the status callback", func() bool { return cb.distinct() == 4*eventsPerCall })
		if n := rcv.check(t) + cb.check(t); n != 0 {
			t.Errorf("%d events delivered twice", n)
		}
		waitFor(t, "the dispatcher to count its deliveries", func() bool { return d.obs.delivered.Load() == 11*eventsPerCall })
		d.stop()
		if left := unread(t, st, "n1"); len(left) != 0 {
			t.Fatalf("%d entries left unacknowledged", len(left))
		}
		if d.obs.dead.Load() != 0 {
			t.Fatalf("%d dead letters", d.obs.dead.Load())
		}
	})
}

// TestRestartLosesNothing: a dispatcher stopped in the middle of its
// work and started again delivers every event, in order per call.
func TestRestartLosesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		st := open()
		rcv := newReceiver(t)
		// The first 10 requests are accepted, the rest refused, so the
		// dispatcher is stopped with work left.
		rcv.setAnswer(func(n int, _ *http.Request) int {
			if n <= 10 {
				return http.StatusOK
			}
			return http.StatusServiceUnavailable
		})
		w := newCalls(t, st, "n1")
		for range 5 {
			w.write("")
		}
		d := start(t, st, "n1", []string{rcv.URL}, nil)
		waitFor(t, "some deliveries and some failures", func() bool { return rcv.distinct() == 10 && d.obs.failed.Load() > 0 })
		d.stop()
		w.write("") // while no dispatcher runs
		rcv.setAnswer(nil)
		d2 := start(t, st, "n1", []string{rcv.URL}, nil)
		waitFor(t, "every event", func() bool { return rcv.distinct() == 6*eventsPerCall })
		rcv.check(t)
		waitFor(t, "the dispatchers to count their deliveries", func() bool {
			return d.obs.delivered.Load()+d2.obs.delivered.Load() >= 6*eventsPerCall
		})
		d2.stop()
		if left := unread(t, st, "n1"); len(left) != 0 {
			t.Fatalf("%d entries left unacknowledged", len(left))
		}
	})
}

// TestGone: a receiver answering 410 gets each event once, and each is
// dead-lettered at once saying why; the other endpoint gets them all.
func TestGone(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		st := open()
		gone, ok := newReceiver(t), newReceiver(t)
		gone.setAnswer(func(int, *http.Request) int { return http.StatusGone })
		w := newCalls(t, st, "n1")
		w.write("")
		d := start(t, st, "n1", []string{gone.URL, ok.URL}, nil)
		waitFor(t, "every event at the other endpoint", func() bool { return ok.distinct() == eventsPerCall })
		waitFor(t, "every event dead-lettered", func() bool { return len(allDeadLetters(t, st)) == eventsPerCall })
		ok.check(t)
		if n := d.obs.failed.Load(); n != eventsPerCall {
			t.Fatalf("%d failed attempts, want one per event", n)
		}
		for _, dl := range allDeadLetters(t, st) {
			if dl.Target != gone.URL || dl.Attempts != 1 || !strings.Contains(dl.LastError, "410") || dl.Tenant != tenant || dl.Event.ID == "" {
				t.Fatalf("dead letter %+v", dl)
			}
		}
	})
}

// TestRedirects: a 302 to another host is not followed (a failed
// attempt); a 307 to the same host is.
func TestRedirects(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		st := open()
		elsewhere, moved, same := newReceiver(t), newReceiver(t), newReceiver(t)
		moved.redirectTo(elsewhere.URL, http.StatusFound)
		same.redirectTo(strings.Replace(same.URL, "/hook", "/final", 1), http.StatusTemporaryRedirect)
		w := newCalls(t, st, "n1")
		w.write("")
		d := start(t, st, "n1", []string{moved.URL, same.URL}, func(o *webhook.Options) { o.RetryWindow = 200 * time.Millisecond })
		waitFor(t, "every event at the same host", func() bool { return same.distinct() == eventsPerCall })
		waitFor(t, "the redirected ones dead-lettered", func() bool { return len(allDeadLetters(t, st)) == eventsPerCall })
		same.check(t)
		for _, g := range same.received() {
			if g.Path != "/final" {
				t.Fatalf("delivered to %s", g.Path)
			}
		}
		if n := len(elsewhere.received()); n != 0 {
			t.Fatalf("a redirect to another host was followed %d times", n)
		}
		for _, dl := range allDeadLetters(t, st) {
			if !strings.Contains(dl.LastError, "302") {
				t.Fatalf("dead letter says %q", dl.LastError)
			}
		}
		if d.obs.dead.Load() != eventsPerCall {
			t.Fatalf("%d dead letters counted", d.obs.dead.Load())
		}
	})
}

// TestDeadLettersAndRedrive: a receiver that always fails gets its
// events dead-lettered once the retry window has passed, while the
// call's later events go on; the API lists them, and re-driving them
// delivers each to that receiver alone.
func TestDeadLettersAndRedrive(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		st := open()
		failing, fine := newReceiver(t), newReceiver(t)
		failing.setAnswer(func(int, *http.Request) int { return http.StatusInternalServerError })
		w := newCalls(t, st, "n1")
		for range 3 {
			w.write("")
		}
		d := start(t, st, "n1", []string{failing.URL, fine.URL}, func(o *webhook.Options) { o.RetryWindow = 300 * time.Millisecond })
		waitFor(t, "every event dead-lettered", func() bool { return len(allDeadLetters(t, st)) == 3*eventsPerCall })
		waitFor(t, "every event at the other endpoint", func() bool { return fine.distinct() == 3*eventsPerCall })
		if n := len(failing.received()); n != 0 {
			t.Fatalf("%d accepted by the failing receiver", n)
		}

		srv := httptest.NewServer(api.NewServer(api.Config{Tenants: map[string]string{tenant: "tok"}, DeadLetters: d,
			Logger: testLogger()}).Handler())
		t.Cleanup(srv.Close)
		listed := listByAPI(t, srv.URL, 4)
		if len(listed) != 3*eventsPerCall {
			t.Fatalf("the API lists %d dead letters", len(listed))
		}
		for _, dl := range listed {
			if dl.Target != failing.URL || dl.Attempts < 1 || !strings.Contains(dl.LastError, "500") || dl.Event.ID == "" {
				t.Fatalf("dead letter %+v", dl)
			}
		}

		failing.setAnswer(nil)
		for _, dl := range listed {
			resp := apiDo(t, "POST", srv.URL+"/v1/webhooks/dead-letters/"+url.PathEscape(dl.ID)+"/redrive")
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("redrive %s: %d", dl.ID, resp.StatusCode)
			}
		}
		waitFor(t, "every re-driven event", func() bool { return failing.distinct() == 3*eventsPerCall })
		if n := len(allDeadLetters(t, st)); n != 0 {
			t.Fatalf("%d dead letters left", n)
		}
		if n := failing.check(t) + fine.check(t); n != 0 {
			t.Fatalf("%d events delivered twice (a re-drive goes to its target only)", n)
		}
		waitFor(t, "the dispatcher to count its deliveries", func() bool { return d.obs.delivered.Load() == 6*eventsPerCall })
		d.stop()
		if left := unread(t, st, "n1"); len(left) != 0 {
			t.Fatalf("%d entries left unacknowledged", len(left))
		}
	})
}

func apiDo(t *testing.T, method, u string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.SetBasicAuth(tenant, "tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// listByAPI reads every dead letter through GET /v1/webhooks/dead-letters.
func listByAPI(t *testing.T, base string, limit int) []*engine.DeadLetter {
	t.Helper()
	var all []*engine.DeadLetter
	cursor := ""
	for range 100 {
		resp := apiDo(t, "GET", fmt.Sprintf("%s/v1/webhooks/dead-letters?limit=%d&cursor=%s", base, limit, url.QueryEscape(cursor)))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list: %d", resp.StatusCode)
		}
		var page struct {
			DeadLetters []*engine.DeadLetter `json:"dead_letters"`
			NextCursor  string               `json:"next_cursor"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			t.Fatal(err)
		}
		if len(page.DeadLetters) > limit {
			t.Fatalf("a page of %d, limit %d", len(page.DeadLetters), limit)
		}
		all = append(all, page.DeadLetters...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
	t.Fatal("paging does not end")
	return nil
}

// TestTwoDispatchers: two nodes on one store each deliver their own
// stream, every event once; when one stops, the other takes its stream
// over, and a stream whose reader died is taken over once its lease
// expires.
func TestTwoDispatchers(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		stA, stB := open(), open()
		rcv := newReceiver(t)
		wa, wb, wc := newCalls(t, stA, "na"), newCalls(t, stB, "nb"), newCalls(t, stB, "nc")
		for range 4 {
			wa.write("")
			wb.write("")
		}
		a := start(t, stA, "na", []string{rcv.URL}, nil)
		b := start(t, stB, "nb", []string{rcv.URL}, nil)
		waitFor(t, "both nodes' events", func() bool { return rcv.distinct() == 8*eventsPerCall })
		if n := rcv.check(t); n != 0 {
			t.Fatalf("%d events delivered twice", n)
		}
		waitFor(t, "the dispatchers to count their deliveries", func() bool {
			return a.obs.delivered.Load()+b.obs.delivered.Load() == 8*eventsPerCall
		})

		b.stop()
		for range 3 {
			wb.write("") // node b's engine wrote them; its dispatcher is gone
		}
		waitFor(t, "node b's new events, through node a", func() bool { return rcv.distinct() == 11*eventsPerCall })

		// Node c's reader died holding its lease: it expires, then a takes over.
		if ok, err := stB.LeaseStream(context.Background(), "nc", "a-reader-that-died", 500*time.Millisecond); err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		for range 2 {
			wc.write("")
		}
		waitFor(t, "node c's events, through node a", func() bool { return rcv.distinct() == 13*eventsPerCall })
		if n := rcv.check(t); n != 0 {
			t.Fatalf("%d events delivered twice", n)
		}
		waitFor(t, "the dispatchers to count their deliveries", func() bool {
			return a.obs.delivered.Load()+b.obs.delivered.Load() == 13*eventsPerCall
		})
		a.stop()
		for _, node := range []string{"na", "nb", "nc"} {
			if left := unread(t, stA, node); len(left) != 0 {
				t.Fatalf("%s: %d entries left unacknowledged", node, len(left))
			}
		}
	})
}

// TestStatusCallbackFromTheRecord: when a call's call.created was
// acknowledged before (a previous run delivered it), the dispatcher finds
// the call's statusCallback in its record.
func TestStatusCallbackFromTheRecord(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		st := open()
		cb := newReceiver(t)
		w := newCalls(t, st, "n1")
		w.write(cb.URL)
		ctx := context.Background()
		if ok, err := st.LeaseStream(ctx, "n1", "n1", time.Second); err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		es, err := st.ReadEvents(ctx, "n1", "", 1, 10*time.Millisecond)
		if err != nil || len(es) != 1 || es[0].Event.Type != engine.EventCallCreated {
			t.Fatalf("read: %+v %v", es, err)
		}
		if err := st.AckEvents(ctx, "n1", es[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := st.ReleaseStream(ctx, "n1", "n1"); err != nil {
			t.Fatal(err)
		}
		start(t, st, "n1", nil, nil)
		waitFor(t, "the call's other events at its statusCallback", func() bool { return cb.distinct() == eventsPerCall-1 })
		cb.mu.Lock()
		first := cb.got[0].Payload.Seq
		cb.mu.Unlock()
		if first != 2 {
			t.Fatalf("first event delivered is %d", first)
		}
	})
}

// TestFlush: Flush returns once every event of the node's stream is
// delivered and acknowledged, and gives up with the context's error while
// a receiver still fails.
func TestFlush(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() backend) {
		st := open()
		rcv := newReceiver(t)
		w := newCalls(t, st, "n1")
		for range 3 {
			w.write("")
		}
		d := start(t, st, "n1", []string{rcv.URL}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := rcv.distinct(); n != 3*eventsPerCall {
			t.Fatalf("Flush returned with %d of %d events delivered", n, 3*eventsPerCall)
		}

		rcv.setAnswer(func(int, *http.Request) int { return http.StatusServiceUnavailable })
		w.write("")
		short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel2()
		if err := d.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Flush with a failing receiver: %v", err)
		}
		d.stop()
		if left := unread(t, st, "n1"); len(left) != eventsPerCall {
			t.Fatalf("%d entries left, want the undelivered call's %d", len(left), eventsPerCall)
		}
	})
}
