// Key rotation for a client whose key the service generated and publishes by `jwks_uri` (DESIGN.md
// "Scheduled re-registration"): no call to the authorization server at all. The new key is made and
// its credentials written as a pending secret version (AWSPENDING: AWSCURRENT and AWSPREVIOUS do not
// move), its public half is published beside the old one, and the job waits until every server's
// cached copy of the set has expired (twice JWKS_MAX_AGE_S, as a delay outside the worker) — servers
// cache JWKS, so a key that signed before they saw it would be refused. Then the pending version is
// made current (the old credentials become AWSPREVIOUS), the old public key is served until
// ROTATION_GRACE ends, and the new key is verified like any new credentials.
//
// The private key reaches only the secret store; the checkpoint keeps the pending version's id and
// the new kid. A crash before the checkpoint leaves an unused pending version, which the next attempt's
// replaces (the label moves) along with its published key.

import { randomUUID } from 'node:crypto';
import type { RegistrationReason } from '../events/index.js';
import { ProvisioningError } from '../failures/index.js';
import { generateClientKey } from '../keys/index.js';
import { ServerBusyError } from '../limits/index.js';
import { clientRequestToken, type StoredSecret } from '../secrets/index.js';
import type { Checkpoint } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import type { PhaseRecorder } from './phase-timing.js';
import { settlePublishedKeys, storedFacts, withSecretStoreRetries } from './register-and-store.js';
import { DEFAULT_ROTATION_GRACE_MS } from './replaced-client.js';
import { readStoredCredentials, type StoredCredentials } from './secret-value.js';

/** JWKS_MAX_AGE_S's default: how long servers may cache a published JWK Set. */
export const DEFAULT_JWKS_MAX_AGE_S = 60;

/** How a client's key is rotated: by publishing (jwks_uri), by the metadata (inline jwks), or not at all. */
export function keyRotationOf(credentials: StoredCredentials): 'published' | 'inline' | undefined {
  if (!credentials.privateJwk) return undefined;
  return credentials.keyPublication === 'jwks_uri' ? 'published' : 'inline';
}

interface Subject {
  tenantId: string;
  fhirBaseUrl: string;
}

/**
 * One step of a published key's rotation: publish a new key (and wait), or, once the wait is over,
 * switch the stored credentials to it. Answers the checkpoint with `stored` when the switch is done;
 * throws a ServerBusyError (`key_publication`) while servers may still hold the old set.
 */
