package asterisk

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/test/aritest"
)

// waitFor bounds every wait of these tests; generous, never a timing
// assertion.
const waitFor = 10 * time.Second

const (
	testUser     = "switchboard"
	testPassword = "Sup3r-Secret-Pw"
)

// logBuffer collects a backend's log lines, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type harness struct {
	t    *testing.T
	srv  *aritest.Server
	b    *Backend
	logs *logBuffer
	legs atomic.Int32 // leg ids given out, unique as the engine's are
}

// start runs an ARI test server and a started backend on it. The logs are
// checked for the password at the end of every test.
func start(t *testing.T, opts aritest.Options, change ...func(*Config)) *harness {
	t.Helper()
	opts.User, opts.Password = testUser, testPassword
	srv := aritest.Start(t, opts)
	cfg := Config{
		URL: srv.URL(), User: testUser, Password: testPassword,
		Trunks: []Trunk{
			{Name: "carrier", Endpoint: "PJSIP/{number}@carrier", CallerID: "5550100"},
			{Name: "legacy", Endpoint: "SIP/legacy/{number}", Prefixes: []string{"9"}},
		},
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
	}
	for _, f := range change {
		f(&cfg)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, b: b, logs: logs}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if strings.Contains(logs.String(), testPassword) {
			t.Errorf("the password is in the log:\n%s", logs.String())
		}
	})
	return h
}

// eventually waits until cond holds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) channel(id string) aritest.Channel {
	h.t.Helper()
	ch, ok := h.srv.Channel(id)
	if !ok {
		h.t.Fatalf("the server has no channel %s", id)
	}
	return ch
}

// dial dials number and returns the session (failing the test otherwise)
// and the progress reports.
func (h *harness) dial(number string) (*Session, []engine.Progress) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var mu sync.Mutex
	var prog []engine.Progress
	s, err := h.b.Dial(ctx, engine.DialRequest{CallID: "c1", LegID: fmt.Sprintf("c1-%d", h.legs.Add(1)), Number: number}, func(p engine.Progress) {
		mu.Lock()
		prog = append(prog, p)
		mu.Unlock()
	})
	if err != nil {
		h.t.Fatalf("dial %s: %v", number, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return s.(*Session), slices.Clone(prog)
}

func (h *harness) requests(method, pathSuffix string) []aritest.Request {
	var out []aritest.Request
	for _, r := range h.srv.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, pathSuffix) {
			out = append(out, r)
		}
	}
	return out
}

func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
	}
}
