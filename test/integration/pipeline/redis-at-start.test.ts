// What a process does when Redis is not there yet at start: a worker waits for it (as it waits through
// any outage), a producer gives up after its bound with a message naming the host and no credential.

import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../src/demo/local-redis.js';
import { assertRedisKind } from '../../../src/queue/index.js';

describe('Redis not up yet at start', () => {
  it('lets the worker wait until Redis answers, then checks what it is', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const check = assertRedisKind({ REDIS_URL: url, REDIS_CLUSTER: false });
    let settled = false;
    check.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(settled, 'still waiting while nothing listens').toBe(false);
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    try {
      await expect(check).resolves.toBeUndefined();
    } finally {
      redis.kill('SIGTERM');
    }
  });

  it('gives a producer up after its bound, naming the host but not the password', async () => {
    const port = await freePort();
    const error = await assertRedisKind(
      { REDIS_URL: `redis://svc:hidden-pw-5521@127.0.0.1:${port}`, REDIS_CLUSTER: false },
      { waitMs: 1000 },
    ).catch((err: unknown) => err);
    expect(String(error)).toContain(`cannot reach Redis at REDIS_URL (127.0.0.1:${port})`);
    expect(String(error)).not.toContain('hidden-pw-5521');
  });
});
