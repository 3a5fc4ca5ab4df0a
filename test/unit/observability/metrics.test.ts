// The series exist under their documented names with exactly the documented labels, the observer and
// the secret-store decorator feed them, and counting the queue never breaks a scrape.

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { failureCodes, ProvisioningError } from '../../../src/failures/index.js';
import {
  createMetrics,
  createProvisioningObserver,
  instrumentSecretStore,
  type JobCountsSource,
  OUTCOME_MESSAGES,
} from '../../../src/observability/index.js';
import type { SecretStore } from '../../../src/secrets/index.js';

/** The contract of README "Metrics": series name, type and label names. */
const DOCUMENTED = {
  dcr_jobs_finished_total: { type: 'counter', labels: ['code', 'outcome'] },
  dcr_job_attempts: { type: 'histogram', labels: ['outcome'] },
  dcr_job_duration_seconds: { type: 'histogram', labels: ['outcome'] },
  dcr_discovery_duration_seconds: { type: 'histogram', labels: ['cache'] },
  dcr_discovery_cache_total: { type: 'counter', labels: ['result'] },
  dcr_registration_request_duration_seconds: { type: 'histogram', labels: ['outcome'] },
  dcr_secret_write_duration_seconds: { type: 'histogram', labels: ['outcome'] },
  dcr_secret_store_calls_total: { type: 'counter', labels: ['operation', 'outcome'] },
  dcr_queue_jobs: { type: 'gauge', labels: ['state'] },
  dcr_jobs_delayed_total: { type: 'counter', labels: ['reason'] },
  dcr_jobs_server_wait_exceeded_total: { type: 'counter', labels: ['reason'] },
  dcr_server_breakers_open: { type: 'gauge', labels: [] },
  dcr_secret_write_wait_seconds: { type: 'histogram', labels: [] },
  dcr_registrations_unverified_total: { type: 'counter', labels: ['code', 'job'] },
  dcr_jwks_requests_total: { type: 'counter', labels: ['outcome'] },
} as const;

async function series(registry: Registry) {
  const json = await registry.getMetricsAsJSON();
  return new Map(json.map((m) => [m.name, m]));
}

/** Label names a metric's values use, `le` (histogram buckets) aside. */
function labelNames(metric: { values: Array<{ labels: Record<string, unknown> }> }): string[] {
  const names = new Set(metric.values.flatMap((v) => Object.keys(v.labels)).filter((n) => n !== 'le'));
  return [...names].sort();
}

function queueAnswering(answer: () => Promise<Record<string, number>>): JobCountsSource {
  return { getJobCounts: () => answer() };
}

