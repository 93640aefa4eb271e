package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
	"github.com/switchboard/switchboard/engine/api"
	"github.com/switchboard/switchboard/ivr"
	"github.com/switchboard/switchboard/media/announce"
)

// AppConfig seeds one app: a virtual number and what a call to it meets,
// either an IVR flow (inline, or in a file of its own) or a direct route.
// The fields are those of the API's apps (/v1/apps) and are checked by
// the same rules (api.ValidateApp), except that prompts are checked as
// announcement ids only and route targets (groups, agents) not at all:
// announcements are uploaded and agents and groups created through the
// API after the start, so the file cannot know them.
type AppConfig struct {
	Tenant string `yaml:"user_id"`
	ID     string `yaml:"id"`
	Name   string `yaml:"name"`
	Number string `yaml:"number"`
	// Flow is an IVR flow in the form of configs/ivr.example.yaml;
	// FlowFile names a file holding one, relative to the directory of the
	// configuration file. Route is a direct route instead:
	// {type: route_group, target: sales}.
	Flow                  *ivr.Flow   `yaml:"flow"`
	FlowFile              string      `yaml:"flow_file"`
	Route                 *ivr.Action `yaml:"route"`
	RingTime              int         `yaml:"ring_time"`
	RingTone              string      `yaml:"ring_tone"`
	TimeLimit             int         `yaml:"time_limit"`
	Record                bool        `yaml:"record"`
	Department            string      `yaml:"department"`
	CallerLookupURL       string      `yaml:"caller_lookup_url"`
	CallerLookupTimeoutMS int         `yaml:"caller_lookup_timeout_ms"`
	StatusCallback        string      `yaml:"status_callback"`

	// dir is the directory of the configuration file the app was read
	// from, which FlowFile is relative to ("": the working directory).
	dir string
	// fileFlow is the flow read from FlowFile by validateApps.
	fileFlow *ivr.Flow
}

// setAppsDir records the directory of the configuration file the apps
// not yet placed were read from.
func setAppsDir(cfg *Config, dir string) {
	for i := range cfg.Apps {
		if cfg.Apps[i].dir == "" {
			cfg.Apps[i].dir = dir
		}
	}
}

// app returns the engine's record of the configured app.
func (ac *AppConfig) app(now time.Time) *engine.App {
	flow := ac.Flow
	if ac.fileFlow != nil {
		flow = ac.fileFlow
	}
	return &engine.App{
		Tenant: ac.Tenant, ID: ac.ID, Name: ac.Name, Number: ac.Number, Flow: flow, Route: ac.Route,
		RingTime: ac.RingTime, RingTone: ac.RingTone, TimeLimit: ac.TimeLimit, Record: ac.Record,
		Department: ac.Department, CallerLookupURL: ac.CallerLookupURL, CallerLookupTimeoutMS: ac.CallerLookupTimeoutMS,
		StatusCallback: ac.StatusCallback, CreatedAt: now, UpdatedAt: now,
	}
}

// configKnown is what the file can check of an app's names: prompts are
// announcement ids, route numbers numbers Switchboard dials; groups and
// agents are not checked.
var configKnown = ivr.Known{Prompt: announce.ValidID, Number: dialer.ValidNumber}

// validateApps checks the configured apps: a configured tenant, an id and
// a number used once, a flow file that reads, and the rules of
// api.ValidateApp. It reads each flow_file. Every error names the app.
func (c *Config) validateApps(tenants map[string]bool) []error {
	var errs []error
	ids, numbers := map[string]int{}, map[string]int{}
	for i := range c.Apps {
		ac := &c.Apps[i]
		where := fmt.Sprintf("apps[%d] (%s)", i, ac.ID)
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf(where+": "+format, args...))
		}
		if !tenants[ac.Tenant] {
			fail("user_id %q is not a configured tenant", ac.Tenant)
		}
		if j, dup := ids[ac.Tenant+"/"+ac.ID]; dup {
			fail("id appears twice (also apps[%d])", j)
		} else {
			ids[ac.Tenant+"/"+ac.ID] = i
		}
		if j, dup := numbers[ac.Number]; dup && ac.Number != "" {
			fail("number %s is also apps[%d]'s: a virtual number answers one app", ac.Number, j)
		} else {
			numbers[ac.Number] = i
		}
		ac.fileFlow = nil
		switch {
		case ac.FlowFile != "" && ac.Flow != nil:
			fail("flow and flow_file: give one")
			continue
		case ac.FlowFile != "":
			path := ac.FlowFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(ac.dir, path)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				fail("flow_file: %v", err)
				continue
			}
			f, err := ivr.ParseYAML(data)
			if err != nil {
				fail("flow_file %s: %v", path, err)
				continue
			}
			ac.fileFlow = f
		}
		var ae *api.AppError
		if err := api.ValidateApp(ac.app(time.Time{}), configKnown); errors.As(err, &ae) {
			for _, p := range ae.Problems {
				fail("%s", appProblem(p, ac.FlowFile != ""))
			}
		} else if err != nil {
			fail("%v", err)
		}
	}
	return errs
}

// appProblem spells a problem with the configuration's keys: app_id is
// id there, and a flow's problems are under flow or flow_file.
func appProblem(p ivr.Problem, fromFile bool) string {
	if p.Field == "app_id" {
		p.Field = "id"
	}
	if fromFile && strings.HasPrefix(p.Field, "flow.") {
		p.Field = "flow_file: " + strings.TrimPrefix(p.Field, "flow.")
	}
	if p.Menu != "" {
		key := "flow"
		if fromFile {
			key = "flow_file"
		}
		return key + ": " + p.String()
	}
	return p.String()
}

// seedApps creates the configured apps the store does not have; one the
// store has is left alone (the API owns it from then on). A number
// another app holds stops the start with an error naming both.
func seedApps(ctx context.Context, st engine.AgentStore, cfg *Config, now time.Time) (created int, err error) {
	if len(cfg.Apps) == 0 {
		return 0, nil
	}
	apps, ok := st.(engine.AppStore)
	if !ok {
		return 0, errors.New("seed apps: the store keeps no apps")
	}
	for i := range cfg.Apps {
		ac := &cfg.Apps[i]
		_, err := apps.GetApp(ctx, ac.Tenant, ac.ID)
		if err == nil {
			continue
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return created, fmt.Errorf("seed app %s: %w", ac.ID, err)
		}
		if err := apps.PutApp(ctx, ac.app(now)); err != nil {
			if errors.Is(err, engine.ErrNumberTaken) {
				if other, oerr := apps.AppByNumber(ctx, ac.Number); oerr == nil {
					return created, fmt.Errorf("seed app %s: number %s is taken by app %s of user_id %s", ac.ID, ac.Number, other.ID, other.Tenant)
				}
			}
			return created, fmt.Errorf("seed app %s: %w", ac.ID, err)
		}
		created++
	}
	return created, nil
}
