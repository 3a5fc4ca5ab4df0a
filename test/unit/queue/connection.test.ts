// How a connection is built from REDIS_URL and REDIS_CLUSTER, read off the ioredis client before it
// reaches any server (the options are what every node it discovers will get).

import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisConnection, type RedisConnection, redisHosts } from '../../../src/queue/index.js';

const opened: RedisConnection[] = [];
afterEach(() => {
  for (const connection of opened.splice(0)) connection.disconnect();
});
function open(...args: Parameters<typeof createRedisConnection>): RedisConnection {
  const connection = createRedisConnection(...args);
  opened.push(connection);
  return connection;
}

// Closed ports on loopback: nothing answers, nothing is sent.
const seeds = 'rediss://svc:p%40ss@127.0.0.1:1,rediss://127.0.0.1:2';

describe('queue/createRedisConnection', () => {
  it('builds a standalone client by default, waiting through outages for a worker', () => {
    const redis = open({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER: false }, 'worker');
    expect(redis).toBeInstanceOf(Redis);
    expect((redis as Redis).options.maxRetriesPerRequest).toBeNull();
  });

  it('builds a Cluster over every seed, with the first seed’s user, password and TLS for all nodes', () => {
    const cluster = open({ REDIS_URL: seeds, REDIS_CLUSTER: true }, 'worker') as Cluster;
    expect(cluster).toBeInstanceOf(Cluster);
    expect((cluster as unknown as { startupNodes: unknown[] }).startupNodes).toEqual(seeds.split(','));
    expect(cluster.options.redisOptions).toMatchObject({
      username: 'svc',
      password: 'p@ss',
      tls: {},
      maxRetriesPerRequest: null,
    });
    expect(cluster.options.enableOfflineQueue).toBe(true);
    // TLS names the configured host: it is kept instead of being resolved to an address.
    const seen: string[] = [];
    cluster.options.dnsLookup?.('clustercfg.example.cache.amazonaws.com', (_err, address) =>
      seen.push(address),
    );
    expect(seen).toEqual(['clustercfg.example.cache.amazonaws.com']);
  });

  it('makes producers fail fast on a cluster too', () => {
    const cluster = open({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER: true }, 'producer') as Cluster;
    expect(cluster.options.enableOfflineQueue).toBe(false);
    expect(cluster.options.redisOptions).toMatchObject({ maxRetriesPerRequest: 1 });
    expect(cluster.options.redisOptions).not.toHaveProperty('tls');
  });
});

describe('queue/redisHosts', () => {
  it('names every host of the list and no credential', () => {
    expect(redisHosts({ REDIS_URL: seeds })).toBe('127.0.0.1:1, 127.0.0.1:2');
  });
});
