// The Prometheus series of the product (README "Metrics"), on a registry the HTTP server serves at
// /metrics. Labels hold outcomes, failure codes, cache results, busy reasons and operation names only:
// never a tenant, URL, host or secret, so the series count stays fixed however many tenants and servers
// there are. Which server's breaker opened is in the logs, which may name hosts.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { FAILURE_CODES, type FailureCode, failureCodes, isFailureCode } from '../failures/index.js';
import { BUSY_REASONS } from '../limits/index.js';
import { JOB_OUTCOMES, type JobOutcome, PHASE_OUTCOMES } from '../provisioning/index.js';
import type { Logger } from './logger.js';

/** The `code` label of a completed job: a value no failure code can take, visible in queries. */
export const SUCCESS_CODE = 'none';

/** The `outcome` label of a secret-store call that succeeded; failed ones carry their failure code. */
export const SECRET_STORE_SUCCESS = 'success';

/** The `outcome` of a secret-store call whose adapter threw something other than a ProvisioningError. */
export const SECRET_STORE_UNEXPECTED = 'error';

/** BullMQ's job states, each a `state` of dcr_queue_jobs. */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** The SecretStore methods counted by dcr_secret_store_calls_total (`close` is not a call to the store). */
export const SECRET_STORE_OPERATIONS = [
  'write',
  'writePending',
  'makeCurrent',
  'readCurrent',
  'readPrevious',
  'readVersion',
  'list',
  'readTags',
] as const;
export type SecretStoreOperation = (typeof SECRET_STORE_OPERATIONS)[number];

/** Waits for a turn of the secret write budget: none at all, up to its 30 s bound. */
const WAIT_BUCKETS_SECONDS = [0.001, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Outbound phases: from a cached lookup (milliseconds) to a request near HTTP_TIMEOUT_MS. */
const PHASE_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A whole attempt: its phases plus Redis round trips and in-process secret-write retries. */
const JOB_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** JOB_ATTEMPTS is at most 100. */
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100];

/** What dcr_queue_jobs reads on each scrape; a BullMQ `Queue` is one. */
export interface JobCountsSource {
  getJobCounts(...states: QueueState[]): Promise<Record<string, number>>;
}

/** What dcr_server_breakers_open reads on each scrape; the RedisServerLimiter is one. */
export interface OpenBreakersSource {
  countOpenBreakers(): Promise<number>;
}

export interface CreateMetricsOptions {
  /**
   * Where the series are registered; share one between the worker and the HTTP server of a process.
   * @defaultValue a new Registry (never prom-client's global one, so tests and embedders stay isolated)
   */
  registry?: Registry;
  /** The registration queue, counted by state on each scrape; without it dcr_queue_jobs stays empty. */
  queue?: JobCountsSource;
  /** The fleet's circuit breakers, counted on each scrape; without it dcr_server_breakers_open stays 0. */
  breakers?: OpenBreakersSource;
  /** Told when the queue or the breakers cannot be counted (Redis down); the scrape still succeeds. */
  logger?: Pick<Logger, 'warn'>;
  /**
   * How long a scrape waits for the queue counts. The worker's Redis connection queues commands while
   * Redis is down instead of failing them, which would otherwise hang the scrape. @defaultValue 2000
   */
  queueCountTimeoutMs?: number;
}

export interface Metrics {
  registry: Registry;
  /** dcr_jobs_finished_total{outcome, code}: attempts ended, by outcome and failure code. */
  jobsFinished: Counter<'outcome' | 'code'>;
  /** dcr_job_attempts{outcome}: attempts used by each job that finished for good. */
  jobAttempts: Histogram<'outcome'>;
  /** dcr_job_duration_seconds{outcome}: one attempt, start to outcome. */
  jobDuration: Histogram<'outcome'>;
  /** dcr_discovery_duration_seconds{cache}: one discovery lookup. */
  discoveryDuration: Histogram<'cache'>;
  /** dcr_discovery_cache_total{result}: discovery lookups by cache result. */
  discoveryCache: Counter<'result'>;
  /** dcr_registration_request_duration_seconds{outcome}: one registration POST. */
  registrationRequestDuration: Histogram<'outcome'>;
  /** dcr_secret_write_duration_seconds{outcome}: one credentials write. */
  secretWriteDuration: Histogram<'outcome'>;
  /** dcr_secret_store_calls_total{operation, outcome}: every secret-store call. */
  secretStoreCalls: Counter<'operation' | 'outcome'>;
  /** dcr_queue_jobs{state}: jobs in the registration queue, read on scrape. */
  queueJobs: Gauge<'state'>;
  /** dcr_jobs_delayed_total{reason}: jobs put off because their server had no room (no attempt spent). */
  jobsDelayed: Counter<'reason'>;
  /**
   * dcr_jobs_server_wait_exceeded_total{reason}: attempts spent (as rate_limited) because their server
   * had no room for them for longer than the wait bound: a backlog politeness cannot drain, or a server
   * that stays unavailable.
   */
  jobsServerWaitExceeded: Counter<'reason'>;
  /** dcr_server_breakers_open: servers whose breaker is open or half-open, fleet-wide, read on scrape. */
  serverBreakersOpen: Gauge;
  /** dcr_secret_write_wait_seconds: how far ahead each reserved secret write turn lay. */
  secretWriteWait: Histogram;
  /**
   * dcr_registrations_unverified_total{job, code}: jobs that completed with credentials the token
   * endpoint still refused after every verification try (`verified: false`), by the server's error code.
   */
  registrationsUnverified: Counter<'job' | 'code'>;
  /** dcr_jwks_requests_total{outcome}: fetches of the /jwks/... route (served, not_found, unavailable). */
  jwksRequests: Counter<'outcome'>;
}

