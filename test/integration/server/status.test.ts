// Status through the API while a real worker registers against a stub server: queued, retrying,
// completed and failed, and no secret the server issued in any answer of the API or the board.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';
import { call, serverFor, TEST_TOKEN } from './server-harness.js';

let pipeline: Pipeline;
let stub: StubServer;
let app: FastifyInstance;
beforeAll(async () => {
  [pipeline, stub] = await Promise.all([
    // A long backoff keeps a retried job visibly "retrying" for the whole test.
    startPipeline('server-status', {
      API_TOKEN: TEST_TOKEN,
      BACKOFF_BASE_MS: '60000',
      BACKOFF_MAX_MS: '60000',
    }),
    startStubServer(),
  ]);
  await pipeline.startWorker();
  app = await serverFor(pipeline);
});
afterAll(async () => {
  await app.close();
  await pipeline.close();
  await stub.close();
});

const secrets = {
  clientSecret: `top-secret-${randomUUID()}`,
  registrationAccessToken: `rat-${randomUUID()}`,
  initialAccessToken: `iat-${randomUUID()}`,
};

const request = (tenantId: string, extra: Record<string, unknown> = {}) => ({
  tenantId,
  fhirBaseUrl: stub.url(`/fhir/${tenantId}`),
  registrationEndpoint: stub.url(`/register/${tenantId}`),
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
  ...extra,
});

const statusUrl = (tenantId: string) =>
  `/v1/registrations/${tenantId}?fhirBaseUrl=${encodeURIComponent(stub.url(`/fhir/${tenantId}`))}`;

/** Every body the API and the board answered in this file, for the secret scan at the end. */
const bodies: string[] = [];

async function get(url: string) {
  const res = await call(app, { method: 'GET', url });
  bodies.push(res.body);
  return res;
}

