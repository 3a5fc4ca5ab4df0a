// What both adapters say about staging labels — a pending version on a missing secret, a version to
// make current that is malformed or unknown — so the AWS and file stores refuse alike, in the same words.

import { ProvisioningError } from '../failures/index.js';
import { assertValidSecretName } from './secret-name.js';

/** The staging labels of Secrets Manager; the file store keeps the same three. */
export const STAGE = { current: 'AWSCURRENT', previous: 'AWSPREVIOUS', pending: 'AWSPENDING' } as const;

// Version ids are the client request tokens of the writes that made them.
const VERSION_ID = /^[A-Za-z0-9-]{32,64}$/;

export function pendingNeedsSecret(name: string): ProvisioningError {
  return new ProvisioningError(
    'secret_store_rejected',
    `cannot write secret ${name}: a pending version needs an existing secret, and there is no such secret; store its first version with a plain write`,
  );
}

/**
 * Checks a makeCurrent before any backend is touched and returns the subject of its messages. A version
 * id is named in them: it is no secret (events publish it as secretVersionId) but what an operator
 * needs to look the version up.
 */
export function checkMakeCurrent(name: string, versionId: string): string {
  assertValidSecretName(name);
  if (typeof versionId !== 'string' || !VERSION_ID.test(versionId)) {
    // Not quoted: a malformed id may be anything, a value pasted by mistake included.
    throw new ProvisioningError(
      'secret_store_rejected',
      `cannot make a version of secret ${name} current: the version id must be 32–64 characters of A-Za-z0-9 and -`,
    );
  }
  return `cannot make version ${versionId} of secret ${name} current`;
}

export function noSuchSecret(what: string): ProvisioningError {
  return new ProvisioningError('secret_store_rejected', `${what}: there is no such secret`);
}

export function noSuchVersion(what: string): ProvisioningError {
  return new ProvisioningError(
    'secret_store_rejected',
    `${what}: the secret has no version with this id; pass the versionId a write or writePending returned`,
  );
}

/** makeCurrent's compare-and-swap found another version current than the one it was told to expect. */
export function currentMoved(what: string, expected: string): ProvisioningError {
  return new ProvisioningError(
    'secret_store_rejected',
    `${what}: the current version is no longer ${expected} (another write landed meanwhile), so it is left current`,
  );
}
