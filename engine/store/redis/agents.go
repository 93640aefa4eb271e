package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.AgentStore = (*Store)(nil)

// Keys of a tenant's agent side; see the package comment. Every one is
// tagged {t:<tenant>}, so a script or MULTI may touch any of them together.
func (s *Store) tkey(tenant, rest string) string {
	return s.opts.Prefix + ":{t:" + tenant + "}:" + rest
}
func (s *Store) agentsKey(tenant string) string       { return s.tkey(tenant, "agents") }
func (s *Store) groupsKey(tenant string) string       { return s.tkey(tenant, "groups") }
func (s *Store) stateKey(tenant, agent string) string { return s.tkey(tenant, "state:"+agent) }
func (s *Store) rrKey(tenant, group string) string    { return s.tkey(tenant, "rr:"+group) }
func (s *Store) stickyKey(tenant, number string) string {
	return s.tkey(tenant, "sticky:"+number)
}
func (s *Store) joinedKey(tenant, group string) string { return s.tkey(tenant, "queue:joined:"+group) }
func (s *Store) leaseKey(tenant, group string) string  { return s.tkey(tenant, "queue:lease:"+group) }
func (s *Store) dndKey(tenant string) string           { return s.tkey(tenant, "dnd") }

// Fields of an agent's live-state hash besides its "call:<id>" leases.
const (
	leasePrefix    = "call:"
	wrapUntilField = "wrap_until"
	lastEndField   = "last_end"
	takenField     = "taken"
)

// checkTenant refuses a tenant that would break its keys' hash tag: with a
// brace in it, two tenants' keys could collide.
func checkTenant(op, tenant string) error {
	if strings.ContainsAny(tenant, "{}") {
		return fmt.Errorf("redis store: %s: tenant %q contains a brace", op, tenant)
	}
	return nil
}