describe('observability/metrics', () => {
  it('registers every documented dcr_ series with its labels, and no other', async () => {
    const registry = new Registry();
    createMetrics({ registry, queue: queueAnswering(async () => ({ waiting: 3, completed: 1 })) });
    const all = await series(registry);
    const ours = [...all.keys()].filter((name) => name.startsWith('dcr_')).sort();
    expect(ours).toEqual(Object.keys(DOCUMENTED).sort());
    for (const [name, { type, labels }] of Object.entries(DOCUMENTED)) {
      const metric = all.get(name);
      expect(metric?.type, name).toBe(type);
      expect(labelNames(metric as never), name).toEqual([...labels].sort());
    }
  });

  it('starts every outcome and failure code at zero, "none" being the code of a completed job', async () => {
    const registry = new Registry();
    createMetrics({ registry });
    const text = await registry.metrics();
    expect(text).toContain('dcr_jobs_finished_total{outcome="completed",code="none"} 0');
    for (const code of failureCodes)
      expect(text).toContain(`dcr_jobs_finished_total{outcome="failed",code="${code}"} 0`);
    expect(text).toContain('dcr_jobs_finished_total{outcome="retry",code="server_error"} 0');
    expect(text).not.toContain('dcr_jobs_finished_total{outcome="retry",code="invalid_job"}');
    expect(text).toContain('dcr_discovery_cache_total{result="hit"} 0');
    expect(text).toContain('dcr_secret_write_duration_seconds_count{outcome="failure"} 0');
  });

  it('adds the default process metrics once, and hands a second caller the same instruments', async () => {
    const registry = new Registry();
    const first = createMetrics({ registry });
    const second = createMetrics({ registry });
    expect(second).toBe(first);
    expect(await registry.metrics()).toContain('process_cpu_user_seconds_total');
    expect(await registry.metrics()).toContain('nodejs_eventloop_lag_seconds');
  });

  it('counts the queue by state at scrape time', async () => {
    const registry = new Registry();
    createMetrics({ registry, queue: queueAnswering(async () => ({ waiting: 3, active: 2, completed: 7 })) });
    const text = await registry.metrics();
    expect(text).toContain('dcr_queue_jobs{state="waiting"} 3');
    expect(text).toContain('dcr_queue_jobs{state="active"} 2');
    expect(text).toContain('dcr_queue_jobs{state="completed"} 7');
    expect(text).toContain('dcr_queue_jobs{state="failed"} 0');
  });

  it('keeps the last queue counts and logs when Redis fails or does not answer, and the scrape still works', async () => {
    const registry = new Registry();
    const warnings: string[] = [];
    let answer: () => Promise<Record<string, number>> = async () => ({ waiting: 5 });
    createMetrics({
      registry,
      queue: { getJobCounts: () => answer() },
      logger: { warn: (_fields, msg) => warnings.push(msg ?? '') },
      queueCountTimeoutMs: 50,
    });
    expect(await registry.metrics()).toContain('dcr_queue_jobs{state="waiting"} 5');

    answer = async () => {
      throw new Error('Connection is closed.');
    };
    expect(await registry.metrics()).toContain('dcr_queue_jobs{state="waiting"} 5');
    answer = () => new Promise(() => {});
    expect(await registry.metrics()).toContain('dcr_queue_jobs{state="waiting"} 5');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/could not count the registration queue/);
  });
});

