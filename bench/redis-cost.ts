// Redis cost: Redis commands per job from `INFO commandstats` deltas, for the real worker and the bare
// BullMQ worker (same zero-latency stub in a separate process, concurrency 32), enqueue and processing
// measured apart. commandstats is server-wide: other clients of this Redis add to the deltas, so an idle
// window of the same length is measured too and reported as noise. Env: N (default 1000).
import { Redis } from 'ioredis';
import {
  benchPrefix,
  commandStats,
  deleteKeys,
  diffStats,
  REDIS_URL,
  round,
  sleep,
  startStub,
  writeResult,
} from './lib/common.js';
import { enqueueBare, enqueueOurs, requests, runBare, runOurs } from './lib/pipelines.js';

const N = Number(process.env.N ?? '1000');
const CONCURRENCY = 32;
const prefix = benchPrefix('redis-cost');
const stub = await startStub({ delayMs: 0 });
const redis = new Redis(REDIS_URL);
const total = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);
const top = (d: Record<string, number>, per: number) =>
  Object.fromEntries(
    Object.entries(d)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, v]) => [k, round(v / per, 2)]),
  );

async function measure(fn: () => Promise<unknown>) {
  const before = await commandStats(redis);
  const t = performance.now();
  await fn();
  const seconds = (performance.now() - t) / 1000;
  const delta = diffStats(before, await commandStats(redis));
  // The two INFO calls are ours, not the pipeline's.
  delta.info = (delta.info ?? 1) - 1;
  return { delta, seconds };
}

try {
  const base = `${stub.baseUrl()}/fhir`;
  const idle = await measure(() => sleep(2000));
  const noisePerSecond = total(idle.delta) / idle.seconds;

  const bareEnq = await measure(() =>
    enqueueBare(
      `${prefix}-bare`,
      requests(N, () => base),
    ),
  );
  const bareRun = await measure(() => runBare(`${prefix}-bare`, N, CONCURRENCY));
  const oursEnq = await measure(() =>
    enqueueOurs(
      `${prefix}-ours`,
      requests(N, () => base),
    ),
  );
  const oursRun = await measure(() =>
    runOurs(`${prefix}-ours`, N, { WORKER_CONCURRENCY: String(CONCURRENCY) }),
  );

  const side = (enq: typeof idle, run: typeof idle) => ({
    enqueueCommandsPerJob: round(total(enq.delta) / N, 2),
    processCommandsPerJob: round(total(run.delta) / N, 2),
    processSeconds: round(run.seconds, 2),
    estimatedNoisePerJob: round((noisePerSecond * (enq.seconds + run.seconds)) / N, 2),
    processTopCommandsPerJob: top(run.delta, N),
    enqueueTopCommandsPerJob: top(enq.delta, N),
  });
  const result = {
    n: N,
    concurrency: CONCURRENCY,
    idleNoiseCommandsPerSecond: round(noisePerSecond, 1),
    bare: side(bareEnq, bareRun),
    ours: side(oursEnq, oursRun),
  };
  writeResult('redis-cost', result);
  const per = (s: typeof result.bare) => round(s.enqueueCommandsPerJob + s.processCommandsPerJob, 1);
  console.log(
    `redis-cost: bare ${per(result.bare)} cmds/job (enqueue ${result.bare.enqueueCommandsPerJob} + process ${result.bare.processCommandsPerJob}), ours ${per(result.ours)} cmds/job (enqueue ${result.ours.enqueueCommandsPerJob} + process ${result.ours.processCommandsPerJob}); idle noise ${result.idleNoiseCommandsPerSecond}/s`,
  );
} finally {
  redis.disconnect();
  await stub.close();
  await deleteKeys(prefix);
}
process.exit(0);
