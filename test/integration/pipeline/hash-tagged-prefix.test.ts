// Redis Cluster needs every key of a queue in one slot: a hash-tagged QUEUE_PREFIX ({name}) must work
// end to end, events included.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type Pipeline, startPipeline } from './harness.js';

let pipeline: Pipeline;
let smart: SmartServer;
beforeAll(async () => {
  [pipeline, smart] = await Promise.all([
    startPipeline('tagged', { QUEUE_PREFIX: `{${inject('redisPrefix')}-tagged}` }),
    startSmartServer(),
  ]);
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await smart.close();
});

describe('hash-tagged queue prefix', () => {
  it('registers and publishes its event with every key under the hash tag', async () => {
    const result = await pipeline.producer.enqueue({
      tenantId: 'tagged',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
    });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId);
    expect(job.state).toBe('completed');
    expect((await pipeline.events()).map((e) => e.type)).toEqual(['client.registered']);
    const keys = await pipeline.redis.keys(`*${inject('redisPrefix')}-tagged*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((key) => key.startsWith(`{${inject('redisPrefix')}-tagged}:`))).toBe(true);
  });
});