describe('observability/createProvisioningObserver', () => {
  function observed() {
    const registry = new Registry();
    const metrics = createMetrics({ registry });
    const lines: Array<{ level: string; fields: Record<string, unknown>; msg?: string }> = [];
    const logAt = (level: string) => (fields: object, msg?: string) =>
      lines.push({ level, fields: fields as Record<string, unknown>, ...(msg ? { msg } : {}) });
    const logger = { info: logAt('info'), warn: logAt('warn'), error: logAt('error'), debug: logAt('debug') };
    return { registry, observer: createProvisioningObserver({ metrics, logger }), lines };
  }

  it('turns phases into histogram observations and cache counts', async () => {
    const { registry, observer } = observed();
    observer.discovery(120, false);
    observer.discovery(2, true);
    observer.registrationRequest(300, 'success');
    observer.secretWrite(40, 'failure');
    const text = await registry.metrics();
    expect(text).toContain('dcr_discovery_duration_seconds_count{cache="miss"} 1');
    expect(text).toContain('dcr_discovery_duration_seconds_sum{cache="miss"} 0.12');
    expect(text).toContain('dcr_discovery_cache_total{result="hit"} 1');
    expect(text).toContain('dcr_registration_request_duration_seconds_count{outcome="success"} 1');
    expect(text).toContain('dcr_secret_write_duration_seconds_count{outcome="failure"} 1');
  });

  it('logs exactly one line per job outcome, at a level matching its gravity, and counts it', async () => {
    const { registry, observer, lines } = observed();
    const base = { jobId: 'j1', attempt: 1, maxAttempts: 3, tenantId: 't1', serverHost: 'fhir.example:8443' };
    observer.jobFinished({
      ...base,
      outcome: 'retry',
      code: 'server_error',
      message: 'HTTP 503',
      durationMs: 12.4,
      phases: { registrationRequestMs: 10.2 },
    });
    observer.jobFinished({
      ...base,
      attempt: 2,
      outcome: 'completed',
      clientId: 'c-1',
      durationMs: 30.6,
      phases: { discoveryMs: 1.2, cacheHit: true, registrationRequestMs: 20, secretWriteMs: 5 },
    });
    observer.jobFinished({
      ...base,
      jobId: 'j2',
      outcome: 'failed',
      code: 'invalid_redirect_uri',
      message: 'nope',
      durationMs: 3,
      phases: {},
    });

    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', OUTCOME_MESSAGES.retry],
      ['info', OUTCOME_MESSAGES.completed],
      ['error', OUTCOME_MESSAGES.failed],
    ]);
    expect(lines[1]?.fields).toEqual({
      outcome: 'completed',
      job: 'registration',
      jobId: 'j1',
      tenantId: 't1',
      serverHost: 'fhir.example:8443',
      attempt: 2,
      maxAttempts: 3,
      clientId: 'c-1',
      durationMs: 31,
      discoveryMs: 1,
      cacheHit: true,
      registrationRequestMs: 20,
      secretWriteMs: 5,
    });
    expect(lines[2]?.fields).toMatchObject({
      outcome: 'failed',
      code: 'invalid_redirect_uri',
      reason: 'nope',
      durationMs: 3,
    });

    const text = await registry.metrics();
    expect(text).toContain('dcr_jobs_finished_total{outcome="retry",code="server_error"} 1');
    expect(text).toContain('dcr_jobs_finished_total{outcome="completed",code="none"} 1');
    expect(text).toContain('dcr_jobs_finished_total{outcome="failed",code="invalid_redirect_uri"} 1');
    // Attempts are observed once per job, when it is over.
    expect(text).toContain('dcr_job_attempts_count{outcome="completed"} 1');
    expect(text).toContain('dcr_job_attempts_sum{outcome="completed"} 2');
    expect(text).toContain('dcr_job_attempts_count{outcome="failed"} 1');
    expect(text).toContain('dcr_job_duration_seconds_count{outcome="retry"} 1');
  });
});

describe('observability/instrumentSecretStore', () => {
  it('counts each call by operation and outcome, the failure code being the outcome, and passes results through', async () => {
    const registry = new Registry();
    const metrics = createMetrics({ registry });
    let calls = 0;
    const store = {
      write: async () => ({ versionId: 'v1', created: true }),
      writePending: async () => ({ versionId: 'v2', created: false }),
      makeCurrent: async () => {},
      readCurrent: async () => {
        calls++;
        if (calls === 1) throw new ProvisioningError('secret_store_unavailable', 'throttled');
        if (calls === 2) throw new ProvisioningError('secret_store_rejected', 'access denied');
        throw new TypeError('adapter bug');
      },
      readPrevious: async () => undefined,
      readVersion: async () => undefined,
      list: async () => ({ names: [] }),
      readTags: async () => undefined,
      close: async () => {},
    } satisfies SecretStore;
    const counted = instrumentSecretStore(store, metrics);

    await expect(counted.write({ name: 'n', value: 'x', clientRequestToken: 't' })).resolves.toEqual({
      versionId: 'v1',
      created: true,
    });
    for (let i = 0; i < 3; i++) await expect(counted.readCurrent('n')).rejects.toThrow();
    await counted.list('dcr/');
    await counted.close();

    const text = await registry.metrics();
    expect(text).toContain('dcr_secret_store_calls_total{operation="write",outcome="success"} 1');
    expect(text).toContain(
      'dcr_secret_store_calls_total{operation="readCurrent",outcome="secret_store_unavailable"} 1',
    );
    expect(text).toContain(
      'dcr_secret_store_calls_total{operation="readCurrent",outcome="secret_store_rejected"} 1',
    );
    expect(text).toContain('dcr_secret_store_calls_total{operation="readCurrent",outcome="error"} 1');
    expect(text).toContain('dcr_secret_store_calls_total{operation="list",outcome="success"} 1');
  });
});
