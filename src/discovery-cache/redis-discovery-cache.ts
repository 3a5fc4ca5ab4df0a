// The discovery cache shared by the whole fleet: a thousand tenants on one server cost one discovery per
// TTL, however many worker processes there are. Single-flight across processes uses a short Redis lock;
// callers that lose the race wait for the winner's result instead of asking the server themselves.
// Each process also keeps what it read for a few seconds, so the jobs of a busy server do not each pay
// a Redis round trip for the same document (about 7 % of a job's CPU in bench/overhead.ts).

import { createHash, randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { CacheLookup, DiscoveryCache, SmartConfiguration } from '../smart/index.js';

export interface RedisDiscoveryCacheOptions {
  redis: Redis | Cluster;
  /** QUEUE_PREFIX; keys are `${prefix}:discovery:<hash>` so they share the queue's Cluster slot. */
  prefix: string;
  /** DISCOVERY_CACHE_TTL_S. */
  ttlSeconds: number;
  /** How long one loader may hold the lock; waiters give up and load themselves after it. @defaultValue 15000 */
  lockMs?: number;
  /** How often waiters look for the winner's result. @defaultValue 50 */
  pollMs?: number;
  /**
   * How long this process reuses a configuration before asking Redis again, capped by the TTL. An entry
   * can thus outlive its TTL by this much, and a key deleted in Redis is seen this late.
   * @defaultValue 5000
   */
  localMs?: number;
}

/** Base URLs kept in process at once; a fleet's servers are far fewer, tenants' own URLs may not be. */
const MAX_LOCAL_ENTRIES = 1000;

export class RedisDiscoveryCache implements DiscoveryCache {
  readonly #options: Required<RedisDiscoveryCacheOptions>;
  // Callers in this process share one promise, so only one of them touches Redis.
  readonly #inFlight = new Map<string, Promise<CacheLookup>>();
  readonly #local = new Map<string, { configuration: SmartConfiguration; until: number }>();
  readonly #localMs: number;

  constructor(options: RedisDiscoveryCacheOptions) {
    this.#options = { lockMs: 15_000, pollMs: 50, localMs: 5000, ...options };
    this.#localMs = Math.min(this.#options.localMs, this.#options.ttlSeconds * 1000);
  }

  async getOrLoad(fhirBaseUrl: string, load: () => Promise<SmartConfiguration>): Promise<CacheLookup> {
    const local = this.#local.get(fhirBaseUrl);
    if (local && local.until > Date.now()) return { configuration: local.configuration, hit: true };
    const running = this.#inFlight.get(fhirBaseUrl);
    if (running) return { configuration: (await running).configuration, hit: true };
    const lookup = this.#lookup(fhirBaseUrl, load);
    this.#inFlight.set(fhirBaseUrl, lookup);
    try {
      const result = await lookup;
      this.#keep(fhirBaseUrl, result.configuration);
      return result;
    } finally {
      this.#inFlight.delete(fhirBaseUrl);
    }
  }

  #keep(fhirBaseUrl: string, configuration: SmartConfiguration): void {
    if (this.#localMs <= 0) return;
    const now = Date.now();
    // Entries are kept in the order they expire (a Map iterates in insertion order): drop the expired
    // ones from the front, and the oldest live ones while the map is full.
    for (const [url, entry] of this.#local) {
      if (entry.until > now && this.#local.size < MAX_LOCAL_ENTRIES) break;
      this.#local.delete(url);
    }
    this.#local.delete(fhirBaseUrl);
    this.#local.set(fhirBaseUrl, { configuration, until: now + this.#localMs });
  }

  async #lookup(fhirBaseUrl: string, load: () => Promise<SmartConfiguration>): Promise<CacheLookup> {
    const { redis, ttlSeconds, lockMs, pollMs } = this.#options;
    const key = this.#key(fhirBaseUrl);
    const cached = await this.#read(key);
    if (cached) return { configuration: cached, hit: true };
    if (ttlSeconds === 0) return { configuration: await load(), hit: false };

    const lockKey = `${key}:lock`;
    const owner = randomUUID();
    const deadline = Date.now() + lockMs;
    while ((await redis.set(lockKey, owner, 'PX', lockMs, 'NX')) !== 'OK') {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      const loaded = await this.#read(key);
      if (loaded) return { configuration: loaded, hit: true };
      // The winner failed (no value) or died holding the lock: try to take over.
      if (Date.now() > deadline) break;
    }
    try {
      // The previous holder may have stored its result between our last look and taking the lock.
      const stored = await this.#read(key);
      if (stored) return { configuration: stored, hit: true };
      const configuration = await load();
      await redis.set(key, JSON.stringify(configuration), 'EX', ttlSeconds);
      return { configuration, hit: false };
    } finally {
      // Release only our own lock; a slow loader's lock may have expired and been taken by another.
      await redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        1,
        lockKey,
        owner,
      );
    }
  }

  async #read(key: string): Promise<SmartConfiguration | undefined> {
    const value = await this.#options.redis.get(key);
    return value === null ? undefined : (JSON.parse(value) as SmartConfiguration);
  }

  #key(fhirBaseUrl: string): string {
    return `${this.#options.prefix}:discovery:${createHash('sha256').update(fhirBaseUrl).digest('hex').slice(0, 32)}`;
  }
}