/** How a request for a registration's published keys (/jwks/...) ended: dcr_jwks_requests_total's `outcome`. */
export const JWKS_REQUEST_OUTCOMES = ['served', 'not_found', 'unavailable'] as const;
export type JwksRequestOutcome = (typeof JWKS_REQUEST_OUTCOMES)[number];

// prom-client refuses a series name twice in one registry; a second createMetrics on the same registry
// (the worker and the server of one process) gets the instruments the first one made.
const created = new WeakMap<
  Registry,
  { metrics: Metrics; watch(sources: Pick<CreateMetricsOptions, 'queue' | 'breakers'>): void }
>();

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  const existing = created.get(registry);
  if (existing) {
    existing.watch(options);
    return existing.metrics;
  }

  let queue = options.queue;
  let breakers = options.breakers;
  const timeoutMs = options.queueCountTimeoutMs ?? 2000;
  const registers = [registry];

  const queueJobs: Gauge<'state'> = new Gauge({
    name: 'dcr_queue_jobs',
    help: 'Jobs in the registration queue by BullMQ state, read at scrape time.',
    labelNames: ['state'],
    registers,
    async collect() {
      if (!queue) return;
      try {
        const counts = await withTimeout(queue.getJobCounts(...QUEUE_STATES), timeoutMs);
        for (const state of QUEUE_STATES) queueJobs.set({ state }, counts[state] ?? 0);
      } catch (err) {
        // Keep the last values: a gap in the series is clearer than a false zero, and /metrics stays up.
        options.logger?.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'could not count the registration queue; dcr_queue_jobs keeps its last values',
        );
      }
    },
  });

  const serverBreakersOpen: Gauge = new Gauge({
    name: 'dcr_server_breakers_open',
    help: 'Authorization servers (hosts) whose circuit breaker is open or half-open, fleet-wide, read at scrape time.',
    registers,
    async collect() {
      if (!breakers) return;
      try {
        serverBreakersOpen.set(await withTimeout(breakers.countOpenBreakers(), timeoutMs));
      } catch (err) {
        options.logger?.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'could not count the open circuit breakers; dcr_server_breakers_open keeps its last value',
        );
      }
    },
  });

  const metrics: Metrics = {
    registry,
    registrationsUnverified: new Counter({
      name: 'dcr_registrations_unverified_total',
      help: 'Jobs that completed with stored credentials the token endpoint refused after every verification try (verified: false), by job kind and the error code the server gave.',
      labelNames: ['job', 'code'],
      registers,
    }),
    jwksRequests: new Counter({
      name: 'dcr_jwks_requests_total',
      help: 'Requests for the public keys of registrations published by jwks_uri (/jwks/...), by outcome: served, not_found, unavailable.',
      labelNames: ['outcome'],
      registers,
    }),
    jobsFinished: new Counter({
      name: 'dcr_jobs_finished_total',
      help: `Job attempts ended, by outcome (completed, failed, retry) and failure code ("${SUCCESS_CODE}" when completed).`,
      labelNames: ['outcome', 'code'],
      registers,
    }),
    jobAttempts: new Histogram({
      name: 'dcr_job_attempts',
      help: 'Attempts used by each job that finished for good, by outcome (completed, failed).',
      labelNames: ['outcome'],
      buckets: ATTEMPT_BUCKETS,
      registers,
    }),
    jobDuration: new Histogram({
      name: 'dcr_job_duration_seconds',
      help: 'Duration of one job attempt, by outcome (completed, failed, retry).',
      labelNames: ['outcome'],
      buckets: JOB_BUCKETS_SECONDS,
      registers,
    }),
    discoveryDuration: new Histogram({
      name: 'dcr_discovery_duration_seconds',
      help: 'Duration of one SMART discovery lookup, failed ones included, by cache result (hit, miss).',
      labelNames: ['cache'],
      buckets: PHASE_BUCKETS_SECONDS,
      registers,
    }),
    discoveryCache: new Counter({
      name: 'dcr_discovery_cache_total',
      help: 'SMART discovery lookups by cache result (hit, miss).',
      labelNames: ['result'],
      registers,
    }),
    registrationRequestDuration: new Histogram({
      name: 'dcr_registration_request_duration_seconds',
      help: 'Duration of one registration POST, by outcome (success: a 2xx answer; failure).',
      labelNames: ['outcome'],
      buckets: PHASE_BUCKETS_SECONDS,
      registers,
    }),
    secretWriteDuration: new Histogram({
      name: 'dcr_secret_write_duration_seconds',
      help: 'Duration of one credentials write to the secret store, by outcome (success, failure).',
      labelNames: ['outcome'],
      buckets: PHASE_BUCKETS_SECONDS,
      registers,
    }),
    secretStoreCalls: new Counter({
      name: 'dcr_secret_store_calls_total',
      help: `Secret-store calls by operation and outcome ("${SECRET_STORE_SUCCESS}", or the failure code).`,
      labelNames: ['operation', 'outcome'],
      registers,
    }),
    queueJobs,
    jobsDelayed: new Counter({
      name: 'dcr_jobs_delayed_total',
      help: 'Jobs put off without spending an attempt because their server had no room, by reason (in_flight, rate, breaker_open).',
      labelNames: ['reason'],
      registers,
    }),
    jobsServerWaitExceeded: new Counter({
      name: 'dcr_jobs_server_wait_exceeded_total',
      help: 'Attempts spent as rate_limited because their server had no room for them for longer than the wait bound (1 h), by the last refusal reason.',
      labelNames: ['reason'],
      registers,
    }),
    serverBreakersOpen,
    secretWriteWait: new Histogram({
      name: 'dcr_secret_write_wait_seconds',
      help: "Time each secret write waited for a turn of the fleet's secret write budget (SECRET_WRITES_PER_S).",
      buckets: WAIT_BUCKETS_SECONDS,
      registers,
    }),
  };
  zeroKnownSeries(metrics);

  // Process metrics (CPU, memory, event loop, GC) under their usual unprefixed names, which stock
  // dashboards expect; skipped when the caller's registry already has them.
  if (!registry.getSingleMetric('process_cpu_user_seconds_total'))
    collectDefaultMetrics({ register: registry });

  created.set(registry, {
    metrics,
    watch: (sources) => {
      queue ??= sources.queue;
      breakers ??= sources.breakers;
    },
  });
  return metrics;
}

