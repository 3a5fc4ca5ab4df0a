// The use case outside the queue: what a resumed job does with the checkpoint a previous attempt left.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { RedisStreamEventPublisher } from '../../../src/events/index.js';
import { isFailureEventPending } from '../../../src/failures/index.js';
import { createHttpClient } from '../../../src/http/index.js';
import {
  MemoryCheckpointStore,
  type RegistrationDeps,
  runRegistration,
} from '../../../src/provisioning/index.js';
import { FileSecretStore } from '../../../src/secrets/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { testQueuePrefix, testRedis } from '../../support/redis.js';

let stub: StubServer;
const redis = testRedis();
const streamKey = `${testQueuePrefix('usecase')}:events`;
const http = createHttpClient({ timeoutMs: 300, allowInsecureLocalhost: true });
const secretStore = new FileSecretStore({ rootDir: mkdtempSync(path.join(tmpdir(), 'dcr-usecase-')) });
const deps: RegistrationDeps = {
  http,
  secretStore,
  events: new RedisStreamEventPublisher({ redis, streamKey }),
  secretNamePrefix: 'dcr/',
  rules: { allowInsecureLocalhost: true },
  secretWriteRetryDelaysMs: [],
};

beforeAll(async () => {
  stub = await startStubServer();
});
beforeEach(() => stub.reset());
afterAll(async () => {
  http.close();
  await stub.close();
  await redis.del(streamKey);
  redis.disconnect();
});

const job = (tenantId: string, extra: Record<string, unknown> = {}) => ({
  tenantId,
  fhirBaseUrl: stub.url('/fhir'),
  registrationEndpoint: stub.url('/register'),
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
  reason: 'onboarding',
  requestedAt: new Date().toISOString(),
  ...extra,
});

async function lastEvent() {
  const [entry] = await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1);
  const fields = entry?.[1] ?? [];
  return { type: fields[1], data: JSON.parse(fields[5] ?? '{}') };
}

