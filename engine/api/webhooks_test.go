package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
	"github.com/switchboard/switchboard/engine/webhook"
)

func TestDeadLettersNotConfigured(t *testing.T) {
	srv := newTestServer(t, newFakeEngine())
	c := v1Client{t, srv.URL, "101", "tok101"}
	if resp, b := c.do("GET", "/v1/webhooks/dead-letters", ""); resp.StatusCode != 501 || v1Code(t, b) != "not_configured" {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	if resp, b := c.do("POST", "/v1/webhooks/dead-letters/x/redrive", ""); resp.StatusCode != 501 || v1Code(t, b) != "not_configured" {
		t.Fatalf("redrive: %d %s", resp.StatusCode, b)
	}
	if resp, b := (v1Client{t, srv.URL, "101", "wrong"}).do("GET", "/v1/webhooks/dead-letters", ""); resp.StatusCode != 401 {
		t.Fatalf("without credentials: %d %s", resp.StatusCode, b)
	}
}

// TestDeadLettersAPI lists a tenant's dead letters page by page and
// re-drives one, against the memory store and the real dispatcher.
func TestDeadLettersAPI(t *testing.T) {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { _ = st.Close() })
	d, err := webhook.New(webhook.Options{Log: st, Node: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 5 {
		for _, tn := range []string{"101", "202"} {
			ev := engine.Event{ID: fmt.Sprintf("c%s-e%d", tn, i+1), Seq: i + 1, Type: engine.EventLegDialing, CallID: "c" + tn, Tenant: tn, Time: time.Now().UTC()}
			dl := &engine.DeadLetter{ID: ev.ID + "-x", Tenant: tn, Target: "https://crm.example/" + tn, Event: ev, Attempts: 3, LastError: "HTTP 500 Internal Server Error", FailedAt: time.Now().UTC()}
			if err := st.PutDeadLetter(ctx, dl); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := httptest.NewServer(NewServer(Config{Engine: newFakeEngine(), Tenants: testTenants, DeadLetters: d,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	t.Cleanup(srv.Close)
	c := v1Client{t, srv.URL, "101", "tok101"}

	var all []*engine.DeadLetter
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		resp, b := c.do("GET", "/v1/webhooks/dead-letters?limit=2&cursor="+cursor, "")
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, b)
		}
		var page struct {
			DeadLetters []*engine.DeadLetter `json:"dead_letters"`
			NextCursor  string               `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.DeadLetters...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(all) != 5 {
		t.Fatalf("listed %d dead letters, want tenant 101's 5", len(all))
	}
	for _, dl := range all {
		if dl.Tenant != "101" || dl.Target != "https://crm.example/101" || dl.Attempts != 3 || dl.LastError == "" {
			t.Fatalf("dead letter %+v", dl)
		}
	}
	for _, bad := range []string{"limit=501", "limit=x", "limit=-1"} {
		if resp, b := c.do("GET", "/v1/webhooks/dead-letters?"+bad, ""); resp.StatusCode != 400 || v1Code(t, b) != "invalid_value" {
			t.Fatalf("%s: %d %s", bad, resp.StatusCode, b)
		}
	}

	id := all[0].ID
	if resp, b := (v1Client{t, srv.URL, "202", "tok202"}).do("POST", "/v1/webhooks/dead-letters/"+id+"/redrive", ""); resp.StatusCode != 404 {
		t.Fatalf("another tenant's redrive: %d %s", resp.StatusCode, b)
	}
	resp, b := c.do("POST", "/v1/webhooks/dead-letters/"+id+"/redrive", "")
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(b), `"status":"redriven"`) {
		t.Fatalf("redrive: %d %s", resp.StatusCode, b)
	}
	if resp, b := c.do("POST", "/v1/webhooks/dead-letters/"+id+"/redrive", ""); resp.StatusCode != 404 || v1Code(t, b) != "not_found" {
		t.Fatalf("second redrive: %d %s", resp.StatusCode, b)
	}
	// The event is back on this node's stream, for its target only.
	if ok, err := st.LeaseStream(ctx, "n1", "test", time.Minute); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	es, err := st.ReadEvents(ctx, "n1", "", 10, 10*time.Millisecond)
	if err != nil || len(es) != 1 || es[0].Event.ID != all[0].Event.ID || es[0].Target != all[0].Target || es[0].Redriven == nil {
		t.Fatalf("stream after redrive: %+v, %v", es, err)
	}
}
