// Turns from the fleet's secret write budget, taken by the use case itself: the turn for the write that
// stores a new client's credentials is reserved *before* the registration POST (or RFC 7592 PUT) is
// sent, so a saturated budget puts the job off while nothing has happened yet, instead of leaving a
// registered client whose credentials wait in memory for a turn that may not come. Reserving takes the
// turn at once and does not wait; the write waits for it. A write whose turn passed while its POST was
// still running (an idle budget hands out turns at once) takes a fresh turn instead of leaving late:
// late writes bunch up, and the budget's promise — no second at the store sees more than its rate —
// holds only for writes that leave within `jitterMs` of their turn.

import { ProvisioningError } from '../failures/index.js';
import type { WriteBudget } from './write-budget.js';

/**
 * One reserved write. `wait` resolves when its moment has come; when that moment passed too long ago, it
 * waits for a fresh turn (and fails like `reserve` when none is free).
 */
export interface WriteTurn {
  wait(): Promise<void>;
}

export interface SecretWriteTurns {
  /**
   * Reserves the next turn. Fails as `secret_store_unavailable` (retried) without reserving anything
   * when the turn would be further away than the budget allows a caller to wait.
   */
  reserve(): Promise<WriteTurn>;
}

export interface SecretWriteTurnsOptions {
  /**
   * The furthest a turn may lie ahead. Beyond it the reservation fails, so a backlog bigger than the
   * fleet can drain is not queued up. @defaultValue 30000
   */
  maxWaitMs?: number;
  /** Told how far ahead each reserved turn lay (0 when it was free at once). */
  onWait?: (waitMs: number) => void;
}

export function secretWriteTurns(
  budget: WriteBudget,
  options: SecretWriteTurnsOptions = {},
): SecretWriteTurns {
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  /** The moment (Date.now()) of the next turn. */
  const nextTurnAt = async (): Promise<number> => {
    const waitMs = await budget.reserve(maxWaitMs);
    if (waitMs === undefined) {
      throw new ProvisioningError(
        'secret_store_unavailable',
        `no secret write turn is free within ${maxWaitMs} ms (the fleet's budget is ${budget.ratePerSecond}/s, ` +
          'SECRET_WRITES_PER_S); the write is tried again later',
      );
    }
    options.onWait?.(waitMs);
    return Date.now() + waitMs;
  };
  return {
    async reserve() {
      let at = await nextTurnAt();
      return {
        async wait() {
          if (Date.now() - at > budget.jitterMs) at = await nextTurnAt();
          const left = at - Date.now();
          if (left > 0) await sleep(left);
        },
      };
    },
  };
}

/** A pause on the global timer (which tests can fake). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
