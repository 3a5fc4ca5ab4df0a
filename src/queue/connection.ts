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

/** Resolves once the connection is ready, so a fail-fast producer does not reject its first command. */
export async function connected(redis: Redis): Promise<Redis> {
  if (redis.status === 'ready') return redis;
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('end', () => reject(new Error('Redis connection closed before it was ready')));
  });
  return redis;
}