export async function rotatePublishedKey(
  subject: Subject,
  current: StoredSecret,
  credentials: StoredCredentials,
  secretId: string,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<Checkpoint> {
  const now = () => deps.now?.() ?? new Date();
  let pending = state.pendingKey;
  // Made from credentials that are no longer current (something stored new ones meanwhile): start over.
  if (pending && pending.basedOn !== current.versionId && pending.versionId !== current.versionId) {
    pending = undefined;
  }
  if (!pending) {
    pending = await publishNewKey(subject, current, credentials, secretId, context, deps, phases, now());
    state = { ...state, pendingKey: pending };
    await context.checkpoint.save(state);
  }

  const leadMs = 2 * (deps.jwksMaxAgeSeconds ?? DEFAULT_JWKS_MAX_AGE_S) * 1000;
  const readyAt = Date.parse(pending.publishedAt) + leadMs;
  const waitMs = readyAt - now().getTime();
  if (waitMs > 0) throw new ServerBusyError(new URL(subject.fhirBaseUrl).host, waitMs, 'key_publication');

  if (current.versionId !== pending.versionId) {
    const { versionId, basedOn } = pending;
    try {
      // Only away from the credentials the new ones were made from: a write that landed since is newer.
      await withSecretStoreRetries(deps, phases, (store) =>
        store.makeCurrent(secretId, versionId, { ifCurrent: basedOn }),
      );
    } catch (err) {
      const stored = await deps.secretStore.readCurrent(secretId).catch(() => undefined);
      if (!stored || stored.versionId === basedOn || stored.versionId === versionId) throw err;
      const { pendingKey: _stale, ...rest } = state;
      await context.checkpoint.save(rest);
      throw new ProvisioningError(
        'secret_store_unavailable',
        `the credentials stored at ${secretId} changed while the key rotation waited; the next attempt rotates from the new ones`,
      );
    }
  }
  const version = await deps.secretStore.readVersion(secretId, pending.versionId);
  const rotated = version ? readStoredCredentials(version.value) : undefined;
  if (!rotated?.privateJwk || rotated.privateJwk.kid !== pending.kid) {
    throw new ProvisioningError(
      'secret_store_unavailable',
      `the pending version of ${secretId} with the new key (kid ${pending.kid}) cannot be read back; the next attempt tries again`,
    );
  }
  await settlePublishedKeys(subject, rotated.privateJwk, deps);
  const { pendingKey: _done, ...rest } = state;
  const next: Checkpoint = {
    ...rest,
    stored: storedFacts(rotated, secretId, pending.versionId, pending.publishedAt),
  };
  await context.checkpoint.save(next);
  return next;
}

/**
 * Makes the new key, writes the credentials that use it as a pending version, then publishes its public
 * half beside the current key. The version id is fresh per try, so a retried try never collides with
 * a different value under the same id.
 */
async function publishNewKey(
  subject: Subject,
  current: StoredSecret,
  credentials: StoredCredentials,
  secretId: string,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
  at: Date,
): Promise<NonNullable<Checkpoint['pendingKey']>> {
  if (!deps.publishedKeys) {
    throw new ProvisioningError(
      'invalid_job',
      'this client publishes its keys by jwks_uri but this worker has no store for published keys; run the worker with Redis',
    );
  }
  const oldKey = credentials.privateJwk as NonNullable<StoredCredentials['privateJwk']>;
  const keyPair = await generateClientKey(oldKey.alg);
  // The stored value as it is, with the new key and the rotation time: everything else is unchanged.
  const value = JSON.stringify({
    ...(JSON.parse(current.value) as Record<string, unknown>),
    private_jwk: keyPair.privateJwk,
    rotated_at: at.toISOString(),
  });
  const versionId = clientRequestToken(context.jobId, 'pending-key', randomUUID());
  await withSecretStoreRetries(deps, phases, (store) =>
    store.writePending({ name: secretId, value, clientRequestToken: versionId }),
  );
  await deps.publishedKeys.publishPending(subject.tenantId, subject.fhirBaseUrl, keyPair.publicJwk, oldKey);
  // The wait for servers' caches counts from when the key is served, not from when it was made.
  const publishedAt = (deps.now?.() ?? new Date()).toISOString();
  return { versionId, basedOn: current.versionId, kid: keyPair.publicJwk.kid, publishedAt };
}

/**
 * Schedules the removal of the key an inline key rotation replaced, once ROTATION_GRACE has passed;
 * once per job (its id is derived from the rotation's). Without a scheduler the old key stays registered.
 */
export async function scheduleKeyRetirement(
  subject: Subject & { reason?: RegistrationReason | undefined },
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<Checkpoint> {
  const { stored, previous } = state;
  if (!deps.keyRetirements || !stored?.kid || !previous?.kid) return state;
  const delayMs = deps.rotationGraceMs ?? DEFAULT_ROTATION_GRACE_MS;
  const jobId = await deps.keyRetirements.schedule(
    {
      tenantId: subject.tenantId,
      fhirBaseUrl: subject.fhirBaseUrl,
      clientId: stored.clientId,
      retireKid: previous.kid,
      keepKid: stored.kid,
      replacedByJobId: context.jobId,
      reason: subject.reason,
    },
    { delayMs, jobId: `${context.jobId}.retire-key` },
  );
  const now = deps.now?.() ?? new Date();
  const next: Checkpoint = {
    ...state,
    keyRetirement: { jobId, after: new Date(now.getTime() + delayMs).toISOString() },
  };
  await context.checkpoint.save(next);
  return next;
}
