// quota: TENANTS tenants whose secret writes go to moto (started here, on a free port) through a proxy
// that throttles write calls beyond 50 in any 1,000 ms with AWS's ThrottlingException. Two forked real
// worker processes (concurrency 32 each, SECRETS_BACKEND=aws pointed at the proxy, dummy credentials)
// against a zero-latency stub; politeness limits raised so that only the write budget binds. Runs once
// per SECRET_WRITES_PER_S in BUDGETS: the default (40) and the quota itself (50).
// Target: drain time <= 1.15 x TENANTS / 50 s and zero failed jobs. The proxy counts throttled answers.
// Env: TENANTS (default 2000), BUDGETS (default "40,50").
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
import { startMoto } from './lib/moto.js';
import { enqueueOurs, requests } from './lib/pipelines.js';
import { startThrottlingProxy } from './lib/throttling-proxy.js';

const TENANTS = Number(process.env.TENANTS ?? '2000');
const BUDGETS = (process.env.BUDGETS ?? '40,50').split(',').map(Number);
const QUOTA_PER_S = 50;
const targetSeconds = (1.15 * TENANTS) / QUOTA_PER_S;
const prefix = benchPrefix('quota');

async function run(budget: number, endpoint: string, stubBase: string) {
  const runPrefix = `${prefix}-${budget}`;
  const proxy = await startThrottlingProxy({ target: endpoint, perSecond: QUOTA_PER_S });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix: runPrefix });
  const workers = [];
  try {
    await enqueueOurs(
      runPrefix,
      requests(TENANTS, () => stubBase),
    );
    const env = workerEnv(runPrefix, {
      BENCH_SECRET_STORE: 'config',
      SECRETS_BACKEND: 'aws',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      SECRET_WRITES_PER_S: String(budget),
      WORKER_CONCURRENCY: '32',
    });
    await queue.pause();
    workers.push(...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
    const started = performance.now();
    await queue.resume();
    const { drained, ...counts } = await drainQueue(queue, TENANTS, Math.max(120_000, targetSeconds * 3000));
    const seconds = (performance.now() - started) / 1000;
    const stats = proxy.stats();
    return {
      secretWritesPerS: budget,
      completed: counts.completed,
      failed: counts.failed,
      drained,
      drainSeconds: round(seconds, 2),
      vsTarget: round(seconds / targetSeconds, 3),
      ...stats,
      met: drained && counts.failed === 0 && seconds <= targetSeconds,
    };
  } finally {
    await Promise.all(workers.map((w) => stopChild(w)));
    await queue.close();
    redis.disconnect();
    await proxy.close();
  }
}

const stub = await startStub({ delayMs: 0 });
const moto = await startMoto();
try {
  const runs = [];
  for (const budget of BUDGETS) runs.push(await run(budget, moto.endpoint, `${stub.baseUrl()}/fhir`));
  writeResult('quota', {
    tenants: TENANTS,
    quotaPerSecond: QUOTA_PER_S,
    quotaWindow: 'sliding 1,000 ms',
    workerProcesses: 2,
    concurrencyPerWorker: 32,
    targetSeconds: round(targetSeconds, 1),
    runs,
  });
  for (const r of runs) {
    console.log(
      `quota: SECRET_WRITES_PER_S=${r.secretWritesPerS}: ${r.completed}/${TENANTS} completed, ${r.failed} failed, drain ${r.drainSeconds} s (target <= ${round(targetSeconds, 1)} s), ${r.writesThrottled} throttled, max ${r.maxOfferedPerSecond} writes offered in 1 s ${r.met ? 'MET' : 'MISSED'}`,
    );
  }
} finally {
  await moto.close();
  await stub.close();
  await deleteKeys(prefix);
}
process.exit(0);
