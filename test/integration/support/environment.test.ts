// The provisioned services answer, and keys written under the run's prefix are the run's own.

import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';

describe('test environment', () => {
  it('provides a Redis that answers and a per-run key prefix', async () => {
    const redis = new Redis(inject('redisUrl'));
    try {
      expect(inject('redisPrefix')).toMatch(/^dcrtest-\d+-[0-9a-f]{8}$/);
      await redis.set(`${inject('redisPrefix')}:probe`, '1');
      expect(await redis.get(`${inject('redisPrefix')}:probe`)).toBe('1');
    } finally {
      redis.disconnect();
    }
  });

  it('provides a moto server that speaks the Secrets Manager API', async () => {
    const response = await fetch(inject('awsEndpoint'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.ListSecrets' },
      body: '{}',
    });
    expect(response.status).toBe(200);
  });
});
