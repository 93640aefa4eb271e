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

// Agents and groups are kept the same way: one JSON record per id in a
// hash per tenant, so a put or a get is one command and a list one
// HGETALL. directory describes one such kind of record.
type directory[T any] struct {
	name string                               // "agent", "group"
	key  func(s *Store, tenant string) string // the tenant's hash
	ids  func(*T) (tenant, id string)
}

var (
	agentDir = directory[engine.Agent]{"agent", (*Store).agentsKey, func(a *engine.Agent) (string, string) { return a.Tenant, a.ID }}
	groupDir = directory[engine.Group]{"group", (*Store).groupsKey, func(g *engine.Group) (string, string) { return g.Tenant, g.ID }}
)

// put stores v in its tenant's hash: one HSET.
func (d directory[T]) put(ctx context.Context, s *Store, v *T) error {
	tenant, id := d.ids(v)
	op := "put " + d.name + " " + tenant + "/" + id
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("redis store: put %s: empty id", d.name)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if err := s.c.HSet(ctx, d.key(s, tenant), id, b).Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return nil
}

// get reads one field of the tenant's hash: one HGET.
func (d directory[T]) get(ctx context.Context, s *Store, tenant, id string) (*T, error) {
	op := "get " + d.name + " " + tenant + "/" + id
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	js, err := s.c.HGet(ctx, d.key(s, tenant), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: %s: %w", op, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	v, err := d.decode(tenant, id, js)
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	return v, nil
}

// getMany reads several fields of the tenant's hash (one HMGET), in
// order, nil for a field that is not there.
func (d directory[T]) getMany(ctx context.Context, s *Store, tenant string, ids []string) ([]*T, error) {
	op := "get " + d.name + "s of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	out := make([]*T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.c.HMGet(ctx, d.key(s, tenant), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	for i, v := range vals {
		js, ok := v.(string)
		if !ok {
			continue
		}
		if out[i], err = d.decode(tenant, ids[i], js); err != nil {
			return nil, fmt.Errorf("redis store: %s: %w", op, err)
		}
	}
	return out, nil
}

// list reads the tenant's hash (one HGETALL), sorted by id.
func (d directory[T]) list(ctx context.Context, s *Store, tenant string) ([]*T, error) {
	op := "list " + d.name + "s of " + tenant
	if err := checkTenant(op, tenant); err != nil {
		return nil, err
	}
	m, err := s.c.HGetAll(ctx, d.key(s, tenant)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []*T
	for _, id := range ids {
		v, err := d.decode(tenant, id, m[id])
		if err != nil {
			return nil, fmt.Errorf("redis store: %s: %w", op, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// decode reads a record and checks that it is the one its field names.
func (d directory[T]) decode(tenant, id, js string) (*T, error) {
	var v T
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", d.name, id, err)
	}
	if t, i := d.ids(&v); i != id || t != tenant {
		return nil, fmt.Errorf("decode %s %s: record holds %s %q of tenant %q", d.name, id, d.name, i, t)
	}
	return &v, nil
}

// PutAgent stores the agent: one HSET.
func (s *Store) PutAgent(ctx context.Context, a *engine.Agent) error { return agentDir.put(ctx, s, a) }

// GetAgent reads one agent: one HGET.
func (s *Store) GetAgent(ctx context.Context, tenant, id string) (*engine.Agent, error) {
	return agentDir.get(ctx, s, tenant, id)
}

// GetAgents reads several agents: one HMGET.
func (s *Store) GetAgents(ctx context.Context, tenant string, ids []string) ([]*engine.Agent, error) {
	return agentDir.getMany(ctx, s, tenant, ids)
}

// ListAgents reads the tenant's agents sorted by id: one HGETALL.
func (s *Store) ListAgents(ctx context.Context, tenant string) ([]*engine.Agent, error) {
	return agentDir.list(ctx, s, tenant)
}

// PutGroup stores the group: one HSET.
func (s *Store) PutGroup(ctx context.Context, g *engine.Group) error { return groupDir.put(ctx, s, g) }

// GetGroup reads one group: one HGET.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (*engine.Group, error) {
	return groupDir.get(ctx, s, tenant, id)
}

// ListGroups reads the tenant's groups sorted by id: one HGETALL.
func (s *Store) ListGroups(ctx context.Context, tenant string) ([]*engine.Group, error) {
	return groupDir.list(ctx, s, tenant)
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
