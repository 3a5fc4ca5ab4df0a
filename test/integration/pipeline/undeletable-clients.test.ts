// "No silent orphan" where RFC 7592 cannot remove a client: a registration over an existing client
// whose old client has no management URI, or whose server refuses its DELETE, and a client the job made
// itself and could neither store nor get deleted. Each such client is named (orphanedClientId /
// orphanedClientIds) in the job's final event, never dropped.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { eventStreamKey } from '../../../src/events/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { readEventStream, testRedis } from '../../support/redis.js';
import { type SecretsFaultProxy, startSecretsFaultProxy } from '../../support/secrets-fault-proxy.js';
import { type Pipeline, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Undeletable', redirectUris: ['https://app.example/cb'] });
const redis = testRedis();
afterAll(() => redis.disconnect());

async function enqueue(
  pipeline: Pipeline,
  tenantId: string,
  stub: StubServer,
  path: string,
): Promise<string> {
  const result = await pipeline.producer.enqueue({
    tenantId,
    fhirBaseUrl: stub.url(`/fhir/${tenantId}`),
    registrationEndpoint: stub.url(path),
    clientMetadata: metadata,
  });
  if (result.status !== 'queued') throw new Error(`not queued: ${JSON.stringify(result)}`);
  return result.jobId;
}

async function eventsOf(
  pipeline: Pipeline,
  predicate: (e: { type: string; data: Record<string, unknown> }) => boolean,
) {
  return (await readEventStream(redis, eventStreamKey(pipeline.config.QUEUE_PREFIX))).filter(predicate);
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a registration over an existing client that RFC 7592 cannot delete', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStubServer();
    // The replaced client's delete runs at once, and a refused one is retried twice before it is final.
    pipeline = await startPipeline('undeletable-replaced', { ROTATION_GRACE: '0s', JOB_ATTEMPTS: '3' });
    await pipeline.startWorker();
  });
  afterAll(async () => {
    await pipeline.close();
    await stub.close();
  });

  it('names the old client without a registration_client_uri as orphanedClientId in client.registered', async () => {
    let issued = 0;
    // No registration_client_uri / registration_access_token: nothing can delete these clients.
    stub.on('POST', '/plain', () => ({
      status: 201,
      json: { client_id: `plain-${++issued}` },
    }));
    const tenantId = 'plain';
    const first = await pipeline.waitForJob(await enqueue(pipeline, tenantId, stub, '/plain'));
    expect(first.state).toBe('completed');
    expect(first.returnvalue?.clientId).toBe('plain-1');

    const secondId = await enqueue(pipeline, tenantId, stub, '/plain');
    const second = await pipeline.waitForJob(secondId);
    expect(second.state).toBe('completed');
    expect(second.returnvalue?.clientId).toBe('plain-2');
    expect(stub.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);

    const [registered] = await eventsOf(
      pipeline,
      (e) => e.type === 'client.registered' && e.data.jobId === secondId,
    );
    expect(registered?.data).toMatchObject({
      clientId: 'plain-2',
      previousClientId: 'plain-1',
      orphanedClientId: 'plain-1',
    });
    // Nothing was scheduled that could never work.
    expect(registered?.data).not.toHaveProperty('deleteAfter');
  });

  it('names the old client whose server refuses the DELETE as orphanedClientId in the delete job’s failure event', async () => {
    let issued = 0;
    stub.on('POST', '/managed', () => {
      const clientId = `managed-${++issued}`;
      return {
        status: 201,
        json: {
          client_id: clientId,
          registration_client_uri: stub.url(`/manage/${clientId}`),
          registration_access_token: `rat-${clientId}-value`,
        },
      };
    });
    // The server refuses to delete the first client, every time.
    stub.on('DELETE', '/manage/managed-1', { status: 500, json: { error: 'server_error' } });
    const tenantId = 'managed';
    const first = await pipeline.waitForJob(await enqueue(pipeline, tenantId, stub, '/managed'));
    expect(first.returnvalue?.clientId).toBe('managed-1');

    const secondId = await enqueue(pipeline, tenantId, stub, '/managed');
    const second = await pipeline.waitForJob(secondId);
    expect(second.state).toBe('completed');
    const deletionJobId = (second.returnvalue?.deletion as { jobId: string } | undefined)?.jobId;
    expect(deletionJobId).toEqual(expect.any(String));

    const deletion = await pipeline.waitForJob(deletionJobId as string, 20_000);
    expect(deletion.state).toBe('failed');
    expect(deletion.failedReason).toMatch(/^server_error: /);
    // The DELETE reached the server on each attempt: it was refused, not skipped.
    expect(stub.requestsTo('DELETE', '/manage/managed-1')).toHaveLength(3);

    const failure = await until(async () => {
      const [found] = await eventsOf(
        pipeline,
        (e) => e.type === 'client.registration_failed' && e.data.jobId === deletionJobId,
      );
      return found;
    });
    expect(failure.data).toMatchObject({
      tenantId,
      code: 'server_error',
      orphanedClientId: 'managed-1',
    });
    expect(JSON.stringify(failure)).not.toContain('rat-managed-1-value');
    // The replacing job's event said a delete was scheduled, not that it was done.
    const [registered] = await eventsOf(
      pipeline,
      (e) => e.type === 'client.registered' && e.data.jobId === secondId,
    );
    expect(registered?.data).toMatchObject({
      previousClientId: 'managed-1',
      deleteAfter: expect.any(String),
    });
    expect(
      await eventsOf(pipeline, (e) => e.type === 'client.deleted' && e.data.tenantId === tenantId),
    ).toEqual([]);
  });
});

