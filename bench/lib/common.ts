// Shared helpers: per-run Redis prefix, env for the real worker, stub and worker child processes,
// cleanup of a run's keys, Redis command counting and results files.
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Cluster, type Redis } from 'ioredis';
import { createRedisConnection, type RedisConnection } from '../../src/queue/index.js';

/**
 * The benchmarks' Redis as the service's configuration names it: the local standalone server, or a
 * cluster's seed list with BENCH_REDIS_CLUSTER=1 (bench/with-cluster.ts sets both).
 */
export const BENCH_REDIS = {
  REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  REDIS_CLUSTER: process.env.BENCH_REDIS_CLUSTER === '1',
};
export const REDIS_URL = BENCH_REDIS.REDIS_URL;
export const BENCH_DIR = path.resolve(import.meta.dirname, '..');

/** A run's key prefix; a hash tag on a cluster, as the service requires there. */
export function benchPrefix(name: string): string {
  const prefix = `bench-${name}-${process.pid}`;
  return BENCH_REDIS.REDIS_CLUSTER ? `{${prefix}}` : prefix;
}

const untagged = (prefix: string) => prefix.replace(/[{}]/g, '');

/** A connection to the benchmarks' Redis, made the way the worker makes its own. */
export function benchRedis(): RedisConnection {
  return createRedisConnection(BENCH_REDIS, 'worker');
}

/** Configuration for the real worker with the politeness limits raised so they do not bind. */
export function workerEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL,
    REDIS_CLUSTER: String(BENCH_REDIS.REDIS_CLUSTER),
    QUEUE_PREFIX: prefix,
    SECRETS_BACKEND: 'file',
    SECRETS_FILE_DIR: `/tmp/${untagged(prefix)}-unused`,
    // Secret names cannot hold a hash tag's braces.
    SECRET_NAME_PREFIX: `${untagged(prefix)}/`,
    ALLOW_INSECURE_LOCALHOST: 'true',
    BACKOFF_BASE_MS: '20',
    BACKOFF_MAX_MS: '200',
    HTTP_TIMEOUT_MS: '5000',
    WORKER_CONCURRENCY: '32',
    SERVER_MAX_IN_FLIGHT: '1000',
    SERVER_RATE_PER_S: '10000',
    BREAKER_FAILURE_THRESHOLD: '1000',
    SECRET_WRITES_PER_S: '10000',
    COMPLETED_JOBS_MAX_COUNT: '100000',
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

