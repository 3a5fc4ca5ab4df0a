// What an onboarding system sees when it asks about a tenant: queued, retrying, completed, failed.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { registrationStatus, tenantStatuses } from '../../../src/queue/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from './harness.js';

let pipeline: Pipeline;
let stub: StubServer;
beforeAll(async () => {
  [pipeline, stub] = await Promise.all([
    startPipeline('status', { BACKOFF_BASE_MS: '60000', BACKOFF_MAX_MS: '60000' }),
    startStubServer(),
  ]);
  await pipeline.startWorker();
});
beforeEach(() => stub.reset());
afterAll(async () => {
  await pipeline.close();
  await stub.close();
});

const request = (tenantId: string, path = '/register') => ({
  tenantId,
  fhirBaseUrl: stub.url(`/fhir/${tenantId}`),
  registrationEndpoint: stub.url(path),
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
});

async function statusWhen(tenantId: string, fhirBaseUrl: string, state: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await registrationStatus(pipeline, tenantId, fhirBaseUrl);
    if (status?.state === state) return status;
    if (Date.now() > deadline) throw new Error(`status stayed ${status?.state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('registration status', () => {
  it('is undefined for a tenant never requested', async () => {
    expect(await registrationStatus(pipeline, 'nobody', 'https://ehr.example/fhir')).toBeUndefined();
  });

  it('reports queued, then completed with the client and secret ids', async () => {
    stub.on('POST', '/register', {
      status: 201,
      json: { client_id: 'status-ok', client_secret: 'shh-secret-1' },
    });
    await pipeline.queue.pause();
    await pipeline.producer.enqueue(request('ok'));
    const queued = await statusWhen('ok', stub.url('/fhir/ok'), 'queued');
    expect(queued).toMatchObject({ attempts: 0 });
    await pipeline.queue.resume();
    const done = await statusWhen('ok', stub.url('/fhir/ok'), 'completed');
    expect(done).toMatchObject({
      attempts: 1,
      clientId: 'status-ok',
      secretId: expect.stringContaining('/ok/'),
      clientSecretExpiresAt: 'unknown',
    });
    expect(JSON.stringify(done)).not.toContain('shh-secret-1');
    expect(await tenantStatuses(pipeline, 'ok')).toEqual([done]);
  });

  it('reports retrying with the last failure code while a retry waits', async () => {
    stub.on('POST', '/register', { status: 503, body: 'down' });
    await pipeline.producer.enqueue(request('flaky'));
    const status = await statusWhen('flaky', stub.url('/fhir/flaky'), 'retrying');
    expect(status).toMatchObject({
      attempts: 1,
      lastFailure: { code: 'server_error', message: expect.stringContaining('503') },
    });
  });

  it('reports failed with the code of a permanent failure', async () => {
    stub.on('POST', '/register', { status: 400, json: { error: 'invalid_client_metadata' } });
    await pipeline.producer.enqueue(request('broken'));
    const status = await statusWhen('broken', stub.url('/fhir/broken'), 'failed');
    expect(status).toMatchObject({ attempts: 1, lastFailure: { code: 'invalid_client_metadata' } });
    expect(status.clientId).toBeUndefined();
  });
});
