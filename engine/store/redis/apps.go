package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard/switchboard/engine"
)

var _ engine.AppStore = (*Store)(nil)

// Apps and their virtual numbers. A number is unique over every tenant,
// so the index that finds an app by its number is global, and PutApp must
// check it and write it together with the app's record in one script. A
// script's keys must share a cluster slot, so every app key carries the
// one hash tag {apps}:
//
//	P:{apps}:t:<tenant>   HASH  field app id: JSON of engine.App
//	P:{apps}:numbers      HASH  field virtual number: the same JSON, byte
//	                            for byte, of the app answering it
//
// The index holds the whole record rather than a reference to it, so
// AppByNumber — the look-up of every inbound call — is one HGET. Both
// copies are written by the same script (putAppScript), so they never
// differ; the app holding a number is the one whose record equals the
// index entry. All apps sit in one slot, on one master of a cluster: apps
// are few, small, and read once per inbound call, so that costs nothing
// worth splitting them for.
//
// Round trips: PutApp and DeleteApp 1 (a script; +1 on a server that
// lacks it), GetApp, ListApps and AppByNumber 1.

func (s *Store) appsKey(tenant string) string { return s.opts.Prefix + ":{apps}:t:" + tenant }
func (s *Store) appNumbersKey() string        { return s.opts.Prefix + ":{apps}:numbers" }

var appDir = directory[engine.App]{"app", (*Store).appsKey, func(a *engine.App) (string, string) { return a.Tenant, a.ID }}

// putAppScript stores an app and claims its number. KEYS[1] is the
// tenant's apps, KEYS[2] the number index; ARGV[1] the app id, ARGV[2]
// its number, ARGV[3] its JSON. It returns 0 when another app holds the
// number (nothing written), else 1. The app holds the number when the
// index entry equals its stored record. When the app had another number,
// that number is freed if the app held it (a stored record that does not
// decode frees nothing).
var putAppScript = newScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
local held = redis.call('HGET', KEYS[2], ARGV[2])
if held and held ~= old then
	return 0
end
if old and not held then
	local ok, rec = pcall(cjson.decode, old)
	if ok and type(rec) == 'table' and type(rec.number) == 'string' and redis.call('HGET', KEYS[2], rec.number) == old then
		redis.call('HDEL', KEYS[2], rec.number)
	end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`)

// deleteAppScript removes an app and frees its number. KEYS are
// putAppScript's; ARGV[1] is the app id. It returns 0 when there is no
// such app, else 1. A record that does not decode is deleted all the
// same.
var deleteAppScript = newScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then
	return 0
end
local ok, rec = pcall(cjson.decode, old)
if ok and type(rec) == 'table' and type(rec.number) == 'string' and redis.call('HGET', KEYS[2], rec.number) == old then
	redis.call('HDEL', KEYS[2], rec.number)
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`)

// PutApp stores the app and claims its number atomically: one round
// trip. ErrNumberTaken when another app, of any tenant, holds it.
func (s *Store) PutApp(ctx context.Context, a *engine.App) error {
	op := "put app " + a.Tenant + "/" + a.ID
	if err := checkTenant(op, a.Tenant); err != nil {
		return err
	}
	switch {
	case a.ID == "":
		return errors.New("redis store: put app: empty id")
	case a.Number == "":
		return fmt.Errorf("redis store: %s: empty number", op)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	keys := []string{s.appsKey(a.Tenant), s.appNumbersKey()}
	done, err := putAppScript.Run(ctx, s.c, keys, a.ID, a.Number, b).Int()
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if done == 0 {
		return fmt.Errorf("redis store: %s: number %s: %w", op, a.Number, engine.ErrNumberTaken)
	}
	return nil
}

// GetApp reads one app: one HGET.
func (s *Store) GetApp(ctx context.Context, tenant, id string) (*engine.App, error) {
	return appDir.get(ctx, s, tenant, id)
}

// ListApps reads the tenant's apps sorted by id: one HGETALL.
func (s *Store) ListApps(ctx context.Context, tenant string) ([]*engine.App, error) {
	return appDir.list(ctx, s, tenant)
}

// DeleteApp removes the app and frees its number: one round trip.
func (s *Store) DeleteApp(ctx context.Context, tenant, id string) error {
	op := "delete app " + tenant + "/" + id
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	keys := []string{s.appsKey(tenant), s.appNumbersKey()}
	done, err := deleteAppScript.Run(ctx, s.c, keys, id).Int()
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if done == 0 {
		return fmt.Errorf("redis store: %s: %w", op, engine.ErrNotFound)
	}
	return nil
}

// AppByNumber reads the app answering number from the index: one HGET.
func (s *Store) AppByNumber(ctx context.Context, number string) (*engine.App, error) {
	op := "app by number " + number
	js, err := s.c.HGet(ctx, s.appNumbersKey(), number).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: %s: %w", op, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	var a engine.App
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		return nil, fmt.Errorf("redis store: %s: decode: %w", op, err)
	}
	if a.Number != number {
		return nil, fmt.Errorf("redis store: %s: the index holds app %s/%s of number %q", op, a.Tenant, a.ID, a.Number)
	}
	return &a, nil
}
