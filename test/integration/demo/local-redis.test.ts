import { describe, expect, inject, it } from 'vitest';
import { ensureLocalRedis, redisAnswers, spawnLocalRedis } from '../../../src/demo/local-redis.js';

describe('demo/local-redis', () => {
  it('spawns a private redis-server that answers, and stops it', async () => {
    const redis = await spawnLocalRedis();
    expect(redis.spawned).toBe(true);
    expect(await redisAnswers(redis.url)).toBe(true);
    await redis.stop();
    expect(await redisAnswers(redis.url)).toBe(false);
  });

  it('uses REDIS_URL when it answers, and refuses one that does not', async () => {
    expect(await ensureLocalRedis(inject('redisUrl'))).toMatchObject({
      url: inject('redisUrl'),
      spawned: false,
    });
    await expect(ensureLocalRedis('redis://127.0.0.1:1')).rejects.toThrow(
      /REDIS_URL is set but nothing answers/,
    );
  });
});
