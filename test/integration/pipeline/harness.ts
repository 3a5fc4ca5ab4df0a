// One pipeline per test file: its own queue prefix and secret name prefix on the shared Redis and
// moto, the real producer and worker wired from configuration, and helpers to wait for jobs and read
// the event stream and the workers' log lines (captured, so test output stays quiet).

import { Queue } from 'bullmq';
import { inject } from 'vitest';
import { type Config, loadConfig } from '../../../src/config/index.js';
import { eventStreamKey } from '../../../src/events/index.js';
import { createLogger } from '../../../src/observability/index.js';
import {
  createRedisConnection,
  producerSettingsFromConfig,
  REGISTRATION_QUEUE,
  type RedisConnection,
  RegistrationProducer,
} from '../../../src/queue/index.js';
import { RegistrationRegistry } from '../../../src/registry/index.js';
import { createSecretStore, type SecretStore } from '../../../src/secrets/index.js';
import {
  type RunningWorker,
  startRegistrationWorker,
  type WorkerOverrides,
} from '../../../workers/registration-worker.js';
import { dumpKeys, readEventStream, testQueuePrefix, testRedisEnv } from '../../support/redis.js';

export interface Pipeline {
  config: Config;
  queue: Queue;
  registry: RegistrationRegistry;
  producer: RegistrationProducer;
  secretStore: SecretStore;
  redis: RedisConnection;
  startWorker(overrides?: WorkerOverrides, env?: Record<string, string>): Promise<RunningWorker>;
  waitForJob(jobId: string, timeoutMs?: number): Promise<FinishedJob>;
  events(): Promise<Array<{ type: string; eventId: string; data: Record<string, unknown> }>>;
  /**
   * The first event of a job, waiting for it: the worker's `failed` listener appends a failure event
   * just after BullMQ failed the job, so it may come a moment after the job's state.
   */
  waitForEvent(jobId: string, timeoutMs?: number): Promise<{ type: string; data: Record<string, unknown> }>;
  /** The JSON lines written by workers started without their own `logger`, in order. */
  logLines(): string[];
  /** Every string value stored under this pipeline's Redis keys, for secret-hygiene scans. */
  dumpRedis(): Promise<string>;
  close(): Promise<void>;
}

export interface FinishedJob {
  state: 'completed' | 'failed';
  attemptsMade: number;
  failedReason?: string;
  returnvalue: Record<string, unknown> | null;
  data: Record<string, unknown>;
}

export function pipelineEnv(name: string, env: Record<string, string> = {}): Record<string, string> {
  const prefix = testQueuePrefix(name);
  return {
    ...testRedisEnv(),
    QUEUE_PREFIX: prefix,
    SECRETS_BACKEND: 'aws',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: inject('awsEndpoint'),
    AWS_REGION: 'us-east-1',
    // Secret names cannot hold braces; the run's prefix without the hash tag.
    SECRET_NAME_PREFIX: `${inject('redisPrefix')}-${name}/`,
    ALLOW_INSECURE_LOCALHOST: 'true',
    BACKOFF_BASE_MS: '50',
    BACKOFF_MAX_MS: '400',
    HTTP_TIMEOUT_MS: '3000',
    WORKER_CONCURRENCY: '8',
    // Every stub server is one host: the fleet's politeness limits and breaker would only slow tests
    // that are about something else. The limits' own tests set them back.
    SERVER_MAX_IN_FLIGHT: '1000',
    SERVER_RATE_PER_S: '10000',
    BREAKER_FAILURE_THRESHOLD: '1000',
    SECRET_WRITES_PER_S: '10000',
    ...env,
  };
}

export async function startPipeline(name: string, env: Record<string, string> = {}): Promise<Pipeline> {
  const config = loadConfig(pipelineEnv(name, env));
  const redis = createRedisConnection(config, 'worker');
  const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix: config.QUEUE_PREFIX });
  const secretStore = createSecretStore(config);
  const registry = new RegistrationRegistry({ redis, prefix: config.QUEUE_PREFIX });
  const producer = new RegistrationProducer({
    queue,
    secretStore,
    registry,
    ...producerSettingsFromConfig(config),
  });
  const workers: RunningWorker[] = [];
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line) => logLines.push(line) } });

  const events = async () => {
    return (await readEventStream(redis, eventStreamKey(config.QUEUE_PREFIX))).map(
      ({ type, eventId, data }) => ({
        type,
        eventId,
        data,
      }),
    );
  };

  return {
    config,
    queue,
    registry,
    producer,
    secretStore,
    redis,
    async startWorker(overrides = {}, workerEnv = {}) {
      const worker = await startRegistrationWorker(
        Object.keys(workerEnv).length > 0 ? loadConfig(pipelineEnv(name, { ...env, ...workerEnv })) : config,
        { secretWriteRetryDelaysMs: [20, 20], logger, ...overrides },
      );
      workers.push(worker);
      return worker;
    },
    async waitForJob(jobId, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = await queue.getJobState(jobId);
        // Read the job only once it is finished, so its return value is not a stale copy.
        const job = state === 'completed' || state === 'failed' ? await queue.getJob(jobId) : undefined;
        if (job && (state === 'completed' || state === 'failed')) {
          return {
            state,
            attemptsMade: job.attemptsMade,
            failedReason: job.failedReason,
            returnvalue: job.returnvalue as Record<string, unknown> | null,
            data: job.data as Record<string, unknown>,
          };
        }
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${state} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    events,
    async waitForEvent(jobId, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const event = (await events()).find((e) => e.data.jobId === jobId);
        if (event) return event;
        if (Date.now() > deadline) throw new Error(`no event of job ${jobId} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    logLines: () => [...logLines],
    dumpRedis: () => dumpKeys(redis, `${config.QUEUE_PREFIX}*`),
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queue.close();
      await secretStore.close();
      redis.disconnect();
    },
  };
}
