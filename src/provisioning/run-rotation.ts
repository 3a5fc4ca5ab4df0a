// The re-registration use case (DESIGN.md "Scheduled re-registration"): new credentials for a
// registration that already exists, read back from its stored secret. RFC 7592 first: when the stored
// registration access token works, the client is updated in place, and a new secret in the answer is
// the rotation. When the server has no management, refuses the token, or updates without issuing a new
// secret, a successor client is registered (with the same POST-and-store guarantees as a first
// registration) and the replaced one is deleted after ROTATION_GRACE by a delayed job. Every answer
// that carries a rotated registration access token is stored before anything else can fail.
// A client with a generated key rotates its key instead of its secret: published by jwks_uri, with no
// server call (rotate-key.ts); inline, by an update registering [new, old] and a delayed retire-key job
// that leaves [new]; without RFC 7592, by a successor with a new key.

import type { ManagedClient } from '../dcr/index.js';
import { classify, ProvisioningError, withConsequence } from '../failures/index.js';
import { type ClientKeyPair, generateClientKey, publicJwkOf, publicJwkSet } from '../keys/index.js';
import { findServerBusy } from '../limits/index.js';
import { registrationKey } from '../queue/registration-key.js';
import { type RotationJob, rotationJobSchema } from '../queue/rotation-request.js';
import { clientRequestToken, registrationSecretName, type StoredSecret } from '../secrets/index.js';
import type { Checkpoint, StoredRegistration } from './checkpoint.js';
import { completeStoredRegistration } from './completion.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { perRules, runProvisioningJob } from './job-runner.js';
import type { PhaseRecorder } from './phase-timing.js';
import {
  keepUnresolved,
  lostRequest,
  preparedUpdate,
  registerAndStore,
  resumeAfterLostAnswer,
  secretTags,
  storeAnswer,
  storedFacts,
  withoutIntent,
} from './register-and-store.js';
import { previousClient } from './replaced-client.js';
import { keyRotationOf, rotatePublishedKey, scheduleKeyRetirement } from './rotate-key.js';
import { registersKey } from './run-key-retirement.js';
import type { RegistrationOutcome } from './run-registration.js';
import {
  assertCredentialsOf,
  isManageable,
  readStoredCredentials,
  type StoredCredentials,
  secretLifetimeSeconds,
  updatedCredentials,
} from './secret-value.js';
import { type VerificationOutcome, verifyStoredCredentials } from './verify-credentials.js';

/** The rotation job's return value: nothing secret. */
export interface RotationOutcome extends RegistrationOutcome, Partial<VerificationOutcome> {
  previousClientId: string;
  /**
   * `update`: RFC 7592 in place, same client id; `new_registration`: a successor client; `key`: the
   * same client with a new generated key (published, or registered by an RFC 7592 update).
   */
  rotatedBy: 'update' | 'new_registration' | 'key';
  /** A key rotation's new and old kid. */
  kid?: string;
  previousKid?: string;
}

const jobSchemaFor = perRules(rotationJobSchema);

