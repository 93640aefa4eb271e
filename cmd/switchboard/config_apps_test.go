package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/store/memory"
	"github.com/switchboard/switchboard/ivr"
)

const appTenants = "tenants: [{user_id: \"1\", token: t}, {user_id: \"2\", token: u}]\n"

const inlineFlow = `    flow:
      id: small
      start: main
      menus:
        - id: main
          prompt: main.wav
          options:
            "1": {type: route_group, target: sales}
            "*": {type: repeat}
          retries: 1
          fallback: {type: hangup}
`

// loadAppConfig writes the files (name → content; "c.yaml" is the
// configuration) to a directory of their own, then loads and validates
// the configuration.
func loadAppConfig(t *testing.T, files map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := defaultConfig()
	if err := loadFile(&cfg, filepath.Join(dir, "c.yaml")); err != nil {
		return nil, err
	}
	return &cfg, cfg.validate()
}

func TestAppConfigSeeds(t *testing.T) {
	ivrFile, err := os.ReadFile(filepath.Join("..", "..", "configs", "ivr.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadAppConfig(t, map[string]string{
		"c.yaml": appTenants + `apps:
  - user_id: "1"
    id: inline
    name: Inline IVR
    number: "+15551000"
` + inlineFlow + `    ring_time: 30
    caller_lookup_url: https://crm.example/caller
    caller_lookup_timeout_ms: 800
  - user_id: "1"
    id: from-file
    number: "15551001"
    flow_file: flows/acme.yaml
    record: true
  - user_id: "2"
    id: direct
    number: "15551002"
    route: {type: route_agent, target: op, prompt: connecting.wav}
    status_callback: https://crm.example/events
`,
		"flows/acme.yaml": string(ivrFile),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New(memory.Options{})
	defer st.Close()
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if n, err := seed(ctx, st, cfg, now); err != nil || n != 3 {
		t.Fatalf("seed = %d, %v", n, err)
	}
	a, err := st.AppByNumber(ctx, "+15551000")
	if err != nil || a.ID != "inline" || a.Tenant != "1" || a.Flow == nil || a.Flow.ID != "small" || a.RingTime != 30 ||
		a.CallerLookupTimeoutMS != 800 || !a.CreatedAt.Equal(now) {
		t.Fatalf("inline app %+v, %v", a, err)
	}
	f, err := st.GetApp(ctx, "1", "from-file")
	if err != nil || f.Flow == nil || f.Flow.ID != "acme-main-line" || len(f.Flow.Menus) != 5 || !f.Record {
		t.Fatalf("app from a flow file %+v, %v", f, err)
	}
	d, err := st.GetApp(ctx, "2", "direct")
	if err != nil || d.Flow != nil || d.Route == nil || *d.Route != (ivr.Action{Type: ivr.RouteAgent, Target: "op", Prompt: "connecting.wav"}) {
		t.Fatalf("direct app %+v, %v", d, err)
	}

	// The API owns a seeded app from then on.
	d.Number, d.Name = "15552002", "changed through the API"
	if err := st.PutApp(ctx, d); err != nil {
		t.Fatal(err)
	}
	if n, err := seed(ctx, st, cfg, now); err != nil || n != 0 {
		t.Fatalf("second seed = %d, %v", n, err)
	}
	if d, _ := st.GetApp(ctx, "2", "direct"); d.Name != "changed through the API" {
		t.Fatalf("seeding overwrote the app: %+v", d)
	}

	// A number another app took through the API stops the start.
	if err := st.DeleteApp(ctx, "1", "inline"); err != nil {
		t.Fatal(err)
	}
	if err := st.PutApp(ctx, &engine.App{Tenant: "2", ID: "squatter", Number: "+15551000", Route: d.Route}); err != nil {
		t.Fatal(err)
	}
	if _, err := seed(ctx, st, cfg, now); err == nil || !strings.Contains(err.Error(), "seed app inline: number +15551000 is taken by app squatter of user_id 2") {
		t.Fatalf("seed with the number taken: %v", err)
	}
}

func TestExampleConfigApps(t *testing.T) {
	cfg := defaultConfig()
	if err := loadFile(&cfg, filepath.Join("..", "..", "configs", "switchboard.example.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Apps) != 2 || cfg.Apps[0].fileFlow == nil || cfg.Apps[0].fileFlow.ID != "acme-main-line" || cfg.Apps[1].Route == nil {
		t.Fatalf("example apps read as %+v", cfg.Apps)
	}
	st := memory.New(memory.Options{})
	defer st.Close()
	if _, err := seed(context.Background(), st, &cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if a, err := st.AppByNumber(context.Background(), "+442079460123"); err != nil || a.Flow == nil {
		t.Fatalf("example app %+v, %v", a, err)
	}
}

func TestBadAppConfig(t *testing.T) {
	app := func(fields string) string {
		return appTenants + "apps:\n  - user_id: \"1\"\n    id: app1\n" + fields
	}
	route := "    route: {type: route_group, target: sales}\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown tenant", map[string]string{"c.yaml": strings.Replace(app("    number: \"5551000\"\n"+route), `user_id: "1"`+"\n    id", `user_id: "9"`+"\n    id", 1)},
			[]string{`apps[0] (app1): user_id "9" is not a configured tenant`}},
		{"id twice", map[string]string{"c.yaml": app("    number: \"5551000\"\n"+route) + "  - {user_id: \"1\", id: app1, number: \"5551001\", route: {type: hangup}}\n"},
			[]string{"apps[1] (app1): id appears twice (also apps[0])"}},
		{"number twice", map[string]string{"c.yaml": app("    number: \"5551000\"\n"+route) + "  - {user_id: \"2\", id: app2, number: \"5551000\", route: {type: route_number, target: \"5550100\"}}\n"},
			[]string{"apps[1] (app2): number 5551000 is also apps[0]'s"}},
		{"bad id", map[string]string{"c.yaml": strings.Replace(app("    number: \"5551000\"\n"+route), "id: app1", "id: \"a b\"", 1)},
			[]string{`apps[0] (a b): id: "a b" is not an app id`}},
		{"no number", map[string]string{"c.yaml": app(route)}, []string{"apps[0] (app1): number: \"\" is not a virtual number"}},
		{"bad number", map[string]string{"c.yaml": app("    number: 555-1000\n" + route)}, []string{"number: \"555-1000\" is not a virtual number"}},
		{"neither flow nor route", map[string]string{"c.yaml": app("    number: \"5551000\"\n")}, []string{"apps[0] (app1): flow: an app needs a flow"}},
		{"flow and route", map[string]string{"c.yaml": app("    number: \"5551000\"\n" + route + inlineFlow)}, []string{"route: an app has a flow or a route, not both"}},
		{"flow and flow_file", map[string]string{"c.yaml": app("    number: \"5551000\"\n    flow_file: f.yaml\n" + inlineFlow)}, []string{"apps[0] (app1): flow and flow_file: give one"}},
		{"flow_file missing", map[string]string{"c.yaml": app("    number: \"5551000\"\n    flow_file: nowhere.yaml\n")}, []string{"apps[0] (app1): flow_file: open", "nowhere.yaml"}},
		{"flow_file not a flow", map[string]string{"c.yaml": app("    number: \"5551000\"\n    flow_file: f.yaml\n"), "f.yaml": "id: f\nstart: a\nmenus:\n  - id: a\n    promt: x.wav\n"},
			[]string{"apps[0] (app1): flow_file", "f.yaml: ivr flow:", "field promt not found"}},
		{"flow_file problems", map[string]string{"c.yaml": app("    number: \"5551000\"\n    flow_file: f.yaml\n"),
			"f.yaml": "id: f\nstart: a\nmenus:\n  - {id: a, prompt: a.wav, next: {type: menu, target: b}}\n  - {id: b, prompt: b.wav, next: {type: back}}\n  - {id: c, prompt: c.wav}\n"},
			[]string{"apps[0] (app1): flow_file: menu a: a loop without exit", "flow_file: menu c: unreachable"}},
		{"flow_file start", map[string]string{"c.yaml": app("    number: \"5551000\"\n    flow_file: f.yaml\n"), "f.yaml": "id: f\nmenus:\n  - {id: a, prompt: a.wav}\n"},
			[]string{"apps[0] (app1): flow_file: start: required"}},
		{"inline flow unknown key", map[string]string{"c.yaml": app("    number: \"5551000\"\n    flow: {id: f, start: a, menus: [{id: a, prompt: a.wav, timeout: 3}]}\n")}, []string{"field timeout not found"}},
		{"inline flow problems", map[string]string{"c.yaml": app("    number: \"5551000\"\n    flow: {id: f, start: a, menus: [{id: a, prompt: \"not an id\", options: {\"1\": {type: route_number, target: abc}}}]}\n")},
			[]string{`apps[0] (app1): flow: menu a, prompt: unknown prompt "not an id"`, `flow: menu a, options["1"].target: "abc" is not a number Switchboard dials`}},
		{"route type", map[string]string{"c.yaml": app("    number: \"5551000\"\n    route: {type: menu, target: main}\n")}, []string{`apps[0] (app1): route.type: "menu"`}},
		{"route target", map[string]string{"c.yaml": app("    number: \"5551000\"\n    route: {type: route_agent}\n")}, []string{"route.target: required: the agent"}},
		{"route prompt", map[string]string{"c.yaml": app("    number: \"5551000\"\n    route: {type: route_agent, target: a, prompt: hello}\n")}, []string{`route.prompt: unknown prompt "hello"`}},
		{"route unknown key", map[string]string{"c.yaml": app("    number: \"5551000\"\n    route: {type: route_agent, agent: a}\n")}, []string{"field agent not found"}},
		{"unknown key", map[string]string{"c.yaml": app("    number: \"5551000\"\n    ringtime: 5\n" + route)}, []string{"field ringtime not found"}},
		{"settings", map[string]string{"c.yaml": app("    number: \"5551000\"\n" + route + "    ring_time: 3\n    ring_tone: ring\n    time_limit: -5\n    caller_lookup_url: crm.example\n    caller_lookup_timeout_ms: 20000\n    status_callback: \"ftp://x\"\n    department: " + strings.Repeat("d", 101) + "\n    name: " + strings.Repeat("n", 101) + "\n")},
			[]string{"ring_time: 3", `ring_tone: unknown prompt "ring"`, "time_limit: -5", "caller_lookup_url: must be an absolute", "caller_lookup_timeout_ms: 20000", "status_callback: must be an absolute", "department: 101 characters", "name: 101 characters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadAppConfig(t, tc.files)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to mention %q", err, w)
				}
			}
		})
	}
}
