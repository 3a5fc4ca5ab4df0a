// Rotation under the faults a real server will not produce on demand: a failing RFC 7592 update that is
// retried, an update answered 401, a successor registration the server refuses, and an update that
// rotates only the registration access token (which must still be stored, and used for the delete).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata } from '../../../src/dcr/index.js';
import { registrationKey } from '../../../src/queue/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { type RecordedRequest, type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';

let pipeline: Pipeline;
let stub: StubServer;
let fhirBaseUrl: string;

beforeAll(async () => {
  [pipeline, stub] = await Promise.all([
    startPipeline('rotation-faults', { ROTATION_GRACE: '1s' }),
    startStubServer(),
  ]);
  fhirBaseUrl = stub.url('/fhir');
  stub.on('GET', '/fhir/.well-known/smart-configuration', {
    json: {
      token_endpoint: stub.url('/token'),
      registration_endpoint: stub.url('/reg'),
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
    },
  });
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await stub.close();
});

/** Registration answers per tenant (by client_name): a client id per call, or an error after the first. */
function answerRegistrations(clients: Record<string, Array<string | 'refuse'>>): void {
  const calls = new Map<string, number>();
  stub.on('POST', '/reg', (request: RecordedRequest) => {
    const tenant = String((request.json as Record<string, unknown>).client_name);
    const n = calls.get(tenant) ?? 0;
    calls.set(tenant, n + 1);
    const clientId = clients[tenant]?.[n];
    if (clientId === undefined || clientId === 'refuse') {
      return {
        status: 400,
        json: { error: 'invalid_client_metadata', error_description: 'redirect_uris changed' },
      };
    }
    return {
      status: 201,
      json: {
        ...(request.json as Record<string, unknown>),
        client_id: clientId,
        client_secret: `secret-of-${clientId}`,
        client_secret_expires_at: 0,
        registration_access_token: `token-of-${clientId}`,
        registration_client_uri: stub.url(`/reg/${clientId}`),
      },
    };
  });
}

const metadata = (tenant: string) =>
  confidentialSymmetricMetadata({ clientName: tenant, redirectUris: ['https://app.example/callback'] });

async function registerAndRotate(tenant: string) {
  const registered = await pipeline.producer.enqueue({
    tenantId: tenant,
    fhirBaseUrl,
    clientMetadata: metadata(tenant),
  });
  expect((await pipeline.waitForJob((registered as { jobId: string }).jobId)).state).toBe('completed');
  const rotation = await pipeline.producer.enqueueRotation({ tenantId: tenant, fhirBaseUrl });
  return pipeline.waitForJob((rotation as { jobId: string }).jobId);
}

async function stored(tenant: string, stage: 'current' | 'previous' = 'current') {
  const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, tenant, fhirBaseUrl);
  const secret =
    stage === 'current'
      ? await pipeline.secretStore.readCurrent(secretId)
      : await pipeline.secretStore.readPrevious(secretId);
  return JSON.parse(secret?.value ?? '{}') as Record<string, unknown>;
}

