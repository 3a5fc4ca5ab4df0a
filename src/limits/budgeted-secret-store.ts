// A SecretStore decorator that takes a turn from the fleet's write budget before every write and waits
// for it in process. Reads pass straight through: GetSecretValue's quota is 10,000/s.

import { ProvisioningError } from '../failures/index.js';
import type { SecretStore } from '../secrets/index.js';
import type { WriteBudget } from './write-budget.js';

export interface BudgetedSecretStoreOptions {
  /**
   * The longest a write waits for its turn. Beyond it the write fails as `secret_store_unavailable`
   * (retried) without taking a turn, so a backlog bigger than the fleet can drain is not queued up.
   * @defaultValue 30000
   */
  maxWaitMs?: number;
  /** Told how long each write waited for its turn (0 when it had one at once). */
  onWait?: (waitMs: number) => void;
}

export function budgetSecretWrites(
  store: SecretStore,
  budget: WriteBudget,
  options: BudgetedSecretStoreOptions = {},
): SecretStore {
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  return {
    async write(write) {
      const waitMs = await budget.reserve(maxWaitMs);
      if (waitMs === undefined) {
        throw new ProvisioningError(
          'secret_store_unavailable',
          `cannot write secret ${write.name} yet: the fleet's secret write budget (${budget.ratePerSecond}/s, ` +
            `SECRET_WRITES_PER_S) has no turn free within ${maxWaitMs} ms; the write is tried again later`,
        );
      }
      options.onWait?.(waitMs);
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      return store.write(write);
    },
    readCurrent: (name) => store.readCurrent(name),
    readPrevious: (name) => store.readPrevious(name),
    readVersion: (name, versionId) => store.readVersion(name, versionId),
    list: (prefix, listOptions) => store.list(prefix, listOptions),
    readTags: (name) => store.readTags(name),
    close: () => store.close(),
  };
}
