import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../../src/queue/index.js';

const settings = { baseMs: 2000, maxMs: 900_000 };

describe('queue/retryDelayMs', () => {
  it('waits at least the base and at most the doubling ceiling (full jitter)', () => {
    expect(retryDelayMs(1, undefined, settings, () => 0)).toBe(2000);
    expect(retryDelayMs(1, undefined, settings, () => 1)).toBe(4000);
    expect(retryDelayMs(3, undefined, settings, () => 1)).toBe(16000);
    expect(retryDelayMs(3, undefined, settings, () => 0.5)).toBe(9000);
  });

  it('never exceeds BACKOFF_MAX_MS however many attempts were made', () => {
    expect(retryDelayMs(40, undefined, settings, () => 1)).toBe(900_000);
  });

  it("honours the server's Retry-After instead of the jittered delay", () => {
    expect(retryDelayMs(1, 30_000, settings, () => 0)).toBe(30_000);
    expect(retryDelayMs(5, 0, settings, () => 1)).toBe(2000);
  });
});
