// Nothing lost, nothing registered twice: a worker killed mid-job, and a secret store that is down.

import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { startToggleProxy, type ToggleProxy } from '../../support/toggle-proxy.js';
import { type Pipeline, pipelineEnv, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Crash test', redirectUris: ['https://app.example/cb'] });
const servers: Array<{ close(): Promise<void> }> = [];
let child: ChildProcess | undefined;

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function nextMessage(process: ChildProcess, expected: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.on('message', (message) => message === expected && resolve());
    process.once('exit', (code) => reject(new Error(`worker process exited (${code}) before "${expected}"`)));
  });
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('crash recovery', () => {
  let pipeline: Pipeline;
  let smart: SmartServer;
  beforeAll(async () => {
    pipeline = await startPipeline('crash');
  });
  afterAll(() => pipeline.close());

  it('completes a job whose worker was SIGKILLed after storing the secret, without a second POST', async () => {
    smart = await startSmartServer();
    servers.push(smart);
    child = fork(path.resolve(import.meta.dirname, '../../support/worker-process.ts'), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...pipelineEnv('crash') },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await nextMessage(child, 'ready');
    const written = nextMessage(child, 'secret-written');
    const result = await pipeline.producer.enqueue({
      tenantId: 'crashy',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: metadata,
    });
    await written;
    child.kill('SIGKILL');
    expect(smart.stats.registrationPosts).toBe(1);

    await pipeline.startWorker({ workerOptions: { stalledInterval: 250 } });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 20_000);
    expect(job.state).toBe('completed');
    expect(smart.stats.registrationPosts).toBe(1);
    expect(smart.stats.liveClientCount()).toBe(1);
    const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, 'crashy', smart.fhirBaseUrl);
    const stored = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(job.returnvalue).toMatchObject({ clientId: stored.client_id, secretId });
    expect(job.returnvalue?.possibleOrphan).toBeUndefined();
    const events = (await pipeline.events()).filter((e) => e.data.tenantId === 'crashy');
    expect(events.map((e) => e.type)).toEqual(['client.registered']);
  });
});

describe('secret store outage', () => {
  let pipeline: Pipeline;
  let proxy: ToggleProxy;
  beforeAll(async () => {
    pipeline = await startPipeline('store-down');
    proxy = await startToggleProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    await pipeline.startWorker({}, { AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url });
  });
  afterAll(async () => {
    await pipeline.close();
    await proxy.close();
  });

  it('deletes the new client at the server, retries, and succeeds once the store is back', async () => {
    const smart = await startSmartServer();
    servers.push(smart);
    proxy.setDown(true);
    const result = await pipeline.producer.enqueue({
      tenantId: 'store-down',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: metadata,
    });
    await until(() => smart.stats.managementDeletes >= 1);
    expect(smart.stats.liveClientCount()).toBe(0);
    proxy.setDown(false);

    const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 30_000);
    expect(job.state).toBe('completed');
    expect(job.attemptsMade).toBeGreaterThanOrEqual(2);
    expect(smart.stats.liveClientCount()).toBe(1);
    expect(smart.stats.registrationPosts).toBe(smart.stats.managementDeletes + 1);
    expect(smart.stats.getClient(String(job.returnvalue?.clientId))).toBeDefined();
  });

  it('reports a client it could neither store nor delete as orphanedClientId in the failure event', async () => {
    const stub: StubServer = await startStubServer();
    servers.push(stub);
    // No registration_client_uri: RFC 7592 deletion is impossible.
    stub.on('POST', '/register', {
      status: 201,
      json: { client_id: 'cannot-delete-me', client_secret: 'sekrit-value-1' },
    });
    proxy.setDown(true);
    const result = await pipeline.producer.enqueue({
      tenantId: 'orphan',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register'),
      clientMetadata: metadata,
    });
    const jobId = (result as { jobId: string }).jobId;
    // Fail the job at the next attempt rather than waiting through all of them.
    await until(() => stub.requestsTo('POST', '/register').length >= 1);
    const job = await pipeline.waitForJob(jobId, 40_000);
    proxy.setDown(false);
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/^secret_store_unavailable: .*cannot-delete-me could not be deleted/);
    const failure = (await pipeline.events()).find(
      (e) => e.type === 'client.registration_failed' && e.data.jobId === jobId,
    );
    expect(failure?.data).toMatchObject({
      code: 'secret_store_unavailable',
      orphanedClientId: 'cannot-delete-me',
    });
    expect(JSON.stringify(failure)).not.toContain('sekrit-value-1');
  });
});
