package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// fakeEngine is the Engine of these tests: function fields override the
// defaults, which keep calls in a map.
type fakeEngine struct {
	OriginateFn func(ctx context.Context, tenant string, req engine.CallRequest) (*engine.Call, error)
	HangupFn    func(ctx context.Context, tenant, id string) error
	SendDTMFFn  func(ctx context.Context, tenant, callID, legID, digits string) error
	ListFn      func(ctx context.Context, q engine.CallQuery) (engine.CallPage, error)
	SubscribeFn func(callID string) (<-chan engine.Event, func())
	ReadyFn     func(ctx context.Context) error
	DrainingFn  func() bool

	mu         sync.Mutex
	calls      map[string]*engine.Call
	originated []engine.CallRequest
	queries    []engine.CallQuery
}

func newFakeEngine() *fakeEngine { return &fakeEngine{calls: map[string]*engine.Call{}} }

func (f *fakeEngine) Originate(ctx context.Context, tenant string, req engine.CallRequest) (*engine.Call, error) {
	f.mu.Lock()
	f.originated = append(f.originated, req)
	f.mu.Unlock()
	if f.OriginateFn != nil {
		return f.OriginateFn(ctx, tenant, req)
	}
	c := &engine.Call{ID: engine.NewCallID(time.Now()), Tenant: tenant, Request: req, State: engine.StateDialingFrom, CreatedAt: time.Now().UTC()}
	f.put(c)
	return c.Clone(), nil
}

func (f *fakeEngine) put(c *engine.Call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[c.ID] = c.Clone()
}

func (f *fakeEngine) requests() []engine.CallRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.CallRequest(nil), f.originated...)
}

func (f *fakeEngine) originateCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.originated)
}

func (f *fakeEngine) Get(_ context.Context, tenant, id string) (*engine.Call, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.calls[id]
	if !ok || c.Tenant != tenant {
		return nil, engine.ErrNotFound
	}
	return c.Clone(), nil
}

func (f *fakeEngine) List(ctx context.Context, q engine.CallQuery) (engine.CallPage, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	if f.ListFn != nil {
		return f.ListFn(ctx, q)
	}
	return engine.CallPage{}, nil
}

func (f *fakeEngine) Hangup(ctx context.Context, tenant, id string) error {
	if f.HangupFn != nil {
		return f.HangupFn(ctx, tenant, id)
	}
	if _, err := f.Get(ctx, tenant, id); err != nil {
		return err
	}
	return nil
}

func (f *fakeEngine) Subscribe(callID string) (<-chan engine.Event, func()) {
	if f.SubscribeFn != nil {
		return f.SubscribeFn(callID)
	}
	ch := make(chan engine.Event)
	return ch, func() {}
}

func (f *fakeEngine) SendDTMF(ctx context.Context, tenant, callID, legID, digits string) error {
	if f.SendDTMFFn != nil {
		return f.SendDTMFFn(ctx, tenant, callID, legID, digits)
	}
	return engine.ErrNotSupported
}

func (f *fakeEngine) Ready(ctx context.Context) error {
	if f.ReadyFn != nil {
		return f.ReadyFn(ctx)
	}
	return nil
}

func (f *fakeEngine) Draining() bool {
	if f.DrainingFn != nil {
		return f.DrainingFn()
	}
	return false
}

func newTestServer(t *testing.T, eng *fakeEngine) *httptest.Server {
	t.Helper()
	s := NewServer(Config{
		Engine:       eng,
		Tenants:      testTenants,
		Directory:    testDir{},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		SSEHeartbeat: 50 * time.Millisecond,
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func postForm(t *testing.T, url string, v url.Values) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
