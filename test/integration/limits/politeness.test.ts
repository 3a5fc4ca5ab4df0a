// The fleet's politeness end to end: a worker in this process and one in a child process share the
// per-server limits and breakers through Redis, against stub servers that record what they see.

import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import type { RunningWorker } from '../../../workers/registration-worker.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { forkWorker } from '../../support/worker-fleet.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../pipeline/harness.js';

const metadata = publicAppMetadata({ clientName: 'Polite', redirectUris: ['https://app.example/cb'] });
const BREAKER_COOLDOWN_MS = 5000;

/** A stub that answers after `delayMs` and remembers the most requests it ever had in flight at once. */
interface CountingStub {
  stub: StubServer;
  host: string;
  readonly maxInFlight: number;
}

async function countingStub(delayMs: number): Promise<CountingStub> {
  const stub = await startStubServer();
  let inFlight = 0;
  let maxInFlight = 0;
  let issued = 0;
  const slow = (answer: () => { status: number; json: unknown }) => async () => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, delayMs));
    inFlight -= 1;
    return answer();
  };
  stub.on(
    'GET',
    '/fhir/.well-known/smart-configuration',
    slow(() => ({
      status: 200,
      json: {
        token_endpoint: stub.url('/token'),
        registration_endpoint: stub.url('/register'),
        grant_types_supported: ['authorization_code'],
        capabilities: ['launch-standalone', 'client-public'],
        code_challenge_methods_supported: ['S256'],
      },
    })),
  );
  stub.on(
    'POST',
    '/register',
    slow(() => ({ status: 201, json: { client_id: `polite-${++issued}` } })),
  );
  return {
    stub,
    host: new URL(stub.baseUrl).host,
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('politeness across a fleet of two worker processes', () => {
  let pipeline: Pipeline;
  let worker: RunningWorker;
  let child: ChildProcess;
  const childLogs: string[] = [];
  let crowded: CountingStub;
  let rated: StubServer;
  let flaky: StubServer;
  let flakyDown = true;

  /** Every log record of both workers, in time order. */
  const logRecords = () =>
    [...pipeline.logLines(), ...childLogs]
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .sort((a, b) => String(a.time).localeCompare(String(b.time)));

  beforeAll(async () => {
    [crowded, rated, flaky] = await Promise.all([countingStub(200), startStubServer(), startStubServer()]);
    let flakyClients = 0;
    flaky.on('POST', '/register', () =>
      flakyDown ? { status: 500 } : { status: 201, json: { client_id: `recovered-${++flakyClients}` } },
    );
    const env = {
      SERVER_LIMITS: JSON.stringify({
        [crowded.host]: { concurrency: 2, ratePerSecond: 1000 },
        [new URL(rated.baseUrl).host]: { concurrency: 10, ratePerSecond: 0.5 },
        [new URL(flaky.baseUrl).host]: { concurrency: 10, ratePerSecond: 1000 },
      }),
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_COOLDOWN_MS: String(BREAKER_COOLDOWN_MS),
      HTTP_TIMEOUT_MS: '1000',
      JOB_ATTEMPTS: '20',
    };
    pipeline = await startPipeline('politeness', env);
    child = await forkWorker(pipelineEnv('politeness', env), { logs: childLogs, stderr: true });
    worker = await pipeline.startWorker();
  }, 60_000);

  afterAll(async () => {
    child?.kill('SIGTERM');
    await pipeline?.close();
    await Promise.all([crowded?.stub.close(), rated?.close(), flaky?.close()]);
  });

  it('keeps 30 tenants on one server at its limit of 2 requests in flight, and completes every job', async () => {
    const results = await pipeline.producer.enqueueMany(
      Array.from({ length: 30 }, (_, i) => ({
        tenantId: `polite-${i}`,
        fhirBaseUrl: crowded.stub.url('/fhir'),
        clientMetadata: metadata,
      })),
    );
    const jobIds = results.map((r) => (r as { jobId: string }).jobId);

    // While the backlog drains, the jobs waiting for a slot sit in the delayed set without an attempt.
    await until(async () => (await pipeline.queue.getDelayed()).length > 0);
    const waiting = await pipeline.queue.getDelayed();
    expect(waiting.map((job) => job.attemptsMade)).toEqual(waiting.map(() => 0));

    const jobs = await Promise.all(jobIds.map((id) => pipeline.waitForJob(id, 60_000)));
    expect(jobs.map((job) => job.state)).toEqual(jobs.map(() => 'completed'));
    expect(crowded.maxInFlight).toBe(2);
    expect(crowded.stub.requestsTo('POST', '/register')).toHaveLength(30);

    // Both processes did work and both were told to wait; no wait cost an attempt.
    const records = logRecords();
    const delayedJobs = new Set(
      records.filter((r) => r.msg === 'job delayed: its server has no room').map((r) => r.jobId),
    );
    expect(delayedJobs.size).toBeGreaterThan(10);
    expect(jobs.map((job) => job.attemptsMade)).toEqual(jobs.map(() => 1));
    const completedBy = (lines: string[]) =>
      lines.filter((line) => line.includes('"registration job completed"')).length;
    expect(completedBy(pipeline.logLines())).toBeGreaterThan(0);
    expect(completedBy(childLogs)).toBeGreaterThan(0);
    const delays = (await worker.metrics.jobsDelayed.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(delays).toBeGreaterThan(0);
  });

  it('delays a retry that would exceed the server rate, keeping its attempt count and its checkpoint', async () => {
    rated.on('POST', '/register', [
      { hang: true },
      { status: 201, json: { client_id: 'after-lost-answer' } },
    ]);
    const result = await pipeline.producer.enqueue({
      tenantId: 'rated',
      fhirBaseUrl: rated.url('/fhir'),
      registrationEndpoint: rated.url('/register'),
      clientMetadata: metadata,
    });
    const jobId = (result as { jobId: string }).jobId;
    const job = await pipeline.waitForJob(jobId, 30_000);

    // Attempt 1 timed out after sending (a possible orphan, recorded in the checkpoint); attempt 2 came
    // back within the backoff, found the rate (one request per 2 s) spent and waited, then succeeded.
    expect(job.state).toBe('completed');
    expect(job.attemptsMade).toBe(2);
    const delays = logRecords().filter(
      (r) => r.msg === 'job delayed: its server has no room' && r.jobId === jobId,
    );
    expect(delays.length).toBeGreaterThan(0);
    expect(delays.every((r) => r.reason === 'rate')).toBe(true);
    expect(job.returnvalue).toMatchObject({ clientId: 'after-lost-answer', possibleOrphan: true });
    expect(job.returnvalue?.lostAttemptsAt).toHaveLength(1);
    expect(rated.requestsTo('POST', '/register')).toHaveLength(2);
  });

  it('opens the breaker after 3 failures in a row, holds the jobs without spending attempts, and closes when the server recovers', async () => {
    const host = new URL(flaky.baseUrl).host;
    const results = await pipeline.producer.enqueueMany(
      Array.from({ length: 4 }, (_, i) => ({
        tenantId: `flaky-${i}`,
        fhirBaseUrl: flaky.url('/fhir'),
        registrationEndpoint: flaky.url('/register'),
        clientMetadata: metadata,
      })),
    );
    const jobIds = results.map((r) => (r as { jobId: string }).jobId);
    const transitions = () =>
      logRecords()
        .filter(
          (r) => r.host === host && typeof r.msg === 'string' && r.msg.startsWith('server circuit breaker'),
        )
        .map((r) => `${r.from}->${r.to}`);
    const attempts = async () => {
      const jobs = await Promise.all(jobIds.map((id) => pipeline.queue.getJob(id)));
      return jobs.reduce((sum, job) => sum + (job?.attemptsMade ?? 0), 0);
    };

    await until(() => transitions().includes('closed->open'));
    const opened = logRecords().find((r) => r.host === host && r.to === 'open');
    expect(opened).toMatchObject({ level: 40, consecutiveFailures: 3, cooldownMs: BREAKER_COOLDOWN_MS });
    const openUntil = Number(
      await pipeline.redis.hget(`${pipeline.config.QUEUE_PREFIX}:limits:server:${host}:breaker`, 'openUntil'),
    );

    // Requests already under way and retries already scheduled run out; then nothing reaches the server.
    await sleep(1000);
    const attemptsWhileOpen = await attempts();
    const postsWhileOpen = flaky.requestsTo('POST', '/register').length;
    await sleep(Math.max(0, openUntil - Date.now() - 1000));
    expect(await attempts()).toBe(attemptsWhileOpen);
    expect(flaky.requestsTo('POST', '/register')).toHaveLength(postsWhileOpen);
    const states = await Promise.all(jobIds.map((id) => pipeline.queue.getJobState(id)));
    expect(states).toEqual(jobIds.map(() => 'delayed'));

    flakyDown = false;
    const jobs = await Promise.all(jobIds.map((id) => pipeline.waitForJob(id, 30_000)));
    expect(jobs.map((job) => job.state)).toEqual(jobIds.map(() => 'completed'));
    // The only attempts spent after the breaker opened are the four that succeeded.
    expect(jobs.reduce((sum, job) => sum + job.attemptsMade, 0)).toBe(attemptsWhileOpen + 4);
    expect(transitions()).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
    expect(logRecords().find((r) => r.host === host && r.to === 'closed')).toMatchObject({
      level: 30,
      msg: 'server circuit breaker closed',
    });
  });
});
