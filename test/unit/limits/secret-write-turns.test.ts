// Turns from the write budget: reserved in order without waiting, waited for only when the write is
// due, and a turn too far away is a retryable failure that reserves nothing.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { isProvisioningError } from '../../../src/failures/index.js';
import { secretWriteTurns, type WriteBudget } from '../../../src/limits/index.js';

/** Hands out turns `spacingMs` apart, as the Redis bucket does, counting the reservations. */
function spacedBudget(spacingMs: number): WriteBudget & { reservations: number } {
  let next = 0;
  return {
    ratePerSecond: 1000 / spacingMs,
    jitterMs: 50,
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

afterEach(() => {
  vi.useRealTimers();
});

describe('limits/secretWriteTurns', () => {
  it('reserves turns in order at once, and each wait ends only when its turn comes', async () => {
    vi.useFakeTimers();
    const waits: number[] = [];
    const turns = secretWriteTurns(spacedBudget(100), { onWait: (ms) => waits.push(ms) });
    const reserved = await Promise.all([0, 1, 2, 3].map(() => turns.reserve()));
    expect(waits).toEqual([0, 100, 200, 300]);

    const done: number[] = [];
    reserved.forEach((turn, i) => void turn.wait().then(() => done.push(i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toEqual([0]);
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(200);
    expect(done).toEqual([0, 1, 2, 3]);
  });

  it('goes at once when its turn came while the request ran, within the jitter the budget allows', async () => {
    vi.useFakeTimers();
    const budget = spacedBudget(100);
    const turns = secretWriteTurns(budget);
    await turns.reserve();
    const second = await turns.reserve();
    await vi.advanceTimersByTimeAsync(140);
    let finished = false;
    void second.wait().then(() => {
      finished = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(finished).toBe(true);
    expect(budget.reservations).toBe(2);
  });

  it('takes a fresh turn instead of leaving late when its turn passed long ago (late writes bunch up)', async () => {
    vi.useFakeTimers();
    const budget = spacedBudget(100);
    const turns = secretWriteTurns(budget);
    const first = await turns.reserve();
    await turns.reserve();
    // The POST took a second: the first turn is long gone, the next free one is 200 ms on.
    await vi.advanceTimersByTimeAsync(1000);
    let finished = false;
    void first.wait().then(() => {
      finished = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(budget.reservations).toBe(3);
    expect(finished).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(finished).toBe(true);
  });

  it('fails a turn beyond the bound as secret_store_unavailable, which is retried, and reserves nothing', async () => {
    const budget = spacedBudget(1000);
    const turns = secretWriteTurns(budget, { maxWaitMs: 500 });
    await turns.reserve();
    const error = await turns.reserve().catch((err: unknown) => err);
    expect(isProvisioningError(error) && error.code).toBe('secret_store_unavailable');
    expect(isProvisioningError(error) && error.retryable).toBe(true);
    expect((error as Error).message).toContain('SECRET_WRITES_PER_S');
    expect(budget.reservations).toBe(1);
  });
});
