// politeness: TENANTS tenants on one stub server (separate process, answering in STUB_DELAY_MS) limited
// to SERVER_MAX_IN_FLIGHT=4 with a generous rate (10,000/s), drained by two real worker processes at
// concurrency 32 each. The stub records the most requests it ever had in flight. Target: <= 4, every
// job completed. Env: TENANTS (default 500), STUB_DELAY_MS (default 20).
import { round, writeResult } from './lib/common.js';
import { drainOneServer } from './lib/one-server-drain.js';

const TENANTS = Number(process.env.TENANTS ?? '500');
const DELAY_MS = Number(process.env.STUB_DELAY_MS ?? '20');
const LIMIT = 4;
const run = await drainOneServer({
  name: 'politeness',
  tenants: TENANTS,
  stub: { delayMs: DELAY_MS },
  env: { SERVER_MAX_IN_FLIGHT: String(LIMIT), SERVER_RATE_PER_S: '10000' },
  timeoutMs: 85_000,
});
const requestsSeen = Object.values(run.stats.counts).reduce((a, b) => a + b, 0);
// With 4 in flight and DELAY_MS per request, no fleet can beat requests x DELAY_MS / 4.
const floorSeconds = (requestsSeen * DELAY_MS) / 1000 / LIMIT;
const result = {
  tenants: TENANTS,
  stubDelayMs: DELAY_MS,
  serverMaxInFlight: LIMIT,
  workerProcesses: 2,
  concurrencyPerWorker: 32,
  completed: run.completed,
  failed: run.failed,
  drained: run.drained,
  drainSeconds: round(run.seconds, 2),
  floorSeconds: round(floorSeconds, 2),
  drainVsFloor: round(run.seconds / floorSeconds, 2),
  maxInFlightSeen: run.stats.maxInFlight,
  stubRequests: run.stats.counts,
  target: 'max in flight <= 4, zero failed',
  met: run.stats.maxInFlight <= LIMIT && run.drained && run.failed === 0,
};
writeResult('politeness', result);
console.log(
  `politeness: max in flight ${run.stats.maxInFlight} (limit ${LIMIT}), ${run.completed}/${TENANTS} completed, ${run.failed} failed, drain ${result.drainSeconds} s (floor ${result.floorSeconds} s) ${result.met ? 'MET' : 'MISSED'}`,
);
process.exit(0);
