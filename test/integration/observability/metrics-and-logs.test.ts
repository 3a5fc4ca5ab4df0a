// A real pipeline with an injected registry and a captured log: after a successful, a retried and a
// failing registration, the scrape holds the documented series and the log one outcome line per attempt,
// with no secret of the test anywhere in either.

import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { redisAnswers } from '../../../src/demo/local-redis.js';
import { createLogger, createMetrics, OUTCOME_MESSAGES } from '../../../src/observability/index.js';
import type { RunningWorker } from '../../../workers/registration-worker.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type PasswordRedis, REDIS_PASSWORD, startPasswordRedis } from '../../support/password-redis.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';

let pipeline: Pipeline;
let stub: StubServer;
// The pipeline's Redis wants a user and password, so a log line carrying REDIS_URL's credentials has
// something to give away.
let redis: PasswordRedis;
let running: RunningWorker;
const registry = new Registry();
const chunks: string[] = [];
const records = () => chunks.map((chunk) => JSON.parse(chunk) as Record<string, unknown>);
const outcomeMessages = new Set<unknown>(Object.values(OUTCOME_MESSAGES));
const outcomeLines = (jobId: string) =>
  records().filter((r) => r.jobId === jobId && outcomeMessages.has(r.msg));

// Every secret of this test: none may reach a log line or the scrape.
const secrets = {
  initialAccessToken: 'iat-observability-3f9c2a71d5',
  clientSecret: 'client-secret-observability-8e41b0',
  registrationAccessToken: 'rat-observability-c7d2e9a4',
};
const apiToken = 'api-token-observability-5b1f9e';

const metadata = publicAppMetadata({ clientName: 'Observed', redirectUris: ['https://app.example/cb'] });
const jobIds: Record<'first' | 'cached' | 'retried' | 'failed', string> = {
  first: '',
  cached: '',
  retried: '',
  failed: '',
};

beforeAll(async () => {
  redis = await startPasswordRedis();
  [pipeline, stub] = await Promise.all([
    startPipeline('observability', { REDIS_URL: redis.url }),
    startStubServer(),
  ]);
  stub.on('GET', '/fhir/.well-known/smart-configuration', {
    json: {
      issuer: stub.baseUrl,
      token_endpoint: stub.url('/token'),
      registration_endpoint: stub.url('/register'),
      capabilities: ['launch-standalone', 'client-public'],
    },
  });
  // No client_secret_expires_at: the client warns, and the warning must reach the log as before.
  stub.on('POST', '/register', (request) => ({
    status: 201,
    json: {
      client_id: `client-${(request.json as { client_name?: string }).client_name ?? 'x'}-${Date.now()}`,
      client_secret: secrets.clientSecret,
      registration_access_token: secrets.registrationAccessToken,
      registration_client_uri: stub.url('/register/managed'),
    },
  }));
  stub.on('POST', '/register-flaky', [{ status: 503 }, { status: 201, json: { client_id: 'after-retry' } }]);
  stub.on('POST', '/register-bad', {
    status: 400,
    json: { error: 'invalid_redirect_uri', error_description: 'redirect not allowed' },
  });

  const logger = createLogger({ level: 'info', destination: { write: (chunk) => chunks.push(chunk) } });
  const metrics = createMetrics({ registry, queue: pipeline.queue, logger });
  running = await pipeline.startWorker({ logger, metrics }, { API_TOKEN: apiToken });
});
afterAll(async () => {
  await pipeline?.close();
  await stub?.close();
  await redis?.stop();
});

async function run(request: Record<string, unknown>): Promise<string> {
  const result = await pipeline.producer.enqueue({ clientMetadata: metadata, ...request });
  const { jobId } = result as { jobId: string };
  await pipeline.waitForJob(jobId);
  return jobId;
}

