// The rotation sweep and its job scheduler, against real Redis, moto and oidc-provider. Time is
// controlled by the sweep's injected clock and by servers whose secrets expire soon or late.

import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepRegistrationsProcessor } from '../../../jobs/sweep-registrations.js';
import { confidentialSymmetricMetadata } from '../../../src/dcr/index.js';
import { MAX_REFUSAL_EXAMPLES, sweepDueRegistrations } from '../../../src/provisioning/index.js';
import {
  JOB_NAMES,
  type RedisConnection,
  ROTATION_SWEEP_SCHEDULER,
  registrationKey,
  upsertRotationSweep,
} from '../../../src/queue/index.js';
import { RegistrationRegistry } from '../../../src/registry/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { keysMatching, testQueuePrefix, testRedis } from '../../support/redis.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';

let pipeline: Pipeline;
/** For the registries of their own that some tests build. */
let redis: RedisConnection;
let expiresSoon: SmartServer;
let expiresLate: SmartServer;
let neverExpires: SmartServer;
const DAY_S = 86_400;
const WEEK_S = 7 * DAY_S;

beforeAll(async () => {
  redis = testRedis();
  [pipeline, expiresSoon, expiresLate, neverExpires] = await Promise.all([
    startPipeline('sweep', { ROTATE_BEFORE_EXPIRY: '7d' }),
    startSmartServer({ secretExpiresInSeconds: 5 }),
    startSmartServer({ secretExpiresInSeconds: 30 * DAY_S }),
    startSmartServer(),
  ]);
});
afterAll(async () => {
  redis.disconnect();
  await pipeline.close();
  await Promise.all([expiresSoon.close(), expiresLate.close(), neverExpires.close()]);
});

