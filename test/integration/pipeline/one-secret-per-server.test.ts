// One secret per (tenant, server): FHIR base URLs that differ only in case or punctuation keep their
// own secret and client, a registration never replaces credentials stored for another base URL, and
// a registration over an existing client names it even when the registry has lost its record.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { registrationStatus } from '../../../src/queue/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { keysMatching } from '../../support/redis.js';
import { type Pipeline, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Bases', redirectUris: ['https://app.example/cb'] });
const TENANT = 'many-bases';

describe('one secret per tenant and server', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  const bases = ['/fhir/r4', '/fhir_r4', '/fhir/R4'];
  beforeAll(async () => {
    stub = await startStubServer();
    for (const [i, base] of bases.entries()) {
      let issued = 0;
      stub.on('GET', `${base}/.well-known/smart-configuration`, {
        json: {
          token_endpoint: stub.url(`/token-${i}`),
          registration_endpoint: stub.url(`/register-${i}`),
          grant_types_supported: ['authorization_code'],
          capabilities: ['launch-standalone', 'client-public'],
          code_challenge_methods_supported: ['S256'],
        },
      });
      stub.on('POST', `/register-${i}`, () => ({
        status: 201,
        json: { client_id: `base-${i}-client-${++issued}`, client_secret: `base-${i}-secret-${issued}` },
      }));
    }
    pipeline = await startPipeline('one-secret');
    await pipeline.startWorker();
  });
  afterAll(async () => {
    await pipeline.close();
    await stub.close();
  });

  const register = async (fhirBaseUrl: string, tenantId = TENANT) => {
    const queued = await pipeline.producer.enqueue({ tenantId, fhirBaseUrl, clientMetadata: metadata });
    return pipeline.waitForJob((queued as { jobId: string }).jobId);
  };

  it('gives three base URLs that differ only in case and punctuation their own secret and live client', async () => {
    const urls = bases.map((base) => stub.url(base));
    const jobs = [];
    for (const url of urls) jobs.push(await register(url));

    expect(jobs.map((job) => job.state)).toEqual(['completed', 'completed', 'completed']);
    const secretIds = urls.map((url) =>
      registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, TENANT, url),
    );
    expect(new Set(secretIds).size).toBe(3);
    for (const [i, url] of urls.entries()) {
      const stored = JSON.parse(
        (await pipeline.secretStore.readCurrent(secretIds[i] as string))?.value ?? '{}',
      );
      expect(stored).toMatchObject({ client_id: `base-${i}-client-1`, fhir_base_url: url });
      expect(jobs[i]?.returnvalue).toMatchObject({ clientId: `base-${i}-client-1`, secretId: secretIds[i] });
      // Nobody's client was taken for a replaced one.
      expect(jobs[i]?.returnvalue?.previousClientId).toBeUndefined();
      const status = await registrationStatus(
        { queue: pipeline.queue, registry: pipeline.registry },
        TENANT,
        url,
      );
      expect(status).toMatchObject({ clientId: `base-${i}-client-1`, secretId: secretIds[i] });
    }
  });

  it("refuses to overwrite a secret that holds another base URL's credentials, before registering anything", async () => {
    const url = stub.url('/fhir/r4');
    const tenantId = 'handmade';
    const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, url);
    // A secret copied by hand from another server's registration.
    await pipeline.secretStore.write({
      name: secretId,
      value: JSON.stringify({
        client_id: 'other-servers-client',
        fhir_base_url: 'https://elsewhere.example/fhir',
      }),
      clientRequestToken: 'b'.repeat(40),
    });
    const posts = stub.requestsTo('POST', '/register-0').length;
    const job = await register(url, tenantId);

    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(
      /^secret_store_rejected: secret .* holds the credentials of another FHIR base URL \(https:\/\/elsewhere\.example\/fhir\)/,
    );
    expect(stub.requestsTo('POST', '/register-0')).toHaveLength(posts);
    const current = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(current.client_id).toBe('other-servers-client');
  });

  it('names the client it replaces even when the registry lost its record (Redis replaced, no reindex yet)', async () => {
    const url = stub.url('/fhir_r4');
    const tenantId = 'registry-lost';
    const first = await register(url, tenantId);
    expect(first.state).toBe('completed');
    // Redis lost the registry; the secret store still holds the first client.
    const keys = await keysMatching(
      pipeline.redis,
      `${pipeline.config.QUEUE_PREFIX}:registration:${tenantId}.*`,
    );
    expect(keys).toHaveLength(1);
    for (const key of keys) await pipeline.redis.del(key);

    const second = await register(url, tenantId);
    expect(second.state).toBe('completed');
    expect(second.returnvalue?.previousClientId).toBe(first.returnvalue?.clientId);
    const registered = (await pipeline.events()).filter(
      (e) => e.type === 'client.registered' && e.data.tenantId === tenantId,
    );
    expect(registered.at(-1)?.data).toMatchObject({
      clientId: second.returnvalue?.clientId,
      previousClientId: first.returnvalue?.clientId,
    });
    // The stub's clients offer no RFC 7592 management, so the replaced one cannot be deleted: named.
    expect(registered.at(-1)?.data.orphanedClientId).toBe(first.returnvalue?.clientId);
  });
});
