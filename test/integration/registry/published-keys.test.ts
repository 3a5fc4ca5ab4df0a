// What the /jwks/... route serves, against real Redis: a pending key joins the live ones and replaces
// an earlier attempt's pending key; settling makes one current and retires the others at the grace's
// end (filtered by time, no job needed); a value someone else put there is not served; and whatever is
// in Redis, no private member is ever served.

import { afterAll, describe, expect, it } from 'vitest';
import { generateClientKey } from '../../../src/keys/index.js';
import { PublishedKeys } from '../../../src/registry/index.js';
import { serverSlug } from '../../../src/secrets/index.js';
import { keysMatching, testQueuePrefix, testRedis } from '../../support/redis.js';

const redis = testRedis();
const prefix = testQueuePrefix('published-keys');
let now = new Date('2026-12-03T12:00:00Z');
const keys = new PublishedKeys({ redis, prefix, now: () => now });
const fhir = 'https://ehr.example/fhir';
const slug = serverSlug(fhir);

afterAll(async () => {
  const left = await keysMatching(redis, `${prefix}*`);
  if (left.length > 0) await redis.del(...left);
  redis.disconnect();
});

const kids = async (tenant: string) => (await keys.served(tenant, slug))?.keys.map((k) => k.kid);

describe('PublishedKeys', () => {
  it('pending, settled, retired at the grace end', async () => {
    const first = await generateClientKey('ES384');
    const lost = await generateClientKey('ES384');
    const second = await generateClientKey('ES384');
    expect(await keys.served('t1', slug)).toBeUndefined();

    await keys.publishPending('t1', fhir, first.privateJwk);
    expect(await kids('t1')).toEqual([first.publicJwk.kid]);
    await keys.settle('t1', fhir, first.publicJwk, new Date(now.getTime() + 60_000));
    expect(await kids('t1')).toEqual([first.publicJwk.kid]);

    // A rotation's attempt publishes a key and dies; the next attempt's key replaces it.
    await keys.publishPending('t1', fhir, lost.publicJwk);
    await keys.publishPending('t1', fhir, second.publicJwk);
    expect(await kids('t1')).toEqual([second.publicJwk.kid, first.publicJwk.kid]);

    await keys.settle('t1', fhir, second.publicJwk, new Date(now.getTime() + 60_000));
    expect(await kids('t1')).toEqual([second.publicJwk.kid, first.publicJwk.kid]);
    now = new Date(now.getTime() + 60_001);
    expect(await kids('t1')).toEqual([second.publicJwk.kid]);
  });

  it('settle serves the stored key even when an earlier crash left it pending or Redis lost it, and a rotation keeps the current key', async () => {
    const stored = await generateClientKey('RS256');
    const next = await generateClientKey('RS256');
    await keys.publishPending('t7', fhir, stored.publicJwk);
    // A rotation publishing its key after an attempt that never settled: the stored key stays served.
    await keys.publishPending('t7', fhir, next.publicJwk, stored.privateJwk);
    expect(await kids('t7')).toEqual([next.publicJwk.kid, stored.publicJwk.kid]);
    await redis.del(`${prefix}:jwks:t7/${slug}`);
    await keys.settle('t7', fhir, stored.privateJwk, new Date(now.getTime() + 1000));
    expect(await kids('t7')).toEqual([stored.publicJwk.kid]);
  });

  it('serves public members only, whichever half was handed over, and refuses a private member found in Redis', async () => {
    const pair = await generateClientKey('RS384');
    await keys.publishPending('t2', fhir, pair.privateJwk);
    const served = await keys.served('t2', slug);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
      expect(served?.keys[0]).not.toHaveProperty(member);
    expect(served?.keys[0]).toMatchObject({ kty: 'RSA', kid: pair.publicJwk.kid, n: pair.publicJwk.n });

    // Someone wrote a private key straight into Redis: the route refuses to serve it.
    await redis.set(`${prefix}:jwks:t3/${slug}`, JSON.stringify({ keys: [{ jwk: pair.privateJwk }] }));
    await expect(keys.served('t3', slug)).rejects.toThrow(/private member/);
    // And a value that is not a published set is not served at all.
    await redis.set(`${prefix}:jwks:t4/${slug}`, JSON.stringify({ something: 'else' }));
    expect(await keys.served('t4', slug)).toBeUndefined();
  });

  it('restoreCurrent puts the current key back and keeps what is still live', async () => {
    const old = await generateClientKey('ES256');
    const current = await generateClientKey('ES256');
    await keys.publishPending('t5', fhir, old.publicJwk);
    await keys.settle('t5', fhir, old.publicJwk, new Date(now.getTime() + 1000));
    await keys.restoreCurrent('t5', fhir, current.privateJwk);
    expect(await kids('t5')).toEqual([current.publicJwk.kid, old.publicJwk.kid]);
    await redis.del(`${prefix}:jwks:t6/${slug}`);
    await keys.restoreCurrent('t6', fhir, current.publicJwk);
    expect(await kids('t6')).toEqual([current.publicJwk.kid]);
  });
});
