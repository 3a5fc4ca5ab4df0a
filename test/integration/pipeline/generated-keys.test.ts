// Generated keys (issue 14 points 1, 2 and 4; DESIGN.md request field `keys`): producer -> Redis ->
// worker -> oidc-provider (private_key_jwt with RS384/ES384, client_credentials) -> moto, and the
// product's own /jwks/... route serving the public half for `jwks_uri` clients. The private JWK lives
// only in the secret; the registered key is the stored key; a client assertion signed with it gets a
// token.

import { decodeProtectedHeader } from 'jose';
import type { KoaContext } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPrivateMembers, PRIVATE_JWK_MEMBERS } from '../../../src/keys/index.js';
import { reindexRegistry } from '../../../src/provisioning/index.js';
import { jwksPath } from '../../../src/queue/jwks-uri.js';
import { PublishedKeys } from '../../../src/registry/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type JwksRoute, startJwksRoute } from '../../support/jwks-route.js';
import { keysMatching } from '../../support/redis.js';
import { type Pipeline, startPipeline } from './harness.js';

let pipeline: Pipeline;
let smart: SmartServer;
let route: JwksRoute;
const assertions: string[] = [];

beforeAll(async () => {
  // The route first: its URL is the JWKS_PUBLIC_BASE_URL the producer and the worker check and register.
  route = await startJwksRoute();
  [pipeline, smart] = await Promise.all([
    startPipeline('generated-keys', { JWKS_PUBLIC_BASE_URL: route.url }),
    startSmartServer(),
  ]);
  route.serveFrom(new PublishedKeys({ redis: pipeline.redis, prefix: pipeline.config.QUEUE_PREFIX }));
  // Every client assertion oidc-provider receives at its token endpoint.
  smart.provider.on('grant.success', (ctx) => {
    const assertion = (ctx as KoaContext).oidc?.body?.client_assertion;
    if (typeof assertion === 'string') assertions.push(assertion);
  });
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await Promise.all([smart.close(), route.close()]);
});

const backendService = (name: string) => ({
  client_name: name,
  grant_types: ['client_credentials'],
  response_types: [],
  token_endpoint_auth_method: 'private_key_jwt',
  scope: 'system/Patient.rs',
});

async function register(tenantId: string, keys: Record<string, unknown>) {
  const result = await pipeline.producer.enqueue({
    tenantId,
    fhirBaseUrl: smart.fhirBaseUrl,
    clientMetadata: backendService(`Keys ${tenantId}`),
    keys,
  } as never);
  expect(result, JSON.stringify(result)).toMatchObject({ status: 'queued' });
  const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 30_000);
  expect(job.state, job.failedReason).toBe('completed');
  const secretId = job.returnvalue?.secretId as string;
  const stored = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
  return { job, stored };
}

function expectPublic(jwk: Record<string, unknown>) {
  for (const member of PRIVATE_JWK_MEMBERS) expect(jwk).not.toHaveProperty(member);
}

