// smart1-politeness: TENANTS tenants on one SMART 1.0 stub server (separate process, answering in
// STUB_DELAY_MS: well-known 404, CapabilityStatement, POST) at the product's default politeness limits
// (SERVER_MAX_IN_FLIGHT=4, SERVER_RATE_PER_S=5), discovery cache off so that every job makes all three
// requests to the one host; two real worker processes at concurrency 32. Measures whether the backlog
// drains (issue 11: before, the second GET of an attempt was refused a rate slot and the attempt started
// over — a livelock), how many requests of each kind the server saw per tenant, and the drain against the
// rate floor (requests / 5 per second). Env: TENANTS (default 50), STUB_DELAY_MS (default 20), LIMIT_S
// (default 120).
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

const TENANTS = Number(process.env.TENANTS ?? '50');
const DELAY_MS = Number(process.env.STUB_DELAY_MS ?? '20');
const LIMIT_S = Number(process.env.LIMIT_S ?? '120');
const RATE = 5;
const prefix = benchPrefix('smart1-politeness');
const stub = await startStub({ delayMs: DELAY_MS, smart1: true });
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
    SERVER_MAX_IN_FLIGHT: '4',
    SERVER_RATE_PER_S: String(RATE),
    DISCOVERY_CACHE_TTL_S: '0',
    JOB_ATTEMPTS: '8',
  });
  await queue.pause();
  workers.push(...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
  const started = performance.now();
  await queue.resume();
  const { drained, ...counts } = await drainQueue(queue, TENANTS, LIMIT_S * 1000);
  const seconds = (performance.now() - started) / 1000;
  const stats = await stub.stats();
  const perPath = (suffix: string) =>
    Object.entries(stats.counts)
      .filter(([key]) => key.endsWith(suffix))
      .reduce((sum, [, n]) => sum + n, 0);
  const wellKnown = perPath('/.well-known/smart-configuration');
  const metadata = perPath('/metadata');
  const posts = perPath('/register');
  const floorSeconds = (3 * TENANTS - 1) / RATE;
  const result = {
    tenants: TENANTS,
    stubDelayMs: DELAY_MS,
    serverMaxInFlight: 4,
    serverRatePerS: RATE,
    workerProcesses: 2,
    completed: counts.completed,
    failed: counts.failed,
    drained,
    drainSeconds: round(seconds, 2),
    floorSeconds: round(floorSeconds, 2),
    drainVsFloor: round(seconds / floorSeconds, 2),
    wellKnownGetsPerTenant: round(wellKnown / TENANTS, 2),
    metadataGetsPerTenant: round(metadata / TENANTS, 2),
    postsPerTenant: round(posts / TENANTS, 2),
    target: 'every tenant registered, one well-known GET and one metadata GET per tenant',
    met: drained && counts.failed === 0 && wellKnown === TENANTS && metadata === TENANTS,
  };
  writeResult('smart1-politeness', result);
  console.log(
    `smart1-politeness: ${counts.completed}/${TENANTS} completed, ${counts.failed} failed in ${result.drainSeconds} s (rate floor ${result.floorSeconds} s); per tenant ${result.wellKnownGetsPerTenant} well-known GETs, ${result.metadataGetsPerTenant} metadata GETs, ${result.postsPerTenant} POSTs ${result.met ? 'MET' : 'MISSED'}`,
  );
} finally {
  await Promise.all(workers.map((w) => stopChild(w)));
  await queue.close();
  redis.disconnect();
  await stub.close();
  await deleteKeys(prefix);
}
process.exit(0);
