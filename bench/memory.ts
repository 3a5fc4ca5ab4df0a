// memory: the resident memory of one forked real worker process (concurrency 32, zero-latency stub in its
// own process, a secret store that keeps nothing so that only the worker's own memory is measured),
// sampled every second: first while it drains DRAIN_N pre-enqueued jobs, then over a soak of SOAK_S
// seconds of steady enqueue (SOAK_RATE jobs/s, in batches every 100 ms) and drain. Reports the largest
// RSS and the least-squares slope of RSS and of the V8 heap in use over the soak, in MB/min.
// Target: RSS <= 250 MB throughout and no upward trend (soak slope <= 0.5 MB/min; a soak shorter than
// 5 minutes is reported but not judged). The worker runs compiled by tsc on plain node, as in production
// (under tsx, as the other benchmarks run it, its RSS would be about 45 MB higher).
// Env: DRAIN_N (default 50000), SOAK_S (default 600), SOAK_RATE (default 100).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { REGISTRATION_QUEUE } from '../src/queue/index.js';
import {
  benchPrefix,
  compileWorker,
  deleteKeys,
  REDIS_URL,
  round,
  sleep,
  startStub,
  startWorkerProcess,
  stopChild,
  until,
  workerEnv,
  workerStats,
  writeResult,
} from './lib/common.js';
import { openProducer, requests } from './lib/pipelines.js';

const DRAIN_N = Number(process.env.DRAIN_N ?? '50000');
const SOAK_S = Number(process.env.SOAK_S ?? '600');
const SOAK_RATE = Number(process.env.SOAK_RATE ?? '100');
const MAX_RSS_MB = 250;
const MAX_SLOPE_MB_PER_MIN = 0.5;
const JUDGED_SOAK_S = 300;
const MB = 1024 * 1024;
// Completed jobs are Redis's memory, not the worker's; keep few so a long soak stays small there.
const env = { COMPLETED_JOBS_MAX_COUNT: '1000' };
const prefix = benchPrefix('memory');

interface Sample {
  phase: 'idle' | 'drain' | 'soak';
  t: number;
  rssMb: number;
  heapUsedMb: number;
  backlog: number;
}