// PutAgent stores the agent in its tenant's agents hash: one HSET.
func (s *Store) PutAgent(ctx context.Context, a *engine.Agent) error {
	op := "put agent " + a.Tenant + "/" + a.ID
	if err := checkTenant(op, a.Tenant); err != nil {
		return err
	}
	if a.ID == "" {
		return errors.New("redis store: put agent: empty id")
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if err := s.c.HSet(ctx, s.agentsKey(a.Tenant), a.ID, b).Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return nil
}

// GetAgent reads one field of the tenant's agents hash: one HGET.
func (s *Store) GetAgent(ctx context.Context, tenant, id string) (*engine.Agent, error) {
	op := "get agent " + tenant + "/" + id
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	js, err := s.c.HGet(ctx, s.agentsKey(tenant), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: %s: %w", op, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	a, err := decodeAgent(tenant, id, js)
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	return a, nil
}

// ListAgents reads the tenant's agents hash (one HGETALL) and sorts it.
func (s *Store) ListAgents(ctx context.Context, tenant string) ([]*engine.Agent, error) {
	op := "list agents of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	m, err := s.c.HGetAll(ctx, s.agentsKey(tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	var out []*engine.Agent
	for _, id := range sortedKeys(m) {
		a, err := decodeAgent(tenant, id, m[id])
		if err != nil {
			return nil, fmt.Errorf("redis store: %s: %w", op, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// DeleteAgent removes the agent and its call statistics, keeping its
// reservations, in one MULTI.
func (s *Store) DeleteAgent(ctx context.Context, tenant, id string) error {
	op := "delete agent " + tenant + "/" + id
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	var del *goredis.IntCmd
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		del = p.HDel(ctx, s.agentsKey(tenant), id)
		p.HDel(ctx, s.stateKey(tenant, id), wrapUntilField, lastEndField, takenField)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("redis store: %s: %w", op, engine.ErrNotFound)
	}
	return nil
}

// PutGroup stores the group in its tenant's groups hash: one HSET.
func (s *Store) PutGroup(ctx context.Context, g *engine.Group) error {
	op := "put group " + g.Tenant + "/" + g.ID
	if err := checkTenant(op, g.Tenant); err != nil {
		return err
	}
	if g.ID == "" {
		return errors.New("redis store: put group: empty id")
	}
	b, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if err := s.c.HSet(ctx, s.groupsKey(g.Tenant), g.ID, b).Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return nil
}

// GetGroup reads one field of the tenant's groups hash: one HGET.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (*engine.Group, error) {
	op := "get group " + tenant + "/" + id
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	js, err := s.c.HGet(ctx, s.groupsKey(tenant), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: %s: %w", op, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	g, err := decodeGroup(tenant, id, js)
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	return g, nil
}

// ListGroups reads the tenant's groups hash (one HGETALL) and sorts it.
func (s *Store) ListGroups(ctx context.Context, tenant string) ([]*engine.Group, error) {
	op := "list groups of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	m, err := s.c.HGetAll(ctx, s.groupsKey(tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	var out []*engine.Group
	for _, id := range sortedKeys(m) {
		g, err := decodeGroup(tenant, id, m[id])
		if err != nil {
			return nil, fmt.Errorf("redis store: %s: %w", op, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// DeleteGroup removes the group and its round-robin pointer in one MULTI.
func (s *Store) DeleteGroup(ctx context.Context, tenant, id string) error {
	op := "delete group " + tenant + "/" + id
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	var del *goredis.IntCmd
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		del = p.HDel(ctx, s.groupsKey(tenant), id)
		p.Del(ctx, s.rrKey(tenant, id))
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("redis store: %s: %w", op, engine.ErrNotFound)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func decodeAgent(tenant, id, js string) (*engine.Agent, error) {
	var a engine.Agent
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		return nil, fmt.Errorf("decode agent %s: %w", id, err)
	}
	if a.ID != id || a.Tenant != tenant {
		return nil, fmt.Errorf("decode agent %s: record holds agent %q of tenant %q", id, a.ID, a.Tenant)
	}
	return &a, nil
}

func decodeGroup(tenant, id, js string) (*engine.Group, error) {
	var g engine.Group
	if err := json.Unmarshal([]byte(js), &g); err != nil {
		return nil, fmt.Errorf("decode group %s: %w", id, err)
	}
	if g.ID != id || g.Tenant != tenant {
		return nil, fmt.Errorf("decode group %s: record holds group %q of tenant %q", id, g.ID, g.Tenant)
	}
	return &g, nil
}

// AgentStates reads every agent's live-state hash in one pipeline (the
// keys share the tenant's slot, so a cluster serves it from one node).
func (s *Store) AgentStates(ctx context.Context, tenant string, ids []string) ([]engine.AgentState, error) {
	op := "agent states of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	out := make([]engine.AgentState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.stateKey(tenant, id))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	for i, cmd := range cmds {
		st, err := decodeState(cmd.Val())
		if err != nil {
			return nil, fmt.Errorf("redis store: %s: agent %s: %w", op, ids[i], err)
		}
		out[i] = st
	}
	return out, nil
}

// decodeState rebuilds an AgentState from its hash. Fields it does not
// know are ignored (a newer node may add some); a number that does not
// parse is an error.
func decodeState(m map[string]string) (engine.AgentState, error) {
	var st engine.AgentState
	for f, v := range m {
		var err error
		switch {
		case strings.HasPrefix(f, leasePrefix):
			var until time.Time
			if until, err = msValue(v); err == nil {
				if st.Calls == nil {
					st.Calls = map[string]time.Time{}
				}
				st.Calls[strings.TrimPrefix(f, leasePrefix)] = until
			}
		case f == wrapUntilField:
			st.WrapUpUntil, err = msValue(v)
		case f == lastEndField:
			st.LastCallEnd, err = msValue(v)
		case f == takenField:
			st.CallsTaken, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			return engine.AgentState{}, fmt.Errorf("field %s: malformed value %q", f, v)
		}
	}
	return st, nil
}

// msValue parses a unix millisecond time as the scripts write it.
func msValue(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(n).UTC(), nil
}
