// The registration worker, wired from the configuration: outbound client, secret store (behind the
// fleet's write budget), event publisher, shared discovery cache, registry, per-server limiter, logger and
// metrics around the BullMQ worker, which runs every job type of the queue (register, rotate, delete a
// replaced client, sweep). It is also the scheduler: at start it upserts the rotation sweep's job
// scheduler. Wiring only; `dcr-provisioner worker` and `start` run it (src/cli/run-service.ts) and stop
// it on SIGTERM/SIGINT.

import { performance } from 'node:perf_hooks';
import { type Processor, Queue, UnrecoverableError, Worker, type WorkerOptions } from 'bullmq';
import { deleteClientProcessor, queueDeletionScheduler } from '../jobs/delete-client.js';
import { announceQueueFailure, type ProvisioningJobOptions } from '../jobs/provisioning-job.js';
import { registerClientProcessor } from '../jobs/register-client.js';
import { queueKeyRetirementScheduler, retireKeyProcessor } from '../jobs/retire-key.js';
import { rotateClientProcessor } from '../jobs/rotate-client.js';
import { sweepRegistrationsProcessor } from '../jobs/sweep-registrations.js';
import type { Config } from '../src/config/index.js';
import { RedisDiscoveryCache } from '../src/discovery-cache/index.js';
import { eventStreamKey, RedisStreamEventPublisher } from '../src/events/index.js';
import { markFailureEventPending } from '../src/failures/index.js';
import { createHttpClient, httpClientOptionsFromConfig } from '../src/http/index.js';
import {
  breakerTransitionLog,
  RedisServerLimiter,
  RedisWriteBudget,
  secretWriteBudgetKey,
  secretWriteTurns,
  serverLimiterSettingsFromConfig,
} from '../src/limits/index.js';
import {
  atMostEvery,
  createLogger,
  createMetrics,
  createProvisioningObserver,
  instrumentSecretStore,
  type Logger,
  type Metrics,
  secretKeysFromConfig,
} from '../src/observability/index.js';
import type { RegistrationDeps } from '../src/provisioning/index.js';
import {
  assertRedisKind,
  createRedisConnection,
  JOB_NAMES,
  producerSettingsFromConfig,
  provisioningJobOptions,
  REGISTRATION_QUEUE,
  RegistrationProducer,
  requestRulesFromConfig,
  retryAfterOf,
  retryDelayMs,
  upsertRotationSweep,
} from '../src/queue/index.js';
import { PublishedKeys, RegistrationRegistry } from '../src/registry/index.js';
import { createSecretStore, type SecretStore } from '../src/secrets/index.js';

/** One log line per this interval for an error that repeats (a Redis outage), with the count held back. */
const REPEATED_ERROR_INTERVAL_MS = 5000;

export interface RunningWorker {
  worker: Worker;
  /** The logger the worker writes to; the overrides' one when given. */
  logger: Logger;
  /** The worker's series; serve `metrics.registry` at /metrics (the overrides' one when given). */
  metrics: Metrics;
  close(): Promise<void>;
}

/** Seams for tests and embedding (the demo); production uses the configuration alone. */
export interface WorkerOverrides {
  secretStore?: SecretStore;
  secretWriteRetryDelaysMs?: readonly number[];
  /** How long an attempt may wait for a server with no room (RegistrationDeps.maxServerWaitMs). */
  maxServerWaitMs?: number;
  /** Receives the client warnings only; `logger` receives everything. @defaultValue logger */
  log?: RegistrationDeps['log'];
  /** @defaultValue createLogger({ level: LOG_LEVEL }) on stdout */
  logger?: Logger;
  /**
   * Shared with the HTTP server in `start`. Whoever creates it owns dcr_queue_jobs (its `queue` option);
   * without it the worker makes its own registry and counts the queue itself.
   */
  metrics?: Metrics;
  /** e.g. a shorter lockDuration, so a killed worker's job is picked up again quickly. */
  workerOptions?: Partial<Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>>;
}

