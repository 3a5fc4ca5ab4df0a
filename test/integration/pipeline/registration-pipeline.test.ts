// The product end to end: producer -> Redis -> worker -> oidc-provider -> moto -> event stream.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backendServicesMetadata,
  confidentialSymmetricMetadata,
  publicAppMetadata,
} from '../../../src/dcr/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { ecPublicJwk } from '../../fixtures/keys.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from './harness.js';

let pipeline: Pipeline;
let smart: SmartServer;
let stub: StubServer;
const logLines: string[] = [];
const log = { warn: (obj: object, msg?: string) => logLines.push(JSON.stringify({ ...obj, msg })) };

beforeAll(async () => {
  [pipeline, smart, stub] = await Promise.all([
    startPipeline('pipeline'),
    startSmartServer({ initialAccessToken: true }),
    startStubServer(),
  ]);
  await pipeline.startWorker({ log });
});
afterAll(async () => {
  await pipeline.close();
  await Promise.all([smart.close(), stub.close()]);
});

const redirectUris = ['https://app.example/callback'];
const metadataFor = (i: number) =>
  [
    () => publicAppMetadata({ clientName: `Public ${i}`, redirectUris }),
    () => confidentialSymmetricMetadata({ clientName: `Portal ${i}`, redirectUris }),
    () =>
      backendServicesMetadata({
        clientName: `Export ${i}`,
        scope: 'system/*.rs',
        jwks: { keys: [ecPublicJwk()] },
      }),
  ][i % 3]?.() as Record<string, unknown>;

