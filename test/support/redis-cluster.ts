// A Redis Cluster of three masters, spawned as redis-server processes on free loopback ports (cluster
// mode on, nothing kept on disk) and joined with `redis-cli --cluster create`. Stopped by PID. Also
// moves a slot from one master to another the way `redis-cli --cluster reshard` does, so a test can
// migrate the queue's slot under a running fleet.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../src/demo/local-redis.js';

const run = promisify(execFile);

export interface RedisClusterNode {
  port: number;
  url: string;
  pid: number;
}

export interface SpawnedRedisCluster {
  /** Comma-separated seed URLs, as REDIS_URL takes them with REDIS_CLUSTER=true. */
  url: string;
  nodes: readonly RedisClusterNode[];
  stop(): Promise<void>;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withNode<T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

export async function startRedisCluster(masters = 3): Promise<SpawnedRedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dcr-cluster-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await freePort());
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
          ...['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir],
          ...['--cluster-node-timeout', '2000'],
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
    }
    for (const port of ports)
      await waitFor(() => withNode(port, async (r) => (await r.ping()) === 'PONG'), `node ${port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      await waitFor(
        () => withNode(port, async (r) => /cluster_state:ok/.test(String(await r.cluster('INFO')))),
        `cluster state ok on ${port}`,
      );
    }
    const nodes = ports.map((port, i) => ({
      port,
      url: `redis://127.0.0.1:${port}`,
      pid: children[i]?.pid as number,
    }));
    return { url: nodes.map((n) => n.url).join(','), nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The port of the master that owns a key's slot, asked of any node. */
export async function ownerOf(seedPort: number, key: string): Promise<{ slot: number; port: number }> {
  return withNode(seedPort, async (redis) => {
    const slot = Number(await redis.cluster('KEYSLOT', key));
    const ranges = (await redis.cluster('SLOTS')) as unknown as Array<
      [number, number, [string, number, string]]
    >;
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no master owns slot ${slot}`);
    return { slot, port: range[2][1] };
  });
}

/**
 * Moves one slot, keys and all, from one master to another while clients keep using it: IMPORTING /
 * MIGRATING (clients get ASK for keys already moved), MIGRATE in batches, then SETSLOT NODE everywhere
 * (clients get MOVED).
 */
export async function moveSlot(
  slot: number,
  fromPort: number,
  toPort: number,
  allPorts: readonly number[],
): Promise<number> {
  const idOf = (port: number) => withNode(port, async (r) => String(await r.cluster('MYID')));
  const [fromId, toId] = [await idOf(fromPort), await idOf(toPort)];
  await withNode(toPort, (r) => r.cluster('SETSLOT', slot, 'IMPORTING', fromId));
  await withNode(fromPort, (r) => r.cluster('SETSLOT', slot, 'MIGRATING', toId));
  let moved = 0;
  await withNode(fromPort, async (source) => {
    for (;;) {
      const keys = (await source.cluster('GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await source.migrate('127.0.0.1', toPort, '', 0, 10_000, 'REPLACE', 'KEYS', ...keys);
      moved += keys.length;
    }
  });
  for (const port of [toPort, fromPort, ...allPorts.filter((p) => p !== toPort && p !== fromPort)]) {
    await withNode(port, (r) => r.cluster('SETSLOT', slot, 'NODE', toId));
  }
  return moved;
}