describe('generated keys', () => {
  it('RS384, inline jwks: the registered public key is the stored private key, and a client assertion gets a token', async () => {
    const { job, stored } = await register('keys-inline', { generate: { alg: 'RS384' } });
    const privateJwk = stored.private_jwk;
    expect(privateJwk).toMatchObject({ kty: 'RSA', alg: 'RS384', use: 'sig', kid: expect.any(String) });
    expect(privateJwk.d).toEqual(expect.any(String));
    // What the server registered (the answer's metadata, stored as returned).
    expect(stored.jwks.keys).toHaveLength(1);
    expect(stored.jwks.keys[0]).toMatchObject({ kid: privateJwk.kid, n: privateJwk.n, e: privateJwk.e });
    expectPublic(stored.jwks.keys[0]);
    expect(stored).not.toHaveProperty('jwks_uri');

    expect(job.returnvalue).toMatchObject({ verified: true, kid: privateJwk.kid });
    const assertion = assertions.at(-1) as string;
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'RS384', kid: privateJwk.kid });
    const record = await pipeline.registry.get(
      (await pipeline.registry.keysOfTenant('keys-inline'))[0] as string,
    );
    expect(record).toMatchObject({ kid: privateJwk.kid, verified: true });
    // Nothing of the private key reaches Redis (the job, its checkpoint, the registry, the events).
    expect(await pipeline.dumpRedis()).not.toContain(privateJwk.d);
    expect(JSON.stringify(job.returnvalue)).not.toContain(privateJwk.d);
    // Nor the logs (at debug), nor any signed assertion.
    const logs = pipeline.logLines().join('\n');
    expect(logs).not.toContain(privateJwk.d);
    expect(logs).not.toContain(privateJwk.p);
    for (const sent of assertions) expect(logs).not.toContain(sent);
  });

  it('ES384 by jwks_uri: registered at the product route, served from Redis without a private member, and verified', async () => {
    const { job, stored } = await register('keys-uri', { generate: { alg: 'ES384' }, publish: 'jwks_uri' });
    const privateJwk = stored.private_jwk;
    expect(privateJwk).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', kid: expect.any(String) });
    const path = jwksPath('keys-uri', smart.fhirBaseUrl);
    expect(stored.jwks_uri).toBe(`${pipeline.config.JWKS_PUBLIC_BASE_URL}${path}`);
    expect(stored).not.toHaveProperty('jwks');
    expect(job.returnvalue).toMatchObject({ verified: true, kid: privateJwk.kid });

    const served = await route.app.inject({ method: 'GET', url: path });
    expect(served.statusCode).toBe(200);
    expect(served.headers['cache-control']).toBe('public, max-age=60');
    const set = served.json() as { keys: Array<Record<string, unknown>> };
    expect(set.keys.map((key) => key.kid)).toEqual([privateJwk.kid]);
    for (const key of set.keys) {
      expectPublic(key);
      expect(hasPrivateMembers(key)).toBe(false);
    }
    expect(set.keys[0]).toMatchObject({ x: privateJwk.x, y: privateJwk.y, crv: 'P-384' });
    // oidc-provider fetched the set from the route to check the assertion.
    expect(route.outcomes).toContain('served');
    expect(await pipeline.dumpRedis()).not.toContain(privateJwk.d);
  });

  it('reindex puts the published keys back when Redis lost them, from the secrets alone', async () => {
    const path = jwksPath('keys-uri', smart.fhirBaseUrl);
    const before = (await route.app.inject({ method: 'GET', url: path })).json();
    const published = await keysMatching(pipeline.redis, `${pipeline.config.QUEUE_PREFIX}:jwks:*`);
    expect(published.length).toBeGreaterThan(0);
    await pipeline.redis.del(...published);
    expect((await route.app.inject({ method: 'GET', url: path })).statusCode).toBe(404);

    await reindexRegistry({
      secretStore: pipeline.secretStore,
      registry: pipeline.registry,
      publishedKeys: new PublishedKeys({ redis: pipeline.redis, prefix: pipeline.config.QUEUE_PREFIX }),
      secretNamePrefix: pipeline.config.SECRET_NAME_PREFIX,
    });
    expect((await route.app.inject({ method: 'GET', url: path })).json()).toEqual(before);
    // Only jwks_uri clients are served: the inline one has nothing at the route.
    const inline = await route.app.inject({ method: 'GET', url: jwksPath('keys-inline', smart.fhirBaseUrl) });
    expect(inline.statusCode).toBe(404);
  });

  it('the route answers 404 for an unknown registration and for a path that is not one', async () => {
    for (const url of [
      jwksPath('nobody', smart.fhirBaseUrl),
      '/jwks/keys-uri/unknown-0000.json',
      '/jwks/keys-uri/NOT A SLUG.json',
      `/jwks/${'x'.repeat(70)}/a.json`,
    ]) {
      const answer = await route.app.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.json()).toEqual({ error: 'not_found' });
    }
  });
});
