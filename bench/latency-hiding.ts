// latency hiding: stub answering every request in 100 ms (separate process), one real worker at
// concurrency 64. Ideal = 64 / 0.1 s = 640 jobs/s; target >= 0.9 of it. Env: N (default 3200).
import { benchPrefix, deleteKeys, round, startStub, writeResult } from './lib/common.js';
import { enqueueOurs, requests, runOurs } from './lib/pipelines.js';

const N = Number(process.env.N ?? '3200');
const CONCURRENCY = 64;
const DELAY_MS = 100;
const prefix = benchPrefix('latency-hiding');
const stub = await startStub({ delayMs: DELAY_MS });
try {
  const base = `${stub.baseUrl()}/fhir`;
  await enqueueOurs(
    prefix,
    requests(N, () => base),
  );
  const ours = await runOurs(prefix, N, { WORKER_CONCURRENCY: String(CONCURRENCY) }, 80_000);
  const stats = await stub.stats();
  const ideal = CONCURRENCY / (DELAY_MS / 1000);
  const ratio = ours.jobsPerSecond / ideal;
  const result = {
    n: N,
    concurrency: CONCURRENCY,
    stubDelayMs: DELAY_MS,
    ...ours,
    jobsPerSecond: round(ours.jobsPerSecond, 1),
    idealJobsPerSecond: ideal,
    ratio: round(ratio, 3),
    stubRequests: stats.counts,
    stubMaxInFlight: stats.maxInFlight,
    target: '>= 0.9',
    met: ratio >= 0.9 && ours.failed === 0 && !ours.timedOut,
  };
  writeResult('latency-hiding', result);
  console.log(
    `latency-hiding: ${result.jobsPerSecond} jobs/s of ideal ${ideal} = ${result.ratio} (target >= 0.9) ${result.met ? 'MET' : 'MISSED'}`,
  );
} finally {
  await stub.close();
  await deleteKeys(prefix);
}
process.exit(0);