/** Least-squares slope of y over x. */
function slope(points: ReadonlyArray<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const compiled = compileWorker();
const stub = await startStub({ delayMs: 0 });
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix });
const producer = openProducer(prefix, env);
const base = `${stub.baseUrl()}/fhir`;
const samples: Sample[] = [];
let worker: Awaited<ReturnType<typeof startWorkerProcess>> | undefined;
let sampler: NodeJS.Timeout | undefined;
try {
  for (let i = 0; i < DRAIN_N; i += 1000) {
    await producer.enqueue(requests(Math.min(1000, DRAIN_N - i), () => base, `d${i}`));
  }
  // Delayed jobs are left out: the queue also holds the rotation sweep's next run.
  const backlog = async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0);
  };

  await queue.pause();
  worker = await startWorkerProcess(
    workerEnv(prefix, { ...env, BENCH_SECRET_STORE: 'discard', WORKER_CONCURRENCY: '32' }),
    compiled,
  );
  const child = worker;
  const t0 = performance.now();
  let phase: Sample['phase'] = 'idle';
  let finished = { completed: 0, failed: 0 };
  const finishedAtLeast = (n: number) => async () => {
    const stats = await workerStats(child);
    finished = { completed: stats.completed, failed: stats.failed };
    return stats.completed + stats.failed >= n;
  };
  const sample = async () => {
    const [{ memory }, waiting] = await Promise.all([workerStats(child), backlog()]);
    samples.push({
      phase,
      t: (performance.now() - t0) / 1000,
      rssMb: memory.rss / MB,
      heapUsedMb: memory.heapUsed / MB,
      backlog: waiting,
    });
  };
  await sample();
  sampler = setInterval(() => void sample().catch(() => {}), 1000);

  phase = 'drain';
  const drainStart = performance.now();
  await queue.resume();
  const drained = await until(finishedAtLeast(DRAIN_N), Math.max(300_000, DRAIN_N * 10), 200);
  const drainSeconds = (performance.now() - drainStart) / 1000;

  phase = 'soak';
  const soakStart = performance.now();
  const perTick = Math.max(1, Math.round(SOAK_RATE / 10));
  let soakQueued = 0;
  for (let tick = 0; performance.now() - soakStart < SOAK_S * 1000; tick++) {
    soakQueued += await producer.enqueue(requests(perTick, () => base, `s${tick}`));
    // Ticks keep to the clock, so a slow enqueue does not lower the rate.
    const next = soakStart + (tick + 1) * 100;
    await sleep(Math.max(0, next - performance.now()));
  }
  const keptUp = await until(finishedAtLeast(DRAIN_N + soakQueued), 60_000, 200);
  clearInterval(sampler);
  sampler = undefined;
  const { failed } = finished;

  const of = (p: Sample['phase']) => samples.filter((s) => s.phase === p);
  const soak = of('soak');
  const soakT0 = soak[0]?.t ?? 0;
  const max = (xs: Sample[], k: 'rssMb' | 'heapUsedMb') => Math.max(0, ...xs.map((s) => s[k]));
  const rssSlope = slope(soak.map((s) => [(s.t - soakT0) / 60, s.rssMb]));
  const heapSlope = slope(soak.map((s) => [(s.t - soakT0) / 60, s.heapUsedMb]));
  const maxRssMb = max(samples, 'rssMb');
  const judged = SOAK_S >= JUDGED_SOAK_S;
  const result = {
    drainJobs: DRAIN_N,
    soakSeconds: SOAK_S,
    soakRatePerSecond: SOAK_RATE,
    soakJobsQueued: soakQueued,
    concurrency: 32,
    completed: finished.completed,
    failed,
    rssAtStartMb: round(samples[0]?.rssMb ?? 0, 1),
    drain: {
      drained,
      seconds: round(drainSeconds, 1),
      jobsPerSecond: round(DRAIN_N / drainSeconds, 0),
      maxRssMb: round(max(of('drain'), 'rssMb'), 1),
      maxHeapUsedMb: round(max(of('drain'), 'heapUsedMb'), 1),
    },
    soak: {
      keptUp,
      maxBacklog: Math.max(0, ...soak.map((s) => s.backlog)),
      maxRssMb: round(max(soak, 'rssMb'), 1),
      rssSlopeMbPerMin: round(rssSlope, 3),
      heapUsedSlopeMbPerMin: round(heapSlope, 3),
      firstMinuteRssMb: round(soak.find((s) => s.t - soakT0 >= 60)?.rssMb ?? 0, 1),
      lastRssMb: round(soak.at(-1)?.rssMb ?? 0, 1),
    },
    maxRssMb: round(maxRssMb, 1),
    target: `RSS <= ${MAX_RSS_MB} MB; soak RSS slope <= ${MAX_SLOPE_MB_PER_MIN} MB/min (judged for soaks >= ${JUDGED_SOAK_S} s)`,
    trendJudged: judged,
    met:
      drained &&
      keptUp &&
      failed === 0 &&
      maxRssMb <= MAX_RSS_MB &&
      (!judged || rssSlope <= MAX_SLOPE_MB_PER_MIN),
    // One sample every 10 s, to show the shape without bloating the file.
    rssEvery10s: samples.filter((_, i) => i % 10 === 0).map((s) => [round(s.t, 0), round(s.rssMb, 1)]),
  };
  writeResult(SOAK_S >= JUDGED_SOAK_S ? 'memory' : 'memory-short', result);
  console.log(
    `memory: max RSS ${result.maxRssMb} MB (drain of ${DRAIN_N}: ${result.drain.maxRssMb} MB, ${result.drain.jobsPerSecond} jobs/s; soak ${SOAK_S} s at ${SOAK_RATE}/s: ${result.soak.maxRssMb} MB), soak slope RSS ${result.soak.rssSlopeMbPerMin} MB/min, heap ${result.soak.heapUsedSlopeMbPerMin} MB/min${judged ? '' : ' (soak too short to judge the trend)'}, ${failed} failed ${result.met ? 'MET' : 'MISSED'}`,
  );
} finally {
  if (sampler) clearInterval(sampler);
  if (worker) await stopChild(worker);
  await producer.close();
  await queue.close();
  redis.disconnect();
  await stub.close();
  await deleteKeys(prefix);
  compiled.remove();
}
process.exit(0);
