package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/media"
	"github.com/switchboard/switchboard/test/aritest"
)

// TestServeOnAsterisk runs a node on the Asterisk backend against the ARI
// test server, as serve wires it, and places a click-to-call through the
// HTTP API: an uploaded ringTone written to the sounds directory and
// played from there, both sides answered and bridged, the call recorded
// and ended by its time limit, the recording served from Asterisk, the
// backend's counters on /metrics, and /readyz failing once Asterisk is
// gone.
func TestServeOnAsterisk(t *testing.T) {
	sounds := filepath.Join(t.TempDir(), "sounds")
	ari := aritest.Start(t, aritest.Options{
		Far: func(endpoint string) aritest.Far {
			if strings.Contains(endpoint, "9000000002") {
				return aritest.Far{Ring: 300 * time.Millisecond, Answer: true} // the ringTone plays meanwhile
			}
			return aritest.Far{Ring: 20 * time.Millisecond, Answer: true}
		},
		// Asterisk plays a file only if it is there when asked.
		MediaExists: func(uri string) bool {
			path, ok := strings.CutPrefix(uri, "sound:")
			if !ok || !filepath.IsAbs(path) {
				return false
			}
			_, err := os.Stat(path + ".wav")
			return err == nil
		},
	})

	cfg := defaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.NodeID = "ari-test"
	cfg.Backend = backendARI
	cfg.ARI = ARIConfig{
		URL: ari.URL(), User: "switchboard", Password: "secret",
		ReconnectMin: Duration{10 * time.Millisecond}, ReconnectMax: Duration{50 * time.Millisecond},
		SoundsDir: sounds,
		Trunks:    []ARITrunk{{Name: "phones", Endpoint: "PJSIP/{number}@phones", CallerID: "8000000000"}},
	}
	cfg.Tenants = []Tenant{{UserID: "1", Token: "t"}}
	cfg.Defaults.DrainTimeout = Duration{time.Second}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}

	sigs := make(chan os.Signal, 1)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(cfg, serveOptions{
			log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			signals:   sigs,
			listening: func(a string) { addr <- a },
		})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve never listened")
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			sigs <- syscall.SIGINT
			<-done
		}
	})
	if code, body := do(t, "GET", base+"/readyz", nil); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}

	// The built-ins are there from the start; an upload as soon as it is
	// stored, as 16-bit PCM whatever it was sent as.
	for _, f := range []string{"builtin/ringback.wav", "builtin/beep.wav", "builtin/hold.wav"} {
		if _, err := os.Stat(filepath.Join(sounds, f)); err != nil {
			t.Fatal(err)
		}
	}
	samples := make([]int16, 8000)
	for i := range samples {
		samples[i] = int16((i % 40) * 500)
	}
	law := make([]byte, len(samples))
	media.PCMU.Encode(law, samples)
	if code, body := do(t, "POST", base+"/v1/announcements?id=welcome.wav", ulawWAV(law)); code != 201 {
		t.Fatalf("upload: %d %s", code, body)
	}
	exported, err := os.ReadFile(filepath.Join(sounds, "1", "welcome.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if len(exported) != 44+2*len(samples) || exported[20] != 1 || exported[34] != 16 {
		t.Fatalf("exported upload: %d bytes, format %d, %d bits; want 16-bit PCM", len(exported), exported[20], exported[34])
	}

	q := url.Values{"user_id": {"1"}, "token": {"t"}, "from": {"9000000001"}, "to": {"9000000002"},
		"ringTone": {"welcome.wav"}, "timeLimit": {"1"}, "record": {"yes"}}
	code, body := do(t, "POST", base+"/v2/clickToCall/para?"+q.Encode(), nil)
	var placed struct{ CallID, Status string }
	if json.Unmarshal(body, &placed); code != 200 || placed.Status != "success" {
		t.Fatalf("click-to-call: %d %s", code, body)
	}
	var rec struct {
		State, Outcome string
		HangupBy       string `json:"hangup_by"`
		RecordingURL   string `json:"recording_url"`
		Legs           []struct{ Side, Number, Disposition string }
	}
	await(t, "the call to end", func() bool {
		code, body := do(t, "GET", base+"/v1/calls/"+placed.CallID, nil)
		if code != 200 {
			t.Fatalf("GET call: %d %s", code, body)
		}
		rec.Legs = nil
		json.Unmarshal(body, &rec)
		return rec.State == "ended"
	})
	if rec.Outcome != "completed" || rec.HangupBy != "time_limit" || len(rec.Legs) != 2 ||
		rec.Legs[0].Disposition != "answered" || rec.Legs[1].Disposition != "answered" || rec.Legs[1].Number != "9000000002" {
		t.Fatalf("record %+v", rec)
	}
	var dialed, played []string
	for _, r := range ari.Requests() {
		switch {
		case r.Method == "POST" && strings.HasPrefix(r.Path, "/ari/channels/") && r.Query.Get("endpoint") != "":
			dialed = append(dialed, r.Query.Get("endpoint"))
		case r.Method == "POST" && strings.Contains(r.Path, "/play/") && r.Status < 300:
			played = append(played, r.Query["media"]...)
		}
	}
	if strings.Join(dialed, " ") != "PJSIP/9000000001@phones PJSIP/9000000002@phones" {
		t.Fatalf("dialed %v", dialed)
	}
	want := "sound:" + filepath.ToSlash(filepath.Join(sounds, "1", "welcome"))
	if len(played) == 0 || played[0] != want {
		t.Fatalf("played %v, want the upload from the sounds directory (%s)", played, want)
	}

	// The recording, from Asterisk, through the API.
	if rec.RecordingURL == "" {
		t.Fatalf("no recording_url in %+v", rec)
	}
	code, body = do(t, "GET", base+rec.RecordingURL, nil)
	if _, err := media.DecodeWAV(bytes.NewReader(body)); code != 200 || err != nil {
		t.Fatalf("recording: %d, %d bytes, %v", code, len(body), err)
	}

	// A deleted upload leaves the sounds directory too.
	if code, body := do(t, "DELETE", base+"/v1/announcements/welcome.wav", nil); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(sounds, "1", "welcome.wav")); !os.IsNotExist(err) {
		t.Fatalf("deleted upload still in the sounds directory: %v", err)
	}

	_, metrics := do(t, "GET", base+"/metrics", nil)
	for _, line := range []string{"switchboard_ari_connected 1", `switchboard_calls_total{outcome="completed"} 1`} {
		if !strings.Contains(string(metrics), line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if !strings.Contains(string(metrics), "switchboard_ari_events_total ") || strings.Contains(string(metrics), "switchboard_ari_events_total 0\n") {
		t.Error("/metrics counts no ARI events")
	}

	// Asterisk gone: the node is not ready, and says why.
	ari.Close()
	await(t, "/readyz to fail", func() bool {
		code, _ := do(t, "GET", base+"/readyz", nil)
		return code != 200
	})
	if _, metrics := do(t, "GET", base+"/metrics", nil); !strings.Contains(string(metrics), "switchboard_ari_connected 0") {
		t.Error("switchboard_ari_connected is not 0 with Asterisk gone")
	}

	stopped = true
	sigs <- syscall.SIGINT
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
}

// TestServeOnAsteriskRefused: an ARI password Asterisk refuses stops the
// start with an error that names the keys to check and not the password.
func TestServeOnAsteriskRefused(t *testing.T) {
	ari := aritest.Start(t, aritest.Options{})
	cfg := defaultConfig()
	cfg.HTTP, cfg.NodeID, cfg.Backend = "127.0.0.1:0", "ari-refused", backendARI
	cfg.ARI = ARIConfig{URL: ari.URL(), User: "switchboard", Password: "not-the-Pa55word",
		Trunks: []ARITrunk{{Name: "phones", Endpoint: "PJSIP/{number}@phones"}}}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	err := serve(cfg, serveOptions{log: slog.New(slog.NewTextHandler(io.Discard, nil)), signals: make(chan os.Signal)})
	if err == nil || !strings.Contains(err.Error(), "ari.password") || strings.Contains(err.Error(), "not-the-Pa55word") {
		t.Fatalf("serve with a refused password: %v", err)
	}
}

// do sends a request as tenant 1 (HTTP Basic) and returns the status and
// body.
func do(t *testing.T, method, u string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("1", "t")
	if body != nil {
		req.Header.Set("Content-Type", "audio/wav")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ulawWAV is a WAV of 8 kHz mono mu-law audio.
func ulawWAV(data []byte) []byte {
	le := func(b []byte, v uint32, n int) []byte {
		for i := range n {
			b = append(b, byte(v>>(8*i)))
		}
		return b
	}
	var b []byte
	b = append(b, "RIFF"...)
	b = le(b, uint32(4+8+16+8+len(data)), 4)
	b = append(b, "WAVEfmt "...)
	b = le(b, 16, 4)
	b = le(b, 7, 2)    // mu-law
	b = le(b, 1, 2)    // mono
	b = le(b, 8000, 4) // rate
	b = le(b, 8000, 4) // bytes a second
	b = le(b, 1, 2)    // block align
	b = le(b, 8, 2)    // bits
	b = append(b, "data"...)
	b = le(b, uint32(len(data)), 4)
	return append(b, data...)
}
