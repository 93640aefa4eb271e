package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/media/announce"
	"github.com/switchboard/switchboard/sip/asterisk"
	"github.com/switchboard/switchboard/test/aritest"
	"github.com/switchboard/switchboard/test/phone"
)

// ariEndpoint is the default trunk endpoint of the ARI runs: chan_sip's
// form, the one the ARI test server's captured behaviour follows.
const ariEndpoint = "SIP/phones/{number}"

// The Asterisk backend against the ARI test server, whose far ends are
// scripted channels: through chan_sip endpoints (the behaviour captured
// from a real Asterisk) and through chan_pjsip ones (which report the SIP
// status of a refusal).
func TestAsteriskARI(t *testing.T) {
	for _, ep := range []struct{ name, endpoint string }{
		{"chan_sip", ariEndpoint},
		{"chan_pjsip", "PJSIP/{number}@phones"},
	} {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			Run(t, func(t *testing.T) *Harness { return newARITestHarness(t, endpointTemplate(ep.endpoint)) })
		})
	}
}

func newARITestHarness(t *testing.T, tmpl endpointTemplate) *Harness {
	sounds := builtinSounds(t)
	fars := &farTable{m: map[string]Far{}}
	srv := aritest.Start(t, aritest.Options{
		Far: func(endpoint string) aritest.Far {
			number, ok := tmpl.number(endpoint)
			if !ok {
				// Not an endpoint of the trunk: nothing answers there.
				return aritest.Far{Cause: 1}
			}
			return ariFar(fars.get(number))
		},
		// Only the engine's built-in announcements are in the test
		// server's sounds, as the backend names them by default.
		MediaExists: func(uri string) bool {
			name, ok := strings.CutPrefix(uri, "sound:")
			return ok && sounds[name]
		},
	})
	b := startARIBackend(t, asterisk.Config{
		URL:      srv.URL(),
		User:     "switchboard",
		Password: "secret",
		Trunks:   []asterisk.Trunk{{Name: "phones", Endpoint: string(tmpl)}},
	})

	// channel is the latest channel dialed to number that is not a
	// snoop and satisfies cond.
	channel := func(number string, cond func(aritest.Channel) bool) (aritest.Channel, bool) {
		ep := tmpl.endpoint(number)
		chans := srv.Channels()
		for i := len(chans) - 1; i >= 0; i-- {
			if c := chans[i]; c.Endpoint == ep && c.SnoopOf == "" && cond(c) {
				return c, true
			}
		}
		return aritest.Channel{}, false
	}
	// answered is number's latest answered channel still up.
	answered := func(ctx context.Context, number string) (string, error) {
		deadline := time.Now().Add(bound)
		for {
			if c, ok := channel(number, func(c aritest.Channel) bool { return c.State == "Up" && !c.Ended }); ok {
				return c.ID, nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return "", fmt.Errorf("no answered channel to %s", number)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return &Harness{
		Backend: b,
		Far:     fars.set,
		Hangup: func(ctx context.Context, number string) error {
			id, err := answered(ctx, number)
			if err != nil {
				return err
			}
			return srv.HangupFar(id, 16) // a BYE: normal clearing
		},
		Press: func(ctx context.Context, number, keys string) error {
			id, err := answered(ctx, number)
			if err != nil {
				return err
			}
			return srv.Press(id, keys)
		},
		Received: func(number string) string {
			c, _ := channel(number, func(aritest.Channel) bool { return true })
			return c.DTMFSent
		},
		Recording: recordingsOf(b),
	}
}

// ariFar is the test server's far end doing what f says, the way the test
// phone would: busy answers 486 (Q.850 17), a decline 603 (Q.850 21), a
// phone ringing forever rings until the backend gives up, and one that
// answers rings first (180), if only for a moment.
func ariFar(f Far) aritest.Far {
	switch f.Action {
	case Busy:
		return aritest.Far{Status: 486}
	case NoAnswer:
		return aritest.Far{Never: true}
	case Reject:
		return aritest.Far{Status: 603}
	}
	return aritest.Far{Ring: max(f.AnswerAfter, time.Millisecond), Answer: true}
}

// farTable is the scripted behaviour of each number; numbers not set
// answer at once.
type farTable struct {
	mu sync.Mutex
	m  map[string]Far
}

func (t *farTable) set(number string, f Far) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[number] = f
}

func (t *farTable) get(number string) Far {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[number]
}

// endpointTemplate is a trunk's endpoint template, "Tech/…{number}…".
type endpointTemplate string

func (t endpointTemplate) endpoint(number string) string {
	return strings.ReplaceAll(string(t), "{number}", number)
}

// number is the number an endpoint of the template dials.
func (t endpointTemplate) number(endpoint string) (string, bool) {
	prefix, suffix, _ := strings.Cut(string(t), "{number}")
	rest, ok := strings.CutPrefix(endpoint, prefix)
	if !ok {
		return "", false
	}
	n, ok := strings.CutSuffix(rest, suffix)
	return n, ok && n != ""
}

// The Asterisk backend against a real Asterisk, whose peer "phones" (or
// SWITCHBOARD_TEST_ARI_ENDPOINT's) sends the calls to this test's own
// test phone.
func TestRealAsterisk(t *testing.T) {
	url := os.Getenv("SWITCHBOARD_TEST_ARI_URL")
	if url == "" {
		t.Skip("no real Asterisk: set SWITCHBOARD_TEST_ARI_URL (the ARI base, such as http://127.0.0.1:8088/ari), " +
			"SWITCHBOARD_TEST_ARI_USER and SWITCHBOARD_TEST_ARI_PASSWORD; optionally SWITCHBOARD_TEST_ARI_APP (default switchboard), " +
			"SWITCHBOARD_TEST_ARI_ENDPOINT (default " + ariEndpoint + "), SWITCHBOARD_TEST_ARI_PHONE (where the test phone listens, " +
			"default 127.0.0.1:5070) and SWITCHBOARD_TEST_ARI_SOUNDS (a directory Asterisk reads the announcements from)")
	}
	cfg := asterisk.Config{
		URL:      url,
		User:     os.Getenv("SWITCHBOARD_TEST_ARI_USER"),
		Password: os.Getenv("SWITCHBOARD_TEST_ARI_PASSWORD"),
		App:      envOr("SWITCHBOARD_TEST_ARI_APP", "switchboard"),
		Trunks:   []asterisk.Trunk{{Name: "phones", Endpoint: envOr("SWITCHBOARD_TEST_ARI_ENDPOINT", ariEndpoint)}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("SWITCHBOARD_TEST_ARI_SOUNDS"); dir != "" {
		cfg.Media = writeSounds(t, dir)
	} else {
		t.Log("SWITCHBOARD_TEST_ARI_SOUNDS not set: Asterisk's sounds directory must hold ringback and beep")
	}
	// One phone for every scenario: Asterisk's peer sends calls to its
	// fixed address. Each scenario has a backend of its own, one after
	// the other: one Stasis application, one WebSocket at a time.
	ph := phone.New(t, phone.Options{Addr: envOr("SWITCHBOARD_TEST_ARI_PHONE", "127.0.0.1:5070")})
	Run(t, func(t *testing.T) *Harness {
		b := startARIBackend(t, cfg)
		h := &Harness{Backend: b, Recording: recordingsOf(b)}
		phoneEnds(h, ph)
		return h
	})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// startARIBackend starts an Asterisk backend and closes it at cleanup.
func startARIBackend(t *testing.T, cfg asterisk.Config) *asterisk.Backend {
	t.Helper()
	b, err := asterisk.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// recordingsOf reads the engine's recordings through the backend's
// Recordings, by the names it serves them under ("<name>.wav").
func recordingsOf(b *asterisk.Backend) func(context.Context, string) ([]byte, error) {
	return func(_ context.Context, name string) ([]byte, error) {
		f, err := b.Recordings().Open(name + "." + asterisk.DefaultRecordingFormat)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
}

// builtinSounds is the sound name ("ringback") of each of the engine's
// built-in announcements ("ringback.wav").
func builtinSounds(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	_, list := builtins(t)
	for _, a := range list {
		out[strings.TrimSuffix(a.ID, ".wav")] = true
	}
	return out
}

func builtins(t *testing.T) (*announce.Store, []*announce.Announcement) {
	t.Helper()
	st, err := announce.New(announce.Options{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.List(tenant)
	if err != nil {
		t.Fatal(err)
	}
	var out []*announce.Announcement
	for _, a := range all {
		if a.Builtin {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		t.Fatal("the announcement store has no built-in announcements")
	}
	return st, out
}

// writeSounds writes the engine's built-in announcements into dir as
// 8 kHz 16-bit mono PCM WAV files and returns the Media mapping that
// plays them from there ("sound:<dir>/<name without .wav>").
func writeSounds(t *testing.T, dir string) func(engine.Announcement) (string, bool) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, list := builtins(t)
	known := map[string]bool{}
	for _, a := range list {
		r, _, err := st.WAV("", a.ID)
		if err != nil {
			t.Fatalf("announcement %s: %v", a.ID, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("announcement %s: %v", a.ID, err)
		}
		// Written beside, then renamed: Asterisk never reads half a file.
		tmp := filepath.Join(abs, "."+a.ID+".tmp")
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(abs, a.ID)); err != nil {
			t.Fatal(err)
		}
		known[a.ID] = true
	}
	return func(a engine.Announcement) (string, bool) {
		if !known[a.ID] {
			return "", false
		}
		return "sound:" + filepath.ToSlash(abs) + "/" + strings.TrimSuffix(a.ID, ".wav"), true
	}
}
