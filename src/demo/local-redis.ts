// Finds a Redis to use on a developer's machine: REDIS_URL when set (it must answer), else one
// answering at the default address, else a private `redis-server` spawned on a free port and stopped
// afterwards. The demo and the test suite both start this way, so two commands work on a fresh machine.

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface LocalRedis {
  url: string;
  /** True when this process started the server (and will stop it). */
  spawned: boolean;
  stop(): Promise<void>;
}

export async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function spawnLocalRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'ENOENT'
            ? 'no Redis answers and redis-server is not installed: set REDIS_URL, or install Redis (e.g. apt-get install redis-server)'
            : `could not start redis-server: ${err.message}`,
        ),
      ),
    );
    child.once('exit', (code) =>
      reject(new Error(`redis-server exited with code ${code} before it was ready`)),
    );
  });
  failed.catch(() => {});
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(url))) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not answer within 10 s');
    }
    await Promise.race([new Promise((r) => setTimeout(r, 100)), failed]);
  }
  return {
    url,
    spawned: true,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function ensureLocalRedis(configuredUrl: string | undefined): Promise<LocalRedis> {
  const keep = (url: string): LocalRedis => ({ url, spawned: false, stop: async () => {} });
  if (configuredUrl) {
    if (await redisAnswers(configuredUrl)) return keep(configuredUrl);
    throw new Error(`REDIS_URL is set but nothing answers there (${new URL(configuredUrl).host})`);
  }
  if (await redisAnswers(DEFAULT_REDIS_URL)) return keep(DEFAULT_REDIS_URL);
  return spawnLocalRedis();
}
