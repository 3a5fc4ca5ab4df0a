// Nothing lost, nothing registered twice: a worker killed mid-job. (Secret store faults: unknown-outcomes.test.ts.)

import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { eventStreamKey } from '../../../src/events/index.js';
import { publicJwkOf } from '../../../src/keys/index.js';
import { registrationStatus } from '../../../src/queue/index.js';
import { jwksPath } from '../../../src/queue/jwks-uri.js';
import { PublishedKeys } from '../../../src/registry/index.js';
import { registrationSecretName, serverSlug } from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { startStubServer } from '../../fixtures/stub-server.js';
import { type JwksRoute, startJwksRoute } from '../../support/jwks-route.js';
import { readEventStream, testRedis } from '../../support/redis.js';
import { startSecretsFaultProxy } from '../../support/secrets-fault-proxy.js';
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

describe('a worker killed between the registration POST and the secret write', () => {
  let pipeline: Pipeline;
  let smart: SmartServer;
  beforeAll(async () => {
    pipeline = await startPipeline('crash-before-write');
  });
  afterAll(() => pipeline.close());

  it('reports the POST of a worker SIGKILLed before its secret write as possibleOrphan, and ends with one stored live client', async () => {
    smart = await startSmartServer();
    servers.push(smart);
    // The dead worker's secret writes reach this proxy and are held there: never stored, never answered.
    const proxy = await startSecretsFaultProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    servers.push(proxy);
    proxy.setRule(({ isWrite }) => (isWrite ? 'hang' : 'pass'));
    child = fork(path.resolve(import.meta.dirname, '../../support/plain-worker-process.ts'), {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        ...pipelineEnv('crash-before-write'),
        AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url,
        TEST_LOCK_DURATION_MS: '1000',
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await nextMessage(child, 'ready');
    const tenantId = 'killed-before-write';
    const result = await pipeline.producer.enqueue({
      tenantId,
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: metadata,
    });
    const jobId = (result as { jobId: string }).jobId;
    const deadline = Date.now() + 15_000;
    while (!proxy.counts['CreateSecret:hang']) {
      if (Date.now() > deadline) throw new Error('the secret write never reached the proxy');
      await new Promise((r) => setTimeout(r, 20));
    }
    // The server made a client; its credentials exist only in the process killed now.
    expect(smart.stats.registrationPosts).toBe(1);
    const [lostClientId] = smart.stats.liveClientIds();
    child.kill('SIGKILL');

    await pipeline.startWorker({ workerOptions: { stalledInterval: 250 } });
    const job = await pipeline.waitForJob(jobId, 20_000);

    expect(job.state).toBe('completed');
    // The lost POST's outcome was unknown to the resumed job: it registered again and says so.
    expect(smart.stats.registrationPosts).toBe(2);
    expect(job.returnvalue).toMatchObject({ possibleOrphan: true, lostAttemptsAt: [expect.any(String)] });
    const redis = testRedis();
    const events = (await readEventStream(redis, eventStreamKey(pipeline.config.QUEUE_PREFIX))).filter(
      (e) => e.data.tenantId === tenantId,
    );
    redis.disconnect();
    expect(events.map((e) => e.type)).toEqual(['client.registered']);
    const [lostAttemptAt] = (job.returnvalue as { lostAttemptsAt: string[] }).lostAttemptsAt;
    expect(events[0]?.data).toMatchObject({ jobId, possibleOrphan: true, lostAttemptAt });
    // The intent was written before the first POST was sent: no later than the server received it.
    const firstPost = smart.registrationRequests.find((r) => r.method === 'POST');
    expect(Date.parse(lostAttemptAt as string)).toBeLessThanOrEqual(firstPost?.receivedAt as number);
    const status = await registrationStatus(
      { queue: pipeline.queue, registry: pipeline.registry },
      tenantId,
      smart.fhirBaseUrl,
    );
    expect(status).toMatchObject({ state: 'completed', possibleOrphan: true, lostAttemptAt });

    // One stored client, live at the server, and not the one whose credentials died with the worker.
    const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, smart.fhirBaseUrl);
    const stored = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(stored.client_id).toBe(job.returnvalue?.clientId);
    expect(stored.client_id).not.toBe(lostClientId);
    expect(smart.stats.getClient(stored.client_id)).toBeDefined();
    const names: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await pipeline.secretStore.list(
        `${pipeline.config.SECRET_NAME_PREFIX}${tenantId}/`,
        pageToken === undefined ? {} : { pageToken },
      );
      names.push(...page.names);
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(names).toEqual([secretId]);
  });
});

describe('generated keys across a crash: the key that is stored is the key that is registered', () => {
  let pipeline: Pipeline;
  let smart: SmartServer;
  let route: JwksRoute;
  const backendService = {
    client_name: 'Crash with keys',
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'system/Patient.rs',
  };
  beforeAll(async () => {
    route = await startJwksRoute();
    pipeline = await startPipeline('crash-keys', { JWKS_PUBLIC_BASE_URL: route.url });
    route.serveFrom(new PublishedKeys({ redis: pipeline.redis, prefix: pipeline.config.QUEUE_PREFIX }));
  });
  afterAll(async () => {
    await pipeline.close();
    await route.close();
  });
  // Each test's own resuming worker stops with it, or it would take the next test's job from the
  // worker process that test kills.
  let resumed: { close(): Promise<void> } | undefined;
  afterEach(async () => {
    await resumed?.close();
    resumed = undefined;
  });

  /** The public key of a stored private JWK, as the server would have it. */
  const publicOf = (jwk: Record<string, unknown>) => publicJwkOf(jwk);
  /** The key each POST registered, with the client id it got. */
  const registeredKeys = () =>
    smart.registrationRequests
      .filter((r) => r.method === 'POST' && r.status === 201)
      .map((r) => ({
        clientId: (r.response as { client_id: string }).client_id,
        keys: ((r.body as { jwks?: { keys: unknown[] } }).jwks?.keys ?? []) as Array<Record<string, unknown>>,
        jwksUri: (r.body as { jwks_uri?: string }).jwks_uri,
      }));

  function forkWorker(env: Record<string, string>) {
    return fork(path.resolve(import.meta.dirname, '../../support/plain-worker-process.ts'), {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        ...pipelineEnv('crash-keys', { JWKS_PUBLIC_BASE_URL: route.url }),
        TEST_LOCK_DURATION_MS: '1000',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
  }

  it('killed right after the secret write (jwks_uri): the resumed job serves the stored key as current, with one POST', async () => {
    smart = await startSmartServer();
    servers.push(smart);
    child = fork(path.resolve(import.meta.dirname, '../../support/worker-process.ts'), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...pipelineEnv('crash-keys', { JWKS_PUBLIC_BASE_URL: route.url }) },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await nextMessage(child, 'ready');
    const written = nextMessage(child, 'secret-written');
    const tenantId = 'keys-killed-after-write';
    const result = await pipeline.producer.enqueue({
      tenantId,
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: backendService,
      keys: { generate: { alg: 'ES256' }, publish: 'jwks_uri' },
    } as never);
    await written;
    child.kill('SIGKILL');

    resumed = await pipeline.startWorker({ workerOptions: { stalledInterval: 250 } });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 20_000);
    expect(job.state, job.failedReason).toBe('completed');
    expect(smart.stats.registrationPosts).toBe(1);
    const stored = JSON.parse(
      (await pipeline.secretStore.readCurrent(job.returnvalue?.secretId as string))?.value ?? '{}',
    );
    const entry = JSON.parse(
      (await pipeline.redis.get(
        `${pipeline.config.QUEUE_PREFIX}:jwks:${tenantId}/${serverSlug(smart.fhirBaseUrl)}`,
      )) ?? '{}',
    );
    // Current, not left pending (a later rotation would otherwise drop it from the route).
    expect(entry.keys).toEqual([{ jwk: publicOf(stored.private_jwk) }]);
  });

  it('killed between the POST and the secret write: the next attempt registers a new key, and stores that one', async () => {
    smart = await startSmartServer();
    servers.push(smart);
    const proxy = await startSecretsFaultProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    servers.push(proxy);
    proxy.setRule(({ isWrite }) => (isWrite ? 'hang' : 'pass'));
    child = forkWorker({ AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url });
    await nextMessage(child, 'ready');
    const tenantId = 'keys-killed-before-write';
    const result = await pipeline.producer.enqueue({
      tenantId,
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: backendService,
      keys: { generate: { alg: 'RS384' } },
    } as never);
    const deadline = Date.now() + 15_000;
    while (!proxy.counts['CreateSecret:hang']) {
      if (Date.now() > deadline) throw new Error('the secret write never reached the proxy');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    const [lost] = registeredKeys();

    resumed = await pipeline.startWorker({ workerOptions: { stalledInterval: 250 } });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 20_000);
    expect(job.state, job.failedReason).toBe('completed');
    expect(job.returnvalue).toMatchObject({ possibleOrphan: true, verified: true });
    const secretId = job.returnvalue?.secretId as string;
    const stored = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    const registrations = registeredKeys();
    expect(registrations).toHaveLength(2);
    const storedRegistration = registrations.find((r) => r.clientId === stored.client_id);
    expect(storedRegistration?.keys).toEqual([publicOf(stored.private_jwk)]);
    // The lost attempt's key died with its worker; it is not the stored one.
    expect(lost?.keys[0]?.kid).not.toBe(stored.private_jwk.kid);
  });

  it('killed between making the key and the POST (discovery hangs): one POST, with the stored key, and the dead key unpublished', async () => {
    smart = await startSmartServer();
    servers.push(smart);
    // Discovery through a stub that hangs the dead worker's request and answers the next one.
    const stub = await startStubServer();
    servers.push(stub);
    const discovery = await (await fetch(`${smart.fhirBaseUrl}/.well-known/smart-configuration`)).json();
    stub.on('GET', '/fhir/.well-known/smart-configuration', (_request, calls) =>
      calls === 0 ? { hang: true } : { json: discovery },
    );
    const fhirBaseUrl = stub.url('/fhir');
    child = forkWorker({ HTTP_TIMEOUT_MS: '60000' });
    await nextMessage(child, 'ready');
    const tenantId = 'keys-killed-before-post';
    const result = await pipeline.producer.enqueue({
      tenantId,
      fhirBaseUrl,
      clientMetadata: backendService,
      keys: { generate: { alg: 'ES384' }, publish: 'jwks_uri' },
    } as never);
    const path = jwksPath(tenantId, fhirBaseUrl);
    const deadline = Date.now() + 15_000;
    while (stub.requestsTo('GET', '/fhir/.well-known/smart-configuration').length === 0) {
      if (Date.now() > deadline) throw new Error('discovery never reached the stub');
      await new Promise((r) => setTimeout(r, 20));
    }
    // The dead worker's key was published (a server may fetch it while registering) but never registered.
    const deadKids = (
      (await route.app.inject({ method: 'GET', url: path })).json() as { keys: Array<{ kid: string }> }
    ).keys.map((k) => k.kid);
    expect(deadKids).toHaveLength(1);
    child.kill('SIGKILL');
    expect(smart.stats.registrationPosts).toBe(0);

    resumed = await pipeline.startWorker({ workerOptions: { stalledInterval: 250 } });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 20_000);
    expect(job.state, job.failedReason).toBe('completed');
    expect(job.returnvalue).toMatchObject({ verified: true });
    expect(job.returnvalue?.possibleOrphan).toBeUndefined();
    expect(smart.stats.registrationPosts).toBe(1);
    const stored = JSON.parse(
      (await pipeline.secretStore.readCurrent(job.returnvalue?.secretId as string))?.value ?? '{}',
    );
    const [registration] = registeredKeys();
    expect(registration?.clientId).toBe(stored.client_id);
    expect(registration?.jwksUri).toBe(`${route.url}${path}`);
    const served = (await route.app.inject({ method: 'GET', url: path })).json() as {
      keys: Array<Record<string, unknown>>;
    };
    expect(served.keys).toEqual([publicOf(stored.private_jwk)]);
    expect(served.keys[0]?.kid).not.toBe(deadKids[0]);
  });
});
