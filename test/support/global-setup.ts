// Provisions what the tests need, so `npm test` alone works on a fresh machine: the built binary,
// Redis at REDIS_URL (or the local default) or a spawned redis-server, and a moto server at
// AWS_ENDPOINT_URL_SECRETS_MANAGER or a spawned `moto_server`. Every run gets its own key prefix, and
// everything under it is deleted at the end, because the machine's Redis is shared.
// With TEST_REDIS_CLUSTER=1 (`npm run test:cluster`) the run uses a Redis Cluster instead: the seed
// list in REDIS_CLUSTER_URL, or three spawned masters stopped at the end.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureLocalRedis, freePort } from '../../src/demo/local-redis.js';
import { createRedisConnection } from '../../src/queue/index.js';
import { keysMatching } from './redis.js';
import { startRedisCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** REDIS_URL of the run: one URL, or a cluster's comma-separated seeds when redisCluster. */
    redisUrl: string;
    redisCluster: boolean;
    /** Prefix for every Redis key this run creates; tests append their own suffix. */
    redisPrefix: string;
    awsEndpoint: string;
  }
}

const children: ChildProcess[] = [];
const stops: Array<() => Promise<void>> = [];
let cleanup: (() => Promise<void>) | undefined;

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

function start(command: string, args: string[], installHint: string): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore' });
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') process.stderr.write(`\n${command} is not installed: ${installHint}\n`);
  });
  children.push(child);
  return child;
}

const clusterRun = process.env.TEST_REDIS_CLUSTER === '1';

async function provisionRedis(): Promise<string> {
  if (clusterRun) {
    if (process.env.REDIS_CLUSTER_URL) return process.env.REDIS_CLUSTER_URL;
    const cluster = await startRedisCluster();
    stops.push(cluster.stop);
    return cluster.url;
  }
  const redis = await ensureLocalRedis(process.env.REDIS_URL);
  stops.push(redis.stop);
  return redis.url;
}

async function motoAnswers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
    return response.status < 500;
  } catch {
    return false;
  }
}

async function provisionMoto(): Promise<string> {
  const configured = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  if (configured) return configured;
  const port = await freePort();
  const child = start('moto_server', ['-H', '127.0.0.1', '-p', String(port)], 'pipx install "moto[server]"');
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null)
      throw new Error('moto_server exited; is it installed? pipx install "moto[server]"');
    return motoAnswers(endpoint);
  }, 'moto_server');
  return endpoint;
}

/** The end-to-end tests run the built binary, as operators do; build it once, before any of them. */
function build(): void {
  execFileSync('npm', ['run', 'build', '--silent'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    stdio: 'inherit',
  });
}

export async function setup(project: TestProject): Promise<void> {
  build();
  const [redisUrl, awsEndpoint] = await Promise.all([provisionRedis(), provisionMoto()]);
  const redisPrefix = `dcrtest-${process.pid}-${randomBytes(4).toString('hex')}`;
  project.provide('redisUrl', redisUrl);
  project.provide('redisCluster', clusterRun);
  project.provide('redisPrefix', redisPrefix);
  project.provide('awsEndpoint', awsEndpoint);
  cleanup = async () => {
    const redis = createRedisConnection({ REDIS_URL: redisUrl, REDIS_CLUSTER: clusterRun }, 'worker');
    try {
      // Keys may start with the prefix or with a hash-tagged form of it ({prefix...}).
      for (const pattern of [`${redisPrefix}*`, `{${redisPrefix}*`]) {
        // One key at a time: on a cluster the keys of one pattern live in many slots.
        for (const key of await keysMatching(redis, pattern)) await redis.unlink(key);
      }
    } finally {
      redis.disconnect();
    }
  };
}

export async function teardown(): Promise<void> {
  try {
    await cleanup?.();
    // A client closing late (a BullMQ queue finishing its connection) can still write a key; sweep again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await cleanup?.();
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(stops.map((stop) => stop()));
  }
}