describe('rotation faults', () => {
  it('retries an update that failed with 503 and rotates in place on the next attempt', async () => {
    answerRegistrations({ retried: ['c-retried'] });
    stub.on('PUT', '/reg/c-retried', [
      { status: 503, headers: { 'retry-after': '0' }, json: { error: 'temporarily_unavailable' } },
      {
        json: {
          ...metadata('retried'),
          client_id: 'c-retried',
          client_secret: 'rotated-secret',
          client_secret_expires_at: 0,
          registration_access_token: 'rotated-token',
        },
      },
    ]);
    const job = await registerAndRotate('retried');
    expect(job).toMatchObject({ state: 'completed', attemptsMade: 2 });
    expect(job.returnvalue).toMatchObject({ clientId: 'c-retried', rotatedBy: 'update' });
    const puts = stub.requestsTo('PUT', '/reg/c-retried');
    expect(puts.map((r) => r.headers.authorization)).toEqual([
      'Bearer token-of-c-retried',
      'Bearer token-of-c-retried',
    ]);
    // RFC 7592 §2.2: the update carries client_id and none of the server-issued fields.
    expect(puts[0]?.json).toMatchObject({ client_id: 'c-retried', client_name: 'retried' });
    expect(puts[0]?.json).not.toHaveProperty('registration_access_token');
    expect(puts[0]?.json).not.toHaveProperty('client_secret_expires_at');
    expect(await stored('retried')).toMatchObject({
      client_secret: 'rotated-secret',
      registration_access_token: 'rotated-token',
      // The answer left the URI out: the stored one stays.
      registration_client_uri: stub.url('/reg/c-retried'),
    });
  });

  it('fails with the server code, keeps the current credentials and announces it when the successor is refused', async () => {
    answerRegistrations({ refused: ['c-refused', 'refuse'] });
    stub.on('PUT', '/reg/c-refused', { status: 401, json: { error: 'invalid_token' } });
    const before = await registerAndRotate('refused');
    expect(before.state).toBe('failed');
    expect(before.attemptsMade).toBe(1);
    expect(before.failedReason).toMatch(/^invalid_client_metadata: /);
    expect(await stored('refused')).toMatchObject({
      client_id: 'c-refused',
      client_secret: 'secret-of-c-refused',
    });
    const failure = (await pipeline.events()).find(
      (e) => e.type === 'client.registration_failed' && e.data.tenantId === 'refused',
    );
    expect(failure?.data).toMatchObject({ code: 'invalid_client_metadata', reason: 'manual' });
  });

  it('stores the token an update rotated even when it kept the secret, and deletes the old client with it', async () => {
    answerRegistrations({ refreshed: ['c-old', 'c-new'] });
    stub.on('PUT', '/reg/c-old', {
      json: {
        ...metadata('refreshed'),
        client_id: 'c-old',
        client_secret: 'secret-of-c-old',
        client_secret_expires_at: 0,
        registration_access_token: 'refreshed-token-of-c-old',
      },
    });
    stub.on('DELETE', '/reg/c-old', { status: 204 });
    const job = await registerAndRotate('refreshed');
    expect(job.state).toBe('completed');
    expect(job.returnvalue).toMatchObject({
      clientId: 'c-new',
      previousClientId: 'c-old',
      rotatedBy: 'new_registration',
    });
    expect(await stored('refreshed', 'previous')).toMatchObject({
      client_id: 'c-old',
      registration_access_token: 'refreshed-token-of-c-old',
    });

    const deletion = await pipeline.waitForJob(
      (job.returnvalue as { deletion: { jobId: string } }).deletion.jobId,
    );
    expect(deletion.state).toBe('completed');
    expect(stub.requestsTo('DELETE', '/reg/c-old').map((r) => r.headers.authorization)).toEqual([
      'Bearer refreshed-token-of-c-old',
    ]);
    expect(stub.requestsTo('DELETE', '/reg/c-new')).toHaveLength(0);
  });

  it('leaves the replaced client to a person when the server has no RFC 7592 update (405)', async () => {
    answerRegistrations({ stuck: ['c-stuck', 'c-stuck-2'] });
    stub.on('PUT', '/reg/c-stuck', { status: 405 });
    const job = await registerAndRotate('stuck');
    expect(job.returnvalue).toMatchObject({ clientId: 'c-stuck-2', rotatedBy: 'new_registration' });
    expect(job.returnvalue).not.toHaveProperty('deletion');
    const rotated = (await pipeline.events()).find(
      (e) => e.type === 'client.rotated' && e.data.tenantId === 'stuck',
    );
    expect(rotated?.data).toMatchObject({ orphanedClientId: 'c-stuck' });
  });

  it('announces the replaced client as an orphan when the server refuses its delete', async () => {
    answerRegistrations({ undeletable: ['c-undeletable', 'c-undeletable-2'] });
    stub.on('PUT', '/reg/c-undeletable', {
      json: {
        ...metadata('undeletable'),
        client_id: 'c-undeletable',
        client_secret: 'secret-of-c-undeletable',
      },
    });
    stub.on('DELETE', '/reg/c-undeletable', { status: 401, json: { error: 'invalid_token' } });
    const job = await registerAndRotate('undeletable');
    const deletion = await pipeline.waitForJob(
      (job.returnvalue as { deletion: { jobId: string } }).deletion.jobId,
    );
    expect(deletion).toMatchObject({ state: 'failed', attemptsMade: 1 });
    expect(deletion.failedReason).toMatch(/^unauthorized: /);
    const failure = (await pipeline.events()).find(
      (e) => e.type === 'client.registration_failed' && e.data.tenantId === 'undeletable',
    );
    expect(failure?.data).toMatchObject({
      code: 'unauthorized',
      orphanedClientId: 'c-undeletable',
      // The reason of the job that replaced it: a manual rotation.
      reason: 'manual',
    });
    // The successor is untouched and current.
    expect(await stored('undeletable')).toMatchObject({ client_id: 'c-undeletable-2' });
  });
});

