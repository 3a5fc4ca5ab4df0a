// Process entry point for the registration worker: wiring only. Builds the outbound client, secret
// store, event publisher and shared discovery cache from the configuration, runs the BullMQ worker,
// and on SIGTERM/SIGINT stops taking jobs, lets in-flight ones finish, closes connections and exits 0.

import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'bullmq';
import { registerClientProcessor } from '../jobs/register-client.js';
import { type Config, loadConfig } from '../src/config/index.js';
import { RedisDiscoveryCache } from '../src/discovery-cache/index.js';
import { eventStreamKey, RedisStreamEventPublisher } from '../src/events/index.js';
import { createHttpClient, httpClientOptionsFromConfig } from '../src/http/index.js';
import type { RegistrationDeps } from '../src/provisioning/index.js';
import { createRedisConnection, REGISTRATION_QUEUE, retryAfterOf, retryDelayMs } from '../src/queue/index.js';
import { RegistrationRegistry } from '../src/registry/index.js';
import { createSecretStore, type SecretStore } from '../src/secrets/index.js';

export interface RunningWorker {
  worker: Worker;
  close(): Promise<void>;
}

/** Seams for tests and embedding (the demo); production uses the configuration alone. */
export interface WorkerOverrides {
  secretStore?: SecretStore;
  secretWriteRetryDelaysMs?: readonly number[];
  log?: RegistrationDeps['log'];
  /** e.g. a shorter lockDuration, so a killed worker's job is picked up again quickly. */
  workerOptions?: Partial<Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>>;
}

export async function startRegistrationWorker(
  config: Config,
  overrides: WorkerOverrides = {},
): Promise<RunningWorker> {
  const connection = createRedisConnection(config.REDIS_URL, 'worker');
  const http = createHttpClient(httpClientOptionsFromConfig(config));
  const deps: RegistrationDeps = {
    http,
    secretStore: overrides.secretStore ?? createSecretStore(config),
    events: new RedisStreamEventPublisher({
      redis: connection,
      streamKey: eventStreamKey(config.QUEUE_PREFIX),
    }),
    discoveryCache: new RedisDiscoveryCache({
      redis: connection,
      prefix: config.QUEUE_PREFIX,
      ttlSeconds: config.DISCOVERY_CACHE_TTL_S,
    }),
    registry: new RegistrationRegistry({ redis: connection, prefix: config.QUEUE_PREFIX }),
    secretNamePrefix: config.SECRET_NAME_PREFIX,
    rules: { allowInsecureLocalhost: config.ALLOW_INSECURE_LOCALHOST },
    ...(overrides.secretWriteRetryDelaysMs
      ? { secretWriteRetryDelaysMs: overrides.secretWriteRetryDelaysMs }
      : {}),
    ...(overrides.log ? { log: overrides.log } : {}),
  };
  const backoff = { baseMs: config.BACKOFF_BASE_MS, maxMs: config.BACKOFF_MAX_MS };
  const worker = new Worker(REGISTRATION_QUEUE, registerClientProcessor(deps), {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    settings: {
      backoffStrategy: (attemptsMade, _type, err) => retryDelayMs(attemptsMade, retryAfterOf(err), backoff),
    },
    ...overrides.workerOptions,
  });
  await worker.waitUntilReady();
  return {
    worker,
    close: async () => {
      await worker.close();
      http.close();
      // A store handed in belongs to the caller.
      if (!overrides.secretStore) await deps.secretStore.close();
      connection.disconnect();
    },
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const running = await startRegistrationWorker(config);
  const stop = async () => {
    await running.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
