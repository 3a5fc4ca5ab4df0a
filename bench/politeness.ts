// politeness: TENANTS tenants on one stub server (separate process, answering in STUB_DELAY_MS) limited
// to SERVER_MAX_IN_FLIGHT=4 with a generous rate (10,000/s), drained by two real worker processes at
// concurrency 32 each. The stub records the most requests it ever had in flight. Target: <= 4, every
// job completed. Env: TENANTS (default 500), STUB_DELAY_MS (default 20).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { REGISTRATION_QUEUE } from '../src/queue/index.js';
import {
  benchPrefix,
  deleteKeys,
  drainQueue,
  REDIS_URL,
  round,
  startStub,
  startWorkerProcess,
  stopChild,
  workerEnv,
  writeResult,
} from './lib/common.js';
import { enqueueOurs, requests } from './lib/pipelines.js';

const TENANTS = Number(process.env.TENANTS ?? '500');
const DELAY_MS = Number(process.env.STUB_DELAY_MS ?? '20');
const LIMIT = 4;
const prefix = benchPrefix('politeness');
const stub = await startStub({ delayMs: DELAY_MS });
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix });
const workers = [];
try {
  await enqueueOurs(
    prefix,
    requests(TENANTS, () => `${stub.baseUrl()}/fhir`),
  );
  const env = workerEnv(prefix, {
    WORKER_CONCURRENCY: '32',
    SERVER_MAX_IN_FLIGHT: String(LIMIT),
    SERVER_RATE_PER_S: '10000',
    JOB_ATTEMPTS: '8',
  });
  await queue.pause();
  workers.push(...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
  const started = performance.now();
  await queue.resume();
  const { drained, ...counts } = await drainQueue(queue, TENANTS, 85_000);
  const seconds = (performance.now() - started) / 1000;
  const stats = await stub.stats();
  const requestsSeen = Object.values(stats.counts).reduce((a, b) => a + b, 0);
  // With 4 in flight and DELAY_MS per request, no fleet can beat requests x DELAY_MS / 4.
  const floorSeconds = (requestsSeen * DELAY_MS) / 1000 / LIMIT;
  const result = {
    tenants: TENANTS,
    stubDelayMs: DELAY_MS,
    serverMaxInFlight: LIMIT,
    workerProcesses: 2,
    concurrencyPerWorker: 32,
    completed: counts.completed,
    failed: counts.failed,
    drained,
    drainSeconds: round(seconds, 2),
    floorSeconds: round(floorSeconds, 2),
    drainVsFloor: round(seconds / floorSeconds, 2),
    maxInFlightSeen: stats.maxInFlight,
    stubRequests: stats.counts,
    target: 'max in flight <= 4, zero failed',
    met: stats.maxInFlight <= LIMIT && drained && counts.failed === 0,
  };
  writeResult('politeness', result);
  console.log(
    `politeness: max in flight ${stats.maxInFlight} (limit ${LIMIT}), ${counts.completed}/${TENANTS} completed, ${counts.failed} failed, drain ${result.drainSeconds} s (floor ${result.floorSeconds} s) ${result.met ? 'MET' : 'MISSED'}`,
  );
} finally {
  await Promise.all(workers.map((w) => stopChild(w)));
  await queue.close();
  redis.disconnect();
  await stub.close();
  await deleteKeys(prefix);
}
process.exit(0);