describe('a server that stops saying when secrets expire', () => {
  it('schedules the next rotation as if the new secret lived as long as the old one', async () => {
    const lifetime = 3600;
    let issuedExpiry = 0;
    stub.on('POST', '/reg', (request: RecordedRequest) => {
      issuedExpiry = Math.floor(Date.now() / 1000) + lifetime;
      return {
        status: 201,
        json: {
          ...(request.json as Record<string, unknown>),
          client_id: 'c-silent',
          client_secret: 'secret-1',
          client_secret_expires_at: issuedExpiry,
          registration_access_token: 'token-1',
          registration_client_uri: stub.url('/reg/c-silent'),
        },
      };
    });
    // Every update rotates the secret and token, and leaves client_secret_expires_at out.
    stub.on('PUT', '/reg/c-silent', (_request: RecordedRequest, calls: number) => ({
      json: {
        ...metadata('silent'),
        client_id: 'c-silent',
        client_secret: `secret-${calls + 2}`,
        registration_access_token: `token-${calls + 2}`,
      },
    }));
    const job = await registerAndRotate('silent');
    expect(job.returnvalue).toMatchObject({ rotatedBy: 'update' });
    const scheduledBy = async () =>
      (await pipeline.registry.get(registrationKey('silent', fhirBaseUrl)))?.clientSecretExpiresAt;
    // Whole seconds of a stored timestamp, as expiries are counted.
    const seconds = (iso: unknown) => Math.floor(Date.parse(String(iso)) / 1000);
    // The old secret lived from its registration to the expiry the server gave it; the new one is
    // assumed to live as long from its rotation, to the second.
    const value = await stored('silent');
    const oldLifetime = issuedExpiry - seconds(value.registered_at);
    expect(oldLifetime).toBeGreaterThan(0);
    expect(oldLifetime).toBeLessThanOrEqual(lifetime);
    expect(await scheduledBy()).toBe(seconds(value.rotated_at) + oldLifetime);
    // The stored secret says what the server said, and apart from it what rotation assumed.
    expect(value).not.toHaveProperty('client_secret_expires_at');
    expect(value.assumed_secret_expires_at).toBe(await scheduledBy());

    // The assumption survives the next rotation (it is read back from the secret, the source of truth).
    const again = await pipeline.producer.enqueueRotation({ tenantId: 'silent', fhirBaseUrl });
    const second = await pipeline.waitForJob((again as { jobId: string }).jobId);
    expect(second.returnvalue).toMatchObject({ rotatedBy: 'update' });
    const rotatedAgain = await stored('silent');
    expect(rotatedAgain).toMatchObject({ client_secret: 'secret-3' });
    expect(seconds(rotatedAgain.rotated_at)).toBeGreaterThanOrEqual(seconds(value.rotated_at));
    expect(await scheduledBy()).toBe(seconds(rotatedAgain.rotated_at) + oldLifetime);
  });
});

describe('two rotations within the grace', () => {
  it('deletes both replaced clients, the first from a version no longer AWSPREVIOUS', async () => {
    answerRegistrations({ twice: ['c-first', 'c-second', 'c-third'] });
    for (const clientId of ['c-first', 'c-second']) {
      // Each update keeps the secret and rotates the token: a successor each time.
      stub.on('PUT', `/reg/${clientId}`, {
        json: {
          ...metadata('twice'),
          client_id: clientId,
          client_secret: `secret-of-${clientId}`,
          registration_access_token: `refreshed-${clientId}`,
        },
      });
      stub.on('DELETE', `/reg/${clientId}`, { status: 204 });
    }
    const first = await registerAndRotate('twice');
    const second = await pipeline.waitForJob(
      ((await pipeline.producer.enqueueRotation({ tenantId: 'twice', fhirBaseUrl })) as { jobId: string })
        .jobId,
    );
    expect(second.returnvalue).toMatchObject({ previousClientId: 'c-second', clientId: 'c-third' });
    // The first deletion runs after the second rotation pushed c-first's version out of AWSPREVIOUS.
    expect((await stored('twice', 'previous')).client_id).toBe('c-second');
    const deletions = await Promise.all(
      [first, second].map((job) =>
        pipeline.waitForJob((job.returnvalue as { deletion: { jobId: string } }).deletion.jobId),
      ),
    );
    expect(deletions.map((job) => job.state)).toEqual(['completed', 'completed']);
    expect(stub.requestsTo('DELETE', '/reg/c-first').map((r) => r.headers.authorization)).toEqual([
      'Bearer refreshed-c-first',
    ]);
    expect(stub.requestsTo('DELETE', '/reg/c-second').map((r) => r.headers.authorization)).toEqual([
      'Bearer refreshed-c-second',
    ]);
    expect(stub.requestsTo('DELETE', '/reg/c-third')).toHaveLength(0);
  });

  it('marks a PUT answered 502 as a possible orphan; the retry with the token it killed registers a successor', async () => {
    answerRegistrations({ gateway: ['c-gateway', 'c-gateway-next'] });
    // The gateway lost the answer to an update that went through: the stored token is dead now.
    stub.on('PUT', '/reg/c-gateway', [
      { status: 502, body: '<html>Bad Gateway</html>' },
      { status: 401, json: { error: 'invalid_token' } },
    ]);
    const job = await registerAndRotate('gateway');
    expect(job.state).toBe('completed');
    expect(job.returnvalue).toMatchObject({
      previousClientId: 'c-gateway',
      clientId: 'c-gateway-next',
      rotatedBy: 'new_registration',
      possibleOrphan: true,
      // Its token refused, the replaced client cannot be deleted: it is named instead.
      orphanedClientIds: ['c-gateway'],
    });
    const events = (await pipeline.events()).filter(
      (e) => e.type === 'client.rotated' && e.data.tenantId === 'gateway',
    );
    expect(events.at(-1)?.data).toMatchObject({
      possibleOrphan: true,
      lostAttemptAt: expect.any(String),
      orphanedClientId: 'c-gateway',
    });
    expect(await stored('gateway')).toMatchObject({ client_id: 'c-gateway-next' });
  });
});
