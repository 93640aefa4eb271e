package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/engine"
)

// reserveScript decides a reservation atomically. KEYS[1] is the tenant's
// agents hash, KEYS[2] the agent's live-state hash; ARGV is agent id, call
// id, now (unix ms) and the lease deadline (unix ms). It drops the leases
// that ran out by now, then answers 1 (no such agent), or, unless the call
// holds a live lease already (a renewal), 2 (paused), 3 (in wrap-up) or 4
// (capacity reached), or records the lease and answers 0. Malformed data
// is an error reply, given before anything is written.
var reserveScript = newScript(`
local now = tonumber(ARGV[3])
local mine = 'call:' .. ARGV[2]
local agent
local js = redis.call('HGET', KEYS[1], ARGV[1])
if js then
  local ok, a = pcall(cjson.decode, js)
  if not ok or type(a) ~= 'table' then
    return redis.error_reply('malformed record of agent ' .. ARGV[1])
  end
  agent = a
end
local fields = redis.call('HGETALL', KEYS[2])
local expired, others, held, wrap = {}, 0, false, 0
for i = 1, #fields, 2 do
  local f, v = fields[i], fields[i + 1]
  if string.sub(f, 1, 5) == 'call:' then
    local deadline = tonumber(v)
    if not deadline then
      return redis.error_reply('malformed lease ' .. f .. ' of agent ' .. ARGV[1])
    end
    if deadline <= now then
      expired[#expired + 1] = f
    elseif f == mine then
      held = true
    else
      others = others + 1
    end
  elseif f == 'wrap_until' then
    wrap = tonumber(v)
    if not wrap then
      return redis.error_reply('malformed wrap_until of agent ' .. ARGV[1])
    end
  end
end
for _, f in ipairs(expired) do redis.call('HDEL', KEYS[2], f) end
if not agent then return 1 end
if not held then
  if agent.paused == true then return 2 end
  if now < wrap then return 3 end
  local capacity = tonumber(agent.max_calls) or 0
  if capacity <= 0 then capacity = 1 end
  if others >= capacity then return 4 end
end
redis.call('HSET', KEYS[2], mine, ARGV[4])
return 0`)

// releaseScript ends a reservation atomically. KEYS and the first three
// ARGV are reserveScript's; ARGV[4] is "1" when the agent talked on the
// call. It drops the leases that ran out by now; when the call still held
// a live lease it removes it and, if answered and the agent still exists,
// sets last_end, wrap_until (now + wrap_up_seconds; none without wrap-up,
// dropping one that is over) and counts the call.
// It answers 1 when it released a lease, else 0.
var releaseScript = newScript(`
local now = tonumber(ARGV[3])
local mine = 'call:' .. ARGV[2]
local fields = redis.call('HGETALL', KEYS[2])
local expired, held, wrapUntil = {}, false, nil
for i = 1, #fields, 2 do
  local f, v = fields[i], fields[i + 1]
  if f == 'wrap_until' then
    wrapUntil = tonumber(v)
  elseif string.sub(f, 1, 5) == 'call:' then
    local deadline = tonumber(v)
    if not deadline then
      return redis.error_reply('malformed lease ' .. f .. ' of agent ' .. ARGV[1])
    end
    if deadline <= now then
      expired[#expired + 1] = f
    elseif f == mine then
      held = true
    end
  end
end
local wrap
if held and ARGV[4] == '1' then
  local js = redis.call('HGET', KEYS[1], ARGV[1])
  if js then
    local ok, a = pcall(cjson.decode, js)
    if not ok or type(a) ~= 'table' then
      return redis.error_reply('malformed record of agent ' .. ARGV[1])
    end
    wrap = tonumber(a.wrap_up_seconds) or 0
    if wrap < 0 then wrap = 0 end
  end
end
for _, f in ipairs(expired) do redis.call('HDEL', KEYS[2], f) end
if not held then return 0 end
redis.call('HDEL', KEYS[2], mine)
if wrap then
  -- No wrap-up (0 s) stamps no wrap_until: a reservation whose clock was
  -- read a moment before this release must not find the agent in wrap-up.
  -- A wrap-up still running from an earlier call is left alone, one
  -- that is over is dropped.
  if wrap > 0 then
    redis.call('HSET', KEYS[2], 'last_end', ARGV[3], 'wrap_until', string.format('%.0f', now + wrap * 1000))
  else
    redis.call('HSET', KEYS[2], 'last_end', ARGV[3])
    if wrapUntil and wrapUntil <= now then redis.call('HDEL', KEYS[2], 'wrap_until') end
  end
  redis.call('HINCRBY', KEYS[2], 'taken', 1)
end
return 1`)

// checkLease refuses leases that would end before they begin: deadlines
// are kept to the millisecond.
func checkLease(op, callID string, lease time.Duration) error {
	if callID == "" {
		return fmt.Errorf("redis store: %s: empty call id", op)
	}
	if lease < time.Millisecond {
		return fmt.Errorf("redis store: %s for call %s: lease %v is under 1ms", op, callID, lease)
	}
	return nil
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Reserve runs reserveScript: one round trip (EVALSHA; the first call on a
// server that lacks the script adds an EVAL). Refusals are the engine's
// sentinel errors, unwrapped, since the engine records their text.
func (s *Store) Reserve(ctx context.Context, tenant, agentID, callID string, now time.Time, lease time.Duration) error {
	op := "reserve agent " + tenant + "/" + agentID
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	if err := checkLease(op, callID, lease); err != nil {
		return err
	}
	keys := []string{s.agentsKey(tenant), s.stateKey(tenant, agentID)}
	code, err := reserveScript.Run(ctx, s.c, keys, agentID, callID, ms(now), ms(now.Add(lease))).Int()
	if err != nil {
		return fmt.Errorf("redis store: %s for call %s: %w", op, callID, err)
	}
	switch code {
	case 0:
		return nil
	case 1:
		return engine.ErrAgentNotFound
	case 2:
		return engine.ErrAgentPaused
	case 3:
		return engine.ErrAgentWrapUp
	case 4:
		return engine.ErrAgentBusy
	}
	return fmt.Errorf("redis store: %s for call %s: script answered %d", op, callID, code)
}

// Release runs releaseScript: one round trip.
func (s *Store) Release(ctx context.Context, tenant, agentID, callID string, now time.Time, answered bool) error {
	op := "release agent " + tenant + "/" + agentID
	if err := checkTenant(op, tenant); err != nil {
		return err
	}
	flag := "0"
	if answered {
		flag = "1"
	}
	keys := []string{s.agentsKey(tenant), s.stateKey(tenant, agentID)}
	if err := releaseScript.Run(ctx, s.c, keys, agentID, callID, ms(now), flag).Err(); err != nil {
		return fmt.Errorf("redis store: %s from call %s: %w", op, callID, err)
	}
	return nil
}