describe('registration pipeline', () => {
  const secretsSeen: string[] = [];

  it('registers 50 tenants: 50 secrets with the documented JSON, 50 events, 50 live clients', async () => {
    const iats = await Promise.all(
      Array.from({ length: 50 }, () => smart.issueInitialAccessToken({ singleUse: true })),
    );
    secretsSeen.push(...iats);
    const results = await pipeline.producer.enqueueMany(
      iats.map((value, i) => ({
        tenantId: `tenant-${i}`,
        fhirBaseUrl: smart.fhirBaseUrl,
        clientMetadata: metadataFor(i),
        initialAccessToken: { value },
      })),
    );
    expect(results.every((r) => r.status === 'queued')).toBe(true);
    const jobs = await Promise.all(results.map((r) => pipeline.waitForJob((r as { jobId: string }).jobId)));
    expect(jobs.map((j) => j.state)).toEqual(Array(50).fill('completed'));
    expect(smart.stats.liveClientCount()).toBe(50);

    for (const [i, job] of jobs.entries()) {
      const secretId = registrationSecretName(
        pipeline.config.SECRET_NAME_PREFIX,
        `tenant-${i}`,
        smart.fhirBaseUrl,
      );
      expect(job.returnvalue).toMatchObject({ tenantId: `tenant-${i}`, secretId });
      const stored = await pipeline.secretStore.readCurrent(secretId);
      const value = JSON.parse(stored?.value ?? '{}');
      expect(value).toMatchObject({
        client_id: job.returnvalue?.clientId,
        token_endpoint: expect.stringContaining('/token'),
        fhir_base_url: smart.fhirBaseUrl,
        registration_access_token: expect.any(String),
        registration_client_uri: expect.stringContaining(String(job.returnvalue?.clientId)),
        registered_at: expect.any(String),
        issuer: smart.issuer,
      });
      expect(stored?.versionId).toBe(job.returnvalue?.secretVersionId);
      if (i % 3 === 1) {
        expect(value.client_secret).toEqual(expect.any(String));
        expect(value.client_secret_expires_at).toBe(0);
      }
      secretsSeen.push(
        value.registration_access_token,
        ...(value.client_secret ? [value.client_secret] : []),
      );
    }

    const registered = (await pipeline.events()).filter((e) => e.type === 'client.registered');
    expect(registered).toHaveLength(50);
    expect(new Set(registered.map((e) => e.eventId)).size).toBe(50);
    expect(registered[0]?.data).toMatchObject({
      tenantId: expect.stringMatching(/^tenant-/),
      fhirBaseUrl: smart.fhirBaseUrl,
      clientId: expect.any(String),
      secretId: expect.any(String),
      secretVersionId: expect.any(String),
      jobId: expect.any(String),
      attempts: 1,
      occurredAt: expect.any(String),
    });
  });

  it('keeps every client secret, registration access token and initial access token out of Redis and logs', async () => {
    expect(secretsSeen.length).toBeGreaterThan(100);
    const redisText = await pipeline.dumpRedis();
    expect(redisText.length).toBeGreaterThan(1000);
    const logText = logLines.join('\n');
    for (const secret of secretsSeen) {
      expect(redisText.includes(secret), 'a secret value was found in Redis').toBe(false);
      expect(logText.includes(secret), 'a secret value was found in a log line').toBe(false);
    }
  });

  it('answers already_queued for a duplicate of a waiting registration', async () => {
    await pipeline.queue.pause();
    try {
      const request = { tenantId: 'dup', fhirBaseUrl: smart.fhirBaseUrl, clientMetadata: metadataFor(0) };
      const first = await pipeline.producer.enqueue(request);
      const second = await pipeline.producer.enqueue(request);
      expect(first.status).toBe('queued');
      expect(second).toEqual({ status: 'already_queued', jobId: (first as { jobId: string }).jobId });
    } finally {
      await pipeline.queue.resume();
    }
  });

  it('retries 503 with Retry-After: 2 twice and succeeds on attempt 3, waiting as asked', async () => {
    stub.on('POST', '/register', [
      { status: 503, headers: { 'retry-after': '2' } },
      { status: 503, headers: { 'retry-after': '2' } },
      { status: 201, json: { client_id: 'after-503' } },
    ]);
    const result = await pipeline.producer.enqueue({
      tenantId: 'throttled',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register'),
      clientMetadata: metadataFor(0),
    });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 20_000);
    // BullMQ counts the successful attempt too.
    expect(job).toMatchObject({ state: 'completed', attemptsMade: 3 });
    expect(job.returnvalue?.clientId).toBe('after-503');
    const event = (await pipeline.events()).find((e) => e.data.clientId === 'after-503');
    expect(event?.data.attempts).toBe(3);
    const posts = stub.requestsTo('POST', '/register');
    expect(posts).toHaveLength(3);
    expect((posts[1]?.receivedAt ?? 0) - (posts[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(2000);
  });

  it('fails invalid_redirect_uri at once: one POST, the code in failedReason, one failure event', async () => {
    stub.on('POST', '/register-bad', {
      status: 400,
      json: { error: 'invalid_redirect_uri', error_description: 'nope' },
    });
    const result = await pipeline.producer.enqueue({
      tenantId: 'bad-redirect',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register-bad'),
      clientMetadata: metadataFor(0),
    });
    const jobId = (result as { jobId: string }).jobId;
    const job = await pipeline.waitForJob(jobId);
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/^invalid_redirect_uri: /);
    expect(stub.requestsTo('POST', '/register-bad')).toHaveLength(1);
    const failures = (await pipeline.events()).filter(
      (e) => e.type === 'client.registration_failed' && e.data.jobId === jobId,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]?.data).toMatchObject({
      tenantId: 'bad-redirect',
      code: 'invalid_redirect_uri',
      attempts: 1,
    });
  });
});

describe('initial access tokens of duplicates', () => {
  it('keeps the queued job’s token when a duplicate arrives with another one', async () => {
    await pipeline.queue.pause();
    try {
      const request = (value: string) => ({
        tenantId: 'iat-dup',
        fhirBaseUrl: smart.fhirBaseUrl,
        clientMetadata: metadataFor(0),
        initialAccessToken: { value },
      });
      const first = await pipeline.producer.enqueue(request('first-token-value-1'));
      const second = await pipeline.producer.enqueue(request('second-token-value-2'));
      expect(second).toEqual({ status: 'already_queued', jobId: (first as { jobId: string }).jobId });
      const [inBatchA, inBatchB] = await pipeline.producer.enqueueMany([
        { ...request('third-token-value-3'), tenantId: 'iat-dup-2' },
        { ...request('fourth-token-value-4'), tenantId: 'iat-dup-2' },
      ]);
      expect(inBatchB).toEqual({ status: 'already_queued', jobId: (inBatchA as { jobId: string }).jobId });
      const job = await pipeline.queue.getJob((first as { jobId: string }).jobId);
      const data = job?.data as { initialAccessToken: { secretId: string } } | undefined;
      const secretId = data?.initialAccessToken.secretId ?? 'missing';
      expect((await pipeline.secretStore.readCurrent(secretId))?.value).toBe('first-token-value-1');
    } finally {
      await pipeline.queue.resume();
    }
  });
});
