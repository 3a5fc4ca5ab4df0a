// Failover on a real Redis Cluster: the slot that holds the whole queue (every key shares the prefix's
// hash tag) moves to another master while two worker processes drain 100 registrations. ioredis follows
// the ASK and MOVED answers; nothing may be lost or done twice: every job completes, the server holds
// exactly one live client per tenant, and no event is appended twice.

import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publicAppMetadata } from '../../src/dcr/index.js';
import { eventStreamKey } from '../../src/events/index.js';
import { type SmartServer, startSmartServer } from '../fixtures/smart-server.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../integration/pipeline/harness.js';
import { keysMatching, readEventStream } from '../support/redis.js';
import { moveSlot, ownerOf } from '../support/redis-cluster.js';
import { forkWorker, stopWorker } from '../support/worker-fleet.js';

const TENANTS = 100;
const seedPorts = inject('redisUrl')
  .split(',')
  .map((url) => Number(new URL(url).port));

async function masterPorts(): Promise<number[]> {
  const redis = new Redis({ host: '127.0.0.1', port: seedPorts[0] as number, lazyConnect: true });
  try {
    await redis.connect();
    const nodes = String(await redis.cluster('NODES'))
      .trim()
      .split('\n');
    return nodes
      .filter((line) => line.split(' ')[2]?.includes('master'))
      .map((line) => Number(line.split(' ')[1]?.split('@')[0]?.split(':')[1]));
  } finally {
    redis.disconnect();
  }
}

let pipeline: Pipeline;
let smart: SmartServer;
const workers: ChildProcess[] = [];
beforeAll(async () => {
  [pipeline, smart] = await Promise.all([startPipeline('slots'), startSmartServer()]);
  const env = pipelineEnv('slots', { WORKER_CONCURRENCY: '4' });
  workers.push(...(await Promise.all([forkWorker(env), forkWorker(env)])));
}, 60_000);
afterAll(async () => {
  await Promise.all(workers.map((worker) => stopWorker(worker)));
  await pipeline?.close();
  await smart?.close();
});

describe('Redis Cluster slot migration', () => {
  it(`moves the queue's slot to another master mid-run: ${TENANTS} registrations, one client each, no duplicate event`, async () => {
    expect(inject('redisCluster'), 'runs in the cluster pass (npm run test:cluster)').toBe(true);
    const prefix = pipeline.config.QUEUE_PREFIX;
    const results = await pipeline.producer.enqueueMany(
      Array.from({ length: TENANTS }, (_, i) => ({
        tenantId: `slot-${i}`,
        fhirBaseUrl: smart.fhirBaseUrl,
        clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
      })),
    );
    const jobIds = results.map((result) => (result as { jobId: string }).jobId);
    expect(jobIds.filter(Boolean)).toHaveLength(TENANTS);

    // Move once some work is done and much is still queued or running.
    const until = Date.now() + 60_000;
    while ((await pipeline.queue.getCompletedCount()) < TENANTS / 5 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = await ownerOf(seedPorts[0] as number, `${prefix}:events`);
    const target = (await masterPorts()).find((port) => port !== before.port) as number;
    const completedBeforeMove = await pipeline.queue.getCompletedCount();
    const movedKeys = await moveSlot(before.slot, before.port, target, await masterPorts());
    expect(movedKeys).toBeGreaterThan(0);
    expect(completedBeforeMove, 'the slot moved while work was left').toBeLessThan(TENANTS);

    const finished = await Promise.all(jobIds.map((jobId) => pipeline.waitForJob(jobId, 90_000)));
    expect(finished.filter((job) => job.state !== 'completed').map((job) => job.failedReason)).toEqual([]);

    expect(smart.stats.liveClientCount()).toBe(TENANTS);
    const events = await readEventStream(pipeline.redis, eventStreamKey(prefix));
    const eventIds = events.map((event) => event.eventId);
    expect(new Set(eventIds).size, 'no event appended twice').toBe(eventIds.length);
    const registered = events.filter((event) => event.type === 'client.registered');
    expect(new Set(registered.map((event) => event.data.tenantId)).size).toBe(TENANTS);
    expect(registered).toHaveLength(TENANTS);

    const after = await ownerOf(seedPorts[0] as number, `${prefix}:events`);
    expect(after.port).toBe(target);
    const keys = await keysMatching(pipeline.redis, `${prefix}*`);
    const elsewhere: string[] = [];
    for (const key of keys) if ((await ownerOf(target, key)).slot !== before.slot) elsewhere.push(key);
    expect(elsewhere, 'every key in the one slot of the hash tag').toEqual([]);
  }, 150_000);
});
