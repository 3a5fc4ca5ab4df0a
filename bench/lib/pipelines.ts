// The two pipelines the overhead and Redis-cost benchmarks compare: the real worker
// (startRegistrationWorker) and a bare BullMQ worker doing only the discovery GET, the registration POST
// and the in-memory secret write.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Queue, Worker } from 'bullmq';
import { loadConfig } from '../../src/config/index.js';
import { publicAppMetadata } from '../../src/dcr/index.js';
import { createLogger } from '../../src/observability/index.js';
import {
  createRedisConnection,
  producerSettingsFromConfig,
  REGISTRATION_QUEUE,
  RegistrationProducer,
} from '../../src/queue/index.js';
import { RegistrationRegistry } from '../../src/registry/index.js';
import { startRegistrationWorker } from '../../workers/registration-worker.js';
import { BENCH_REDIS, workerEnv } from './common.js';
import { MemorySecretStore } from './memory-secret-store.js';

export const metadata = publicAppMetadata({ clientName: 'Bench', redirectUris: ['https://app.example/cb'] });

export function requests(n: number, fhirBaseUrl: (i: number) => string, tag = 't') {
  return Array.from({ length: n }, (_, i) => ({
    tenantId: `${tag}-${i}`,
    fhirBaseUrl: fhirBaseUrl(i),
    clientMetadata: metadata,
  }));
}

/** The real producer (validation, dedup lookups, registry) on a connection of its own. */
export function openProducer(prefix: string, env: Record<string, string> = {}) {
  const config = loadConfig(workerEnv(prefix, env));
  const redis = createRedisConnection(config, 'producer');
  const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix });
  const producer = new RegistrationProducer({
    queue,
    secretStore: new MemorySecretStore(),
    registry: new RegistrationRegistry({ redis, prefix }),
    ...producerSettingsFromConfig(config),
  });
  return {
    /** How many of `reqs` were queued. */
    async enqueue(reqs: readonly unknown[]): Promise<number> {
      const results = await producer.enqueueMany(reqs);
      return results.filter((r) => r.status === 'queued').length;
    },
    async close(): Promise<void> {
      await queue.close();
      redis.disconnect();
    },
  };
}

/** Enqueues through the real producer, in batches. */
export async function enqueueOurs(prefix: string, reqs: readonly unknown[], batch = 1000): Promise<number> {
  const producer = openProducer(prefix);
  let queued = 0;
  try {
    for (let i = 0; i < reqs.length; i += batch) queued += await producer.enqueue(reqs.slice(i, i + batch));
  } finally {
    await producer.close();
  }
  return queued;
}

/** Enqueues the same payloads with a raw addBulk (no validation, no options beyond retention). */
export async function enqueueBare(prefix: string, reqs: readonly unknown[], batch = 1000): Promise<number> {
  const redis = createRedisConnection(BENCH_REDIS, 'producer');
  const queue = new Queue('bare', { connection: redis, prefix });
  let queued = 0;
  try {
    for (let i = 0; i < reqs.length; i += batch) {
      const jobs = await queue.addBulk(
        reqs.slice(i, i + batch).map((data) => ({
          name: 'register',
          data,
          opts: { attempts: 8, removeOnComplete: { count: 100_000 } },
        })),
      );
      queued += jobs.length;
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
  return queued;
}

export interface DrainResult {
  completed: number;
  failed: number;
  seconds: number;
  jobsPerSecond: number;
  timedOut: boolean;
}

async function drain(worker: Worker, n: number, startedAt: number, timeoutMs: number): Promise<DrainResult> {
  let completed = 0;
  let failed = 0;
  let finishedAt = startedAt;
  const done = new Promise<boolean>((resolve) => {
    const check = () => {
      if (completed + failed >= n) {
        finishedAt = performance.now();
        resolve(true);
      }
    };
    worker.on('completed', () => {
      completed++;
      check();
    });
    worker.on('failed', (job) => {
      // A job that will be retried is not finished.
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) failed++;
      check();
    });
  });
  const timedOut = !(await Promise.race([
    done,
    new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs)),
  ]));
  if (timedOut) finishedAt = performance.now();
  const seconds = (finishedAt - startedAt) / 1000;
  return { completed, failed, seconds, jobsPerSecond: completed / seconds, timedOut };
}

/** Runs the real worker in this process over `n` pre-enqueued jobs. */
export async function runOurs(
  prefix: string,
  n: number,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<DrainResult> {
  const store = new MemorySecretStore();
  const startedAt = performance.now();
  const running = await startRegistrationWorker(loadConfig(workerEnv(prefix, env)), {
    secretStore: store,
    logger: createLogger({ level: 'silent' }),
  });
  try {
    return await drain(running.worker, n, startedAt, timeoutMs);
  } finally {
    await running.close();
  }
}

/** A bare BullMQ worker: GET discovery, POST registration, in-memory write; nothing else. */
export async function runBare(
  prefix: string,
  n: number,
  concurrency: number,
  timeoutMs = 60_000,
): Promise<DrainResult> {
  const store = new MemorySecretStore();
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const call = (
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, string> }> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        url,
        {
          method,
          agent,
          headers: payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const connection = createRedisConnection(BENCH_REDIS, 'worker');
  const startedAt = performance.now();
  const worker = new Worker(
    'bare',
    async (job) => {
      const { tenantId, fhirBaseUrl, clientMetadata } = job.data;
      const discovery = await call('GET', `${fhirBaseUrl}/.well-known/smart-configuration`);
      const registered = await call('POST', String(discovery.json.registration_endpoint), clientMetadata);
      if (registered.status !== 201) throw new Error(`registration answered ${registered.status}`);
      const name = `${prefix}/${tenantId}/${new URL(fhirBaseUrl).host}`;
      const token = createHash('sha256').update(`${job.id}`).digest('hex').slice(0, 36);
      await store.write({ name, value: JSON.stringify(registered.json), clientRequestToken: token });
      return { clientId: registered.json.client_id };
    },
    { connection, prefix, concurrency },
  );
  worker.on('error', () => {});
  try {
    return await drain(worker, n, startedAt, timeoutMs);
  } finally {
    await worker.close();
    agent.destroy();
    connection.disconnect();
  }
}
