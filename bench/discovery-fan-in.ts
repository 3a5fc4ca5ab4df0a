// discovery fan-in: TENANTS tenants spread over 5 stub servers (one stub process, 5 ports), two real
// worker processes; counts the discovery GETs each server received. Target: exactly 5 (one per server)
// within one DISCOVERY_CACHE_TTL_S (default 3600 s; the run lasts seconds). Politeness limits are raised
// so many jobs miss the cache at once (the stampede case). Env: TENANTS (default 10000, the size).
import { Queue } from 'bullmq';
import { REGISTRATION_QUEUE } from '../src/queue/index.js';
import {
  benchPrefix,
  benchRedis,
  deleteKeys,
  drainQueue,
  round,
  startStub,
  startWorkerProcess,
  stopChild,
  workerEnv,
  writeResult,
} from './lib/common.js';
import { enqueueOurs, requests } from './lib/pipelines.js';

const TENANTS = Number(process.env.TENANTS ?? '10000');
const SERVERS = 5;
const prefix = benchPrefix('discovery-fan-in');
const stub = await startStub({ servers: SERVERS });
const redis = benchRedis();
const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix });
const workers = [];
try {
  await enqueueOurs(
    prefix,
    requests(TENANTS, (i) => `${stub.baseUrl(i % SERVERS)}/fhir`),
  );
  const env = workerEnv(prefix, { WORKER_CONCURRENCY: '32' });
  const started = performance.now();
  // Both processes start before either takes a job (the queue is paused meanwhile).
  await queue.pause();
  workers.push(...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
  await queue.resume();
  const { drained, ...counts } = await drainQueue(queue, TENANTS, 80_000);
  const seconds = (performance.now() - started) / 1000;
  const stats = await stub.stats();
  const discoveryPerServer = stub.ports.map(
    (p) => stats.counts[`GET ${p} /fhir/.well-known/smart-configuration`] ?? 0,
  );
  const discoveryGets = discoveryPerServer.reduce((a, b) => a + b, 0);
  const result = {
    tenants: TENANTS,
    servers: SERVERS,
    workerProcesses: 2,
    concurrencyPerWorker: 32,
    completed: counts.completed,
    failed: counts.failed,
    drained,
    seconds: round(seconds, 2),
    discoveryGets,
    discoveryPerServer,
    registrationPosts: stub.ports.reduce((a, p) => a + (stats.counts[`POST ${p} /register`] ?? 0), 0),
    target: 'exactly 5 discovery GETs per TTL',
    met: discoveryGets === SERVERS && drained && counts.failed === 0,
  };
  writeResult('discovery-fan-in', result);
  console.log(
    `discovery-fan-in: ${discoveryGets} discovery GETs for ${TENANTS} tenants on ${SERVERS} servers [${discoveryPerServer.join(',')}], ${counts.completed} completed in ${result.seconds} s (target exactly 5) ${result.met ? 'MET' : 'MISSED'}`,
  );
} finally {
  await Promise.all(workers.map((w) => stopChild(w)));
  await queue.close();
  redis.disconnect();
  await stub.close();
  await deleteKeys(prefix);
}
process.exit(0);
