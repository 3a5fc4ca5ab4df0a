// Requests whose outcome the worker cannot see, end to end against real peers behind fault proxies: a
// gateway that loses the registration's 201, and a Secrets Manager that throttles, fails, or takes a
// write and loses its answer. What must hold: no live client is deleted while its credentials may be
// current, every client nobody holds is named, and a throttling burst costs no client.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata, publicAppMetadata } from '../../../src/dcr/index.js';
import { registrationStatus } from '../../../src/queue/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type GatewayProxy, startGatewayProxy } from '../../support/gateway-proxy.js';
import { type SecretsFaultProxy, startSecretsFaultProxy } from '../../support/secrets-fault-proxy.js';
import { type Pipeline, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Faults', redirectUris: ['https://app.example/cb'] });
const servers: Array<{ close(): Promise<void> }> = [];

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function smartServer(): Promise<SmartServer> {
  const smart = await startSmartServer();
  servers.push(smart);
  return smart;
}

async function enqueue(pipeline: Pipeline, request: Record<string, unknown>): Promise<string> {
  const result = await pipeline.producer.enqueue({ clientMetadata: metadata, ...request });
  if (result.status !== 'queued') throw new Error(`not queued: ${JSON.stringify(result)}`);
  return result.jobId;
}

describe('a gateway that loses the answer to the registration POST', () => {
  let pipeline: Pipeline;
  let gateway: GatewayProxy;
  let smart: SmartServer;
  beforeAll(async () => {
    pipeline = await startPipeline('gateway');
    await pipeline.startWorker();
    smart = await smartServer();
    gateway = await startGatewayProxy(smart.issuer);
    servers.push(gateway);
  });
  afterAll(() => pipeline.close());

  for (const status of [502, 504] as const) {
    it(`reports a ${status} after the server created the client as possibleOrphan, and registers once more`, async () => {
      const tenantId = `gateway-${status}`;
      const postsBefore = smart.stats.registrationPosts;
      let lose = true;
      gateway.setRule(({ method, path }) => {
        if (method !== 'POST' || path !== '/reg' || !lose) return 'pass';
        lose = false;
        return status;
      });
      const jobId = await enqueue(pipeline, {
        tenantId,
        fhirBaseUrl: smart.fhirBaseUrl,
        registrationEndpoint: gateway.url('/reg'),
      });
      const job = await pipeline.waitForJob(jobId);

      expect(job.state).toBe('completed');
      // The lost try, then the one that completed.
      expect(job.attemptsMade).toBe(2);
      // The lost client is live at the server: not deleted (its credentials never arrived), but named.
      expect(smart.stats.registrationPosts - postsBefore).toBe(2);
      expect(job.returnvalue).toMatchObject({ possibleOrphan: true, lostAttemptsAt: [expect.any(String)] });
      const registered = (await pipeline.events()).find(
        (e) => e.type === 'client.registered' && e.data.jobId === jobId,
      );
      expect(registered?.data).toMatchObject({ possibleOrphan: true, lostAttemptAt: expect.any(String) });
      const status_ = await registrationStatus(
        { queue: pipeline.queue, registry: pipeline.registry },
        tenantId,
        smart.fhirBaseUrl,
      );
      expect(status_).toMatchObject({ state: 'completed', possibleOrphan: true });
    });
  }
});

describe('secret store faults after the POST', () => {
  let pipeline: Pipeline;
  let proxy: SecretsFaultProxy;
  beforeAll(async () => {
    // Each refused write is retried by the SDK and in process; three attempts are enough to show it.
    pipeline = await startPipeline('store-faults', { JOB_ATTEMPTS: '3' });
    proxy = await startSecretsFaultProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    servers.push(proxy);
    await pipeline.startWorker({}, { AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url });
  });
  afterAll(() => pipeline.close());

  it('deletes the new client when its write is refused through every retry, then registers once the store is back', async () => {
    const smart = await smartServer();
    let throttling = true;
    proxy.setRule(({ isWrite }) => (isWrite && throttling ? 'throttle' : 'pass'));
    const jobId = await enqueue(pipeline, { tenantId: 'store-refuses', fhirBaseUrl: smart.fhirBaseUrl });
    await until(() => smart.stats.managementDeletes >= 1);
    expect(smart.stats.liveClientCount()).toBe(0);
    throttling = false;

    const job = await pipeline.waitForJob(jobId, 30_000);
    expect(job.state).toBe('completed');
    expect(job.attemptsMade).toBeGreaterThanOrEqual(2);
    expect(smart.stats.liveClientCount()).toBe(1);
    expect(smart.stats.registrationPosts).toBe(smart.stats.managementDeletes + 1);
    expect(smart.stats.getClient(String(job.returnvalue?.clientId))).toBeDefined();
    expect(job.returnvalue?.possibleOrphan).toBeUndefined();
  });

  it('names a client it could neither store nor delete as orphanedClientId in the failure event', async () => {
    const stub: StubServer = await startStubServer();
    servers.push(stub);
    // No registration_client_uri: RFC 7592 deletion is impossible.
    stub.on('POST', '/register', {
      status: 201,
      json: { client_id: 'cannot-delete-me', client_secret: 'sekrit-value-1' },
    });
    proxy.setRule(({ isWrite }) => (isWrite ? 'throttle' : 'pass'));
    const jobId = await enqueue(pipeline, {
      tenantId: 'orphan',
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register'),
    });
    const job = await pipeline.waitForJob(jobId, 50_000);
    proxy.setRule(() => 'pass');
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
  }, 60_000);

  it('keeps a client whose write landed while its answer and the read-back failed, and finds it current on the next attempt', async () => {
    const smart = await smartServer();
    let broken = false;
    proxy.setRule(({ isWrite }) => {
      // The first write reaches moto and its answer is lost; from then on, until the test heals the
      // store, every call is cut before it arrives: retries of the write and the reads that check it.
      if (isWrite && !broken) {
        broken = true;
        return 'lose-answer';
      }
      return broken ? 'reset' : 'pass';
    });
    const tenantId = 'write-landed';
    const jobId = await enqueue(pipeline, { tenantId, fhirBaseUrl: smart.fhirBaseUrl });
    await until(async () => ((await pipeline.queue.getJob(jobId))?.attemptsMade ?? 0) >= 1);
    expect(smart.stats.liveClientCount()).toBe(1);
    proxy.setRule(() => 'pass');

    const job = await pipeline.waitForJob(jobId, 30_000);
    expect(job.state).toBe('completed');
    expect(smart.stats.registrationPosts).toBe(1);
    expect(smart.stats.managementDeletes).toBe(0);
    const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, smart.fhirBaseUrl);
    const current = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(current.client_id).toBe(job.returnvalue?.clientId);
    expect(smart.stats.getClient(current.client_id)).toBeDefined();
    const registered = (await pipeline.events()).find(
      (e) => e.type === 'client.registered' && e.data.jobId === jobId,
    );
    expect(registered?.data).not.toHaveProperty('possibleOrphan');
    expect(registered?.data).not.toHaveProperty('orphanedClientId');
  });
});

