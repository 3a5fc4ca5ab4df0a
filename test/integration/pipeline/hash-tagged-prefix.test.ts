// Redis Cluster needs every key of a queue in one slot: with a hash-tagged QUEUE_PREFIX ({name}) every
// key family the service writes — queue, registry and tenant index, rotation indexes, server limits,
// secret-write budget, events, discovery cache — must live under the tag. Run standalone and, in
// `npm run test:cluster`, on a real cluster.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { REGISTRATION_QUEUE } from '../../../src/queue/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { keysMatching } from '../../support/redis.js';
import { type Pipeline, startPipeline } from './harness.js';

const tag = `{${inject('redisPrefix')}-tagged}`;
let pipeline: Pipeline;
let smart: SmartServer;
beforeAll(async () => {
  [pipeline, smart] = await Promise.all([startPipeline('tagged', { QUEUE_PREFIX: tag }), startSmartServer()]);
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await smart.close();
});

describe('hash-tagged queue prefix', () => {
  it('registers and publishes its event with every key family under the hash tag', async () => {
    const result = await pipeline.producer.enqueue({
      tenantId: 'tagged',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
      rotation: { periodDays: 30 },
    });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId);
    expect(job.state).toBe('completed');
    expect((await pipeline.events()).map((e) => e.type)).toEqual(['client.registered']);

    const keys = await keysMatching(pipeline.redis, `*${inject('redisPrefix')}-tagged*`);
    expect(keys.filter((key) => !key.startsWith(`${tag}:`))).toEqual([]);
    const families = {
      queue: `${tag}:${REGISTRATION_QUEUE}:`,
      registry: `${tag}:registration:`,
      tenantIndex: `${tag}:tenant:`,
      rotationIndex: `${tag}:rotation:`,
      serverLimits: `${tag}:limits:server:`,
      secretWriteBudget: `${tag}:limits:secret-writes`,
      events: `${tag}:events`,
      discovery: `${tag}:discovery:`,
    };
    const missing = Object.entries(families)
      .filter(([, start]) => !keys.some((key) => key.startsWith(start)))
      .map(([family]) => family);
    expect(missing, `key families not found under ${tag}: ${keys.join(', ')}`).toEqual([]);
  });
});
