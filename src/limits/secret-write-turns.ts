// Turns from the fleet's secret write budget, taken by the use case itself: the turn for the write that
// stores a new client's credentials is reserved *before* the registration POST (or RFC 7592 PUT) is
// sent, so a saturated budget puts the job off while nothing has happened yet, instead of leaving a
// registered client whose credentials wait in memory for a turn that may not come. Reserving takes the
// turn at once and does not wait; the write waits for it (usually the POST has taken longer already).

import { ProvisioningError } from '../failures/index.js';
import type { WriteBudget } from './write-budget.js';

/** One reserved write: `wait` resolves when its moment has come (at once when it already has). */
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
  return {
    async reserve() {
      const waitMs = await budget.reserve(maxWaitMs);
      if (waitMs === undefined) {
        throw new ProvisioningError(
          'secret_store_unavailable',
          `no secret write turn is free within ${maxWaitMs} ms (the fleet's budget is ${budget.ratePerSecond}/s, ` +
            'SECRET_WRITES_PER_S); nothing was sent, and the attempt is tried again later',
        );
      }
      options.onWait?.(waitMs);
      const at = Date.now() + waitMs;
      return {
        async wait() {
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
