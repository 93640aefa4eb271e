package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
	"github.com/switchboard/switchboard/ivr"
)

// appEnv is a server with the memory store as its app store and testDir
// as its directory (tenant 101 has agents a1, a2, groups g1, g2 and the
// announcements ann1, ann2), and a client for each tenant.
type appEnv struct {
	st       *memory.Store
	c, other v1Client // tenants 101 and 202
}

func newAppEnv(t *testing.T, apps engine.AppStore) appEnv {
	t.Helper()
	st := memory.New(memory.Options{SweepInterval: -1})
	t.Cleanup(func() { _ = st.Close() })
	if apps == nil {
		apps = st
	}
	s := NewServer(Config{Engine: newFakeEngine(), Apps: apps, Directory: testDir{}, Tenants: testTenants,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return appEnv{st: st, c: v1Client{t, srv.URL, "101", "tok101"}, other: v1Client{t, srv.URL, "202", "tok202"}}
}

type appJSON struct {
	GUID          string `json:"guid"`
	VirtualNumber string `json:"number.virtual"`
	engine.App
}

type appListJSON struct {
	Page struct {
		StartIndex, EndIndex, PageNumber, PageItems, TotalItems, TotalPages int
	} `json:"page"`
	Data []appJSON `json:"data"`
}

const ivrFlowJSON = `{"id":"main-line","start":"main","menus":[
	{"id":"main","prompt":"ann1","options":{"1":{"type":"route_group","target":"g1"},"2":{"type":"menu","target":"more"}},"retries":1,"fallback":{"type":"route_agent","target":"a1"}},
	{"id":"more","prompt":"ann2","options":{"1":{"type":"route_number","target":"+15550100"},"*":{"type":"back"}},"collect":{"terminator":"none"}}]}`

func TestAppCRUD(t *testing.T) {
	e := newAppEnv(t, nil)
	// A flow app, id given.
	b := e.c.want("POST", "/v1/apps", `{"app_id":"main","name":"Main line","number":"+442079460000","flow":`+ivrFlowJSON+`,"ring_time":25,"ring_tone":"ann2","record":true,"department":"Sales","caller_lookup_url":"https://crm.example/lookup","caller_lookup_timeout_ms":800,"status_callback":"https://crm.example/events","time_limit":3600}`, 201, "")
	a := decodeAs[appJSON](t, b)
	if a.ID != "main" || a.GUID != "main" || a.VirtualNumber != "+442079460000" || a.Tenant != "101" || a.Flow == nil || len(a.Flow.Menus) != 2 ||
		a.RingTime != 25 || !a.Record || a.CallerLookupTimeoutMS != 800 || a.CreatedAt.IsZero() || a.CreatedAt != a.UpdatedAt {
		t.Fatalf("created app: %s", b)
	}
	// A route app, id generated.
	r := decodeAs[appJSON](t, e.c.want("POST", "/v1/apps", `{"number":"5551000","route":{"type":"route_group","target":"g2","prompt":"ann1"}}`, 201, ""))
	if len(r.ID) != 16 || r.Route == nil || r.Route.Target != "g2" {
		t.Fatalf("route app: %+v", r)
	}
	if got := decodeAs[appJSON](t, e.c.want("GET", "/v1/apps/main", "", 200, "")); got.Name != "Main line" || got.Flow.Start != "main" {
		t.Fatalf("GET: %+v", got)
	}
	l := decodeAs[appListJSON](t, e.c.want("GET", "/v1/apps", "", 200, ""))
	if len(l.Data) != 2 || l.Page.TotalItems != 2 || l.Page.EndIndex != 2 || l.Page.TotalPages != 1 || l.Data[0].ID > l.Data[1].ID {
		t.Fatalf("list: %+v", l)
	}
	// The spec's shape: guid, number.virtual, name in every item.
	var raw struct {
		Data []map[string]any `json:"data"`
	}
	_ = json.Unmarshal(e.c.want("GET", "/v1/apps", "", 200, ""), &raw)
	for _, k := range []string{"guid", "number.virtual", "name", "app_id", "number"} {
		if _, ok := raw.Data[0][k]; !ok {
			t.Fatalf("list item without %s: %v", k, raw.Data[0])
		}
	}

	// PUT replaces: a new number frees the old one; created_at stays.
	p := decodeAs[appJSON](t, e.c.want("PUT", "/v1/apps/main", `{"number":"+442079460001","route":{"type":"route_agent","target":"a1"}}`, 200, ""))
	if p.Flow != nil || p.Number != "+442079460001" || p.Name != "" || !p.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("replaced: %+v", p)
	}
	if _, err := e.st.AppByNumber(context.Background(), "+442079460000"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("old number still held: %v", err)
	}
	e.c.want("POST", "/v1/apps", `{"app_id":"x","number":"+442079460000","route":{"type":"route_agent","target":"a2"}}`, 201, "")

	e.c.want("DELETE", "/v1/apps/main", "", 204, "")
	e.c.want("GET", "/v1/apps/main", "", 404, "not_found")
	e.c.want("DELETE", "/v1/apps/main", "", 404, "not_found")
	e.c.want("PUT", "/v1/apps/main", `{"number":"5552000","route":{"type":"route_agent","target":"a1"}}`, 404, "not_found")
	e.c.want("GET", "/v1/apps/"+strings.Repeat("x", 51), "", 404, "not_found")
	// The deleted app's number is free.
	e.c.want("POST", "/v1/apps", `{"app_id":"main2","number":"+442079460001","route":{"type":"route_agent","target":"a1"}}`, 201, "")
}

func TestAppConflicts(t *testing.T) {
	e := newAppEnv(t, nil)
	e.c.want("POST", "/v1/apps", `{"app_id":"a","number":"5551000","route":{"type":"route_agent","target":"a1"}}`, 201, "")
	e.c.want("POST", "/v1/apps", `{"app_id":"a","number":"5551001","route":{"type":"route_agent","target":"a1"}}`, 409, "exists")
	e.c.want("POST", "/v1/apps", `{"app_id":"b","number":"5551000","route":{"type":"route_agent","target":"a1"}}`, 409, "number_taken")
	// Another tenant cannot take the number either; its route is a number
	// (tenant 202 has no agents).
	e.other.want("POST", "/v1/apps", `{"app_id":"a","number":"5551000","route":{"type":"route_number","target":"5550100"}}`, 409, "number_taken")
	e.other.want("POST", "/v1/apps", `{"app_id":"a","number":"5551002","route":{"type":"route_number","target":"5550100"}}`, 201, "")
	e.c.want("POST", "/v1/apps", `{"app_id":"b","number":"5551002","route":{"type":"route_agent","target":"a1"}}`, 409, "number_taken")
	// Moving to a taken number changes nothing.
	e.c.want("PUT", "/v1/apps/a", `{"number":"5551002","route":{"type":"route_agent","target":"a2"}}`, 409, "number_taken")
	if a := decodeAs[appJSON](t, e.c.want("GET", "/v1/apps/a", "", 200, "")); a.Number != "5551000" || a.Route.Target != "a1" {
		t.Fatalf("app after a refused move: %+v", a)
	}
	// Tenants see only their own apps.
	e.other.want("GET", "/v1/apps/b", "", 404, "not_found")
	if l := decodeAs[appListJSON](t, e.other.want("GET", "/v1/apps", "", 200, "")); len(l.Data) != 1 || l.Data[0].Tenant != "202" {
		t.Fatalf("tenant 202 lists %+v", l)
	}
	e.other.want("DELETE", "/v1/apps/x", "", 404, "not_found")
	if got := decodeAs[appJSON](t, e.c.want("GET", "/v1/apps/a", "", 200, "")); got.Tenant != "101" {
		t.Fatalf("%+v", got)
	}
	e.other.want("PUT", "/v1/apps/a", `{"number":"5551003","route":{"type":"route_number","target":"5550100"}}`, 200, "")
	if got := decodeAs[appJSON](t, e.c.want("GET", "/v1/apps/a", "", 200, "")); got.Number != "5551000" {
		t.Fatalf("tenant 202's PUT changed tenant 101's app: %+v", got)
	}
}

type appProblemsJSON struct {
	Error struct {
		Code     string        `json:"code"`
		Message  string        `json:"message"`
		Problems []ivr.Problem `json:"problems"`
	} `json:"error"`
}

func TestAppValidation(t *testing.T) {
	e := newAppEnv(t, nil)
	route := `"route":{"type":"route_group","target":"g1"}`
	for _, tc := range []struct {
		name, body string
		want       []string // menu/field: message fragment
	}{
		{"no flow nor route", `{"number":"5551000"}`, []string{"/flow: an app needs a flow"}},
		{"both", `{"number":"5551000",` + route + `,"flow":` + ivrFlowJSON + `}`, []string{"/route: an app has a flow or a route, not both"}},
		{"bad id", `{"app_id":"a b","number":"5551000",` + route + `}`, []string{"/app_id: \"a b\" is not an app id"}},
		{"number letters", `{"number":"55510ab",` + route + `}`, []string{"/number:"}},
		{"number short", `{"number":"+55",` + route + `}`, []string{"/number:"}},
		{"number long", `{"number":"123456789012345678901",` + route + `}`, []string{"/number:"}},
		{"number missing", `{` + route + `}`, []string{"/number:"}},
		{"long name", `{"name":"` + strings.Repeat("n", 101) + `","number":"5551000",` + route + `}`, []string{"/name: 101 characters"}},
		{"route type", `{"number":"5551000","route":{"type":"menu","target":"main"}}`, []string{"/route.type: \"menu\""}},
		{"route no type", `{"number":"5551000","route":{"target":"g1"}}`, []string{"/route.type: required"}},
		{"route no target", `{"number":"5551000","route":{"type":"route_agent"}}`, []string{"/route.target: required: the agent"}},
		{"route unknown group", `{"number":"5551000","route":{"type":"route_group","target":"sales"}}`, []string{"/route.target: unknown group \"sales\""}},
		{"route unknown agent", `{"number":"5551000","route":{"type":"route_agent","target":"zed"}}`, []string{"/route.target: unknown agent"}},
		{"route bad number", `{"number":"5551000","route":{"type":"route_number","target":"12ab"}}`, []string{"/route.target: \"12ab\" is not a number"}},
		{"route unknown prompt", `{"number":"5551000","route":{"type":"route_group","target":"g1","prompt":"nope.wav"}}`, []string{"/route.prompt: unknown prompt"}},
		{"ring time low", `{"number":"5551000",` + route + `,"ring_time":4}`, []string{"/ring_time: 4"}},
		{"ring time high", `{"number":"5551000",` + route + `,"ring_time":121}`, []string{"/ring_time: 121"}},
		{"ring tone", `{"number":"5551000",` + route + `,"ring_tone":"nope.wav"}`, []string{"/ring_tone: unknown prompt"}},
		{"time limit", `{"number":"5551000",` + route + `,"time_limit":-1}`, []string{"/time_limit: -1"}},
		{"lookup url", `{"number":"5551000",` + route + `,"caller_lookup_url":"ftp://crm.example/x"}`, []string{"/caller_lookup_url: must be an absolute http"}},
		{"lookup timeout", `{"number":"5551000",` + route + `,"caller_lookup_timeout_ms":99}`, []string{"/caller_lookup_timeout_ms: 99"}},
		{"status callback", `{"number":"5551000",` + route + `,"status_callback":"crm.example"}`, []string{"/status_callback: must be an absolute"}},
		{"department", `{"number":"5551000",` + route + `,"department":"` + strings.Repeat("d", 101) + `"}`, []string{"/department: 101"}},
		{"flow problems, all of them", `{"number":"5551000","flow":{"id":"f","start":"main","menus":[
			{"id":"main","prompt":"nope.wav","options":{"1":{"type":"route_group","target":"sales"},"2":{"type":"menu","target":"ghost"}}},
			{"id":"lost","prompt":"ann1","next":{"type":"hangup"}}]}}`,
			[]string{`main/prompt: unknown prompt "nope.wav"`, `main/options["1"].target: unknown group "sales"`, `main/options["2"].target: no menu "ghost"`}},
		{"flow unreachable and loop", `{"number":"5551000","flow":{"id":"f","start":"a","menus":[
			{"id":"a","prompt":"ann1","next":{"type":"menu","target":"b"}},
			{"id":"b","prompt":"ann1","next":{"type":"menu","target":"a"}},
			{"id":"c","prompt":"ann1"}]}}`,
			[]string{"c/: ", "a/: "}},
		{"flow start missing", `{"number":"5551000","flow":{"id":"f","menus":[{"id":"a","prompt":"ann1"}]}}`, []string{"/flow.start: required"}},
		{"several at once", `{"number":"x","ring_time":1,"route":{"type":"route_agent","target":"zed"}}`, []string{"/number:", "/route.target:", "/ring_time:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := v1Client{t, e.c.base, e.c.user, e.c.pass}
			b := c.want("POST", "/v1/apps", tc.body, 400, "invalid_app")
			got := decodeAs[appProblemsJSON](t, b)
			var lines []string
			for _, p := range got.Error.Problems {
				lines = append(lines, p.Menu+"/"+p.Field+": "+p.Message)
			}
			all := strings.Join(lines, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems\n%s\nwant one with %q", all, w)
				}
			}
			if len(got.Error.Problems) < len(tc.want) || got.Error.Message == "" {
				t.Errorf("body %s", b)
			}
		})
	}
	if l := decodeAs[appListJSON](t, e.c.want("GET", "/v1/apps", "", 200, "")); len(l.Data) != 0 || l.Data == nil {
		t.Fatalf("refused apps were stored, or data is not a list: %+v", l)
	}
}

