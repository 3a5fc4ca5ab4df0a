// The test run's Redis, standalone or Redis Cluster (`npm run test:cluster`), seen the way the service
// sees it: the same REDIS_URL / REDIS_CLUSTER settings, connections made by the product's own
// createRedisConnection, key prefixes that are hash tags on a cluster, and helpers that read every key
// under a prefix on every master.

import type { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { type ConnectionRole, createRedisConnection, type RedisConnection } from '../../src/queue/index.js';

/** REDIS_URL and REDIS_CLUSTER of this run, to spread into a configuration's environment. */
export function testRedisEnv(): { REDIS_URL: string; REDIS_CLUSTER: string } {
  return { REDIS_URL: inject('redisUrl'), REDIS_CLUSTER: String(inject('redisCluster')) };
}

export function testRedis(role: ConnectionRole = 'worker'): RedisConnection {
  const env = testRedisEnv();
  return createRedisConnection({ REDIS_URL: env.REDIS_URL, REDIS_CLUSTER: inject('redisCluster') }, role);
}

/** A QUEUE_PREFIX of this run for one test file; a hash tag on a cluster, as the service requires. */
export function testQueuePrefix(name: string): string {
  const prefix = `${inject('redisPrefix')}-${name}`;
  return inject('redisCluster') ? `{${prefix}}` : prefix;
}

function masters(redis: RedisConnection): Redis[] {
  return 'nodes' in redis && typeof (redis as Cluster).nodes === 'function'
    ? (redis as Cluster).nodes('master')
    : [redis as Redis];
}

/** Every key matching a SCAN pattern, on every master of a cluster. */
export async function keysMatching(redis: RedisConnection, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** Every key matching a pattern and every value stored under it, as one text to search for secrets. */
export async function dumpKeys(redis: RedisConnection, pattern: string): Promise<string> {
  const parts: string[] = [];
  for (const key of await keysMatching(redis, pattern)) {
    const type = await redis.type(key);
    if (type === 'string') parts.push((await redis.get(key)) ?? '');
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    parts.push(key);
  }
  return parts.join('\n');
}

export interface StreamEvent {
  streamId: string;
  type: string;
  eventId: string;
  data: Record<string, unknown>;
}

/** The completion events of a stream, oldest first, with their data parsed. */
export async function readEventStream(redis: RedisConnection, streamKey: string): Promise<StreamEvent[]> {
  const entries = await redis.xrange(streamKey, '-', '+');
  return entries.map(([streamId, fields]) => {
    const record: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) record[fields[i] as string] = fields[i + 1] as string;
    return {
      streamId,
      type: record.type as string,
      eventId: record.eventId as string,
      data: JSON.parse(record.data as string),
    };
  });
}
