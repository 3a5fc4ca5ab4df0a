// A job BullMQ fails by itself — its worker died mid-request more often than the stalled limit allows,
// so no processor runs to say why — still ends with a failure code and a durable failure event, and
// names the request whose outcome nobody learnt as a possible orphan.

import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { registrationStatus } from '../../../src/queue/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, pipelineEnv, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Stalls', redirectUris: ['https://app.example/cb'] });

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a job whose worker dies mid-request, past the stalled limit', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    stub = await startStubServer();
    // The POST reaches the server and is never answered: the worker dies waiting.
    stub.on('POST', '/register', { hang: true });
    pipeline = await startPipeline('stalled');
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await pipeline.close();
    await stub.close();
  });

  it('fails as job_stalled with possibleOrphan, in its failedReason, its status and its event', async () => {
    child = fork(path.resolve(import.meta.dirname, '../../support/plain-worker-process.ts'), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...pipelineEnv('stalled'), TEST_LOCK_DURATION_MS: '1000' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve) => child?.on('message', (m) => m === 'ready' && resolve()));
    const queued = await pipeline.producer.enqueue({
      tenantId: 'stalls',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register'),
      clientMetadata: metadata,
    });
    const jobId = (queued as { jobId: string }).jobId;
    await until(() => stub.requestsTo('POST', '/register').length === 1);
    child.kill('SIGKILL');

    // The survivor's stalled check finds the dead worker's job; with no stall allowed, BullMQ fails it.
    await pipeline.startWorker({
      workerOptions: { maxStalledCount: 0, stalledInterval: 250, lockDuration: 1000 },
    });
    const job = await pipeline.waitForJob(jobId, 20_000);

    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/^job_stalled: the job's worker stopped or stalled too often/);
    expect(job.failedReason).toContain('possibleOrphan');
    // Nobody POSTed again: the stalled job was failed, not retried.
    expect(stub.requestsTo('POST', '/register')).toHaveLength(1);
    const failure = await pipeline.waitForEvent(jobId);
    expect(failure.type).toBe('client.registration_failed');
    expect(failure.data).toMatchObject({
      code: 'job_stalled',
      tenantId: 'stalls',
      possibleOrphan: true,
      lostAttemptAt: expect.any(String),
    });
    const status = await registrationStatus(
      { queue: pipeline.queue, registry: pipeline.registry },
      'stalls',
      stub.url('/fhir'),
    );
    expect(status).toMatchObject({
      state: 'failed',
      lastFailure: { code: 'job_stalled' },
      possibleOrphan: true,
    });
  });
});

describe('a job whose workers die one after another, more often than the stalled limit allows', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    stub = await startStubServer();
    stub.on('POST', '/register', { hang: true });
    pipeline = await startPipeline('stalled-repeat');
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await pipeline.close();
    await stub.close();
  });

  // A worker process that allows one stall: the first death sends the job back to wait, the second ends it.
  async function workerProcess(): Promise<ChildProcess> {
    const c = fork(path.resolve(import.meta.dirname, '../../support/plain-worker-process.ts'), {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        ...pipelineEnv('stalled-repeat'),
        TEST_LOCK_DURATION_MS: '1000',
        TEST_MAX_STALLED_COUNT: '1',
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(c);
    await new Promise<void>((resolve) => c.on('message', (m) => m === 'ready' && resolve()));
    return c;
  }

  it('is resumed after the first death, fails as job_stalled after the second, and announces it', async () => {
    const first = await workerProcess();
    const queued = await pipeline.producer.enqueue({
      tenantId: 'stalls-twice',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register'),
      clientMetadata: metadata,
    });
    const jobId = (queued as { jobId: string }).jobId;
    await until(() => stub.requestsTo('POST', '/register').length === 1);
    first.kill('SIGKILL');

    // One stall is allowed: the next worker takes the job over and, not knowing the first POST's
    // outcome, sends it again — and dies waiting too.
    const second = await workerProcess();
    await until(() => stub.requestsTo('POST', '/register').length === 2);
    second.kill('SIGKILL');
    expect((await pipeline.queue.getJob(jobId))?.finishedOn).toBeUndefined();

    await pipeline.startWorker({
      workerOptions: { maxStalledCount: 1, stalledInterval: 250, lockDuration: 1000 },
    });
    const job = await pipeline.waitForJob(jobId, 20_000);

    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/^job_stalled: the job's worker stopped or stalled too often/);
    expect(stub.requestsTo('POST', '/register')).toHaveLength(2);
    const failure = await pipeline.waitForEvent(jobId);
    expect(failure.type).toBe('client.registration_failed');
    expect(failure.data).toMatchObject({
      code: 'job_stalled',
      message: expect.stringMatching(/^the job's worker stopped or stalled too often/),
      tenantId: 'stalls-twice',
      possibleOrphan: true,
      lostAttemptAt: expect.any(String),
    });
    // The event names the latest lost POST: made after the first one reached the server.
    const [firstPost] = stub.requestsTo('POST', '/register');
    expect(Date.parse(String(failure?.data.lostAttemptAt))).toBeGreaterThanOrEqual(
      firstPost?.receivedAt as number,
    );
  });
});
