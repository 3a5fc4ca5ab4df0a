// What a process says when REDIS_CLUSTER does not match the Redis it is pointed at, or the prefix cannot
// live in one slot: every process kind stops at once with exit 2 and one message naming the setting and
// the fix — no hot loop of MOVED errors — and no password of REDIS_URL in it.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cliRunner } from '../support/cli.js';
import { type PasswordRedis, REDIS_PASSWORD, startPasswordRedis } from '../support/password-redis.js';
import { testQueuePrefix } from '../support/redis.js';

const COMMANDS: ReadonlyArray<readonly string[]> = [
  ['worker'],
  ['server'],
  ['start'],
  ['status', 'acme'],
  ['reindex'],
];
const clusterSeeds = inject('redisUrl');
const cli = cliRunner({
  QUEUE_PREFIX: testQueuePrefix('refusals'),
  SECRETS_BACKEND: 'file',
  SECRETS_FILE_DIR: '/tmp/dcr-refusals-unused',
  HTTP_PORT: '0',
  LOG_LEVEL: 'warn',
});

let standalone: PasswordRedis;
beforeAll(async () => {
  standalone = await startPasswordRedis();
});
afterAll(async () => {
  await standalone?.stop();
});

describe.each(COMMANDS.map((args) => [args.join(' '), args] as const))('%s', (_name, args) => {
  it('refuses a standalone client pointed at a cluster node: set REDIS_CLUSTER=true', async () => {
    const firstSeed = clusterSeeds.split(',')[0] as string;
    const result = await cli([...args], { REDIS_URL: firstSeed, REDIS_CLUSTER: 'false' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `REDIS_URL points at a Redis Cluster node (${new URL(firstSeed).host}): set REDIS_CLUSTER=true`,
    );
    expect(result.stderr).not.toMatch(/MOVED|CLUSTERDOWN/);
  });

  it('refuses REDIS_CLUSTER=true against a standalone Redis, masking its password', async () => {
    const result = await cli([...args], { REDIS_URL: standalone.url, REDIS_CLUSTER: 'true' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_CLUSTER is true but REDIS_URL points at a standalone Redis');
    expect(result.stdout + result.stderr).not.toContain(REDIS_PASSWORD);
  });

  it('refuses a prefix without a hash tag on a cluster, naming QUEUE_PREFIX and masking every password', async () => {
    const seeds = clusterSeeds
      .split(',')
      .map((url, i) => url.replace('redis://', `redis://svc:seed-pass-${i}@`))
      .join(',');
    const result = await cli([...args], { REDIS_URL: seeds, REDIS_CLUSTER: 'true', QUEUE_PREFIX: 'dcr' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('QUEUE_PREFIX must be a hash tag such as {name} when REDIS_CLUSTER=true');
    expect(result.stdout + result.stderr).not.toMatch(/seed-pass-/);
  });
});
