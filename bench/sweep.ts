// sweep: the rotation sweep over N registrations (default 100,000), all due, through the real registry
// and producer (validation, deduplication lookups, addBulk, registry records): how long it takes and
// how much the heap grows while it runs (live heap after a GC every 20 pages; peak sampled every 100 ms).
// Run with: node --expose-gc --import tsx bench/sweep.ts Issue 5: "100,000 registrations swept
// without loading them all into memory at once". Env: N (default 100000), PAGE (default 500).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/index.js';
import { sweepDueRegistrations } from '../src/provisioning/index.js';
import {
  producerSettingsFromConfig,
  REGISTRATION_QUEUE,
  RegistrationProducer,
  registrationKey,
} from '../src/queue/index.js';
import { RegistrationRegistry } from '../src/registry/index.js';
import type { SecretStore } from '../src/secrets/index.js';
import { benchPrefix, deleteKeys, REDIS_URL, round, writeResult } from './lib/common.js';

const N = Number(process.env.N ?? '100000');
const PAGE = Number(process.env.PAGE ?? '500');
const prefix = benchPrefix('sweep');
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix });
const registry = new RegistrationRegistry({ redis, prefix });
// Rotation requests carry no initial access token here, so the producer never writes a secret.
const noSecretStore = {} as SecretStore;
const producer = new RegistrationProducer({
  queue,
  secretStore: noSecretStore,
  registry,
  ...producerSettingsFromConfig(loadConfig({ SECRET_NAME_PREFIX: `${prefix}/` })),
});
const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);

try {
  // Fill the registry: N registrations whose secrets expire within the next day.
  const now = Math.floor(Date.now() / 1000);
  const fillStarted = performance.now();
  for (let i = 0; i < N; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, N - i) }, (_, j) =>
        registry.recordStored(registrationKey(`t-${i + j}`, `https://ehr-${(i + j) % 50}.example/fhir`), {
          tenantId: `t-${i + j}`,
          fhirBaseUrl: `https://ehr-${(i + j) % 50}.example/fhir`,
          clientId: `c-${i + j}`,
          secretId: `${prefix}/t-${i + j}/ehr.example_fhir`,
          secretVersionId: 'v1',
          registeredAt: new Date(Date.now() - 86_400_000).toISOString(),
          clientSecretExpiresAt: now + 3600 + ((i + j) % 80_000),
          managed: true,
        }),
      ),
    );
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;

  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 100);
  const started = performance.now();
  // Live heap: after a full GC every 20 pages (needs --expose-gc), so garbage not yet collected does not
  // count as memory the sweep holds.
  let pages = 0;
  let liveHeapMax = 0;
  const outcome = await sweepDueRegistrations(
    { registry, enqueueRotations: (requests) => producer.enqueueRotations(requests) },
    { rotateBeforeExpirySeconds: 7 * 86_400, pageSize: PAGE },
    () => {
      if (++pages % 20 !== 0 || !global.gc) return;
      global.gc();
      liveHeapMax = Math.max(liveHeapMax, process.memoryUsage().heapUsed);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  const queued = await queue.getPrioritizedCount();

  const result = {
    n: N,
    pageSize: PAGE,
    fillSeconds: round(fillSeconds, 1),
    sweep: { ...outcome, seconds: round(seconds, 1), perSecond: round(outcome.due / seconds, 0) },
    jobsQueued: queued,
    heapMB: { before: mb(heapBefore), peak: mb(heapPeak), liveMax: mb(liveHeapMax) },
  };
  writeResult('sweep', result);
  console.log(
    `sweep: ${outcome.due} due of ${N}, ${outcome.queued} queued in ${round(seconds, 1)} s ` +
      `(${round(outcome.due / seconds, 0)}/s); heap ${mb(heapBefore)} MB before, live max ${mb(liveHeapMax)} MB, peak ${mb(heapPeak)} MB`,
  );
} finally {
  await queue.close();
  redis.disconnect();
  await deleteKeys(prefix);
}
