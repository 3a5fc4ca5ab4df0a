// The secret write budget against moto, shared by two "workers" (two Redis connections): a burst of
// writes that would be throttled is spread out in time instead, and every write succeeds.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { isProvisioningError, ProvisioningError } from '../../../src/failures/index.js';
import {
  RedisWriteBudget,
  type SecretWriteTurnsOptions,
  secretWriteTurns,
  type WriteBudget,
} from '../../../src/limits/index.js';
import { createSecretStore, type SecretStore, type SecretWrite } from '../../../src/secrets/index.js';
import { pipelineEnv } from '../pipeline/harness.js';

/**
 * Secrets Manager's write quota in miniature: a write beyond `perSecond` in the last second fails as
 * the AWS adapter reports ThrottlingException, and is counted.
 */
function throttling(store: SecretStore, perSecond: number): SecretStore & { throttled: number } {
  const accepted: number[] = [];
  const throttlingStore = {
    throttled: 0,
    async write(write: SecretWrite) {
      const now = Date.now();
      while (accepted.length > 0 && (accepted[0] as number) <= now - 1000) accepted.shift();
      if (accepted.length >= perSecond) {
        throttlingStore.throttled += 1;
        throw new ProvisioningError(
          'secret_store_unavailable',
          `cannot write secret ${write.name}: ThrottlingException (Rate exceeded)`,
        );
      }
      accepted.push(now);
      return store.write(write);
    },
    readCurrent: (name: string) => store.readCurrent(name),
    readPrevious: (name: string) => store.readPrevious(name),
    readVersion: (name: string, versionId: string) => store.readVersion(name, versionId),
    list: store.list.bind(store),
    readTags: (name: string) => store.readTags(name),
    close: () => store.close(),
  };
  return throttlingStore;
}

/** Each write takes a turn and waits for it, as the use case does before it writes credentials. */
function budgetSecretWrites(store: SecretStore, budget: WriteBudget, options: SecretWriteTurnsOptions = {}) {
  const turns = secretWriteTurns(budget, options);
  return {
    async write(write: SecretWrite) {
      await (await turns.reserve()).wait();
      return store.write(write);
    },
  };
}

const config = () => loadConfig(pipelineEnv('write-budget'));
let moto: SecretStore;
const connections: Redis[] = [];

beforeAll(() => {
  moto = createSecretStore(config());
});
afterAll(async () => {
  await moto.close();
  for (const redis of connections) redis.disconnect();
});

function burst(count: number, label: string): SecretWrite[] {
  const prefix = config().SECRET_NAME_PREFIX;
  return Array.from({ length: count }, (_, i) => ({
    name: `${prefix}${label}-${i}/ehr.example`,
    value: JSON.stringify({ client_id: `client-${i}` }),
    clientRequestToken: randomUUID(),
  }));
}

async function settle(writes: Array<Promise<unknown>>) {
  const results = await Promise.allSettled(writes);
  return {
    succeeded: results.filter((r) => r.status === 'fulfilled').length,
    throttled: results.filter(
      (r) => r.status === 'rejected' && isProvisioningError(r.reason) && /Throttling/.test(r.reason.message),
    ).length,
  };
}

describe('limits/secret write budget', () => {
  it('without a budget, a burst of 20 writes against a 15/s quota comes back partly throttled', async () => {
    const store = throttling(moto, 15);
    const outcome = await settle(burst(20, 'unbudgeted').map((write) => store.write(write)));
    expect(outcome.throttled).toBe(5);
    expect(outcome.succeeded).toBe(15);
  });

  it('with a fleet budget of 10/s shared by two workers, the same burst waits its turn and all 20 succeed', async () => {
    const key = `${config().QUEUE_PREFIX}:limits:secret-writes:${randomUUID()}`;
    const quota = throttling(moto, 15);
    const waits: number[] = [];
    const workers = [0, 1].map(() => {
      const redis = new Redis(inject('redisUrl'));
      connections.push(redis);
      return budgetSecretWrites(quota, new RedisWriteBudget({ redis, key, ratePerSecond: 10 }), {
        onWait: (ms) => waits.push(ms),
      });
    });
    const writes = burst(20, 'budgeted');
    const outcome = await settle(
      writes.map((write, i) => (workers[i % 2] as ReturnType<typeof budgetSecretWrites>).write(write)),
    );

    expect(outcome).toEqual({ succeeded: 20, throttled: 0 });
    expect(quota.throttled).toBe(0);
    // One write found a turn free; each of the other 19 got a turn of its own, later than the one before.
    expect(waits.filter((ms) => ms === 0)).toHaveLength(1);
    expect(new Set(waits).size).toBe(20);
    for (const write of writes) {
      expect((await moto.readCurrent(write.name))?.versionId).toBe(write.clientRequestToken);
    }
  });

  it('spaces turns (1,000 + jitterMs) / rate apart across workers, so no second holds more than the rate', async () => {
    const key = `${config().QUEUE_PREFIX}:limits:secret-writes:${randomUUID()}`;
    const budgets = [0, 1].map(() => {
      const redis = new Redis(inject('redisUrl'));
      connections.push(redis);
      return new RedisWriteBudget({ redis, key, ratePerSecond: 10, jitterMs: 50 });
    });
    const started = performance.now();
    const waits: number[] = [];
    for (let i = 0; i < 21; i++) waits.push((await budgets[i % 2]?.reserve(10_000)) as number);
    const spentMs = performance.now() - started;

    // Each wait counts from its own call, which came a little later than the one before.
    for (let k = 0; k + 10 < waits.length; k++) {
      const apart = (waits[k + 10] as number) - (waits[k] as number);
      expect(apart).toBeGreaterThanOrEqual(1050 - spentMs - 1);
      expect(apart).toBeLessThanOrEqual(1051);
    }
  });

  it('at a budget equal to the quota, a write that leaves 40 ms after its turn is not throttled', async () => {
    const key = `${config().QUEUE_PREFIX}:limits:secret-writes:${randomUUID()}`;
    const quota = throttling(moto, 10);
    // The 1st and 21st writes to leave are held back 40 ms (a busy event loop); the 11th is on time.
    // With turns exactly 100 ms apart the 11th would be the 11th write within one second.
    let leaving = 0;
    const late: SecretStore = {
      ...quota,
      async write(write) {
        if (leaving++ % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 40));
        return quota.write(write);
      },
    };
    const workers = [0, 1].map(() => {
      const redis = new Redis(inject('redisUrl'));
      connections.push(redis);
      return budgetSecretWrites(late, new RedisWriteBudget({ redis, key, ratePerSecond: 10, jitterMs: 100 }));
    });
    const outcome = await settle(
      burst(25, 'late').map((write, i) =>
        (workers[i % 2] as ReturnType<typeof budgetSecretWrites>).write(write),
      ),
    );

    expect(outcome).toEqual({ succeeded: 25, throttled: 0 });
    expect(quota.throttled).toBe(0);
  });
});
