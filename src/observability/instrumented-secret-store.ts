// A SecretStore decorator that counts every call by operation and outcome, so the AWS and file adapters
// (and any store handed in) are measured the same way without knowing about metrics.

import { isProvisioningError } from '../failures/index.js';
import type { SecretStore } from '../secrets/index.js';
import {
  type Metrics,
  SECRET_STORE_SUCCESS,
  SECRET_STORE_UNEXPECTED,
  type SecretStoreOperation,
} from './metrics.js';

export function instrumentSecretStore(
  store: SecretStore,
  metrics: Pick<Metrics, 'secretStoreCalls'>,
): SecretStore {
  const counted =
    <A extends unknown[], R>(operation: SecretStoreOperation, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        const result = await call(...args);
        metrics.secretStoreCalls.inc({ operation, outcome: SECRET_STORE_SUCCESS });
        return result;
      } catch (err) {
        // The failure code tells throttling (unavailable) from access denied (rejected); both are bounded.
        const outcome = isProvisioningError(err) ? err.code : SECRET_STORE_UNEXPECTED;
        metrics.secretStoreCalls.inc({ operation, outcome });
        throw err;
      }
    };
  return {
    write: counted('write', (write) => store.write(write)),
    writePending: counted('writePending', (write) => store.writePending(write)),
    makeCurrent: counted('makeCurrent', (name, versionId, options) =>
      store.makeCurrent(name, versionId, options),
    ),
    readCurrent: counted('readCurrent', (name) => store.readCurrent(name)),
    readPrevious: counted('readPrevious', (name) => store.readPrevious(name)),
    readVersion: counted('readVersion', (name, versionId) => store.readVersion(name, versionId)),
    list: counted('list', (prefix, options) => store.list(prefix, options)),
    readTags: counted('readTags', (name) => store.readTags(name)),
    close: () => store.close(),
  };
}
