package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard/switchboard/dialer"
	"github.com/switchboard/switchboard/engine"
)

// validateSeeds checks the agents and groups of the configuration: known
// tenants, unique ids, valid numbers, members that exist.
func (c *Config) validateSeeds(tenants map[string]bool) []error {
	var errs []error
	agents := map[string]bool{}
	for i, a := range c.Agents {
		where := fmt.Sprintf("agents[%d] (%s)", i, a.ID)
		if !tenants[a.Tenant] {
			errs = append(errs, fmt.Errorf("%s: user_id %q is not a configured tenant", where, a.Tenant))
		}
		if a.ID == "" || len(a.ID) > 50 {
			errs = append(errs, fmt.Errorf("%s: id must be 1 to 50 characters", where))
		}
		if agents[a.Tenant+"/"+a.ID] {
			errs = append(errs, fmt.Errorf("%s: id appears twice", where))
		}
		agents[a.Tenant+"/"+a.ID] = true
		if len(a.Numbers) == 0 {
			errs = append(errs, fmt.Errorf("%s: needs at least one number", where))
		}
		for _, n := range a.Numbers {
			if !dialer.ValidNumber(n) && !strings.HasPrefix(n, "sip:") && !strings.HasPrefix(n, "sips:") {
				errs = append(errs, fmt.Errorf("%s: %q is neither a number nor a sip: URI", where, n))
			}
		}
		if a.CLI != "" && !dialer.ValidNumber(a.CLI) {
			errs = append(errs, fmt.Errorf("%s: cli %q is not a number", where, a.CLI))
		}
		if a.MaxCalls < 0 || a.WrapUpSeconds < 0 {
			errs = append(errs, fmt.Errorf("%s: max_calls and wrap_up_seconds must not be negative", where))
		}
	}
	groups := map[string]bool{}
	for i, g := range c.Groups {
		where := fmt.Sprintf("groups[%d] (%s)", i, g.ID)
		if !tenants[g.Tenant] {
			errs = append(errs, fmt.Errorf("%s: user_id %q is not a configured tenant", where, g.Tenant))
		}
		if g.ID == "" || len(g.ID) > 50 {
			errs = append(errs, fmt.Errorf("%s: id must be 1 to 50 characters", where))
		}
		if groups[g.Tenant+"/"+g.ID] {
			errs = append(errs, fmt.Errorf("%s: id appears twice", where))
		}
		groups[g.Tenant+"/"+g.ID] = true
		if _, err := dialer.ParseDistribution(g.Distribution); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if g.RingTime < 0 || g.RingTime > 50 {
			errs = append(errs, fmt.Errorf("%s: ring_time must be 0 to 50", where))
		}
		for _, m := range g.Members {
			if !agents[g.Tenant+"/"+m.AgentID] {
				errs = append(errs, fmt.Errorf("%s: member %q is not an agent of tenant %s in this file", where, m.AgentID, g.Tenant))
			}
		}
	}
	errs = append(errs, c.validateApps(tenants)...)
	return errs
}

// seed creates the configured agents and groups the store does not have.
func seed(ctx context.Context, st engine.AgentStore, cfg *Config, now time.Time) (created int, err error) {
	for _, ac := range cfg.Agents {
		_, err := st.GetAgent(ctx, ac.Tenant, ac.ID)
		if err == nil {
			continue
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return created, fmt.Errorf("seed agent %s: %w", ac.ID, err)
		}
		a := &engine.Agent{
			Tenant: ac.Tenant, ID: ac.ID, Name: ac.Name, Numbers: ac.Numbers, CLI: ac.CLI,
			WebLogin: ac.WebLogin, CallLogin: ac.CallLogin, Paused: ac.Paused,
			MaxCalls: ac.MaxCalls, WrapUpSeconds: ac.WrapUpSeconds, CreatedAt: now, UpdatedAt: now,
		}
		if err := st.PutAgent(ctx, a); err != nil {
			return created, fmt.Errorf("seed agent %s: %w", ac.ID, err)
		}
		created++
	}
	for _, gc := range cfg.Groups {
		_, err := st.GetGroup(ctx, gc.Tenant, gc.ID)
		if err == nil {
			continue
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return created, fmt.Errorf("seed group %s: %w", gc.ID, err)
		}
		g := &engine.Group{
			Tenant: gc.Tenant, ID: gc.ID, Name: gc.Name, Distribution: gc.Distribution, RingTime: gc.RingTime,
			Sticky: gc.Sticky, StickyDays: gc.StickyDays, Recording: gc.Recording,
			QueueTimeout: gc.QueueTimeout, MaxWait: gc.MaxWait, CreatedAt: now, UpdatedAt: now,
		}
		for i, m := range gc.Members {
			p := m.Priority
			if p == 0 {
				p = i + 1
			}
			g.Members = append(g.Members, engine.Member{AgentID: m.AgentID, Priority: p})
		}
		if err := st.PutGroup(ctx, g); err != nil {
			return created, fmt.Errorf("seed group %s: %w", gc.ID, err)
		}
		created++
	}
	n, err := seedApps(ctx, st, cfg, now)
	return created + n, err
}
