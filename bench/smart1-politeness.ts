// smart1-politeness: TENANTS tenants on one SMART 1.0 stub server (separate process, answering in
// STUB_DELAY_MS: well-known 404, CapabilityStatement, POST) at the product's default politeness limits
// (SERVER_MAX_IN_FLIGHT=4, SERVER_RATE_PER_S=5), discovery cache off so that every job makes all three
// requests to the one host; two real worker processes at concurrency 32. Measures whether the backlog
// drains (issue 11: before, the second GET of an attempt was refused a rate slot and the attempt started
// over — a livelock), how many requests of each kind the server saw per tenant, and the drain against the
// rate floor (requests / 5 per second). Env: TENANTS (default 50), STUB_DELAY_MS (default 20), LIMIT_S
// (default 120).
import { round, writeResult } from './lib/common.js';
import { drainOneServer } from './lib/one-server-drain.js';

const TENANTS = Number(process.env.TENANTS ?? '50');
const DELAY_MS = Number(process.env.STUB_DELAY_MS ?? '20');
const LIMIT_S = Number(process.env.LIMIT_S ?? '120');
const RATE = 5;
const run = await drainOneServer({
  name: 'smart1-politeness',
  tenants: TENANTS,
  stub: { delayMs: DELAY_MS, smart1: true },
  env: { SERVER_MAX_IN_FLIGHT: '4', SERVER_RATE_PER_S: String(RATE), DISCOVERY_CACHE_TTL_S: '0' },
  timeoutMs: LIMIT_S * 1000,
});
const perPath = (suffix: string) =>
  Object.entries(run.stats.counts)
    .filter(([key]) => key.endsWith(suffix))
    .reduce((sum, [, n]) => sum + n, 0);
const wellKnown = perPath('/.well-known/smart-configuration');
const metadata = perPath('/metadata');
const floorSeconds = (3 * TENANTS - 1) / RATE;
const result = {
  tenants: TENANTS,
  stubDelayMs: DELAY_MS,
  serverMaxInFlight: 4,
  serverRatePerS: RATE,
  workerProcesses: 2,
  completed: run.completed,
  failed: run.failed,
  drained: run.drained,
  drainSeconds: round(run.seconds, 2),
  floorSeconds: round(floorSeconds, 2),
  drainVsFloor: round(run.seconds / floorSeconds, 2),
  wellKnownGetsPerTenant: round(wellKnown / TENANTS, 2),
  metadataGetsPerTenant: round(metadata / TENANTS, 2),
  postsPerTenant: round(perPath('/register') / TENANTS, 2),
  target: 'every tenant registered, one well-known GET and one metadata GET per tenant',
  met: run.drained && run.failed === 0 && wellKnown === TENANTS && metadata === TENANTS,
};
writeResult('smart1-politeness', result);
console.log(
  `smart1-politeness: ${run.completed}/${TENANTS} completed, ${run.failed} failed in ${result.drainSeconds} s (rate floor ${result.floorSeconds} s); per tenant ${result.wellKnownGetsPerTenant} well-known GETs, ${result.metadataGetsPerTenant} metadata GETs, ${result.postsPerTenant} POSTs ${result.met ? 'MET' : 'MISSED'}`,
);
process.exit(0);