func TestAppBodyRefused(t *testing.T) {
	e := newAppEnv(t, nil)
	e.c.want("POST", "/v1/apps", `{"app_id":"a","number":"5551000","route":{"type":"route_agent","target":"a1"}}`, 201, "")
	for _, tc := range []struct {
		name, method, path, body, code, msg string
	}{
		{"not JSON", "POST", "/v1/apps", `{"number":`, "malformed_json", ""},
		{"not an object", "POST", "/v1/apps", `[1]`, "malformed_json", ""},
		{"trailing data", "POST", "/v1/apps", `{"number":"5551001"} {}`, "malformed_json", ""},
		{"unknown key", "POST", "/v1/apps", `{"numbr":"5551001"}`, "unknown_parameter", "numbr"},
		{"unknown key in the flow", "POST", "/v1/apps", `{"number":"5551001","flow":{"id":"f","start":"a","menus":[{"id":"a","prompt":"ann1","promt":"x"}]}}`, "unknown_parameter", "promt"},
		{"unknown key in the route", "POST", "/v1/apps", `{"number":"5551001","route":{"type":"route_agent","agent":"a1"}}`, "unknown_parameter", "agent"},
		{"wrong type", "POST", "/v1/apps", `{"number":5551001}`, "invalid_value", "number must be a string"},
		{"repeated key", "POST", "/v1/apps", `{"number":"5551001","number":"5551002"}`, "malformed_json", "twice"},
		{"user_id", "POST", "/v1/apps", `{"user_id":"202","number":"5551001"}`, "read_only", "user_id"},
		{"guid", "POST", "/v1/apps", `{"guid":"x","number":"5551001","route":{"type":"route_agent","target":"a1"}}`, "read_only", "guid"},
		{"number.virtual", "PUT", "/v1/apps/a", `{"number.virtual":"5551001","number":"5551001","route":{"type":"route_agent","target":"a1"}}`, "read_only", "number.virtual"},
		{"id differs", "PUT", "/v1/apps/a", `{"app_id":"b","number":"5551001","route":{"type":"route_agent","target":"a1"}}`, "invalid_value", "cannot change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := v1Client{t, e.c.base, e.c.user, e.c.pass}
			b := c.want(tc.method, tc.path, tc.body, 400, tc.code)
			if !strings.Contains(string(b), tc.msg) {
				t.Fatalf("body %s, want it to mention %q", b, tc.msg)
			}
		})
	}
}

