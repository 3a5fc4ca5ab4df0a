import { describe, expect, it } from 'vitest';
import { MemoryDiscoveryCache, parseSmartConfiguration } from '../../../src/smart/index.js';

const config = parseSmartConfiguration(
  JSON.stringify({ token_endpoint: 'https://ehr/token' }),
  'https://ehr/fhir',
);

describe('smart/MemoryDiscoveryCache', () => {
  it('runs one load for many simultaneous callers of the same base URL', async () => {
    const cache = new MemoryDiscoveryCache();
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 20));
      return config;
    };
    const results = await Promise.all(
      Array.from({ length: 25 }, () => cache.getOrLoad('https://ehr/fhir', load)),
    );
    expect(loads).toBe(1);
    expect(results.filter((r) => !r.hit)).toHaveLength(1);
  });

  it('reuses a result until its TTL passes, then loads again', async () => {
    let now = 0;
    const cache = new MemoryDiscoveryCache({ ttlSeconds: 60, now: () => now });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return config;
    };
    await cache.getOrLoad('https://ehr/fhir', load);
    now = 59_000;
    expect((await cache.getOrLoad('https://ehr/fhir', load)).hit).toBe(true);
    now = 60_000;
    expect((await cache.getOrLoad('https://ehr/fhir', load)).hit).toBe(false);
    expect(loads).toBe(2);
  });

  it('does not remember a failed load', async () => {
    const cache = new MemoryDiscoveryCache();
    await expect(
      cache.getOrLoad('https://ehr/fhir', async () => {
        throw new Error('down');
      }),
    ).rejects.toThrow('down');
    expect((await cache.getOrLoad('https://ehr/fhir', async () => config)).hit).toBe(false);
  });
});
