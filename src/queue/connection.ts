// One way to open Redis connections. Workers must wait through Redis outages (BullMQ requires
// `maxRetriesPerRequest: null` for them); producers answer a caller and must fail fast instead of
// queueing commands in memory while Redis is away.

import { Redis } from 'ioredis';

export type ConnectionRole = 'worker' | 'producer';

export function createRedisConnection(
  redisUrl: string,
  role: ConnectionRole,
  onError: (err: Error) => void = () => {},
): Redis {
  const redis =
    role === 'worker'
      ? new Redis(redisUrl, { maxRetriesPerRequest: null })
      : new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000 });
  // Without a listener ioredis reports every failed reconnect as an unhandled error event.
  redis.on('error', onError);
  return redis;
}

/**
 * A fail-fast producer connection that is ready, or an error naming REDIS_URL's host — never the URL
 * itself, which may carry a password.
 */
export async function openProducerConnection(
  redisUrl: string,
  onError: (err: Error) => void = () => {},
): Promise<Redis> {
  const redis = createRedisConnection(redisUrl, 'producer', onError);
  try {
    return await connected(redis, 10_000);
  } catch {
    redis.disconnect();
    throw new Error(`cannot reach Redis at REDIS_URL (${new URL(redisUrl).host})`);
  }
}

/** Resolves once the connection is ready, so a fail-fast producer does not reject its first command. */
export async function connected(redis: Redis, timeoutMs = 5000): Promise<Redis> {
  if (redis.status === 'ready') return redis;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis not ready after ${timeoutMs} ms`)), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return redis;
}
