package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"

	"github.com/switchboard/switchboard/engine"
)

func newMediaTestServer(t *testing.T, eng *fakeEngine, recordings fstest.MapFS) *httptest.Server {
	t.Helper()
	cfg := Config{
		Engine:    eng,
		Tenants:   testTenants,
		Directory: testDir{},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if recordings != nil {
		cfg.Recordings = recordings
	}
	srv := httptest.NewServer(NewServer(cfg).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestSendDTMFRoute(t *testing.T) {
	eng := newFakeEngine()
	var got []string
	eng.SendDTMFFn = func(_ context.Context, tenant, callID, legID, digits string) error {
		switch legID {
		case "c1-9":
			return engine.ErrLegNotFound
		case "c1-1":
			return engine.ErrLegNotAnswered
		case "c1-3":
			return engine.ErrNotOwner
		}
		got = append(got, tenant+"/"+callID+"/"+legID+"/"+digits)
		return nil
	}
	srv := newMediaTestServer(t, eng, nil)
	c := v1Client{t, srv.URL, "101", testTenants["101"]}
	for _, tc := range []struct {
		leg, body string
		status    int
		code      string
	}{
		{"c1-2", `{"digits":"12#*"}`, http.StatusOK, ""},
		{"c1-2", `{"digits":"12x"}`, http.StatusBadRequest, "invalid_parameter"},
		{"c1-2", `{"digits":""}`, http.StatusBadRequest, "invalid_parameter"},
		{"c1-2", `{}`, http.StatusBadRequest, "missing_parameter"},
		{"c1-2", `{"digits":12}`, http.StatusBadRequest, ""},
		{"c1-2", `{"digits":"1","x":1}`, http.StatusBadRequest, ""},
		{"c1-2", `not json`, http.StatusBadRequest, ""},
		{"c1-9", `{"digits":"1"}`, http.StatusNotFound, "not_found"},
		{"c1-1", `{"digits":"1"}`, http.StatusConflict, "leg_not_answered"},
		{"c1-3", `{"digits":"1"}`, http.StatusConflict, "not_owner"},
	} {
		resp, b := c.do("POST", "/v1/calls/c1/legs/"+tc.leg+"/dtmf", tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d (%s)", tc.leg, tc.body, resp.StatusCode, tc.status, b)
			continue
		}
		if tc.code != "" && v1Code(t, b) != tc.code {
			t.Errorf("%s %s: code %s, want %s", tc.leg, tc.body, v1Code(t, b), tc.code)
		}
	}
	if len(got) != 1 || got[0] != "101/c1/c1-2/12#*" {
		t.Fatalf("sent %v", got)
	}
	// Without credentials nothing is sent.
	resp, _ := v1Client{t, srv.URL, "", ""}.do("POST", "/v1/calls/c1/legs/c1-2/dtmf", `{"digits":"1"}`)
	if resp.StatusCode != http.StatusUnauthorized || len(got) != 1 {
		t.Fatalf("unauthenticated: status %d, sent %v", resp.StatusCode, got)
	}
}

func TestRecordingRoute(t *testing.T) {
	eng := newFakeEngine()
	now := time.Now()
	eng.put(&engine.Call{ID: "rec1", Tenant: "101", State: engine.StateEnded, CreatedAt: now, RecordingURL: "/v1/calls/rec1/recording"})
	eng.put(&engine.Call{ID: "rec2", Tenant: "101", State: engine.StateEnded, CreatedAt: now})
	eng.put(&engine.Call{ID: "rec3", Tenant: "101", State: engine.StateEnded, CreatedAt: now, RecordingURL: "/v1/calls/rec3/recording"})
	wav := []byte("RIFF....WAVEfmt not really audio")
	fsys := fstest.MapFS{"101/rec1.wav": {Data: wav, ModTime: now}}
	srv := newMediaTestServer(t, eng, fsys)

	c := v1Client{t, srv.URL, "101", testTenants["101"]}
	resp, b := c.do("GET", "/v1/calls/rec1/recording", "")
	if resp.StatusCode != http.StatusOK || string(b) != string(wav) || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("recording: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	for _, tc := range []struct {
		client v1Client
		id     string
		status int
	}{
		{c, "rec2", http.StatusNotFound},                                               // not recorded
		{c, "rec3", http.StatusNotFound},                                               // recorded on another node
		{c, "nope", http.StatusNotFound},                                               // no such call
		{v1Client{t, srv.URL, "202", testTenants["202"]}, "rec1", http.StatusNotFound}, // another tenant's call
		{v1Client{t, srv.URL, "", ""}, "rec1", http.StatusUnauthorized},
	} {
		resp, b := tc.client.do("GET", "/v1/calls/"+tc.id+"/recording", "")
		if resp.StatusCode != tc.status {
			t.Errorf("%s as %q: status %d, want %d (%s)", tc.id, tc.client.user, resp.StatusCode, tc.status, b)
		}
	}
	// A node without a recordings directory says so.
	srv2 := newMediaTestServer(t, eng, nil)
	resp, _ = v1Client{t, srv2.URL, "101", testTenants["101"]}.do("GET", "/v1/calls/rec1/recording", "")
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("without recordings: status %d", resp.StatusCode)
	}
}