async function until(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const metadata = (name: string) =>
  confidentialSymmetricMetadata({ clientName: name, redirectUris: ['https://app.example/callback'] });

/** Registers through a short-lived worker, so the sweeps below see queued jobs stay queued. */
async function registerAll(requests: Array<Record<string, unknown>>): Promise<void> {
  const worker = await pipeline.startWorker();
  try {
    const results = await pipeline.producer.enqueueMany(requests);
    const jobs = await Promise.all(results.map((r) => pipeline.waitForJob((r as { jobId: string }).jobId)));
    expect(jobs.map((job) => job.state)).toEqual(requests.map(() => 'completed'));
  } finally {
    await worker.close();
  }
}

function sweepAt(now: Date, enqueued: Array<Record<string, unknown>>, rotateBeforeExpirySeconds = WEEK_S) {
  return sweepDueRegistrations(
    {
      registry: pipeline.registry,
      enqueueRotations: (requests) => {
        enqueued.push(...requests);
        return pipeline.producer.enqueueRotations(requests);
      },
      now: () => now,
    },
    { rotateBeforeExpirySeconds },
  );
}

describe('rotation sweep', () => {
  it('enqueues only the registrations due by expiry or by rotation period, deduplicated', async () => {
    await registerAll([
      { tenantId: 'soon', fhirBaseUrl: expiresSoon.fhirBaseUrl, clientMetadata: metadata('soon') },
      { tenantId: 'late', fhirBaseUrl: expiresLate.fhirBaseUrl, clientMetadata: metadata('late') },
      { tenantId: 'never', fhirBaseUrl: neverExpires.fhirBaseUrl, clientMetadata: metadata('never') },
      {
        tenantId: 'monthly',
        fhirBaseUrl: neverExpires.fhirBaseUrl,
        clientMetadata: metadata('monthly'),
        rotation: { periodDays: 30 },
      },
    ]);

    // 3 s on: only the secret expiring within ROTATE_BEFORE_EXPIRY (7 days) is due; half of its 5 s
    // life has passed.
    const first: Array<Record<string, unknown>> = [];
    const soon = new Date(Date.now() + 3000);
    expect(await sweepAt(soon, first)).toEqual({ due: 1, queued: 1, alreadyQueued: 0, refused: 0 });
    expect(first).toEqual([{ tenantId: 'soon', fhirBaseUrl: expiresSoon.fhirBaseUrl, reason: 'scheduled' }]);

    // A secret is never rotated before half its life: 10 days into 30, a 21-day window does not take it.
    const halfLife: Array<Record<string, unknown>> = [];
    await sweepAt(new Date(Date.now() + 10 * DAY_S * 1000), halfLife, 21 * DAY_S);
    expect(halfLife.map((r) => r.tenantId)).toEqual(['soon']);

    // 25 days on, the 30-day secret is within a week of expiring; the 30-day period has not run out.
    const second: Array<Record<string, unknown>> = [];
    const later = new Date(Date.now() + 25 * DAY_S * 1000);
    expect(await sweepAt(later, second)).toEqual({ due: 2, queued: 1, alreadyQueued: 1, refused: 0 });
    expect(second.map((r) => r.tenantId).sort()).toEqual(['late', 'soon']);

    // 31 days on, the monthly tenant's period has run out too; the never-expiring one is never due.
    const third: Array<Record<string, unknown>> = [];
    const monthLater = new Date(Date.now() + 31 * DAY_S * 1000);
    expect(await sweepAt(monthLater, third)).toMatchObject({ due: 3, queued: 1, alreadyQueued: 2 });
    expect(third.map((r) => r.tenantId).sort()).toEqual(['late', 'monthly', 'soon']);

    // Scheduled rotations wait behind asked-for work: prioritized, not plain waiting.
    expect(await pipeline.queue.getWaitingCount()).toBe(0);
    const waiting = await pipeline.queue.getJobs(['prioritized']);
    expect(waiting.map((job) => [job.name, job.data.tenantId, job.data.reason]).sort()).toEqual([
      [JOB_NAMES.rotateClient, 'late', 'scheduled'],
      [JOB_NAMES.rotateClient, 'monthly', 'scheduled'],
      [JOB_NAMES.rotateClient, 'soon', 'scheduled'],
    ]);
  });

  it('leaves exactly one scheduler however often it is upserted, with the latest pattern', async () => {
    await upsertRotationSweep(pipeline.queue, '0 * * * *');
    await upsertRotationSweep(pipeline.queue, '0 * * * *');
    // Every worker upserts it at start.
    const workers = await Promise.all([pipeline.startWorker(), pipeline.startWorker()]);
    await Promise.all(workers.map((w) => w.close()));
    let schedulers = await pipeline.queue.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]).toMatchObject({
      key: ROTATION_SWEEP_SCHEDULER,
      name: JOB_NAMES.sweepRegistrations,
      pattern: pipeline.config.ROTATION_SWEEP_CRON,
    });

    await upsertRotationSweep(pipeline.queue, '*/15 * * * *');
    schedulers = await pipeline.queue.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]?.pattern).toBe('*/15 * * * *');

    // ROTATION_SWEEP_CRON reaches the scheduler, and its jobs reach the sweep: every second here.
    const worker = await pipeline.startWorker({}, { ROTATION_SWEEP_CRON: '* * * * * *' });
    try {
      const deadline = Date.now() + 10_000;
      let sweeps: Awaited<ReturnType<typeof pipeline.queue.getJobs>> = [];
      while (sweeps.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        sweeps = (await pipeline.queue.getJobs(['completed'])).filter(
          (job) => job.name === JOB_NAMES.sweepRegistrations && job.repeatJobKey === ROTATION_SWEEP_SCHEDULER,
        );
      }
      expect(sweeps.length).toBeGreaterThan(0);
      expect(sweeps[0]?.returnvalue).toMatchObject({ refused: 0 });
    } finally {
      await worker.close();
      await upsertRotationSweep(pipeline.queue, '0 * * * *');
    }
    expect(await pipeline.queue.getJobSchedulers()).toHaveLength(1);
  });

  it('pages through a large registry a page at a time and drops entries whose record is gone', async () => {
    const registry = new RegistrationRegistry({
      redis,
      prefix: testQueuePrefix('sweep-paging'),
    });
    const count = 2_500;
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < count; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, count - i) }, (_, j) =>
          registry.recordStored(`key-${i + j}`, {
            tenantId: `t-${i + j}`,
            fhirBaseUrl: 'https://ehr.example/fhir',
            clientId: `c-${i + j}`,
            secretId: `dcr/t-${i + j}/ehr.example_fhir`,
            secretVersionId: 'v1',
            registeredAt: new Date(Date.now() - DAY_S * 1000).toISOString(),
            clientSecretExpiresAt: now + 60 + (i + j),
            managed: true,
          }),
        ),
      );
    }
    await redis.del(`${testQueuePrefix('sweep-paging')}:registration:key-7`);

    const pageSizes: number[] = [];
    const seen = new Set<string>();
    const outcome = await sweepDueRegistrations(
      {
        registry,
        enqueueRotations: async (requests) => {
          pageSizes.push(requests.length);
          for (const r of requests) seen.add(String(r.tenantId));
          return requests.map(() => ({ status: 'queued' as const, jobId: 'x' }));
        },
      },
      { rotateBeforeExpirySeconds: WEEK_S, pageSize: 100 },
    );
    expect(outcome).toEqual({ due: count - 1, queued: count - 1, alreadyQueued: 0, refused: 0 });
    expect(seen.size).toBe(count - 1);
    expect(seen.has('t-7')).toBe(false);
    expect(Math.max(...pageSizes)).toBeLessThanOrEqual(100);
    expect(await redis.zscore(`${testQueuePrefix('sweep-paging')}:rotation:expiry`, 'key-7')).toBeNull();
  });
  it('logs the refusals of a sweep in one line: the count, the counts by reason and the first examples', async () => {
    const registry = new RegistrationRegistry({
      redis,
      prefix: testQueuePrefix('sweep-refusals'),
    });
    // As after ALLOW_INSECURE_LOCALHOST was turned off: 1,200 stored plain-http URLs the rules now
    // refuse, over three pages, and 5 registrations the producer's registry does not know.
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const stored = (i: number, fhirBaseUrl: string) =>
      registry.recordStored(`r-${i}`, {
        tenantId: `r-${i}`,
        fhirBaseUrl,
        clientId: `c-${i}`,
        secretId: `dcr/r-${i}/ehr.example_fhir`,
        secretVersionId: 'v1',
        registeredAt: new Date(Date.now() - DAY_S * 1000).toISOString(),
        clientSecretExpiresAt: expiresAt + i,
        managed: true,
      });
    for (let i = 0; i < 1200; i += 300)
      await Promise.all(
        Array.from({ length: 300 }, (_, j) => stored(i + j, `http://ehr.example/fhir/r-${i + j}`)),
      );
    await Promise.all(
      Array.from({ length: 5 }, (_, j) => stored(1200 + j, `https://ehr.example/fhir/r-${1200 + j}`)),
    );

    const lines: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = [];
    const sweep = sweepRegistrationsProcessor(
      { registry, enqueueRotations: (requests) => pipeline.producer.enqueueRotations(requests) },
      { rotateBeforeExpirySeconds: WEEK_S },
      { warn: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }) },
    );
    const job = { id: 'sweep-refusals', updateProgress: async () => {} } as unknown as Job;
    const outcome = await sweep(job, 'token');

    expect(outcome).toEqual({ due: 1205, queued: 0, alreadyQueued: 0, refused: 1205 });
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line?.obj).toMatchObject({
      jobId: 'sweep-refusals',
      refused: 1205,
      byReason: { 'invalid fhirBaseUrl': 1200, not_found: 5 },
    });
    expect(line?.msg).toContain('1205 due rotations not enqueued');
    expect(line?.msg).toContain('1200 invalid fhirBaseUrl');
    const examples = line?.obj.examples as string[];
    expect(examples).toHaveLength(MAX_REFUSAL_EXAMPLES);
    for (const example of examples) {
      expect(example).toMatch(
        /^r-\d+ http:\/\/ehr\.example\/fhir\/r-\d+: fhirBaseUrl must be an absolute https URL/,
      );
    }
  });
});

