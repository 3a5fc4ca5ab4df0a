// The discovery cache shared by the whole fleet: a thousand tenants on one server cost one discovery per
// TTL, however many worker processes there are. Single-flight across processes uses a short Redis lock;
// callers that lose the race wait for the winner's result instead of asking the server themselves.

import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CacheLookup, DiscoveryCache, SmartConfiguration } from '../smart/index.js';

export interface RedisDiscoveryCacheOptions {
  redis: Redis;
  /** QUEUE_PREFIX; keys are `${prefix}:discovery:<hash>` so they share the queue's Cluster slot. */
  prefix: string;
  /** DISCOVERY_CACHE_TTL_S. */
  ttlSeconds: number;
  /** How long one loader may hold the lock; waiters give up and load themselves after it. @defaultValue 15000 */
  lockMs?: number;
  /** How often waiters look for the winner's result. @defaultValue 50 */
  pollMs?: number;
}

export class RedisDiscoveryCache implements DiscoveryCache {
  readonly #options: Required<RedisDiscoveryCacheOptions>;
  // Callers in this process share one promise, so only one of them touches Redis.
  readonly #inFlight = new Map<string, Promise<CacheLookup>>();

  constructor(options: RedisDiscoveryCacheOptions) {
    this.#options = { lockMs: 15_000, pollMs: 50, ...options };
  }

  async getOrLoad(fhirBaseUrl: string, load: () => Promise<SmartConfiguration>): Promise<CacheLookup> {
    const running = this.#inFlight.get(fhirBaseUrl);
    if (running) return { configuration: (await running).configuration, hit: true };
    const lookup = this.#lookup(fhirBaseUrl, load);
    this.#inFlight.set(fhirBaseUrl, lookup);
    try {
      return await lookup;
    } finally {
      this.#inFlight.delete(fhirBaseUrl);
    }
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
