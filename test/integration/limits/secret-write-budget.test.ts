// The secret write budget against moto, shared by two "workers" (two Redis connections): a burst of
// writes that would be throttled is spread out in time instead, and every write succeeds. What is
// checked is what reached Secrets Manager: a proxy in front of moto stands for its write quota (a write
// beyond the quota in the last second is answered ThrottlingException, as AWS does) and records every
// call in the order it arrived.

import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { isProvisioningError } from '../../../src/failures/index.js';
import { RedisWriteBudget, secretWriteTurns } from '../../../src/limits/index.js';
import type { RedisConnection } from '../../../src/queue/index.js';
import { AwsSecretStore, type SecretStore, type SecretWrite } from '../../../src/secrets/index.js';
import { testQueuePrefix, testRedis } from '../../support/redis.js';
import {
  type SecretsCall,
  type SecretsFault,
  type SecretsFaultProxy,
  startSecretsFaultProxy,
} from '../../support/secrets-fault-proxy.js';

const SECRET_NAME_PREFIX = `${inject('redisPrefix')}-write-budget/`;
let queuePrefix: string;
let moto: SecretStore;
let proxy: SecretsFaultProxy;
/** The store as the workers see it: through the proxy, one attempt per call, so a throttle shows. */
let store: SecretStore;
const connections: RedisConnection[] = [];

beforeAll(() => {
  queuePrefix = testQueuePrefix('write-budget');
  moto = new AwsSecretStore({ endpoint: inject('awsEndpoint'), region: 'us-east-1' });
});
beforeEach(async () => {
  proxy = await startSecretsFaultProxy(inject('awsEndpoint'));
  store = new AwsSecretStore({ endpoint: proxy.url, region: 'us-east-1', maxAttempts: 1 });
});
afterEach(async () => {
  await store.close();
  await proxy.close();
});
afterAll(async () => {
  await moto.close();
  for (const redis of connections) redis.disconnect();
});

/** Secrets Manager's write quota in miniature: at most `perSecond` writes arrive in any 1,000 ms. */
function writeQuota(perSecond: number): (call: SecretsCall) => SecretsFault {
  const accepted: number[] = [];
  return (call) => {
    if (!call.isWrite) return 'pass';
    const now = Date.now();
    while (accepted.length > 0 && (accepted[0] as number) <= now - 1000) accepted.shift();
    if (accepted.length >= perSecond) return 'throttle';
    accepted.push(now);
    return 'pass';
  };
}

function newBudgetKey(): string {
  return `${queuePrefix}:limits:secret-writes:${randomUUID()}`;
}

function budget(key: string, ratePerSecond: number, jitterMs?: number): RedisWriteBudget {
  const redis = testRedis();
  connections.push(redis);
  return new RedisWriteBudget({ redis, key, ratePerSecond, ...(jitterMs === undefined ? {} : { jitterMs }) });
}

/** Each write takes a turn and waits for it, as the use case does; the turn it was given is kept. */
function budgetedWriter(writeBudget: RedisWriteBudget, write: (w: SecretWrite) => Promise<unknown>) {
  return async (secret: SecretWrite, turns: Map<string, number>) => {
    const turn = await secretWriteTurns(writeBudget, {
      onWait: (ms) => turns.set(secret.name, ms),
    }).reserve();
    await turn.wait();
    return write(secret);
  };
}

type Writer = ReturnType<typeof budgetedWriter>;

/** Two workers, each with its own Redis connection to the same budget. */
function twoWorkers(make: () => Writer): [Writer, Writer] {
  return [make(), make()];
}

function burst(count: number, label: string): SecretWrite[] {
  const run = randomUUID().slice(0, 8);
  return Array.from({ length: count }, (_, i) => ({
    name: `${SECRET_NAME_PREFIX}${label}-${run}-${i}/ehr.example`,
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

/** The writes that Secrets Manager accepted, in the order they arrived. */
function acceptedWrites(): string[] {
  return proxy.calls.filter((c) => c.isWrite && c.fault === 'pass').map((c) => c.secretId as string);
}

/** The writes' names ordered by the turn each was given. */
function inTurnOrder(turns: Map<string, number>): string[] {
  return [...turns.entries()].sort((x, y) => x[1] - y[1]).map(([name]) => name);
}

describe('limits/secret write budget', () => {
  it('without a budget, a burst of 20 writes against a 15/s quota comes back partly throttled', async () => {
    proxy.setRule(writeQuota(15));
    const outcome = await settle(burst(20, 'unbudgeted').map((write) => store.write(write)));
    expect(outcome).toEqual({ succeeded: 15, throttled: 5 });
    // All 20 reached Secrets Manager at once, and it refused 5 of them.
    expect(proxy.counts).toEqual({ 'CreateSecret:pass': 15, 'CreateSecret:throttle': 5 });
  });

  it('with a fleet budget of 10/s shared by two workers, the same burst waits its turn and all 20 succeed', async () => {
    proxy.setRule(writeQuota(15));
    const key = newBudgetKey();
    const workers = twoWorkers(() => budgetedWriter(budget(key, 10), (w) => store.write(w)));
    const writes = burst(20, 'budgeted');
    const turns = new Map<string, number>();
    const outcome = await settle(writes.map((write, i) => (workers[i % 2] as Writer)(write, turns)));

    expect(outcome).toEqual({ succeeded: 20, throttled: 0 });
    // Secrets Manager saw 20 writes, none refused, arriving one by one in the order of their turns.
    expect(proxy.counts).toEqual({ 'CreateSecret:pass': 20 });
    expect(turns.size).toBe(20);
    expect(acceptedWrites()).toEqual(inTurnOrder(turns));
    for (const write of writes) {
      const stored = await moto.readCurrent(write.name);
      expect(stored).toMatchObject({ versionId: write.clientRequestToken, value: write.value });
    }
  });

  it('spaces turns across workers so that no second at Secrets Manager holds more than the rate', async () => {
    // The quota is the budget's rate itself: a single second with 11 writes in it draws a throttle.
    proxy.setRule(writeQuota(10));
    const key = newBudgetKey();
    const workers = twoWorkers(() => budgetedWriter(budget(key, 10, 50), (w) => store.write(w)));
    const writes = burst(21, 'spaced');
    const turns = new Map<string, number>();
    const outcome = await settle(writes.map((write, i) => (workers[i % 2] as Writer)(write, turns)));

    expect(outcome).toEqual({ succeeded: 21, throttled: 0 });
    expect(proxy.counts).toEqual({ 'CreateSecret:pass': 21 });
    expect(acceptedWrites()).toEqual(inTurnOrder(turns));
  });

  it('at a budget equal to the quota, a write that leaves 40 ms after its turn is not throttled', async () => {
    proxy.setRule(writeQuota(10));
    const key = newBudgetKey();
    // The 1st and 21st writes to leave are held back 40 ms (a busy event loop); the 11th is on time.
    // With turns exactly 100 ms apart the 11th would be the 11th write within one second.
    let leaving = 0;
    const late = async (write: SecretWrite) => {
      if (leaving++ % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 40));
      return store.write(write);
    };
    const workers = twoWorkers(() => budgetedWriter(budget(key, 10, 100), late));
    const turns = new Map<string, number>();
    const outcome = await settle(
      burst(25, 'late').map((write, i) => (workers[i % 2] as Writer)(write, turns)),
    );

    expect(outcome).toEqual({ succeeded: 25, throttled: 0 });
    expect(proxy.counts).toEqual({ 'CreateSecret:pass': 25 });
  });
});
