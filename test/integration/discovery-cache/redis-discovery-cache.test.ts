import { afterAll, describe, expect, it } from 'vitest';
import { RedisDiscoveryCache } from '../../../src/discovery-cache/index.js';
import { parseSmartConfiguration } from '../../../src/smart/index.js';
import { keysMatching, testQueuePrefix, testRedis } from '../../support/redis.js';

const redis = testRedis();
const prefix = testQueuePrefix('discovery');
afterAll(() => redis.disconnect());

const configuration = parseSmartConfiguration(
  JSON.stringify({ token_endpoint: 'https://ehr/token' }),
  'https://ehr/fhir',
);

describe('discovery-cache/RedisDiscoveryCache', () => {
  it('loads once for many callers spread over several cache instances (processes)', async () => {
    const caches = Array.from(
      { length: 4 },
      () => new RedisDiscoveryCache({ redis, prefix, ttlSeconds: 60, pollMs: 10 }),
    );
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 100));
      return configuration;
    };
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (caches[i % 4] as RedisDiscoveryCache).getOrLoad('https://ehr/fhir/a', load),
      ),
    );
    expect(loads).toBe(1);
    expect(results.every((r) => r.configuration.tokenEndpoint === 'https://ehr/token')).toBe(true);
  });

  it('lets a waiter load when the first loader fails, without caching the failure', async () => {
    const a = new RedisDiscoveryCache({ redis, prefix, ttlSeconds: 60, pollMs: 10 });
    const b = new RedisDiscoveryCache({ redis, prefix, ttlSeconds: 60, pollMs: 10 });
    const failing = a.getOrLoad('https://ehr/fhir/b', async () => {
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('server down');
    });
    const succeeding = b.getOrLoad('https://ehr/fhir/b', async () => configuration);
    await expect(failing).rejects.toThrow('server down');
    expect((await succeeding).configuration.tokenEndpoint).toBe('https://ehr/token');
  });

  it('expires entries after the TTL', async () => {
    const cache = new RedisDiscoveryCache({ redis, prefix, ttlSeconds: 1 });
    await cache.getOrLoad('https://ehr/fhir/c', async () => configuration);
    expect((await cache.getOrLoad('https://ehr/fhir/c', async () => configuration)).hit).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await cache.getOrLoad('https://ehr/fhir/c', async () => configuration)).hit).toBe(false);
  });

  it('reuses what it read for localMs without asking Redis, then asks Redis again', async () => {
    const cache = new RedisDiscoveryCache({ redis, prefix, ttlSeconds: 60, localMs: 300 });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return configuration;
    };
    await cache.getOrLoad('https://ehr/fhir/d', load);
    // Gone from Redis (expired, or deleted by an operator): this process does not see it at once.
    for (const key of await keysMatching(redis, `${prefix}:discovery:*`)) await redis.del(key);
    expect((await cache.getOrLoad('https://ehr/fhir/d', load)).hit).toBe(true);
    expect(loads).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    expect((await cache.getOrLoad('https://ehr/fhir/d', load)).hit).toBe(false);
    expect(loads).toBe(2);
  });
});