export function runRotation(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<RotationOutcome> {
  const schema = jobSchemaFor(deps);
  return runProvisioningJob(
    'rotation',
    data,
    context,
    deps,
    schema,
    (job, phases) => rotate(job, context, deps, phases),
    // The sweep backs off from a registration whose rotation keeps failing.
    async (job) => deps.registry?.recordRotationFailure(registrationKey(job.tenantId, job.fhirBaseUrl)),
  );
}

async function rotate(
  job: RotationJob,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<RotationOutcome> {
  const secretId = registrationSecretName(deps.secretNamePrefix, job.tenantId, job.fhirBaseUrl);
  const key = registrationKey(job.tenantId, job.fhirBaseUrl);
  let state = context.checkpoint.load();
  // Rotated credentials are verified when the registration's were: a record with `verified` asked for
  // it (a `verify: false` registration, or one from before verification existed, has none). Read before
  // recordWorking, and before this job's completion rewrites the record.
  const verify = (await deps.registry?.get(key))?.verified !== undefined;
  await deps.registry?.recordWorking(key, {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    jobId: context.jobId,
  });

  if (!state.stored && state.intent) {
    state =
      state.intent.request === 'update'
        ? await resumeAfterLostUpdate(state, secretId, context, deps)
        : await resumeAfterLostAnswer(state, secretId, context, deps);
  }
  // Secret, and only in memory: a successor's stored credentials, so that verifying them needs no read.
  let fresh: StoredCredentials | undefined;
  if (!state.stored) {
    const current = await deps.secretStore.readCurrent(secretId);
    const credentials = current ? readStoredCredentials(current.value) : undefined;
    if (credentials) assertCredentialsOf(job.fhirBaseUrl, credentials, secretId);
    if (!state.previous) {
      if (!current || !credentials) {
        throw new ProvisioningError(
          'invalid_job',
          `nothing to rotate: no registration is stored at ${secretId}; register the tenant first`,
        );
      }
      state = { ...state, previous: previousClient(current, credentials) };
      await context.checkpoint.save(state);
    }
    let previous = state.previous as NonNullable<Checkpoint['previous']>;
    if (
      current &&
      credentials?.clientId === previous.clientId &&
      current.versionId !== previous.secretVersionId
    ) {
      // An earlier attempt stored a refreshed registration (a rotated token) and died before saying so:
      // the delete must use the latest token, which is in the current version.
      previous = { ...previous, secretVersionId: current.versionId };
      state = { ...state, previous };
      await context.checkpoint.save(state);
    }
    if (!credentials || credentials.clientId !== previous.clientId) {
      throw new ProvisioningError(
        'invalid_job',
        `the registration stored at ${secretId} changed while client ${previous.clientId} was being rotated`,
      );
    }
    const keyRotation = keyRotationOf(credentials);
    if (keyRotation === 'published') {
      state = await rotatePublishedKey(
        job,
        current as StoredSecret,
        credentials,
        secretId,
        state,
        context,
        deps,
        phases,
      );
    } else if (!state.updateDeclined && isManageable(credentials)) {
      // Inline keys: the update registers [new, old], so the old key keeps working through the grace.
      const newKey =
        keyRotation === 'inline' && credentials.privateJwk
          ? await generateClientKey(credentials.privateJwk.alg)
          : undefined;
      state = await updateInPlace(job, credentials, secretId, state, context, deps, phases, newKey);
    }
    if (!state.stored) {
      state = await registerAndStore(
        {
          tenantId: job.tenantId,
          fhirBaseUrl: job.fhirBaseUrl,
          clientMetadata: credentials.metadata,
          // A client registered at a named endpoint (no token endpoint: discovery was skipped) gets its
          // successor there too; otherwise the server is discovered again, in case it moved.
          registrationEndpoint: credentials.tokenEndpoint ? undefined : credentials.registrationEndpoint,
          initialAccessTokenSecretId: job.initialAccessToken?.secretId,
          rotationPeriodDays: credentials.rotationPeriodDays,
          replacesClient: true,
          previousSecretLifetimeSeconds: secretLifetimeSeconds(credentials),
          // A generated key is replaced by a new one of the same kind (the successor registers it inline).
          keys: credentials.privateJwk ? { alg: credentials.privateJwk.alg } : undefined,
          secretId,
          onStored: (stored) => {
            fresh = stored;
          },
        },
        state,
        context,
        deps,
        phases,
      );
    }
  }

  if (verify || state.verification) state = await verifyStoredCredentials(state, context, deps, fresh);
  const stored = state.stored as StoredRegistration;
  const previous = state.previous as NonNullable<Checkpoint['previous']>;
  const previousClientId = previous.clientId;
  const keyChanged = stored.kid !== undefined && previous.kid !== undefined && stored.kid !== previous.kid;
  const rotatedBy = stored.clientId !== previousClientId ? 'new_registration' : keyChanged ? 'key' : 'update';
  const keyFields = keyChanged ? { kid: stored.kid, previousKid: previous.kid } : {};
  // An inline key rotation registered [new, old]: the old key is dropped once the grace has passed.
  if (keyChanged && state.retireInlineKey && !state.keyRetirement) {
    state = await scheduleKeyRetirement(job, state, context, deps);
  }
  const outcome = await completeStoredRegistration('client.rotated', job, state, context, deps, {
    previousClientId,
    rotatedBy,
    ...keyFields,
  });
  return { ...outcome, previousClientId, rotatedBy, ...keyFields };
}

/**
 * A previous attempt saved the intent marker of an RFC 7592 update and then died or lost the answer.
 * If the new credentials landed (the version id is derived from the intent), the job goes on from them:
 * a new secret completes the rotation, an unchanged one sends it to a successor; otherwise the attempt
 * is recorded as lost (the stored credentials may have been made dead by it).
 */
async function resumeAfterLostUpdate(
  state: Checkpoint,
  secretId: string,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<Checkpoint> {
  const intent = state.intent as NonNullable<Checkpoint['intent']>;
  const previous = state.previous as NonNullable<Checkpoint['previous']>;
  const versionId = clientRequestToken(context.jobId, intent.id);
  const current = await deps.secretStore.readCurrent(secretId);
  const landed = current?.versionId === versionId ? readStoredCredentials(current.value) : undefined;
  let next: Checkpoint;
  if (!landed) {
    next = lostRequest(withoutIntent(state), intent);
  } else {
    const before = await deps.secretStore.readVersion(secretId, previous.secretVersionId);
    const replaced = before ? readStoredCredentials(before.value) : undefined;
    // Unknown old credentials count as unchanged: a successor is always a safe way on. A generated
    // key's rotation is a new key; a secret's, a new secret.
    const newKey = landed.privateJwk !== undefined && previous.kid !== undefined;
    const rotated = newKey
      ? landed.privateJwk?.kid !== previous.kid
      : landed.clientSecret === undefined ||
        (replaced !== undefined && landed.clientSecret !== replaced.clientSecret);
    next = rotated
      ? {
          ...withoutIntent(state),
          orphanedClientIds: withoutClient(state.orphanedClientIds, landed.clientId),
          // An inline key rotation's update landed: its old key is dropped after the grace.
          ...(newKey ? { retireInlineKey: true } : {}),
          stored: storedFacts(landed, secretId, versionId, intent.at),
        }
      : {
          ...withoutIntent(state),
          updateDeclined: true,
          previous: { ...previous, secretVersionId: versionId },
        };
  }
  await context.checkpoint.save(next);
  return next;
}

/**
 * RFC 7592 update with the registration as stored. A new secret in the answer (or a client without a
 * secret) completes the rotation in place. An answer with the old secret still rotated the
 * registration access token on most servers: it is stored, and the caller registers a successor. A
 * refusal sends the caller to a successor too; only retryable failures end the attempt. Like a POST,
 * the PUT is preceded by an intent marker and a reserved write turn, and its answer is stored before
 * anything else can fail.
 */
async function updateInPlace(
  job: RotationJob,
  credentials: StoredCredentials,
  secretId: string,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
  /** A generated key's successor (inline jwks): registered beside the old key, and stored. */
  newKey?: ClientKeyPair,
): Promise<Checkpoint> {
  const previous = state.previous as NonNullable<Checkpoint['previous']>;
  const oldKey = credentials.privateJwk;
  const metadata =
    newKey && oldKey
      ? { ...credentials.metadata, jwks: publicJwkSet([newKey.publicJwk, publicJwkOf(oldKey)]) }
      : credentials.metadata;
  const { intent, prepared, send } = preparedUpdate(credentials, metadata, state, context, deps, phases);
  let updated: ManagedClient;
  try {
    updated = await send();
  } catch (err) {
    const busy = findServerBusy(err);
    if (busy) throw busy;
    const failure = classify(err, 'management');
    // Sent and unanswered: the update may have made the stored credentials dead (possibleOrphan).
    const after = prepared.saved && failure.outcomeUnknown ? lostRequest(state, intent) : state;
    if (failure.retryable) {
      if (prepared.saved) await context.checkpoint.save(after);
      throw failure;
    }
    // A refused token, no management at all (404/405), or an answer we could not read (the update may
    // have gone through and rotated the token) leaves no token to delete the client with later.
    const tokenWorks =
      failure.code !== 'unauthorized' &&
      failure.status !== 404 &&
      failure.status !== 405 &&
      !failure.outcomeUnknown;
    deps.log?.warn(
      { tenantId: job.tenantId, jobId: context.jobId, code: failure.code },
      `RFC 7592 update of client ${credentials.clientId} refused (${failure.message}); registering a successor client`,
    );
    const next: Checkpoint = {
      ...after,
      updateDeclined: true,
      previous: { ...previous, manageable: tokenWorks },
    };
    await context.checkpoint.save(next);
    return next;
  }
  for (const warning of updated.warnings)
    deps.log?.warn({ tenantId: job.tenantId, jobId: context.jobId }, warning);

  // A key rotation counts when the server registered the new key; a secret rotation, when it issued a
  // new secret (or the client has none).
  const rotated = newKey
    ? registersKey(updated.metadata, newKey.publicJwk.kid)
    : credentials.clientSecret === undefined ||
      (updated.clientSecret !== undefined && updated.clientSecret !== credentials.clientSecret);
  const at = deps.now?.() ?? new Date();
  const { value, expiresAt, registeredAt } = updatedCredentials(credentials, updated, {
    fhirBaseUrl: job.fhirBaseUrl,
    at,
    rotated,
    // The key the server now has: the new one when it took it, else the one it kept.
    privateJwk: rotated && newKey ? newKey.privateJwk : oldKey,
  });
  const secretVersionId = clientRequestToken(context.jobId, intent.id);
  const write = {
    name: secretId,
    value,
    clientRequestToken: secretVersionId,
    tags: secretTags(job.tenantId, job.fhirBaseUrl),
  };
  const written = await storeAnswer(deps, phases, write, prepared.turn);
  if (written.outcome === 'unknown') {
    throw await keepUnresolved(
      written.failure,
      state,
      { ...intent, clientId: credentials.clientId },
      context,
    );
  }
  if (written.outcome === 'failed') {
    // The update may have made the stored credentials dead (a new secret, a rotated token): the client
    // is named as orphaned until an attempt stores working credentials for it or replaces it.
    await context.checkpoint.save(lostRequest(state, { ...intent, clientId: credentials.clientId }));
    throw withConsequence(
      written.failure,
      `client ${credentials.clientId} was updated at the server but its new credentials could not be stored (the next attempt updates it again, or registers a successor if the stored ones stopped working)`,
    );
  }

  if (!rotated) {
    deps.log?.warn(
      { tenantId: job.tenantId, jobId: context.jobId },
      newKey
        ? `the server updated client ${credentials.clientId} without registering its new key (kid ${newKey.publicJwk.kid}); registering a successor client`
        : `the server updated client ${credentials.clientId} without issuing a new secret; registering a successor client`,
    );
    const next: Checkpoint = {
      ...state,
      updateDeclined: true,
      previous: { ...previous, secretVersionId },
    };
    await context.checkpoint.save(next);
    return next;
  }
  const next: Checkpoint = {
    ...state,
    // Working credentials of this client are stored again: it is no orphan (an earlier attempt's
    // failed write may have named it one).
    orphanedClientIds: withoutClient(state.orphanedClientIds, credentials.clientId),
    ...(newKey ? { retireInlineKey: true } : {}),
    stored: {
      clientId: credentials.clientId,
      secretId,
      secretVersionId,
      ...(expiresAt !== undefined ? { clientSecretExpiresAt: expiresAt } : {}),
      registeredAt,
      rotatedAt: at.toISOString(),
      ...(credentials.rotationPeriodDays ? { rotationPeriodDays: credentials.rotationPeriodDays } : {}),
      managed: true,
      ...(newKey ? { kid: newKey.publicJwk.kid } : oldKey ? { kid: oldKey.kid } : {}),
    },
  };
  await context.checkpoint.save(next);
  return next;
}

/** The list without one client (undefined when nothing is left), for clients that proved not orphaned. */
function withoutClient(clientIds: string[] | undefined, clientId: string): string[] | undefined {
  const rest = clientIds?.filter((id) => id !== clientId);
  return rest?.length ? rest : undefined;
}
