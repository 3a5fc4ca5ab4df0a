// overhead: the real worker vs a bare BullMQ worker (same GET, POST, in-memory write), same zero-latency
// stub in a separate process, same concurrency, N pre-enqueued jobs each. Target: ours >= 0.7 x bare.
// Env: N (default 2000), CONCURRENCY (default 32).
import { benchPrefix, deleteKeys, round, startStub, writeResult } from './lib/common.js';
import { enqueueBare, enqueueOurs, requests, runBare, runOurs } from './lib/pipelines.js';

const N = Number(process.env.N ?? '2000');
const CONCURRENCY = Number(process.env.CONCURRENCY ?? '32');
const prefix = benchPrefix('overhead');
const t0 = performance.now();
const mark = (s: string) =>
  process.env.BENCH_TRACE && console.error(`${Math.round(performance.now() - t0)} ms ${s}`);
const stub = await startStub({ delayMs: 0 });
mark('stub up');
try {
  const base = `${stub.baseUrl()}/fhir`;
  // Warm-up (JIT, connections) on a small batch of each, not measured.
  await enqueueBare(
    `${prefix}-warm`,
    requests(200, () => base, 'w'),
  );
  await runBare(`${prefix}-warm`, 200, CONCURRENCY);
  await enqueueOurs(
    `${prefix}-warm`,
    requests(200, () => base, 'w'),
  );
  await runOurs(`${prefix}-warm`, 200, { WORKER_CONCURRENCY: String(CONCURRENCY) });

  mark('warm done');
  await enqueueBare(
    `${prefix}-bare`,
    requests(N, () => base),
  );
  await stub.reset();
  const bare = await runBare(`${prefix}-bare`, N, CONCURRENCY);
  const bareStub = await stub.stats();
  mark('bare done');

  await enqueueOurs(
    `${prefix}-ours`,
    requests(N, () => base),
  );
  await stub.reset();
  const ours = await runOurs(`${prefix}-ours`, N, { WORKER_CONCURRENCY: String(CONCURRENCY) });
  const oursStub = await stub.stats();
  mark('ours done');

  const ratio = ours.jobsPerSecond / bare.jobsPerSecond;
  const result = {
    n: N,
    concurrency: CONCURRENCY,
    bare: { ...bare, jobsPerSecond: round(bare.jobsPerSecond, 1), stubRequests: bareStub.counts },
    ours: { ...ours, jobsPerSecond: round(ours.jobsPerSecond, 1), stubRequests: oursStub.counts },
    ratio: round(ratio, 3),
    target: '>= 0.7',
    met: ratio >= 0.7 && ours.failed === 0 && !ours.timedOut,
  };
  writeResult('overhead', result);
  console.log(
    `overhead: bare ${result.bare.jobsPerSecond} jobs/s, ours ${result.ours.jobsPerSecond} jobs/s, ratio ${result.ratio} (target >= 0.7) ${result.met ? 'MET' : 'MISSED'}`,
  );
} finally {
  await stub.close();
  await deleteKeys(prefix);
}
// Something in the worker's wiring keeps the event loop alive after close; the run is over.
process.exit(0);