async function statusWhen(tenantId: string, state: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await get(statusUrl(tenantId));
    if (res.statusCode === 200 && res.json().state === state) return res.json();
    if (Date.now() > deadline) throw new Error(`status of ${tenantId} stayed ${res.body}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function enqueue(body: unknown) {
  const res = await call(app, { method: 'POST', url: '/v1/registrations', payload: body as object });
  bodies.push(res.body);
  expect(res.statusCode).toBe(202);
  return res.json().jobId as string;
}

describe('GET /v1/registrations/:tenantId while a worker runs', () => {
  it('reports queued while the queue is paused, then completed with the client and secret ids', async () => {
    stub.on('POST', '/register/srv-ok', {
      status: 201,
      json: {
        client_id: 'srv-client-ok',
        client_secret: secrets.clientSecret,
        client_secret_expires_at: 0,
        registration_access_token: secrets.registrationAccessToken,
        registration_client_uri: stub.url('/register/srv-ok/srv-client-ok'),
        redirect_uris: ['https://app.example/cb'],
      },
    });
    await pipeline.queue.pause();
    const jobId = await enqueue(
      request('srv-ok', { initialAccessToken: { value: secrets.initialAccessToken } }),
    );
    expect(await statusWhen('srv-ok', 'queued')).toMatchObject({ attempts: 0, jobId });
    await pipeline.queue.resume();

    const done = await statusWhen('srv-ok', 'completed');
    expect(done).toEqual({
      tenantId: 'srv-ok',
      fhirBaseUrl: stub.url('/fhir/srv-ok'),
      state: 'completed',
      attempts: 1,
      clientId: 'srv-client-ok',
      secretId: expect.stringContaining('/srv-ok/'),
      secretVersionId: expect.any(String),
      clientSecretExpiresAt: 0,
      registeredAt: expect.any(String),
      // The answer carried a registration access token and client URI: RFC 7592 is available.
      managed: true,
      jobId,
      updatedAt: expect.any(String),
    });
    // The worker really used the token and the store really holds the secrets the API never shows.
    expect(stub.requestsTo('POST', '/register/srv-ok')[0]?.headers.authorization).toBe(
      `Bearer ${secrets.initialAccessToken}`,
    );
    expect((await pipeline.secretStore.readCurrent(done.secretId))?.value).toContain(secrets.clientSecret);
  });

  it('shows verified: false with the reason for a client_credentials client whose token endpoint is unknown', async () => {
    stub.on('POST', '/register/srv-unverified', {
      status: 201,
      json: {
        client_id: 'srv-client-unverified',
        client_secret: secrets.clientSecret,
        grant_types: ['client_credentials'],
      },
    });
    await enqueue(
      request('srv-unverified', {
        clientMetadata: {
          grant_types: ['client_credentials'],
          response_types: [],
          scope: 'system/Patient.rs',
        },
      }),
    );
    // registrationEndpoint skipped discovery: there is no token endpoint to ask, so nothing to retry.
    expect(await statusWhen('srv-unverified', 'completed')).toMatchObject({
      attempts: 1,
      clientId: 'srv-client-unverified',
      verified: false,
      verifiedAt: expect.any(String),
      verificationError: 'no_token_endpoint',
    });
  });

  it('reports retrying with verification_failed, naming the stored client, while a refused verification waits out its backoff', async () => {
    const base = stub.url('/fhir/srv-verifying');
    stub.on('GET', '/fhir/srv-verifying/.well-known/smart-configuration', {
      json: {
        issuer: stub.baseUrl,
        authorization_endpoint: stub.url('/authorize'),
        token_endpoint: stub.url('/token/srv-verifying'),
        registration_endpoint: stub.url('/register/srv-verifying'),
      },
    });
    stub.on('POST', '/register/srv-verifying', {
      status: 201,
      json: {
        client_id: 'srv-client-verifying',
        client_secret: secrets.clientSecret,
        grant_types: ['client_credentials'],
      },
    });
    stub.on('POST', '/token/srv-verifying', { status: 400, json: { error: 'invalid_grant' } });
    const { registrationEndpoint: _skip, ...discovered } = request('srv-verifying', {
      clientMetadata: { grant_types: ['client_credentials'], response_types: [], scope: 'system/Patient.rs' },
    });
    await enqueue({ ...discovered, fhirBaseUrl: base });
    const retrying = await statusWhen('srv-verifying', 'retrying');
    // The registry records the client when the job completes; until then the failure names it.
    expect(retrying).toMatchObject({
      lastFailure: {
        code: 'verification_failed',
        message: expect.stringMatching(
          /client srv-client-verifying \(invalid_grant, HTTP 400\).*stay stored/,
        ),
      },
    });
    expect(retrying).not.toHaveProperty('verified');
  });

  it('reports retrying with the last failure code while the retry waits out its backoff', async () => {
    stub.on('POST', '/register/srv-flaky', { status: 503, body: 'down for maintenance' });
    const jobId = await enqueue(request('srv-flaky'));
    const status = await statusWhen('srv-flaky', 'retrying');
    expect(status).toMatchObject({
      state: 'retrying',
      attempts: 1,
      jobId,
      lastFailure: { code: 'server_error', message: expect.stringContaining('503') },
    });
    expect(status.clientId).toBeUndefined();
  });

  it('reports failed with the code of a permanent failure, and no client', async () => {
    stub.on('POST', '/register/srv-refused', {
      status: 400,
      json: { error: 'invalid_client_metadata', error_description: 'scope not allowed' },
    });
    const jobId = await enqueue(request('srv-refused'));
    const status = await statusWhen('srv-refused', 'failed');
    expect(status).toMatchObject({
      state: 'failed',
      attempts: 1,
      jobId,
      lastFailure: { code: 'invalid_client_metadata' },
    });
    expect(status.clientId).toBeUndefined();
  });

  it('lists all of a tenant with one call', async () => {
    const res = await get('/v1/registrations/srv-ok');
    expect(res.json().registrations).toEqual([expect.objectContaining({ state: 'completed' })]);
  });

  it('shows the failure code at the start of the failed job in the board list', async () => {
    const res = await get('/admin/queues/api/queues?activeQueue=registrations&status=failed&page=1');
    const queue = res.json().queues.find((q: { name: string }) => q.name === 'registrations');
    expect(queue.jobs.map((j: { failedReason: string }) => j.failedReason)).toEqual([
      expect.stringMatching(/^invalid_client_metadata: /),
    ]);
  });

  it('never answers a client secret, registration access token or initial access token', async () => {
    const latest = await get('/admin/queues/api/queues?activeQueue=registrations&status=latest');
    for (const status of ['completed', 'failed', 'delayed', 'waiting']) {
      await get(`/admin/queues/api/queues?activeQueue=registrations&status=${status}`);
    }
    const jobs = latest.json().queues[0].jobs as Array<{ id: string }>;
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    for (const job of jobs) {
      await get(`/admin/queues/api/queues/registrations/${job.id}`);
      await get(`/admin/queues/api/queues/registrations/${job.id}/logs`);
    }
    await get('/v1/registrations/srv-ok');
    expect(bodies.length).toBeGreaterThan(10);
    const everything = bodies.join('\n');
    expect(everything).toContain('srv-client-ok');
    for (const secret of Object.values(secrets)) {
      expect(everything).not.toContain(secret);
    }
    const redis = await pipeline.dumpRedis();
    for (const secret of Object.values(secrets)) expect(redis).not.toContain(secret);
  });
});
