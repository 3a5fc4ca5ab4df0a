// One way to open Redis connections, standalone or Redis Cluster. Workers must wait through Redis
// outages (BullMQ requires `maxRetriesPerRequest: null` for them); producers answer a caller and must
// fail fast instead of queueing commands in memory while Redis is away.

import { Cluster, type ClusterOptions, Redis, type RedisOptions, ReplyError } from 'ioredis';
import { type Config, ConfigError, redisUrls } from '../config/index.js';

export type ConnectionRole = 'worker' | 'producer';
export type RedisConnection = Redis | Cluster;
/** What a connection needs of the configuration. */
export type RedisEndpoint = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER'>;

const ROLE_OPTIONS: Record<ConnectionRole, RedisOptions> = {
  worker: { maxRetriesPerRequest: null },
  producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000 },
};

export function createRedisConnection(
  endpoint: RedisEndpoint,
  role: ConnectionRole,
  onError: (err: Error) => void = () => {},
): RedisConnection {
  const redis = endpoint.REDIS_CLUSTER
    ? new Cluster(redisUrls(endpoint), clusterOptions(endpoint, role))
    : new Redis(endpoint.REDIS_URL, ROLE_OPTIONS[role]);
  // Without a listener ioredis reports every failed reconnect as an unhandled error event.
  redis.on('error', onError);
  return redis;
}

/**
 * Nodes discovered through CLUSTER SLOTS come as bare addresses: they get the first seed's user,
 * password and TLS, which is how ElastiCache and MemoryDB hand out one ACL user for the whole cluster.
 */
function clusterOptions(endpoint: RedisEndpoint, role: ConnectionRole): ClusterOptions {
  const seed = new URL(redisUrls(endpoint)[0] as string);
  const tls = seed.protocol === 'rediss:';
  return {
    redisOptions: {
      ...ROLE_OPTIONS[role],
      ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
      ...(seed.password ? { password: decodeURIComponent(seed.password) } : {}),
      ...(tls ? { tls: {} } : {}),
    },
    // Workers wait for the cluster to come back; producers answer their caller now.
    enableOfflineQueue: role === 'worker',
    // TLS certificates name the configuration endpoint's host: keep the name instead of resolving it.
    ...(tls
      ? {
          dnsLookup: (address: string, callback: (err: null, address: string) => void) =>
            callback(null, address),
        }
      : {}),
  };
}

/** The hosts of REDIS_URL for messages: never the URLs, which may carry passwords. */
export function redisHosts(endpoint: Pick<Config, 'REDIS_URL'>): string {
  return redisUrls(endpoint)
    .map((entry) => new URL(entry).host)
    .join(', ');
}

/** How long a producer waits for Redis at start (e.g. a container started just before Redis). */
const PRODUCER_WAIT_MS = 10_000;
const PROBE_RETRY_MS = 500;

/**
 * A fail-fast producer connection that is ready, or an error naming REDIS_URL's hosts — never the
 * URL itself, which may carry a password.
 */
export async function openProducerConnection(
  endpoint: RedisEndpoint,
  onError: (err: Error) => void = () => {},
): Promise<RedisConnection> {
  await assertRedisKind(endpoint, { waitMs: PRODUCER_WAIT_MS });
  const redis = createRedisConnection(endpoint, 'producer', onError);
  try {
    return await connected(redis, 10_000);
  } catch {
    redis.disconnect();
    throw new Error(`cannot reach Redis at REDIS_URL (${redisHosts(endpoint)})`);
  }
}

/**
 * Stops with one clear message when REDIS_CLUSTER does not match what REDIS_URL points at, or when
 * Redis refuses the service's credentials, instead of a standalone client looping on MOVED answers or
 * a cluster client retrying CLUSTER SLOTS forever. Asks the first seed that answers; while none does,
 * asks again for up to `waitMs` (a worker waits for Redis as long as it takes: the default).
 */
export async function assertRedisKind(
  endpoint: RedisEndpoint,
  options: { waitMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? Number.POSITIVE_INFINITY);
  for (;;) {
    for (const url of redisUrls(endpoint)) {
      const isClusterNode = await probeClusterEnabled(url);
      if (isClusterNode === undefined) continue;
      const hosts = redisHosts(endpoint);
      if (isClusterNode && !endpoint.REDIS_CLUSTER) {
        throw new ConfigError([
          `REDIS_URL points at a Redis Cluster node (${hosts}): set REDIS_CLUSTER=true`,
        ]);
      }
      if (!isClusterNode && endpoint.REDIS_CLUSTER) {
        throw new ConfigError([
          `REDIS_CLUSTER is true but REDIS_URL points at a standalone Redis (${hosts}): unset REDIS_CLUSTER`,
        ]);
      }
      return;
    }
    if (Date.now() + PROBE_RETRY_MS > deadline) {
      throw new Error(`cannot reach Redis at REDIS_URL (${redisHosts(endpoint)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, PROBE_RETRY_MS));
  }
}

/**
 * Whether the Redis at `url` runs in cluster mode (`INFO cluster`), or undefined when it cannot be
 * reached. A refusal (wrong password, a missing permission) is a ConfigError naming Redis's answer.
 */
async function probeClusterEnabled(url: string): Promise<boolean | undefined> {
  // No ready check: INFO is the probe's own question, and its refusal is what we report.
  const probe = new Redis(url, {
    ...ROLE_OPTIONS.producer,
    lazyConnect: true,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  let refusal: Error | undefined;
  // A refused AUTH (WRONGPASS) arrives as an error event as well as the failed connect.
  probe.on('error', (err) => {
    if (err instanceof ReplyError) refusal = err as Error;
  });
  try {
    await probe.connect();
    return /cluster_enabled:1/.test(await probe.info('cluster'));
  } catch (err) {
    if (err instanceof ReplyError) refusal = err as Error;
    if (!refusal) return undefined;
    throw new ConfigError([
      `Redis at REDIS_URL (${new URL(url).host}) refused the service's first command: ${refusal.message}`,
    ]);
  } finally {
    probe.disconnect();
  }
}

/** Resolves once the connection is ready, so a fail-fast producer does not reject its first command. */
export async function connected<T extends RedisConnection>(redis: T, timeoutMs = 5000): Promise<T> {
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