describe('registry paging and backoff', () => {
  const DAY_AGO = () => new Date(Date.now() - DAY_S * 1000).toISOString();
  const facts = (i: number, expiresAt: number) => ({
    tenantId: `t-${i}`,
    fhirBaseUrl: 'https://ehr.example/fhir',
    clientId: `c-${i}`,
    secretId: `dcr/t-${i}/ehr.example_fhir`,
    secretVersionId: 'v1',
    registeredAt: DAY_AGO(),
    clientSecretExpiresAt: expiresAt,
    managed: true,
  });

  it('sees every due registration once, with ties on one second and rotations finishing meanwhile', async () => {
    const registry = new RegistrationRegistry({
      redis,
      prefix: testQueuePrefix('sweep-ties'),
    });
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    // 1,000 secrets: 700 expire in the same second, the rest one second apart.
    for (let i = 0; i < 1000; i += 250)
      await Promise.all(
        Array.from({ length: 250 }, (_, j) =>
          registry.recordStored(`k-${i + j}`, facts(i + j, i + j < 700 ? expiresAt : expiresAt + i + j)),
        ),
      );

    const seen: string[] = [];
    for await (const page of registry.due({
      now: new Date(),
      rotateBeforeExpirySeconds: WEEK_S,
      pageSize: 64,
    })) {
      seen.push(...page.map((due) => due.tenantId));
      // Each page's rotations finish before the next page is read: their expiry moves out of range.
      await Promise.all(
        page.map((due) =>
          registry.recordStored(due.key, facts(Number(due.tenantId.slice(2)), expiresAt + 30 * DAY_S)),
        ),
      );
    }
    expect(seen).toHaveLength(1000);
    expect(new Set(seen).size).toBe(1000);
    // The sweep's snapshot of due members is gone once it is done.
    expect(await keysMatching(redis, `${testQueuePrefix('sweep-ties')}:rotation:snapshot:*`)).toEqual([]);
  });

  it('backs off from a registration whose rotation keeps failing, and forgets it once one succeeds', async () => {
    const registry = new RegistrationRegistry({
      redis,
      prefix: testQueuePrefix('sweep-backoff'),
    });
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    await registry.recordStored('failing', facts(1, expiresAt));
    const dueAt = async (offsetMs: number) => {
      const found: string[] = [];
      for await (const page of registry.due({
        now: new Date(Date.now() + offsetMs),
        rotateBeforeExpirySeconds: WEEK_S,
      }))
        found.push(...page.map((due) => due.key));
      return found;
    };
    expect(await dueAt(0)).toEqual(['failing']);

    const first = await registry.recordRotationFailure('failing');
    expect(first.failures).toBe(1);
    expect(await dueAt(0)).toEqual([]);
    expect(await dueAt(61 * 60_000)).toEqual(['failing']);
    const second = await registry.recordRotationFailure('failing');
    expect(second.retryAt.getTime() - Date.now()).toBeGreaterThan(119 * 60_000);
    for (let i = 0; i < 10; i++) await registry.recordRotationFailure('failing');
    // Never more than a day apart.
    expect(await dueAt(DAY_S * 1000 + 60_000)).toEqual(['failing']);

    await registry.recordStored('failing', facts(1, expiresAt));
    expect(await dueAt(0)).toEqual(['failing']);
    expect(await registry.get('failing')).not.toHaveProperty('rotationFailures');
  });
});

