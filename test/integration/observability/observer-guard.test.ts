// The use case outside the queue, with an observer: the phases it reports, and an observer that throws
// never failing a registration whose credentials are already stored.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { RedisStreamEventPublisher } from '../../../src/events/index.js';
import { createHttpClient } from '../../../src/http/index.js';
import {
  type JobFinished,
  MemoryCheckpointStore,
  type ProvisioningObserver,
  type RegistrationDeps,
  runRegistration,
} from '../../../src/provisioning/index.js';
import { FileSecretStore } from '../../../src/secrets/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';

let stub: StubServer;
const redis = new Redis(inject('redisUrl'));
const streamKey = `${inject('redisPrefix')}-observer:events`;
const http = createHttpClient({ timeoutMs: 2000, allowInsecureLocalhost: true });
const secretStore = new FileSecretStore({ rootDir: mkdtempSync(path.join(tmpdir(), 'dcr-observer-')) });

function deps(observer: ProvisioningObserver, warnings: string[] = []): RegistrationDeps {
  return {
    http,
    secretStore,
    events: new RedisStreamEventPublisher({ redis, streamKey }),
    secretNamePrefix: 'dcr/',
    rules: { allowInsecureLocalhost: true },
    secretWriteRetryDelaysMs: [],
    log: { warn: (_fields: object, msg?: string) => warnings.push(msg ?? '') },
    observer,
  };
}

const job = (tenantId: string) => ({
  tenantId,
  fhirBaseUrl: stub.url('/fhir/r4'),
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
  reason: 'onboarding',
  requestedAt: new Date().toISOString(),
});
const context = (jobId: string) => ({
  jobId,
  attempt: 1,
  maxAttempts: 3,
  checkpoint: new MemoryCheckpointStore(),
});

beforeAll(async () => {
  stub = await startStubServer();
  stub.on('GET', '/fhir/r4/.well-known/smart-configuration', {
    json: { token_endpoint: stub.url('/token'), registration_endpoint: stub.url('/register') },
  });
  stub.on('POST', '/register', {
    status: 201,
    json: { client_id: 'observed-client', client_secret_expires_at: 0 },
  });
});
afterAll(async () => {
  http.close();
  await stub.close();
  await redis.del(streamKey);
  redis.disconnect();
});

describe('provisioning/runRegistration with an observer', () => {
  it('reports each phase once and one outcome with the server host only', async () => {
    const calls: string[] = [];
    const finished: JobFinished[] = [];
    const observer: ProvisioningObserver = {
      discovery: (_ms, hit) => calls.push(`discovery:${hit ? 'hit' : 'miss'}`),
      registrationRequest: (_ms, outcome) => calls.push(`registration:${outcome}`),
      secretWrite: (_ms, outcome) => calls.push(`secretWrite:${outcome}`),
      jobFinished: (report) => finished.push(report),
      serverWaitExceeded: (reason) => calls.push(`waitExceeded:${reason}`),
    };
    await runRegistration(job('observed'), context('job-observed'), deps(observer));

    // Without a discovery cache every lookup is a miss.
    expect(calls).toEqual(['discovery:miss', 'registration:success', 'secretWrite:success']);
    expect(finished).toEqual([
      {
        outcome: 'completed',
        kind: 'registration',
        jobId: 'job-observed',
        attempt: 1,
        maxAttempts: 3,
        tenantId: 'observed',
        serverHost: new URL(stub.baseUrl).host,
        clientId: 'observed-client',
        durationMs: expect.any(Number),
        phases: {
          discoveryMs: expect.any(Number),
          cacheHit: false,
          registrationRequestMs: expect.any(Number),
          secretWriteMs: expect.any(Number),
        },
      },
    ]);
  });

  it('completes the registration when the observer throws, and says so in a warning', async () => {
    const broken = () => {
      throw new Error('metrics bug');
    };
    const warnings: string[] = [];
    const outcome = await runRegistration(
      job('observer-broken'),
      context('job-broken'),
      deps(
        {
          discovery: broken,
          registrationRequest: broken,
          secretWrite: broken,
          jobFinished: broken,
          serverWaitExceeded: broken,
        },
        warnings,
      ),
    );
    expect(outcome.clientId).toBe('observed-client');
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toBe('provisioning observer failed: metrics bug');
  });

  it('reports a permanent failure as failed with its code, and a retryable one as retry until the last attempt', async () => {
    const finished: JobFinished[] = [];
    const observer: ProvisioningObserver = {
      discovery: () => {},
      registrationRequest: () => {},
      secretWrite: () => {},
      jobFinished: (report) => finished.push(report),
      serverWaitExceeded: () => {},
    };
    await expect(
      runRegistration({ tenantId: 'bad' }, context('job-invalid'), deps(observer)),
    ).rejects.toThrow();
    stub.on('POST', '/register', { status: 500 });
    await expect(runRegistration(job('flaky'), context('job-flaky'), deps(observer))).rejects.toThrow();
    await expect(
      runRegistration(job('flaky'), { ...context('job-flaky'), attempt: 3 }, deps(observer)),
    ).rejects.toThrow();

    expect(finished.map((f) => [f.jobId, f.outcome, f.code, f.tenantId])).toEqual([
      ['job-invalid', 'failed', 'invalid_job', 'bad'],
      ['job-flaky', 'retry', 'server_error', 'flaky'],
      ['job-flaky', 'failed', 'server_error', 'flaky'],
    ]);
    expect(finished[0]).not.toHaveProperty('serverHost');
    expect(finished[1]?.phases).toMatchObject({ registrationRequestMs: expect.any(Number) });
    expect(finished[1]?.phases).not.toHaveProperty('secretWriteMs');
  });
});