describe('observability in a running pipeline', () => {
  it('runs a discovered, a cached, a retried and a failing registration', async () => {
    jobIds.first = await run({
      tenantId: 'obs-first',
      fhirBaseUrl: stub.url('/fhir'),
      initialAccessToken: { value: secrets.initialAccessToken },
    });
    jobIds.cached = await run({ tenantId: 'obs-cached', fhirBaseUrl: stub.url('/fhir') });
    jobIds.retried = await run({
      tenantId: 'obs-retried',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register-flaky'),
    });
    jobIds.failed = await run({
      tenantId: 'obs-failed',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register-bad'),
    });
    const states = await Promise.all(Object.values(jobIds).map((id) => pipeline.queue.getJobState(id)));
    expect(states).toEqual(['completed', 'completed', 'completed', 'failed']);
    // The initial access token really was sent, so it was in the worker's hands.
    expect(stub.requestsTo('POST', '/register')[0]?.headers.authorization).toBe(
      `Bearer ${secrets.initialAccessToken}`,
    );
  });

  it('exposes the documented series with outcome and code labels', async () => {
    const text = await registry.metrics();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      expect(line, `${series} is in the scrape`).toBeDefined();
      return Number(line?.split(' ')[1]);
    };
    expect(value('dcr_jobs_finished_total{outcome="completed",code="none"}')).toBe(3);
    expect(value('dcr_jobs_finished_total{outcome="failed",code="invalid_redirect_uri"}')).toBe(1);
    expect(value('dcr_jobs_finished_total{outcome="retry",code="server_error"}')).toBe(1);
    expect(value('dcr_job_attempts_count{outcome="completed"}')).toBe(3);
    expect(value('dcr_job_attempts_sum{outcome="completed"}')).toBe(4);
    expect(value('dcr_job_attempts_count{outcome="failed"}')).toBe(1);
    expect(value('dcr_job_duration_seconds_count{outcome="completed"}')).toBe(3);
    expect(value('dcr_job_duration_seconds_count{outcome="retry"}')).toBe(1);
    expect(value('dcr_discovery_duration_seconds_count{cache="miss"}')).toBe(1);
    expect(value('dcr_discovery_duration_seconds_count{cache="hit"}')).toBe(1);
    expect(value('dcr_discovery_cache_total{result="miss"}')).toBe(1);
    expect(value('dcr_discovery_cache_total{result="hit"}')).toBe(1);
    expect(value('dcr_registration_request_duration_seconds_count{outcome="success"}')).toBe(3);
    expect(value('dcr_registration_request_duration_seconds_count{outcome="failure"}')).toBe(2);
    expect(value('dcr_secret_write_duration_seconds_count{outcome="success"}')).toBe(3);
    expect(value('dcr_secret_store_calls_total{operation="write",outcome="success"}')).toBe(3);
    // Each of the five attempts asks which client is stored already (and for which base URL) before it
    // POSTs, and the initial access token is read back from the store by reference.
    expect(value('dcr_secret_store_calls_total{operation="readCurrent",outcome="success"}')).toBe(6);
    expect(value('dcr_queue_jobs{state="completed"}')).toBe(3);
    expect(value('dcr_queue_jobs{state="failed"}')).toBe(1);
    expect(value('dcr_queue_jobs{state="waiting"}')).toBe(0);
    expect(text).toContain('process_cpu_user_seconds_total');
    // Bounded labels: no tenant, host or URL is ever a label value.
    expect(text).not.toMatch(/obs-(first|cached|retried|failed)|127\.0\.0\.1|https?:\/\//);
  });

  it('logs exactly one outcome line per attempt, with the documented fields', () => {
    const port = new URL(stub.baseUrl).port;
    const [first] = outcomeLines(jobIds.first);
    expect(outcomeLines(jobIds.first)).toHaveLength(1);
    expect(first).toMatchObject({
      level: 30,
      msg: 'registration job completed',
      outcome: 'completed',
      jobId: jobIds.first,
      tenantId: 'obs-first',
      serverHost: `127.0.0.1:${port}`,
      attempt: 1,
      maxAttempts: expect.any(Number),
      clientId: expect.stringMatching(/^client-Observed-/),
      durationMs: expect.any(Number),
      discoveryMs: expect.any(Number),
      cacheHit: false,
      registrationRequestMs: expect.any(Number),
      secretWriteMs: expect.any(Number),
    });
    expect(first).not.toHaveProperty('code');
    expect(outcomeLines(jobIds.cached)).toEqual([
      expect.objectContaining({ outcome: 'completed', cacheHit: true }),
    ]);

    expect(outcomeLines(jobIds.retried)).toEqual([
      expect.objectContaining({ level: 40, outcome: 'retry', attempt: 1, code: 'server_error' }),
      expect.objectContaining({ level: 30, outcome: 'completed', attempt: 2, clientId: 'after-retry' }),
    ]);
    // The request named the endpoint, so there was no discovery to time.
    expect(outcomeLines(jobIds.retried)[1]).not.toHaveProperty('discoveryMs');

    expect(outcomeLines(jobIds.failed)).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'registration job failed',
        outcome: 'failed',
        tenantId: 'obs-failed',
        serverHost: `127.0.0.1:${port}`,
        attempt: 1,
        code: 'invalid_redirect_uri',
        reason: expect.stringContaining('redirect not allowed'),
        durationMs: expect.any(Number),
        registrationRequestMs: expect.any(Number),
      }),
    ]);
    // The host only: no base URL path or scheme on an outcome line.
    for (const id of Object.values(jobIds))
      expect(JSON.stringify(outcomeLines(id))).not.toMatch(/\/fhir|http:/);
  });

  it('keeps the client warnings and logs start-up without the credentials in REDIS_URL', async () => {
    const warnings = records().filter((r) => r.level === 40 && r.jobId === jobIds.first && !r.outcome);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toMatchObject({
      tenantId: 'obs-first',
      msg: expect.stringContaining('client_secret_expires_at'),
    });

    const started = records().find((r) => r.msg === 'registration worker started');
    expect(started).toMatchObject({
      queue: expect.any(String),
      prefix: pipeline.config.QUEUE_PREFIX,
      concurrency: pipeline.config.WORKER_CONCURRENCY,
    });
    // The worker got in with the credentials, which the server insists on.
    expect(pipeline.config.REDIS_URL).toContain(`:${REDIS_PASSWORD}@`);
    expect(await redisAnswers(redis.urlWithoutCredentials)).toBe(false);
    const logText = chunks.join('');
    expect(logText.includes(REDIS_PASSWORD), 'the Redis password is in a log line').toBe(false);
    expect(logText.includes(pipeline.config.REDIS_URL), 'REDIS_URL is in a log line').toBe(false);
  });

  it('writes no secret of the test into the log or the scrape, and logs the shutdown', async () => {
    await running.close();
    const logText = chunks.join('');
    const scrape = await registry.metrics();
    for (const secret of [...Object.values(secrets), apiToken, REDIS_PASSWORD]) {
      expect(logText.includes(secret), 'a secret value was found in a log line').toBe(false);
      expect(scrape.includes(secret), 'a secret value was found in the scrape').toBe(false);
    }
    const messages = records().map((r) => r.msg);
    expect(messages.slice(-2)).toEqual(['registration worker stopping', 'registration worker stopped']);
  });
});