describe('rotation sweep as the scheduled job', () => {
  // A pipeline of its own: nothing queued or rotated before this test, so what is queued and rotated
  // here is the sweep job's doing.
  let own: Pipeline;
  let shortLived: SmartServer;
  beforeAll(async () => {
    [own, shortLived] = await Promise.all([
      // The scheduler's own sweeps only on 1 January: the one sweep here is the job the test adds.
      startPipeline('sweep-job', { ROTATE_BEFORE_EXPIRY: '7d', ROTATION_SWEEP_CRON: '0 0 1 1 *' }),
      // Past half its life a second after registration, and within a week of expiring: due.
      startSmartServer({ secretExpiresInSeconds: 2 }),
    ]);
  });
  afterAll(async () => {
    await own.close();
    await shortLived.close();
  });

  const rotateJobs = async () =>
    (await own.queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'])).filter(
      (job) => job.name === JOB_NAMES.rotateClient,
    );

  it('a worker sweeps, and the rotations it queued are the due ones, performed, their expiry moved on', async () => {
    const worker = await own.startWorker();
    try {
      const requests = [
        { tenantId: 'soon', fhirBaseUrl: shortLived.fhirBaseUrl, clientMetadata: metadata('soon') },
        { tenantId: 'late', fhirBaseUrl: expiresLate.fhirBaseUrl, clientMetadata: metadata('late') },
        { tenantId: 'never', fhirBaseUrl: neverExpires.fhirBaseUrl, clientMetadata: metadata('never') },
      ];
      const results = await own.producer.enqueueMany(requests);
      const jobs = await Promise.all(results.map((r) => own.waitForJob((r as { jobId: string }).jobId)));
      expect(jobs.map((job) => job.state)).toEqual(['completed', 'completed', 'completed']);
      const soonKey = registrationKey('soon', shortLived.fhirBaseUrl);
      const before = await own.registry.get(soonKey);
      // Nothing is queued for rotation yet, and 'soon' becomes due once half its 2 s life has passed.
      expect(await rotateJobs()).toEqual([]);
      await until(async () => {
        for await (const page of own.registry.due({ now: new Date(), rotateBeforeExpirySeconds: WEEK_S }))
          if (page.some((due) => due.tenantId === 'soon')) return true;
        return false;
      });

      const sweep = await own.queue.add(JOB_NAMES.sweepRegistrations, {});
      const swept = await own.waitForJob(sweep.id as string);
      expect(swept.state).toBe('completed');
      expect(swept.returnvalue).toEqual({ due: 1, queued: 1, alreadyQueued: 0, refused: 0 });

      // The sweep queued exactly one rotation, for the due tenant, and a worker performed it.
      const queued = await rotateJobs();
      expect(queued.map((job) => [job.data.tenantId, job.data.reason])).toEqual([['soon', 'scheduled']]);
      expect((await own.waitForJob(queued[0]?.id as string)).state).toBe('completed');
      const rotated = (await own.events()).filter((e) => e.type === 'client.rotated');
      expect(rotated.map((e) => [e.data.tenantId, e.data.reason])).toEqual([['soon', 'scheduled']]);

      // Its record now holds the rotated secret, expiring later than the one it replaced.
      const after = await own.registry.get(soonKey);
      expect(after?.rotatedAt).toBeDefined();
      expect(after?.secretVersionId).not.toBe(before?.secretVersionId);
      expect(after?.clientSecretExpiresAt as number).toBeGreaterThan(before?.clientSecretExpiresAt as number);
      const stored = await own.secretStore.readCurrent(after?.secretId as string);
      expect(stored?.versionId).toBe(after?.secretVersionId);
    } finally {
      await worker.close();
    }
  });
});