// failingApps is an app store that is down.
type failingApps struct{ engine.AppStore }

var errAppsDown = errors.New("app store down")

func (failingApps) PutApp(context.Context, *engine.App) error { return errAppsDown }
func (failingApps) GetApp(context.Context, string, string) (*engine.App, error) {
	return nil, errAppsDown
}
func (failingApps) ListApps(context.Context, string) ([]*engine.App, error) { return nil, errAppsDown }
func (failingApps) DeleteApp(context.Context, string, string) error         { return errAppsDown }

func TestAppUnavailable(t *testing.T) {
	e := newAppEnv(t, nil)
	ok := `{"number":"5551000","route":{"type":"route_agent","target":"a1"}}`
	// A directory look-up that fails is no refusal of the app.
	e.c.want("POST", "/v1/apps", `{"number":"5551000","route":{"type":"route_group","target":"gbroken"}}`, 503, "1501")
	e.c.want("POST", "/v1/apps", `{"number":"5551000","ring_tone":"annbroken","route":{"type":"route_agent","target":"a1"}}`, 503, "1501")

	down := newAppEnv(t, failingApps{})
	down.c.want("POST", "/v1/apps", ok, 503, "1501")
	down.c.want("GET", "/v1/apps", "", 503, "1501")
	down.c.want("GET", "/v1/apps/a", "", 503, "1501")
	down.c.want("PUT", "/v1/apps/a", ok, 503, "1501")
	down.c.want("DELETE", "/v1/apps/a", "", 503, "1501")

	// No app store: 501; no credentials: 401.
	s := NewServer(Config{Engine: newFakeEngine(), Tenants: testTenants, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	none := v1Client{t, srv.URL, "101", "tok101"}
	for _, m := range []string{"GET /v1/apps", "POST /v1/apps", "GET /v1/apps/a", "PUT /v1/apps/a", "DELETE /v1/apps/a"} {
		method, path, _ := strings.Cut(m, " ")
		none.want(method, path, ok, 501, "not_configured")
	}
	v1Client{t, srv.URL, "101", "wrong"}.want("GET", "/v1/apps", "", 401, "unauthorized")
}

func TestValidateAppNilKnown(t *testing.T) {
	// Without look-ups every name passes; the rules of the app remain.
	a := &engine.App{ID: "a", Number: "+15550100", Route: &ivr.Action{Type: ivr.RouteGroup, Target: "anything"}}
	if err := ValidateApp(a, ivr.Known{}); err != nil {
		t.Fatal(err)
	}
	a.Number = "1"
	err := ValidateApp(a, ivr.Known{})
	var ae *AppError
	if !errors.Is(err, ErrInvalidApp) || !errors.As(err, &ae) || len(ae.Problems) != 1 || !strings.Contains(err.Error(), `number: "1"`) {
		t.Fatalf("got %v", err)
	}
	if err := ValidateApp(nil, ivr.Known{}); !errors.Is(err, ErrInvalidApp) {
		t.Fatalf("nil app: %v", err)
	}
}
