// Probes and metrics, and what callers see when Redis or the secret store is down: a prompt 503
// `unavailable` that says nothing internal, and service again once the dependency is back.

import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../../src/config/index.js';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import {
  connected,
  createRedisConnection,
  producerSettingsFromConfig,
  REGISTRATION_QUEUE,
  type RedisConnection,
  RegistrationProducer,
} from '../../../src/queue/index.js';
import { RegistrationRegistry } from '../../../src/registry/index.js';
import { createSecretStore, type SecretStore } from '../../../src/secrets/index.js';
import { buildServer } from '../../../src/server/index.js';
import { startToggleProxy, type ToggleProxy } from '../../support/toggle-proxy.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../pipeline/harness.js';
import { call, serverFor, TEST_TOKEN, testMetrics } from './server-harness.js';

let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = await startPipeline('server-probes', { API_TOKEN: TEST_TOKEN });
});
afterAll(async () => {
  await pipeline.close();
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function track(app: FastifyInstance): Promise<FastifyInstance> {
  cleanups.push(() => app.close());
  return app;
}

/** A port nothing listens on: bound once, then released. */
async function closedPortUrl(): Promise<string> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `redis://127.0.0.1:${port}`;
}

/** These cases put proxies in front of one standalone Redis. */
const standalone = (url: string) => ({ REDIS_URL: url, REDIS_CLUSTER: false });

function disconnectLater(redis: RedisConnection): void {
  cleanups.push(() => redis.disconnect());
}

/** Lets callbacks already due (a rejected command's, a closed socket's) run before a check of order. */
const pendingCallbacks = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Whether a promise has settled yet, to tell which of two things happened first. */
function watch(promise: Promise<unknown>): { readonly settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

const request = (tenantId: string, extra: Record<string, unknown> = {}) => ({
  tenantId,
  fhirBaseUrl: `https://ehr.example/fhir/${tenantId}`,
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
  ...extra,
});

/** A producer of its own, wired like production (fail-fast Redis) but through chosen endpoints. */
async function producerVia(options: { redisUrl: string; config?: Config; secretStore?: SecretStore }) {
  const config = options.config ?? pipeline.config;
  const redis = createRedisConnection(standalone(options.redisUrl), 'producer');
  disconnectLater(redis);
  const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix: config.QUEUE_PREFIX });
  queue.on('error', () => {});
  const secretStore = options.secretStore ?? pipeline.secretStore;
  const registry = new RegistrationRegistry({ redis, prefix: config.QUEUE_PREFIX });
  const producer = new RegistrationProducer({
    queue,
    secretStore,
    registry,
    ...producerSettingsFromConfig(config),
  });
  return { redis, queue, registry, producer };
}

describe('probes', () => {
  it('/healthz answers 200 ok', async () => {
    const app = await track(await serverFor(pipeline));
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when Redis answers PING', async () => {
    const app = await track(await serverFor(pipeline));
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 503 when Redis is unreachable (fail-fast client)', async () => {
    const redis = createRedisConnection(standalone(await closedPortUrl()), 'producer');
    disconnectLater(redis);
    const app = await track(await serverFor(pipeline, { redis }));
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'unavailable', redis: 'unreachable', queue: 'ok' });
  });

  it('/readyz answers 503 when the queue cannot answer, though the Redis client answers PING', async () => {
    // BullMQ checks the Redis version once per connection; a queue whose check failed stays broken.
    const { queue, registry, redis } = await producerVia({ redisUrl: await closedPortUrl() });
    redis.disconnect();
    const app = await track(
      await serverFor(pipeline, { status: { queue, registry }, readinessTimeoutMs: 300 }),
    );
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'unavailable', redis: 'ok', queue: 'unavailable' });
  });

  it('/readyz answers 503 within its timeout even when the client would wait for Redis forever', async () => {
    const redis = createRedisConnection(standalone(await closedPortUrl()), 'worker');
    disconnectLater(redis);
    const app = await track(await serverFor(pipeline, { redis, readinessTimeoutMs: 300 }));
    const ownPing = watch(redis.ping());
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    // The answer did not wait for Redis: a PING sent on the same client before the probe still waits.
    await pendingCallbacks();
    expect(ownPing.settled, 'the client has stopped waiting for Redis').toBe(false);
  });

  it('/metrics serves the registry in the Prometheus text format', async () => {
    const metrics = testMetrics();
    new Counter({ name: 'dcr_test_total', help: 'a test series', registers: [metrics] }).inc(3);
    const app = await track(await serverFor(pipeline, { metrics }));
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(metrics.contentType);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('dcr_test_total{service="dcr-provisioner-test"} 3');
  });

  it('/metrics is not a route when no metrics source is given', async () => {
    const app = await track(await serverFor(pipeline));
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found' });
  });
});

