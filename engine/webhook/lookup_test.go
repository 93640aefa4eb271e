package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// lookupServer serves answer on 127.0.0.1.
func lookupServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(answer))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestCallerLookupAsksSignedAndReadsTheAnswer(t *testing.T) {
	secret := NewSecret()
	var got lookupRequest
	var verr error
	srv := lookupServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verr = Verify(secret, r.Header, body, 0)
		json.Unmarshal(body, &got)
		io.WriteString(w, `{"status":"success","caller_name":"Ann \"The\" Example\n","caller_email":"ann@example.com","customer_info":"gold"}`)
	})
	l := &CallerLookup{Secret: func(string) string { return secret }}
	app := &engine.App{Tenant: "1", ID: "app1", Department: "sales", CallerLookupURL: srv.URL + "/who"}
	info, err := l.LookupCaller(context.Background(), app, "9001")
	if err != nil {
		t.Fatal(err)
	}
	if verr != nil {
		t.Fatalf("signature: %v", verr)
	}
	want := lookupRequest{Event: "callerInformation", CallDepartment: "sales", CallerNumber: "9001", CallStatus: "routing"}
	if got != want {
		t.Fatalf("request %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(info, &engine.CallerInfo{Name: "Ann The Example", Email: "ann@example.com", Info: "gold"}) {
		t.Fatalf("info %+v", info)
	}
}

// Every answer but a success is an error, and a slow one ends with the
// context: the caller is never held beyond the lookup's timeout.
func TestCallerLookupFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request)
	}{
		{"status 500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }},
		{"status not success", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"error"}`) }},
		{"not json", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `<html>`) }},
		{"too long", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"status":"success","customer_info":"`+strings.Repeat("x", maxLookupAnswer)+`"}`)
		}},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := lookupServer(t, tc.answer)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			app := &engine.App{Tenant: "1", ID: "app1", CallerLookupURL: srv.URL}
			info, err := (&CallerLookup{}).LookupCaller(ctx, app, "9001")
			if err == nil {
				t.Fatalf("no error; info %+v", info)
			}
		})
	}
}
