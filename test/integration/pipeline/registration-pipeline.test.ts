// The product end to end: producer -> Redis -> worker -> oidc-provider -> moto -> event stream.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backendServicesMetadata,
  confidentialSymmetricMetadata,
  publicAppMetadata,
} from '../../../src/dcr/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { ecPublicJwk } from '../../fixtures/keys.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type RecordedRequest, type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from './harness.js';

let pipeline: Pipeline;
let smart: SmartServer;
let stub: StubServer;
// Every secret value any case below sent or was issued, and every job it queued: the last describe
// scans the worker's log and Redis for the first once all of the second have finished.
const secretsSeen: string[] = [];
const jobIdsSeen: string[] = [];

beforeAll(async () => {
  [pipeline, smart, stub] = await Promise.all([
    startPipeline('pipeline'),
    startSmartServer({ initialAccessToken: true }),
    startStubServer(),
  ]);
  await pipeline.startWorker();
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

const jobIdOf = (result: unknown): string => {
  const { jobId } = result as { jobId: string };
  jobIdsSeen.push(jobId);
  return jobId;
};

/** The bearer token the stub was sent, as a server that echoes it back would have it. */
const bearerOf = (request: RecordedRequest): string =>
  String(request.headers.authorization ?? '').replace(/^Bearer /, '');

/** A token only this run knows, so finding it anywhere means it leaked from here. */
const freshSecret = (kind: string) => `${kind}-${randomUUID()}`;

describe('registration pipeline', () => {
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
    const jobs = await Promise.all(results.map((r) => pipeline.waitForJob(jobIdOf(r))));
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

  it('answers already_queued for a duplicate of a waiting registration', async () => {
    await pipeline.queue.pause();
    try {
      const request = { tenantId: 'dup', fhirBaseUrl: smart.fhirBaseUrl, clientMetadata: metadataFor(0) };
      const first = await pipeline.producer.enqueue(request);
      const second = await pipeline.producer.enqueue(request);
      expect(first.status).toBe('queued');
      expect(second).toEqual({ status: 'already_queued', jobId: jobIdOf(first) });
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
    const job = await pipeline.waitForJob(jobIdOf(result), 20_000);
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
    const jobId = jobIdOf(result);
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

  it('retries a server that echoes the initial access token into its 500s, then stores the client it issues', async () => {
    const token = freshSecret('echo-retry-iat');
    const issued = { secret: freshSecret('issued-secret'), rat: freshSecret('issued-rat') };
    secretsSeen.push(token, issued.secret, issued.rat);
    stub.on('POST', '/register-echo-retry', (request, calls) => {
      if (calls === 0) {
        return {
          status: 500,
          json: { error: 'server_error', error_description: `could not check token ${bearerOf(request)}` },
        };
      }
      if (calls === 1) return { status: 500, body: `upstream refused ${bearerOf(request)}` };
      return {
        status: 201,
        json: {
          client_id: 'after-echo',
          client_secret: issued.secret,
          client_secret_expires_at: 0,
          registration_access_token: issued.rat,
          registration_client_uri: stub.url('/register-echo-retry/after-echo'),
        },
      };
    });
    const result = await pipeline.producer.enqueue({
      tenantId: 'echo-retry',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register-echo-retry'),
      clientMetadata: metadataFor(1),
      initialAccessToken: { value: token },
    });
    const job = await pipeline.waitForJob(jobIdOf(result));
    expect(job).toMatchObject({ state: 'completed', attemptsMade: 3 });
    // The echoes below carried the very token the job was given.
    expect(stub.requestsTo('POST', '/register-echo-retry').map(bearerOf)).toEqual([token, token, token]);
    const stored = await pipeline.secretStore.readCurrent(String(job.returnvalue?.secretId));
    expect(JSON.parse(stored?.value ?? '{}')).toMatchObject({
      client_secret: issued.secret,
      registration_access_token: issued.rat,
    });
  });

  it('fails a server that echoes the initial access token in a 400 with the token redacted from the reason', async () => {
    const token = freshSecret('echo-400-iat');
    secretsSeen.push(token);
    stub.on('POST', '/register-echo-400', (request) => ({
      status: 400,
      json: { error: 'invalid_client_metadata', error_description: `bad token ${bearerOf(request)}` },
    }));
    const result = await pipeline.producer.enqueue({
      tenantId: 'echo-400',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register-echo-400'),
      clientMetadata: metadataFor(0),
      initialAccessToken: { value: token },
    });
    const job = await pipeline.waitForJob(jobIdOf(result));
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/^invalid_client_metadata: .*bad token \[REDACTED\]/);
    expect(stub.requestsTo('POST', '/register-echo-400').map(bearerOf)).toEqual([token]);
  });

  it('gives up on a server that echoes the initial access token in every 500 with the token redacted', async () => {
    const token = freshSecret('echo-500-iat');
    secretsSeen.push(token);
    stub.on('POST', '/register-echo-500', (request) => ({
      status: 500,
      json: { error: 'server_error', error_description: `token ${bearerOf(request)} broke us` },
    }));
    const result = await pipeline.producer.enqueue({
      tenantId: 'echo-500',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register-echo-500'),
      clientMetadata: metadataFor(0),
      initialAccessToken: { value: token },
    });
    const job = await pipeline.waitForJob(jobIdOf(result), 20_000);
    expect(job).toMatchObject({ state: 'failed', attemptsMade: pipeline.config.JOB_ATTEMPTS });
    expect(job.failedReason).toMatch(/^server_error: .*token \[REDACTED\] broke us/);
    expect(stub.requestsTo('POST', '/register-echo-500')).toHaveLength(pipeline.config.JOB_ATTEMPTS);
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
      const tokens = ['first', 'second', 'third', 'fourth'].map((n, i) => `${n}-token-value-${i + 1}`);
      secretsSeen.push(...tokens);
      const first = await pipeline.producer.enqueue(request('first-token-value-1'));
      const second = await pipeline.producer.enqueue(request('second-token-value-2'));
      expect(second).toEqual({ status: 'already_queued', jobId: jobIdOf(first) });
      const [inBatchA, inBatchB] = await pipeline.producer.enqueueMany([
        { ...request('third-token-value-3'), tenantId: 'iat-dup-2' },
        { ...request('fourth-token-value-4'), tenantId: 'iat-dup-2' },
      ]);
      expect(inBatchB).toEqual({ status: 'already_queued', jobId: jobIdOf(inBatchA) });
      const job = await pipeline.queue.getJob(jobIdOf(first));
      const data = job?.data as { initialAccessToken: { secretId: string } } | undefined;
      const secretId = data?.initialAccessToken.secretId ?? 'missing';
      expect((await pipeline.secretStore.readCurrent(secretId))?.value).toBe('first-token-value-1');
    } finally {
      await pipeline.queue.resume();
    }
  });
});

// Last in the file, so that it sees what the successes, retries and failures above left behind.
describe('secret hygiene after every case', () => {
  it('keeps every secret sent or issued out of the worker’s log, every Redis key, the events and the jobs', async () => {
    const jobs = await Promise.all(jobIdsSeen.map((id) => pipeline.waitForJob(id, 20_000)));
    expect(jobs.map((j) => j.state)).toContain('failed');
    expect(secretsSeen.length).toBeGreaterThan(100);

    const logText = pipeline.logLines().join('');
    const places = {
      'the worker log': logText,
      Redis: await pipeline.dumpRedis(),
      'the event stream': JSON.stringify(await pipeline.events()),
      'a job': JSON.stringify(jobs.map((j) => [j.failedReason, j.returnvalue, j.data])),
    };
    const leaks = Object.entries(places).flatMap(([place, text]) =>
      secretsSeen.filter((secret) => text.includes(secret)).map((secret) => `${secret} in ${place}`),
    );
    expect(leaks).toEqual([]);

    // What was scanned is the real thing: the worker's own lines about the failures, with the echoed
    // tokens censored in them, and the keys holding the events and the failed jobs.
    const logged = (text: string) => logText.includes(text);
    expect(logged('"msg":"registration job failed; will retry"'), 'retry line logged').toBe(true);
    expect(logged('"msg":"registration job failed"'), 'failure line logged').toBe(true);
    expect(logged('bad token [REDACTED]'), 'echoed 400 logged, censored').toBe(true);
    const stored = (text: string) => places.Redis.includes(text);
    expect(stored(`${pipeline.config.QUEUE_PREFIX}:events`), 'event stream key scanned').toBe(true);
    expect(stored('token [REDACTED] broke us'), 'failed job scanned').toBe(true);
  });
});
