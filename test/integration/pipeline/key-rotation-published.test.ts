// Key rotation of a client whose generated key is published by jwks_uri (issue 14 point 3): no call to
// the authorization server's registration endpoints at all; the new key is published beside the old
// one before it signs anything and signs only once the servers' caches of the old set have expired
// (oidc-provider keeps a fetched set at least 60 s: JWKS_MAX_AGE_S=31 makes the wait 62 s); the secret
// switches AWSCURRENT to the new key with the old one in AWSPREVIOUS; both keys get tokens during the
// grace, and the old public key is gone from the route right after it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwksPath } from '../../../src/queue/jwks-uri.js';
import { PublishedKeys } from '../../../src/registry/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type JwksRoute, startJwksRoute, tokenStatusWithKey } from '../../support/jwks-route.js';
import { type Pipeline, startPipeline } from './harness.js';

const GRACE_S = 10;
let pipeline: Pipeline;
let smart: SmartServer;
let route: JwksRoute;

beforeAll(async () => {
  route = await startJwksRoute(31);
  [pipeline, smart] = await Promise.all([
    startPipeline('key-rotation-published', {
      JWKS_PUBLIC_BASE_URL: route.url,
      JWKS_MAX_AGE_S: '31',
      ROTATION_GRACE: `${GRACE_S}s`,
    }),
    startSmartServer(),
  ]);
  route.serveFrom(new PublishedKeys({ redis: pipeline.redis, prefix: pipeline.config.QUEUE_PREFIX }));
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await Promise.all([smart.close(), route.close()]);
});

const kidsServed = async (path: string) =>
  (
    (await route.app.inject({ method: 'GET', url: path })).json() as { keys?: Array<{ kid: string }> }
  ).keys?.map((key) => key.kid) ?? [];

describe('key rotation by jwks_uri', () => {
  it('publishes first, switches after the cache wait with zero registration calls, and retires the old key after the grace', async () => {
    const tenantId = 'rot-uri';
    const registered = await pipeline.producer.enqueue({
      tenantId,
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: {
        client_name: 'Published rotation',
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'private_key_jwt',
        scope: 'system/Patient.rs',
      },
      keys: { generate: { alg: 'ES384' }, publish: 'jwks_uri' },
    } as never);
    const first = await pipeline.waitForJob((registered as { jobId: string }).jobId, 30_000);
    expect(first.returnvalue).toMatchObject({ verified: true });
    const secretId = first.returnvalue?.secretId as string;
    const before = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value as string);
    const oldKid = before.private_jwk.kid as string;
    const path = jwksPath(tenantId, smart.fhirBaseUrl);
    expect(await kidsServed(path)).toEqual([oldKid]);
    const callsBefore = { ...smart.stats };

    const rotation = (await pipeline.producer.enqueueRotation({
      tenantId,
      fhirBaseUrl: smart.fhirBaseUrl,
    })) as {
      jobId: string;
    };
    // The new key is published while the old one still signs: the secret has not moved.
    let served: string[] = [];
    for (let i = 0; i < 100 && served.length < 2; i++) {
      served = await kidsServed(path);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(served).toHaveLength(2);
    expect(served).toContain(oldKid);
    const newKid = served.find((kid) => kid !== oldKid) as string;
    const during = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value as string);
    expect(during.private_jwk.kid).toBe(oldKid);
    expect(await pipeline.queue.getJobState(rotation.jobId)).toBe('delayed');

    const rotated = await pipeline.waitForJob(rotation.jobId, 120_000);
    expect(rotated.state, rotated.failedReason).toBe('completed');
    expect(rotated.returnvalue).toMatchObject({
      rotatedBy: 'key',
      kid: newKid,
      previousKid: oldKid,
      clientId: before.client_id,
      verified: true,
    });
    // Not one request to the registration endpoint or the client's RFC 7592 URI.
    expect(smart.stats).toMatchObject({
      registrationPosts: callsBefore.registrationPosts,
      managementGets: callsBefore.managementGets,
      managementPuts: callsBefore.managementPuts,
      managementDeletes: callsBefore.managementDeletes,
    });
    const current = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value as string);
    const previous = JSON.parse((await pipeline.secretStore.readPrevious(secretId))?.value as string);
    expect(current.private_jwk.kid).toBe(newKid);
    expect(previous.private_jwk.kid).toBe(oldKid);
    expect(current.client_id).toBe(before.client_id);
    expect(current.jwks_uri).toBe(before.jwks_uri);

    // During the grace both keys get tokens.
    expect(await tokenStatusWithKey(current.token_endpoint, current.client_id, current.private_jwk)).toBe(
      200,
    );
    expect(await tokenStatusWithKey(current.token_endpoint, current.client_id, previous.private_jwk)).toBe(
      200,
    );
    const event = (await pipeline.events()).find((e) => e.data.jobId === rotation.jobId);
    expect(event).toMatchObject({
      type: 'client.rotated',
      data: { rotatedBy: 'key', kid: newKid, previousKid: oldKid },
    });
    expect(await pipeline.dumpRedis()).not.toContain(current.private_jwk.d);
    expect(await pipeline.dumpRedis()).not.toContain(previous.private_jwk.d);

    // Right after the grace the old public key is no longer served.
    expect(await kidsServed(path)).toEqual([newKid, oldKid]);
    await new Promise((r) => setTimeout(r, GRACE_S * 1000 + 200));
    expect(await kidsServed(path)).toEqual([newKid]);
  }, 180_000);
});