export interface Stub {
  child: ChildProcess;
  ports: number[];
  baseUrl(i?: number): string;
  stats(): Promise<{
    counts: Record<string, number>;
    maxInFlight: number;
    perPort: Record<string, { inFlight: number; max: number }>;
    issued: number;
  }>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

function forkTs(file: string, env: Record<string, string>): ChildProcess {
  return fork(path.join(BENCH_DIR, 'lib', file), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/**
 * Compiles worker-process.ts and everything it imports with tsc into a folder of its own, so that a
 * worker can run as production runs it, on plain node: tsx's compiler adds about 45 MB to a process's RSS.
 * The folder is under node_modules/.cache, where module resolution still finds the dependencies.
 */
export function compileWorker(): { entry: string; remove(): void } {
  const root = path.resolve(BENCH_DIR, '..');
  const outDir = path.join(root, 'node_modules', '.cache', `dcr-bench-${process.pid}`);
  const remove = () => rmSync(outDir, { recursive: true, force: true });
  try {
    // The repository's compiler options, for this one entry point and what it imports.
    mkdirSync(outDir, { recursive: true });
    const project = path.join(outDir, 'tsconfig.json');
    writeFileSync(
      project,
      JSON.stringify({
        extends: path.join(root, 'tsconfig.json'),
        compilerOptions: { outDir, rootDir: root, declaration: false, sourceMap: false },
        files: [path.join(BENCH_DIR, 'lib', 'worker-process.ts')],
        include: [],
      }),
    );
    execFileSync('npx', ['tsc', '-p', project], { cwd: root, stdio: 'inherit' });
    // Under node_modules, Node looks no further up for the package's "type": say it here.
    writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
  } catch (err) {
    remove();
    throw err;
  }
  return { entry: path.join(outDir, 'bench', 'lib', 'worker-process.js'), remove };
}

function once<T>(child: ChildProcess, match: (m: unknown) => T | undefined, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    // Every listener goes when the answer comes: benchmarks ask a child once a second for minutes.
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error('child did not answer in time'));
    }, timeoutMs);
    const onMessage = (m: unknown) => {
      const v = match(m);
      if (v !== undefined) {
        done();
        resolve(v);
      }
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`child exited (${code})`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const field = (name: string) => (m: unknown) =>
  typeof m === 'object' && m !== null && name in m ? (m as Record<string, unknown>) : undefined;

/** Forks the stub server into its own process. */
export async function startStub(
  opts: { delayMs?: number; servers?: number; smart1?: boolean } = {},
): Promise<Stub> {
  const child = forkTs('stub-process.ts', {
    STUB_DELAY_MS: String(opts.delayMs ?? 0),
    STUB_SERVERS: String(opts.servers ?? 1),
    STUB_SMART1: opts.smart1 ? '1' : '0',
  });
  const ready = await once(child, field('ready'));
  const ports = ready.ports as number[];
  return {
    child,
    ports,
    baseUrl: (i = 0) => `http://127.0.0.1:${ports[i]}`,
    async stats() {
      const p = once(child, field('stats'));
      child.send('stats');
      return (await p).stats as Awaited<ReturnType<Stub['stats']>>;
    },
    async reset() {
      const p = once(child, field('reset'));
      child.send('reset');
      await p;
    },
    close: () => stopChild(child),
  };
}

/**
 * Forks a real registration worker configured by `env` (silent logger; the in-memory secret store unless
 * `env` sets BENCH_SECRET_STORE, see worker-process.ts), under tsx or, given compileWorker's output, on
 * plain node.
 */
export async function startWorkerProcess(
  env: Record<string, string>,
  compiled?: { entry: string },
): Promise<ChildProcess> {
  const child = compiled
    ? fork(compiled.entry, {
        execArgv: [],
        env: { ...process.env, ...env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
    : forkTs('worker-process.ts', env);
  await once(child, field('ready'), 60_000);
  return child;
}

export interface WorkerStats {
  memory: NodeJS.MemoryUsage;
  /** Jobs this worker completed, and failed for good, since it started. */
  completed: number;
  failed: number;
}

/** What a forked worker says about itself. */
export async function workerStats(child: ChildProcess): Promise<WorkerStats> {
  const p = once(child, field('workerStats'));
  child.send('stats');
  return (await p).workerStats as WorkerStats;
}

export function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Deletes every key under the run's prefix, on every master of a cluster; returns how many. */
export async function deleteKeys(prefix: string): Promise<number> {
  const redis = benchRedis();
  let deleted = 0;
  try {
    const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await node.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** `INFO commandstats` as { command: calls }. Server-wide: other clients of the same Redis add noise. */
export async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const text = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

export function diffStats(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

export function writeResult(name: string, result: Record<string, unknown>): void {
  mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true });
  const redis = BENCH_REDIS.REDIS_CLUSTER ? 'cluster' : 'standalone';
  const body = { benchmark: name, at: new Date().toISOString(), node: process.version, redis, ...result };
  // A cluster run sits beside the standalone one instead of replacing it.
  const file = BENCH_REDIS.REDIS_CLUSTER ? `${name}-cluster.json` : `${name}.json`;
  writeFileSync(path.join(BENCH_DIR, 'results', file), `${JSON.stringify(body, null, 2)}\n`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `done()` or the deadline; returns false on timeout. */
export async function until(done: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await sleep(everyMs);
  }
  return false;
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Waits until `total` jobs have finished (completed or failed), then reports the counts. */
export async function drainQueue(
  queue: { getJobCounts(...states: string[]): Promise<Record<string, number>> },
  total: number,
  timeoutMs: number,
): Promise<{ drained: boolean; completed: number; failed: number }> {
  const finished = async () => {
    const c = await queue.getJobCounts('completed', 'failed');
    return { completed: c.completed ?? 0, failed: c.failed ?? 0 };
  };
  const drained = await until(
    async () => {
      const c = await finished();
      return c.completed + c.failed >= total;
    },
    timeoutMs,
    100,
  );
  return { drained, ...(await finished()) };
}