describe('provisioning/runRegistration', () => {
  it('registers again after a lost answer, and reports the lost attempt as a possible orphan', async () => {
    stub.on('POST', '/register', { status: 201, json: { client_id: 'second-try' } });
    const lostAt = '2026-01-01T00:00:00.000Z';
    const checkpoint = new MemoryCheckpointStore({ intent: { id: 'lost-intent', at: lostAt } });
    const outcome = await runRegistration(
      job('lost'),
      { jobId: 'job-lost', attempt: 2, maxAttempts: 3, checkpoint },
      deps,
    );
    expect(outcome).toMatchObject({ clientId: 'second-try', possibleOrphan: true, lostAttemptsAt: [lostAt] });
    expect(await lastEvent()).toMatchObject({
      type: 'client.registered',
      data: { clientId: 'second-try', possibleOrphan: true, lostAttemptAt: lostAt },
    });
  });

  it('records a POST that timed out after sending as a lost attempt, then retries', async () => {
    stub.on('POST', '/register', [{ hang: true }, { status: 201, json: { client_id: 'after-timeout' } }]);
    const checkpoint = new MemoryCheckpointStore();
    const context = { jobId: 'job-timeout', attempt: 1, maxAttempts: 3, checkpoint };
    await expect(runRegistration(job('timeout'), context, deps)).rejects.toMatchObject({
      code: 'timeout',
      outcomeUnknown: true,
    });
    expect(checkpoint.load().lostAttemptsAt).toHaveLength(1);
    const outcome = await runRegistration(job('timeout'), { ...context, attempt: 2 }, deps);
    expect(outcome).toMatchObject({ clientId: 'after-timeout', possibleOrphan: true });
  });

  it('never POSTs again once the credentials are stored', async () => {
    stub.on('POST', '/register', { status: 201, json: { client_id: 'once' } });
    const checkpoint = new MemoryCheckpointStore();
    const context = { jobId: 'job-once', attempt: 1, maxAttempts: 3, checkpoint };
    const first = await runRegistration(job('once'), context, deps);
    const again = await runRegistration(job('once'), { ...context, attempt: 2 }, deps);
    expect(again).toEqual(first);
    expect(stub.requestsTo('POST', '/register')).toHaveLength(1);
  });

  it('sends an initial access token read from the secret store by reference', async () => {
    await secretStore.write({
      name: 'dcr/iat/ref',
      value: JSON.stringify({ initial_access_token: 'iat-from-store-123' }),
      clientRequestToken: 'a'.repeat(32),
    });
    stub.on('POST', '/register', { status: 201, json: { client_id: 'with-iat' } });
    await runRegistration(
      job('iat', { initialAccessToken: { secretId: 'dcr/iat/ref' } }),
      { jobId: 'job-iat', attempt: 1, maxAttempts: 1, checkpoint: new MemoryCheckpointStore() },
      deps,
    );
    expect(stub.requestsTo('POST', '/register')[0]?.headers.authorization).toBe('Bearer iat-from-store-123');
  });

  it('fails as invalid_job, with a failure event, when the referenced token does not exist', async () => {
    await expect(
      runRegistration(
        job('no-iat', { initialAccessToken: { secretId: 'dcr/iat/missing' } }),
        { jobId: 'job-no-iat', attempt: 1, maxAttempts: 3, checkpoint: new MemoryCheckpointStore() },
        deps,
      ),
    ).rejects.toMatchObject({
      code: 'invalid_job',
      message: expect.stringContaining('initialAccessToken.secretId'),
    });
    expect(stub.requests).toHaveLength(0);
    expect(await lastEvent()).toMatchObject({
      type: 'client.registration_failed',
      data: { code: 'invalid_job' },
    });
  });

  it('fails a malformed payload at once as invalid_job naming the field', async () => {
    await expect(
      runRegistration(
        { ...job('bad'), tenantId: '' },
        { jobId: 'job-bad', attempt: 1, maxAttempts: 3, checkpoint: new MemoryCheckpointStore() },
        deps,
      ),
    ).rejects.toMatchObject({
      code: 'invalid_job',
      retryable: false,
      message: expect.stringContaining('tenantId'),
    });
  });

  it('publishes no failure event for a retryable failure before the last attempt', async () => {
    stub.on('POST', '/register', { status: 500 });
    const before = await redis.xlen(streamKey);
    const checkpoint = new MemoryCheckpointStore();
    await expect(
      runRegistration(job('flaky'), { jobId: 'job-flaky', attempt: 1, maxAttempts: 2, checkpoint }, deps),
    ).rejects.toMatchObject({ code: 'server_error' });
    expect(await redis.xlen(streamKey)).toBe(before);
    await expect(
      runRegistration(job('flaky'), { jobId: 'job-flaky', attempt: 2, maxAttempts: 2, checkpoint }, deps),
    ).rejects.toMatchObject({ code: 'server_error' });
    expect(await lastEvent()).toMatchObject({
      type: 'client.registration_failed',
      data: { code: 'server_error', attempts: 2 },
    });
  });

  it('keeps the failure code when the failure event cannot be appended, and marks the event as still owed', async () => {
    stub.on('POST', '/register', { status: 400, json: { error: 'invalid_redirect_uri' } });
    let tries = 0;
    const error = await runRegistration(
      job('no-event'),
      { jobId: 'job-no-event', attempt: 1, maxAttempts: 3, checkpoint: new MemoryCheckpointStore() },
      {
        ...deps,
        events: {
          publish: async () => {
            tries += 1;
            throw new Error('READONLY You cannot write against a read only replica.');
          },
        },
      },
    ).catch((err: unknown) => err);

    // Tried a few times in process, then left to the worker's `failed` listener.
    expect(tries).toBe(4);
    expect(error).toMatchObject({ code: 'invalid_redirect_uri', retryable: false });
    expect((error as Error).message).toMatch(
      /its client\.registration_failed event could not be appended yet/,
    );
    expect(isFailureEventPending(error)).toBe(true);
  });
});