describe('outages', () => {
  let redisProxy: ToggleProxy;
  beforeAll(async () => {
    redisProxy = await startToggleProxy(pipeline.config.REDIS_URL);
  });
  afterAll(async () => {
    await redisProxy.close();
  });

  it('answers 503 unavailable with Retry-After while Redis is down, and 202 once it is back', async () => {
    const proxied = `redis://127.0.0.1:${new URL(redisProxy.url).port}`;
    const { redis, producer, queue, registry } = await producerVia({ redisUrl: proxied });
    await connected(redis);
    await queue.waitUntilReady();
    const app = await track(await serverFor(pipeline, { producer, status: { queue, registry }, redis }));

    redisProxy.setDown(true);
    const post = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      payload: request('outage-redis'),
    });
    expect(post.statusCode).toBe(503);
    expect(post.json()).toEqual({ error: 'unavailable' });
    expect(post.headers['retry-after']).toBe('5');
    const status = await call(app, { method: 'GET', url: '/v1/registrations/outage-redis' });
    expect(status.statusCode).toBe(503);
    expect(status.json()).toEqual({ error: 'unavailable' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);

    redisProxy.setDown(false);
    const deadline = Date.now() + 10_000;
    let again = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      payload: request('outage-redis'),
    });
    while (again.statusCode === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      again = await call(app, { method: 'POST', url: '/v1/registrations', payload: request('outage-redis') });
    }
    expect(again.statusCode).toBe(202);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('answers 503 within the dependency deadline when Redis was never reachable', async () => {
    const { redis, producer, queue, registry } = await producerVia({ redisUrl: await closedPortUrl() });
    const app = await track(
      await serverFor(pipeline, { producer, status: { queue, registry }, redis, dependencyTimeoutMs: 500 }),
    );
    const queueReady = watch(queue.waitUntilReady());
    const res = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      payload: request('outage-never'),
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'unavailable' });
    // The deadline answered: the queue is still waiting for a Redis that never comes.
    await pendingCallbacks();
    expect(queueReady.settled, 'the queue has stopped waiting for Redis').toBe(false);
  });

  it('answers 503 without the token when the secret store is down while storing an initial access token', async () => {
    const awsProxy = await startToggleProxy(pipeline.config.AWS_ENDPOINT_URL_SECRETS_MANAGER as string);
    cleanups.push(() => awsProxy.close());
    const config = loadConfig(
      pipelineEnv('server-probes', { API_TOKEN: TEST_TOKEN, AWS_ENDPOINT_URL_SECRETS_MANAGER: awsProxy.url }),
    );
    const secretStore = createSecretStore(config);
    cleanups.push(() => secretStore.close());
    const { redis, producer, queue } = await producerVia({ redisUrl: config.REDIS_URL, config, secretStore });
    await connected(redis);
    await queue.waitUntilReady();
    const app = await track(
      await buildServer({
        config,
        producer,
        status: pipeline,
        redis,
        logger: false,
        dependencyTimeoutMs: 10_000,
      }),
    );
    awsProxy.setDown(true);
    const iat = 'iat-while-store-down-5d1c0b7e';
    const res = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      payload: request('outage-store', { initialAccessToken: { value: iat } }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'unavailable' });
    expect(res.body).not.toContain(iat);
    // Requests that need no secret write are unaffected.
    const plain = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      payload: request('outage-plain'),
    });
    expect(plain.statusCode).toBe(202);
  });
});
