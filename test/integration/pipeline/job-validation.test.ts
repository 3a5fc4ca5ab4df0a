// One validation for every job: a job that reached Redis without the API (the board's edit and
// duplicate, a script) is checked with exactly the API's rules, and a checkpoint copied from another job
// is not trusted.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { JOB_NAMES } from '../../../src/queue/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Checked', redirectUris: ['https://app.example/cb'] });
const PRIVATE_HOST = '10.255.255.1';

describe('the worker checks every job with the API rules', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStubServer();
    let issued = 0;
    stub.on('POST', '/register', () => ({ status: 201, json: { client_id: `checked-${++issued}` } }));
    pipeline = await startPipeline('job-validation', {
      ALLOWED_PRIVATE_HOSTS: PRIVATE_HOST,
      JOB_ATTEMPTS: '1',
      HTTP_TIMEOUT_MS: '300',
    });
    await pipeline.startWorker();
  });
  afterAll(async () => {
    await pipeline.close();
    await stub.close();
  });

  const job = (tenantId: string, extra: Record<string, unknown> = {}) => ({
    tenantId,
    fhirBaseUrl: stub.url('/fhir'),
    registrationEndpoint: stub.url('/register'),
    clientMetadata: metadata,
    reason: 'onboarding',
    requestedAt: new Date().toISOString(),
    ...extra,
  });

  it("refuses a job added straight to Redis that would send another tenant's initial access token", async () => {
    const prefix = pipeline.config.SECRET_NAME_PREFIX;
    const foreign = `${prefix}victim/ehr.example/initial-access-token`;
    await pipeline.secretStore.write({
      name: foreign,
      value: 'victims-one-shot-token',
      clientRequestToken: 'a'.repeat(40),
    });
    const added = await pipeline.queue.add(
      JOB_NAMES.registerClient,
      job('attacker', { initialAccessToken: { secretId: foreign } }),
      { jobId: 'attacker.handmade', attempts: 1 },
    );
    const finished = await pipeline.waitForJob(added.id as string);

    expect(finished.state).toBe('failed');
    expect(finished.failedReason).toMatch(
      /^invalid_job: initialAccessToken\.secretId: must name a secret under/,
    );
    expect(stub.requestsTo('POST', '/register')).toHaveLength(0);
    const failed = (await pipeline.events()).find((e) => e.data.jobId === added.id);
    expect(failed).toMatchObject({ type: 'client.registration_failed', data: { code: 'invalid_job' } });
  });

  it('lets a job to a host in ALLOWED_PRIVATE_HOSTS through, as the API does', async () => {
    const request = {
      tenantId: 'private-host',
      fhirBaseUrl: `https://${PRIVATE_HOST}/fhir`,
      clientMetadata: metadata,
    };
    const queued = await pipeline.producer.enqueue(request);
    expect(queued.status).toBe('queued');
    const finished = await pipeline.waitForJob((queued as { jobId: string }).jobId);

    // No FHIR server is there; what matters is that the worker tried instead of refusing the job.
    expect(finished.state).toBe('failed');
    expect(finished.failedReason).not.toMatch(/^invalid_job/);
    expect(finished.failedReason).toMatch(/^(network_error|timeout|insecure_endpoint): /);
  });

  it('registers a duplicated job afresh instead of trusting the checkpoint it copied', async () => {
    const queued = await pipeline.producer.enqueue({
      tenantId: 'original',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register'),
      clientMetadata: metadata,
    });
    const original = await pipeline.waitForJob((queued as { jobId: string }).jobId);
    expect(original.state).toBe('completed');
    expect(original.data.checkpoint).toMatchObject({ stored: { clientId: original.returnvalue?.clientId } });

    // What the board's "duplicate" does: the same data, checkpoint included, under a new id.
    const copy = await pipeline.queue.add(JOB_NAMES.registerClient, original.data, {
      jobId: 'original.duplicate',
      attempts: 1,
    });
    const duplicated = await pipeline.waitForJob(copy.id as string);

    expect(duplicated.state).toBe('completed');
    expect(duplicated.returnvalue?.clientId).not.toBe(original.returnvalue?.clientId);
    expect(stub.requestsTo('POST', '/register')).toHaveLength(2);
    const announced = (await pipeline.events()).find(
      (e) => e.type === 'client.registered' && e.data.jobId === copy.id,
    );
    expect(announced?.data.clientId).toBe(duplicated.returnvalue?.clientId);
    // It replaced the original's client, which it names: nothing is left unaccounted for.
    expect(announced?.data.previousClientId).toBe(original.returnvalue?.clientId);
  });

  it('fails a job whose own checkpoint was edited into something malformed, before any request', async () => {
    const added = await pipeline.queue.add(
      JOB_NAMES.registerClient,
      job('edited', { checkpoint: { jobId: 'edited.by-hand', stored: { clientId: 42 } } }),
      { jobId: 'edited.by-hand', attempts: 1 },
    );
    const before = stub.requestsTo('POST', '/register').length;
    const finished = await pipeline.waitForJob(added.id as string);
    expect(finished.state).toBe('failed');
    expect(finished.failedReason).toMatch(
      /^invalid_job: the job's checkpoint is malformed \(stored\.clientId/,
    );
    expect(stub.requestsTo('POST', '/register')).toHaveLength(before);
  });

  it('fails a job with a name no worker knows at once, as invalid_job, and announces it', async () => {
    const before = stub.requests.length;
    // What a script or an older producer could leave in the queue: a name with no processor.
    const added = await pipeline.queue.add('register-cleint', job('misnamed'), {
      jobId: 'misnamed.by-script',
      attempts: 5,
    });
    const finished = await pipeline.waitForJob(added.id as string);

    expect(finished.state).toBe('failed');
    // Not retried, although five attempts were allowed: an unknown name never becomes known.
    expect(finished.attemptsMade).toBe(1);
    expect(finished.failedReason).toBe('invalid_job: no job type is called "register-cleint"');
    expect(stub.requests.length).toBe(before);
    // No use case ran to announce it: the worker's `failed` listener does, just after BullMQ failed it.
    const failure = await pipeline.waitForEvent(added.id as string);
    expect(failure).toMatchObject({
      type: 'client.registration_failed',
      data: {
        code: 'invalid_job',
        message: 'no job type is called "register-cleint"',
        tenantId: 'misnamed',
        attempts: 1,
      },
    });
  });
});
