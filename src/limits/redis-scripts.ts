// Lua scripts of the fleet-wide limits, registered once per Redis connection. Each runs atomically in
// Redis and reads Redis's own clock (TIME), so workers on machines whose clocks disagree still agree.

import type { Cluster, Redis } from 'ioredis';

/** Milliseconds since the epoch by the Redis server's clock, to the microsecond. */
const NOW = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
`;

/**
 * One request to a server: breaker, in-flight cap and request rate, checked together so that a refusal
 * takes nothing — unless the caller asks to claim the rate: then a refusal for the rate alone books the
 * next rate slot for it (the caller waits for it in process and comes back with `rateClaimed`, which
 * skips the rate check), so a job part-way through an attempt cannot lose its turn to newcomers.
 * KEYS: leases (zset leaseId -> expiry), rate (GCRA theoretical arrival time), breaker
 * (hash: failures, openUntil), probe (the half-open probe's lease).
 * ARGV: leaseId, maxInFlight, intervalMs (1000 / rate), leaseTtlMs, claimRate (0|1), rateClaimed (0|1).
 * Returns {1, 0, probe} when granted (probe: 1 when this request is the half-open probe), or
 * {0, waitMs, reason}; waitMs is -1 when only the caller can guess (a slot frees when a request ends);
 * reason 'rate_claimed' is a rate refusal whose slot is now booked for the caller.
 */
export const ACQUIRE_SERVER_PERMIT = `${NOW}
local leaseId = ARGV[1]
local maxInFlight = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local leaseTtl = tonumber(ARGV[4])
local claimRate = ARGV[5] == '1'
local rateClaimed = ARGV[6] == '1'

local probe = 0
local openUntil = tonumber(redis.call('HGET', KEYS[3], 'openUntil'))
if openUntil then
  if now < openUntil then return {0, math.ceil(openUntil - now), 'breaker_open'} end
  if redis.call('EXISTS', KEYS[4]) == 1 then return {0, -1, 'breaker_probing'} end
  probe = 1
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= maxInFlight then return {0, -1, 'in_flight'} end

local function bookRate(tat)
  local nextTat = math.max(tat, now) + interval
  redis.call('SET', KEYS[2], nextTat, 'PX', math.ceil(nextTat - now) + 1000)
end

if not rateClaimed then
  -- A request up to 1 ms early goes: at high rates, requests landing in the same millisecond are not
  -- bounced for a wait shorter than a job's delay can be.
  local tat = tonumber(redis.call('GET', KEYS[2])) or now
  if tat - now > 1 then
    if claimRate then
      bookRate(tat)
      return {0, math.ceil(tat - now), 'rate_claimed'}
    end
    return {0, math.ceil(tat - now), 'rate'}
  end
  bookRate(tat)
end
redis.call('ZADD', KEYS[1], now + leaseTtl, leaseId)
redis.call('PEXPIRE', KEYS[1], leaseTtl)
if probe == 1 then redis.call('SET', KEYS[4], leaseId, 'PX', leaseTtl) end
return {1, 0, probe}
`;

/**
 * The end of one request. KEYS: leases, breaker, probe, open breakers (zset host -> openUntil).
 * ARGV: leaseId, outcome (success | transient_failure | neutral), failureThreshold, cooldownMs, host,
 * forgetMs (how long an unprobed open breaker and a failure count are kept).
 * Returns {transition, consecutiveFailures}: transition is '', 'opened', 'reopened' or 'closed'.
 */
export const RELEASE_SERVER_PERMIT = `${NOW}
local leaseId = ARGV[1]
local outcome = ARGV[2]
local threshold = tonumber(ARGV[3])
local cooldown = tonumber(ARGV[4])
local host = ARGV[5]
local forget = tonumber(ARGV[6])

redis.call('ZREM', KEYS[1], leaseId)
local isProbe = redis.call('GET', KEYS[3]) == leaseId
if isProbe then redis.call('DEL', KEYS[3]) end
if outcome == 'neutral' then return {'', 0} end

local function open(failures)
  local openUntil = now + cooldown
  redis.call('HSET', KEYS[2], 'openUntil', openUntil, 'failures', failures)
  redis.call('PEXPIRE', KEYS[2], cooldown + forget)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - forget)
  redis.call('ZADD', KEYS[4], openUntil, host)
  redis.call('PEXPIRE', KEYS[4], cooldown + forget)
end

local isOpen = redis.call('HEXISTS', KEYS[2], 'openUntil') == 1
if outcome == 'success' then
  if isProbe then
    redis.call('DEL', KEYS[2])
    redis.call('ZREM', KEYS[4], host)
    return {'closed', 0}
  end
  -- A request that began before the breaker opened says nothing about now: only the probe closes it.
  if not isOpen then redis.call('DEL', KEYS[2]) end
  return {'', 0}
end

local failures = tonumber(redis.call('HGET', KEYS[2], 'failures')) or 0
if isProbe then
  open(failures)
  return {'reopened', failures}
end
if isOpen then return {'', failures} end
failures = redis.call('HINCRBY', KEYS[2], 'failures', 1)
if failures >= threshold then
  open(failures)
  return {'opened', failures}
end
redis.call('PEXPIRE', KEYS[2], forget)
return {'', failures}
`;

/**
 * Extends a permit whose request is still running, so that no request outlives its lease (a slow
 * request that lost its lease would let the fleet exceed the in-flight cap, or send a second probe).
 * KEYS: leases, probe. ARGV: leaseId, leaseTtlMs. Returns 1 while the lease is held, 0 once it is gone.
 */
export const RENEW_SERVER_PERMIT = `${NOW}
local leaseTtl = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + leaseTtl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], leaseTtl)
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('PEXPIRE', KEYS[2], leaseTtl) end
return 1
`;

/**
 * A reservation on a token bucket that holds one token (GCRA form): the caller gets the time at which its
 * turn comes and waits that long itself, so waiters are served in order with one round trip each, and
 * turns are exactly `interval` apart. KEYS: bucket (theoretical arrival time). ARGV: intervalMs, maxWaitMs.
 * Returns the wait in ms, or -1 (nothing reserved) when it would exceed maxWaitMs.
 */
export const RESERVE_TOKEN = `${NOW}
local interval = tonumber(ARGV[1])
local maxWait = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat - now
if wait > maxWait then return -1 end
local nextTat = tat + interval
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - now) + 1000)
return math.ceil(wait)
`;

type ScriptCall = (keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>;

const registered = new WeakMap<Redis | Cluster, Set<string>>();

/**
 * A script as a function, sent with EVALSHA (ioredis falls back to EVAL once per connection). Keys must
 * share a Cluster slot: they all start with the hash-tagged QUEUE_PREFIX.
 */
export function redisScript(
  redis: Redis | Cluster,
  name: string,
  lua: string,
  numberOfKeys: number,
): ScriptCall {
  let names = registered.get(redis);
  if (!names) {
    names = new Set();
    registered.set(redis, names);
  }
  if (!names.has(name)) {
    redis.defineCommand(name, { numberOfKeys, lua });
    names.add(name);
  }
  const command = (redis as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown>>)[
    name
  ] as (...args: Array<string | number>) => Promise<unknown>;
  return (keys, args) => command.call(redis, ...keys, ...args);
}
