// The setup the politeness benchmarks share: TENANTS tenants on one stub server in its own process,
// enqueued through the real producer, drained by two forked real worker processes from the moment the
// queue resumes. Cleans up what it started, whatever happens.
import { Queue } from 'bullmq';
import { REGISTRATION_QUEUE } from '../../src/queue/index.js';
import {
  benchPrefix,
  benchRedis,
  deleteKeys,
  drainQueue,
  type Stub,
  startStub,
  startWorkerProcess,
  stopChild,
  workerEnv,
} from './common.js';
import { enqueueOurs, requests } from './pipelines.js';

export interface OneServerDrain {
  drained: boolean;
  completed: number;
  failed: number;
  seconds: number;
  stats: Awaited<ReturnType<Stub['stats']>>;
}

export async function drainOneServer(options: {
  name: string;
  tenants: number;
  stub: Parameters<typeof startStub>[0];
  /** Worker settings beyond workerEnv's; two processes at concurrency 32. */
  env: Record<string, string>;
  timeoutMs: number;
}): Promise<OneServerDrain> {
  const prefix = benchPrefix(options.name);
  const stub = await startStub(options.stub);
  const redis = benchRedis();
  const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix });
  const workers = [];
  try {
    await enqueueOurs(
      prefix,
      requests(options.tenants, () => `${stub.baseUrl()}/fhir`),
    );
    const env = workerEnv(prefix, { WORKER_CONCURRENCY: '32', JOB_ATTEMPTS: '8', ...options.env });
    await queue.pause();
    workers.push(...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
    const started = performance.now();
    await queue.resume();
    const { drained, completed, failed } = await drainQueue(queue, options.tenants, options.timeoutMs);
    const seconds = (performance.now() - started) / 1000;
    return { drained, completed, failed, seconds, stats: await stub.stats() };
  } finally {
    await Promise.all(workers.map((w) => stopChild(w)));
    await queue.close();
    redis.disconnect();
    await stub.close();
    await deleteKeys(prefix);
  }
}