describe('a throttling burst at the secret store right after the POST', () => {
  let pipeline: Pipeline;
  let proxy: SecretsFaultProxy;
  beforeAll(async () => {
    pipeline = await startPipeline('store-burst');
    proxy = await startSecretsFaultProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    servers.push(proxy);
    // The production retry window, not the harness's short one.
    await pipeline.startWorker(
      { secretWriteRetryDelaysMs: undefined },
      { AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url },
    );
  });
  afterAll(() => pipeline.close());

  it('ends 10 s of throttling in one client, stored on the first attempt, with no delete', async () => {
    const smart = await smartServer();
    let throttledUntil = 0;
    proxy.setRule(({ isWrite }) => {
      if (!isWrite) return 'pass';
      throttledUntil ||= Date.now() + 10_000;
      return Date.now() < throttledUntil ? 'throttle' : 'pass';
    });
    const tenantId = 'burst';
    const jobId = await enqueue(pipeline, { tenantId, fhirBaseUrl: smart.fhirBaseUrl });
    const job = await pipeline.waitForJob(jobId, 45_000);

    expect(job.state).toBe('completed');
    expect(job.attemptsMade).toBe(1);
    expect(Date.now()).toBeGreaterThanOrEqual(throttledUntil);
    expect(proxy.counts['CreateSecret:throttle']).toBeGreaterThan(3);
    expect(smart.stats.registrationPosts).toBe(1);
    expect(smart.stats.managementDeletes).toBe(0);
    expect(smart.stats.liveClientCount()).toBe(1);
    const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, smart.fhirBaseUrl);
    const current = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(current.client_id).toBe(job.returnvalue?.clientId);
  }, 60_000);
});

describe('a rotation whose RFC 7592 update issued a new secret that could not be stored', () => {
  let pipeline: Pipeline;
  let proxy: SecretsFaultProxy;
  beforeAll(async () => {
    pipeline = await startPipeline('rotation-store-faults', { JOB_ATTEMPTS: '2' });
    proxy = await startSecretsFaultProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    servers.push(proxy);
    await pipeline.startWorker({}, { AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url });
  });
  afterAll(() => pipeline.close());

  it('names the client whose stored credentials the update made dead, when it fails for good', async () => {
    const smart = await startSmartServer({ updateRotatesSecret: true });
    servers.push(smart);
    const tenantId = 'dead-credentials';
    const registered = await pipeline.waitForJob(
      await enqueue(pipeline, {
        tenantId,
        fhirBaseUrl: smart.fhirBaseUrl,
        clientMetadata: confidentialSymmetricMetadata({
          clientName: 'Rotated',
          redirectUris: ['https://app.example/cb'],
        }),
      }),
    );
    const clientId = String(registered.returnvalue?.clientId);
    proxy.setRule(({ isWrite }) => (isWrite ? 'throttle' : 'pass'));

    const rotation = await pipeline.producer.enqueueRotation({ tenantId, fhirBaseUrl: smart.fhirBaseUrl });
    const job = await pipeline.waitForJob((rotation as { jobId: string }).jobId, 50_000);
    proxy.setRule(() => 'pass');

    expect(job.state).toBe('failed');
    expect(smart.stats.managementPuts).toBeGreaterThanOrEqual(1);
    // AWSCURRENT still holds the secret the update replaced at the server: dead, and said so.
    const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, smart.fhirBaseUrl);
    const current = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(current.client_id).toBe(clientId);
    expect(current.client_secret).toEqual(expect.any(String));
    expect(current.client_secret).not.toBe(smart.stats.getClient(clientId)?.client_secret);
    const failed = (await pipeline.events()).filter(
      (e) => e.type === 'client.registration_failed' && e.data.tenantId === tenantId,
    );
    expect(failed.at(-1)?.data).toMatchObject({
      code: 'secret_store_unavailable',
      orphanedClientId: clientId,
    });
  }, 60_000);
});
