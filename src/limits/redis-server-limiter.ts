// The ServerLimiter shared by the whole fleet, in Redis: per host an in-flight cap held as leases that
// expire (a dead worker's slot comes back by itself), a request rate, and a circuit breaker whose
// half-open probe is a SET NX lease. One script call to ask, one to hand back; while a request runs its
// lease is renewed, so however long the request takes (phase timers, redirects) it keeps its slot, and a
// dead worker's slot comes back one lease after its last renewal.
//
// Keys, under QUEUE_PREFIX so that they share the queue's Cluster slot:
//   <prefix>:limits:server:<host>:leases   zset leaseId -> lease expiry (ms)
//   <prefix>:limits:server:<host>:rate     the next moment a request may start (GCRA)
//   <prefix>:limits:server:<host>:breaker  hash failures, openUntil
//   <prefix>:limits:server:<host>:probe    the half-open probe's lease id
//   <prefix>:limits:breakers-open          zset host -> openUntil, counted by dcr_server_breakers_open

import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import {
  ACQUIRE_SERVER_PERMIT,
  RELEASE_SERVER_PERMIT,
  RENEW_SERVER_PERMIT,
  redisScript,
} from './redis-scripts.js';
import type {
  AcquireOptions,
  Admission,
  BreakerTransition,
  BusyReason,
  RequestOutcome,
  ServerLimiter,
  ServerPermit,
} from './server-limiter.js';

/** One host's limits. */
export interface ServerLimits {
  /** Requests in flight at once, fleet-wide (SERVER_MAX_IN_FLIGHT). */
  concurrency: number;
  /** Requests started per second, fleet-wide, evenly spaced (SERVER_RATE_PER_S). */
  ratePerSecond: number;
}

export interface BreakerSettings {
  /** Consecutive transient failures that open the breaker (BREAKER_FAILURE_THRESHOLD). */
  failureThreshold: number;
  /** How long an open breaker refuses requests before one probe may go (BREAKER_COOLDOWN_MS). */
  cooldownMs: number;
}

export interface RedisServerLimiterOptions {
  redis: Redis | Cluster;
  /** QUEUE_PREFIX. */
  prefix: string;
  defaults: ServerLimits;
  /** Per-host overrides (SERVER_LIMITS), keyed like `URL.host`; a missing field takes the default. */
  overrides?: Readonly<Record<string, Readonly<Partial<ServerLimits>>>>;
  breaker: BreakerSettings;
  /**
   * How long a permit counts if it is never handed back (its worker died). A permit in use is renewed
   * every third of this, so it need not outlast the longest request: 3 x HTTP_TIMEOUT_MS from the
   * configuration.
   */
  leaseTtlMs: number;
  /** Told of every breaker transition, once fleet-wide (the script that makes it reports it). */
  onTransition?: (transition: BreakerTransition) => void;
  /**
   * An unprobed open breaker, and a failure count nobody adds to, are forgotten this long after their
   * last change. @defaultValue 3600000
   */
  forgetAfterMs?: number;
  /** For tests. @defaultValue Math.random */
  random?: () => number;
}

/** The shortest and longest guess of when a full server has room again. */
const MIN_BUSY_WAIT_MS = 100;
const MAX_BUSY_WAIT_MS = 1000;
const MAX_PROBE_WAIT_MS = 5000;

export class RedisServerLimiter implements ServerLimiter {
  readonly #options: RedisServerLimiterOptions;
  readonly #forgetMs: number;
  readonly #random: () => number;
  readonly #acquire;
  readonly #release;
  readonly #renew;

  constructor(options: RedisServerLimiterOptions) {
    this.#options = options;
    this.#forgetMs = options.forgetAfterMs ?? 3_600_000;
    this.#random = options.random ?? Math.random;
    this.#acquire = redisScript(options.redis, 'dcrAcquireServerPermit', ACQUIRE_SERVER_PERMIT, 4);
    this.#release = redisScript(options.redis, 'dcrReleaseServerPermit', RELEASE_SERVER_PERMIT, 4);
    this.#renew = redisScript(options.redis, 'dcrRenewServerPermit', RENEW_SERVER_PERMIT, 2);
  }