describe('a client the job made, could not store, and the server refuses to delete', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  let proxy: SecretsFaultProxy;
  beforeAll(async () => {
    stub = await startStubServer();
    pipeline = await startPipeline('undeletable-own', { JOB_ATTEMPTS: '2' });
    proxy = await startSecretsFaultProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    await pipeline.startWorker({}, { AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url });
  });
  afterAll(async () => {
    await pipeline.close();
    await proxy.close();
    await stub.close();
  });

  it('names every such client in the failure event (orphanedClientId, orphanedClientIds)', async () => {
    let issued = 0;
    stub.on('POST', '/register', () => {
      const clientId = `own-${++issued}`;
      return {
        status: 201,
        json: {
          client_id: clientId,
          client_secret: `secret-of-${clientId}`,
          registration_client_uri: stub.url(`/manage/${clientId}`),
          registration_access_token: `rat-${clientId}-value`,
        },
      };
    });
    // Manageable clients, but the server refuses every delete.
    for (const clientId of ['own-1', 'own-2']) {
      stub.on('DELETE', `/manage/${clientId}`, { status: 403, json: { error: 'access_denied' } });
    }
    // Every write is refused for good: nothing of either attempt's client can be stored.
    proxy.setRule(({ isWrite }) => (isWrite ? 'throttle' : 'pass'));
    const jobId = await enqueue(pipeline, 'own', stub, '/register');
    const job = await pipeline.waitForJob(jobId, 50_000);

    expect(job.state).toBe('failed');
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toMatch(/^secret_store_unavailable: .*own-2 could not be deleted/);
    // The job tried to delete each client it made: the server said no, the job did not skip it.
    expect(stub.requestsTo('DELETE', '/manage/own-1')).toHaveLength(1);
    expect(stub.requestsTo('DELETE', '/manage/own-2')).toHaveLength(1);
    const failures = await eventsOf(
      pipeline,
      (e) => e.type === 'client.registration_failed' && e.data.jobId === jobId,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]?.data).toMatchObject({
      code: 'secret_store_unavailable',
      orphanedClientId: 'own-2',
      orphanedClientIds: ['own-1', 'own-2'],
    });
    const text = JSON.stringify(failures);
    for (const secret of ['secret-of-own-1', 'rat-own-1-value', 'secret-of-own-2', 'rat-own-2-value'])
      expect(text).not.toContain(secret);
  }, 60_000);
});
