// The write budget in front of a secret store: each write waits for its turn, reads never wait, and a
// turn too far away is a retryable failure rather than an unbounded wait.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { isProvisioningError } from '../../../src/failures/index.js';
import { budgetSecretWrites, type WriteBudget } from '../../../src/limits/index.js';
import type { SecretStore, SecretWrite } from '../../../src/secrets/index.js';

function memoryStore(): SecretStore & { written: string[] } {
  const written: string[] = [];
  return {
    written,
    async write(write: SecretWrite) {
      written.push(write.name);
      return { versionId: write.clientRequestToken, created: true };
    },
    readCurrent: async (name) => ({ name, value: 'v', versionId: 'x'.repeat(32) }),
    readPrevious: async () => undefined,
    readVersion: async () => undefined,
    list: async () => ({ names: [] }),
    readTags: async () => ({}),
    close: async () => {},
  };
}

/** Hands out turns `spacingMs` apart, as the Redis bucket does, counting the reservations. */
function spacedBudget(spacingMs: number): WriteBudget & { reservations: number } {
  let next = 0;
  return {
    ratePerSecond: 1000 / spacingMs,
    reservations: 0,
    async reserve(maxWaitMs: number) {
      const wait = next;
      if (wait > maxWaitMs) return undefined;
      this.reservations += 1;
      next += spacingMs;
      return wait;
    },
  };
}

const write = (i: number): SecretWrite => ({
  name: `dcr/t${i}/ehr.example`,
  value: '{}',
  clientRequestToken: `token-${String(i).padStart(30, '0')}`,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('limits/budgetSecretWrites', () => {
  it('lets each write through only when its turn comes, in order of arrival', async () => {
    vi.useFakeTimers();
    const inner = memoryStore();
    const waits: number[] = [];
    const store = budgetSecretWrites(inner, spacedBudget(100), { onWait: (ms) => waits.push(ms) });
    const writes = [0, 1, 2, 3].map((i) => store.write(write(i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.written).toEqual(['dcr/t0/ehr.example']);
    await vi.advanceTimersByTimeAsync(100);
    expect(inner.written).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(200);
    await Promise.all(writes);
    expect(inner.written).toEqual([0, 1, 2, 3].map((i) => `dcr/t${i}/ehr.example`));
    expect(waits).toEqual([0, 100, 200, 300]);
  });

  it('fails a write whose turn is beyond the bound as secret_store_unavailable, which is retried', async () => {
    const inner = memoryStore();
    const budget = spacedBudget(1000);
    const store = budgetSecretWrites(inner, budget, { maxWaitMs: 500 });
    await store.write(write(0));
    const error = await store.write(write(1)).catch((err: unknown) => err);
    expect(isProvisioningError(error) && error.code).toBe('secret_store_unavailable');
    expect(isProvisioningError(error) && error.retryable).toBe(true);
    expect((error as Error).message).toContain('SECRET_WRITES_PER_S');
    expect(inner.written).toHaveLength(1);
    expect(budget.reservations).toBe(1);
  });

  it('never makes reads wait for the write budget', async () => {
    const budget = spacedBudget(60_000);
    const store = budgetSecretWrites(memoryStore(), budget);
    await expect(store.readCurrent('dcr/t/ehr.example')).resolves.toMatchObject({ value: 'v' });
    await expect(store.list('dcr/')).resolves.toEqual({ names: [] });
    expect(budget.reservations).toBe(0);
  });
});