  /** The limits that apply to `host`. */
  limitsFor(host: string): ServerLimits {
    return { ...this.#options.defaults, ...this.#options.overrides?.[host] };
  }

  async acquire(host: string, options: AcquireOptions = {}): Promise<Admission> {
    const limits = this.limitsFor(host);
    const leaseId = randomUUID();
    const keys = this.#keys(host);
    const [granted, waitMs, detail] = (await this.#acquire(
      [keys.leases, keys.rate, keys.breaker, keys.probe],
      [
        leaseId,
        limits.concurrency,
        1000 / limits.ratePerSecond,
        this.#options.leaseTtlMs,
        options.claimRate ? 1 : 0,
        options.rateClaimed ? 1 : 0,
      ],
    )) as [number, number, string | number];
    if (granted === 1) {
      const probe = detail === 1;
      if (probe) this.#options.onTransition?.({ host, from: 'open', to: 'half_open' });
      return { granted: true, permit: this.#permit(host, leaseId, probe) };
    }
    if (detail === 'rate_claimed') return { granted: false, reason: 'rate', waitMs, rateClaimed: true };
    const reason: BusyReason = detail === 'in_flight' || detail === 'rate' ? detail : 'breaker_open';
    return { granted: false, reason, waitMs: waitMs >= 0 ? waitMs : this.#guessWaitMs(detail, limits) };
  }

  /** Hosts whose breaker is open or half-open, fleet-wide (dcr_server_breakers_open). */
  async countOpenBreakers(): Promise<number> {
    return this.#options.redis.zcount(this.#openBreakersKey(), Date.now() - this.#forgetMs, '+inf');
  }

  #permit(host: string, leaseId: string, probe: boolean): ServerPermit {
    let released = false;
    const keys = this.#keys(host);
    const { leaseTtlMs } = this.#options;
    // A failed renewal is not fatal: the lease then ends when it would have without renewals.
    const renewal = setInterval(() => {
      this.#renew([keys.leases, keys.probe], [leaseId, leaseTtlMs]).catch(() => {});
    }, leaseTtlMs / 3);
    renewal.unref();
    return {
      probe,
      release: async (outcome: RequestOutcome) => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        const { failureThreshold, cooldownMs } = this.#options.breaker;
        const [transition, failures] = (await this.#release(
          [keys.leases, keys.breaker, keys.probe, this.#openBreakersKey()],
          [leaseId, outcome, failureThreshold, cooldownMs, host, this.#forgetMs],
        )) as [string, number];
        if (transition === 'opened') {
          this.#options.onTransition?.({
            host,
            from: 'closed',
            to: 'open',
            consecutiveFailures: failures,
            cooldownMs,
          });
        } else if (transition === 'reopened') {
          this.#options.onTransition?.({ host, from: 'half_open', to: 'open', cooldownMs });
        } else if (transition === 'closed') {
          this.#options.onTransition?.({ host, from: 'half_open', to: 'closed' });
        }
      },
    };
  }

  /**
   * Nobody knows when a request in flight will end: a full server is asked again after about one rate
   * interval, a probing one after a tenth of the cool-down, both jittered so waiters spread out.
   */
  #guessWaitMs(detail: string | number, limits: ServerLimits): number {
    const base =
      detail === 'breaker_probing'
        ? clamp(this.#options.breaker.cooldownMs / 10, MIN_BUSY_WAIT_MS, MAX_PROBE_WAIT_MS)
        : clamp(1000 / limits.ratePerSecond, MIN_BUSY_WAIT_MS, MAX_BUSY_WAIT_MS);
    return Math.ceil(base * (0.5 + this.#random()));
  }

  #keys(host: string) {
    const base = `${this.#options.prefix}:limits:server:${host}`;
    return {
      leases: `${base}:leases`,
      rate: `${base}:rate`,
      breaker: `${base}:breaker`,
      probe: `${base}:probe`,
    };
  }

  #openBreakersKey(): string {
    return `${this.#options.prefix}:limits:breakers-open`;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