export async function startRegistrationWorker(
  config: Config,
  overrides: WorkerOverrides = {},
): Promise<RunningWorker> {
  // A mismatch between REDIS_CLUSTER and what REDIS_URL points at stops here with one message,
  // instead of a hot loop of MOVED errors.
  await assertRedisKind(config);
  const connection = createRedisConnection(config, 'worker');
  const http = createHttpClient(httpClientOptionsFromConfig(config));
  const logger =
    overrides.logger ?? createLogger({ level: config.LOG_LEVEL, secretKeys: secretKeysFromConfig(config) });
  // For the sweep's rotations, the delayed deletions, the scheduler, and counting jobs by state when the
  // worker owns its metrics.
  const queue = new Queue(REGISTRATION_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
  const metrics = overrides.metrics ?? createMetrics({ queue, logger });
  const secretStore = overrides.secretStore ?? createSecretStore(config);
  const serverLimiter = new RedisServerLimiter({
    redis: connection,
    prefix: config.QUEUE_PREFIX,
    ...serverLimiterSettingsFromConfig(config),
    // One line per transition, naming the host: logs may name servers, metric labels may not.
    onTransition: (transition) => {
      const { level, message } = breakerTransitionLog(transition);
      logger[level]({ ...transition }, message);
    },
  });
  // The gauge reads the fleet's breakers from Redis (attached to the shared registry when it is not
  // ours); once the worker has stopped, its connection is gone and the last count stands.
  let stopped = false;
  let openBreakers = 0;
  createMetrics({
    registry: metrics.registry,
    breakers: {
      countOpenBreakers: async () => {
        if (!stopped) openBreakers = await serverLimiter.countOpenBreakers();
        return openBreakers;
      },
    },
  });
  const writeBudget = new RedisWriteBudget({
    redis: connection,
    key: secretWriteBudgetKey(config.QUEUE_PREFIX),
    ratePerSecond: config.SECRET_WRITES_PER_S,
  });

  const registry = new RegistrationRegistry({ redis: connection, prefix: config.QUEUE_PREFIX });
  const producerSettings = producerSettingsFromConfig(config);
  const deps: RegistrationDeps = {
    http,
    secretStore: instrumentSecretStore(secretStore, metrics),
    secretWriteTurns: secretWriteTurns(writeBudget, {
      onWait: (waitMs) => metrics.secretWriteWait.observe(waitMs / 1000),
    }),
    events: new RedisStreamEventPublisher({
      redis: connection,
      streamKey: eventStreamKey(config.QUEUE_PREFIX),
    }),
    discoveryCache: new RedisDiscoveryCache({
      redis: connection,
      prefix: config.QUEUE_PREFIX,
      ttlSeconds: config.DISCOVERY_CACHE_TTL_S,
    }),
    registry,
    publishedKeys: new PublishedKeys({ redis: connection, prefix: config.QUEUE_PREFIX }),
    secretNamePrefix: config.SECRET_NAME_PREFIX,
    rules: requestRulesFromConfig(config),
    ...(overrides.secretWriteRetryDelaysMs
      ? { secretWriteRetryDelaysMs: overrides.secretWriteRetryDelaysMs }
      : {}),
    ...(overrides.maxServerWaitMs !== undefined ? { maxServerWaitMs: overrides.maxServerWaitMs } : {}),
    log: overrides.log ?? logger,
    observer: createProvisioningObserver({ metrics, logger }),
    serverLimiter,
    deletions: queueDeletionScheduler(queue, provisioningJobOptions(producerSettings)),
    keyRetirements: queueKeyRetirementScheduler(queue, provisioningJobOptions(producerSettings)),
    rotationGraceMs: config.ROTATION_GRACE * 1000,
    jwksMaxAgeSeconds: config.JWKS_MAX_AGE_S,
  };
  // The sweep enqueues like any producer: validated, deduplicated, recorded in the registry.
  const sweepProducer = new RegistrationProducer({ ...producerSettings, queue, secretStore, registry });
  const backoff = { baseMs: config.BACKOFF_BASE_MS, maxMs: config.BACKOFF_MAX_MS };
  const jobOptions: ProvisioningJobOptions = {
    onDelayed: (job, busy) => {
      metrics.jobsDelayed.inc({ reason: busy.reason });
      logger.debug(
        { jobId: job.id, host: busy.host, reason: busy.reason, waitMs: busy.retryAfterMs },
        'job delayed: its server has no room',
      );
    },
  };
  const processors: Record<string, Processor> = {
    [JOB_NAMES.registerClient]: registerClientProcessor(deps, jobOptions),
    [JOB_NAMES.rotateClient]: rotateClientProcessor(deps, jobOptions),
    [JOB_NAMES.deleteClient]: deleteClientProcessor(deps, jobOptions),
    [JOB_NAMES.retireKey]: retireKeyProcessor(deps, jobOptions),
    [JOB_NAMES.sweepRegistrations]: sweepRegistrationsProcessor(
      { registry, enqueueRotations: (requests) => sweepProducer.enqueueRotations(requests) },
      { rotateBeforeExpirySeconds: config.ROTATE_BEFORE_EXPIRY },
      logger,
    ),
  };
  const processor: Processor = (job, token, signal) => {
    const run = processors[job.name];
    // Announced by the `failed` listener: no use case ran to do it.
    if (!run) {
      throw markFailureEventPending(
        new UnrecoverableError(`invalid_job: no job type is called "${job.name}"`),
      );
    }
    return run(job, token, signal);
  };
  const worker = new Worker(REGISTRATION_QUEUE, processor, {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    // A job cut off by a dead worker resumes from its checkpoint; two deploys in a row must not fail it
    // (BullMQ's default of 1 would, with a reason that carries no failure code).
    maxStalledCount: 3,
    settings: {
      backoffStrategy: (attemptsMade, _type, err) => retryDelayMs(attemptsMade, retryAfterOf(err), backoff),
    },
    ...overrides.workerOptions,
  });
  // Connection trouble is reported here; without a listener it would be an unhandled 'error' event
  // (BullMQ then prints the bare stack to stderr, outside the JSON log).
  // Rate-limited: an outage repeats one error many times a second.
  worker.on(
    'error',
    atMostEvery(REPEATED_ERROR_INTERVAL_MS, (err, suppressed) =>
      logger.error({ err: err.message, suppressed }, 'registration worker error'),
    ),
  );
  queue.on(
    'error',
    atMostEvery(REPEATED_ERROR_INTERVAL_MS, (err, suppressed) =>
      logger.warn({ err: err.message, suppressed }, 'registration queue connection error'),
    ),
  );
  worker.on('failed', (job, err) => {
    if (!job) return;
    const queueKeys = { redis: connection, jobKey: (id: string) => worker.toKey(id) };
    announceQueueFailure(job, err, deps, queueKeys).catch((failure: unknown) =>
      logger.error(
        { jobId: job.id, err: failure instanceof Error ? failure.message : String(failure) },
        'could not announce a failed job',
      ),
    );
  });
  await worker.waitUntilReady();
  await upsertRotationSweep(queue, config.ROTATION_SWEEP_CRON);
  // Names and numbers only: REDIS_URL and API_TOKEN may carry credentials.
  const settings = {
    queue: REGISTRATION_QUEUE,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    secretsBackend: config.SECRETS_BACKEND,
    rotationSweep: config.ROTATION_SWEEP_CRON,
  };
  logger.info(settings, 'registration worker started');

  let closing: Promise<void> | undefined;
  const stop = async () => {
    stopped = true;
    logger.info({ queue: REGISTRATION_QUEUE, prefix: config.QUEUE_PREFIX }, 'registration worker stopping');
    const started = performance.now();
    await worker.close();
    await queue.close();
    http.close();
    // A store handed in belongs to the caller.
    if (!overrides.secretStore) await secretStore.close();
    connection.disconnect();
    const durationMs = Math.round(performance.now() - started);
    logger.info(
      { queue: REGISTRATION_QUEUE, prefix: config.QUEUE_PREFIX, durationMs },
      'registration worker stopped',
    );
  };
  return {
    worker,
    logger,
    metrics,
    // SIGTERM and SIGINT may both arrive, and an embedder may close too: stop once, answer all.
    close: () => {
      closing ??= stop();
      return closing;
    },
  };
}