/** The `code` label for a job outcome: the failure code, SUCCESS_CODE when completed. */
export function codeLabel(outcome: JobOutcome, code: FailureCode | undefined): string {
  if (outcome === 'completed') return SUCCESS_CODE;
  return isFailureCode(code) ? code : 'unknown';
}

/** RFC 6749 §5.2 token errors: the `code` label of an unverified registration; anything else is `other`. */
export const VERIFICATION_ERROR_LABELS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'other',
] as const;

/** A token endpoint's error code as a label: an unexpected one (or an HTTP status) is `other`, so servers cannot grow the series. */
export function verificationLabel(code: string | undefined): string {
  return (VERIFICATION_ERROR_LABELS as readonly (string | undefined)[]).includes(code)
    ? (code as string)
    : 'other';
}

/**
 * Series that exist before anything happened, so rate() and alerts see a 0 rather than no data: every
 * outcome and code a job can end with, both cache results, both phase outcomes.
 */
function zeroKnownSeries(metrics: Metrics): void {
  metrics.jobsFinished.inc({ outcome: 'completed', code: SUCCESS_CODE }, 0);
  for (const job of ['registration', 'rotation'] as const) {
    for (const code of VERIFICATION_ERROR_LABELS) metrics.registrationsUnverified.inc({ job, code }, 0);
  }
  for (const code of failureCodes) {
    metrics.jobsFinished.inc({ outcome: 'failed', code }, 0);
    if (FAILURE_CODES[code].retryable) metrics.jobsFinished.inc({ outcome: 'retry', code }, 0);
  }
  for (const outcome of JOB_OUTCOMES) metrics.jobDuration.zero({ outcome });
  for (const outcome of ['completed', 'failed'] as const) metrics.jobAttempts.zero({ outcome });
  for (const result of ['hit', 'miss'] as const) {
    metrics.discoveryDuration.zero({ cache: result });
    metrics.discoveryCache.inc({ result }, 0);
  }
  for (const outcome of PHASE_OUTCOMES) {
    metrics.registrationRequestDuration.zero({ outcome });
    metrics.secretWriteDuration.zero({ outcome });
  }
  for (const outcome of JWKS_REQUEST_OUTCOMES) metrics.jwksRequests.inc({ outcome }, 0);
  for (const reason of BUSY_REASONS) {
    metrics.jobsDelayed.inc({ reason }, 0);
    metrics.jobsServerWaitExceeded.inc({ reason }, 0);
  }
  for (const operation of SECRET_STORE_OPERATIONS) {
    for (const outcome of [SECRET_STORE_SUCCESS, 'secret_store_unavailable', 'secret_store_rejected']) {
      metrics.secretStoreCalls.inc({ operation, outcome }, 0);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  // The losing promise may still reject later; nobody is waiting for it then.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
