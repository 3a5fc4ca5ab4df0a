// One new client, from the POST to its stored credentials, keeping "at most one registration per job"
// and "no silent orphan" (DESIGN.md "Guarantees"): once the POST has its permit, a turn for the write
// that must follow is reserved and an intent marker saved; the secret version id is derived from that
// intent, so a resumed job recognises a write that landed; the write is retried in process through a
// realistic Secrets Manager hiccup; and the new client is deleted only when its credentials are known
// not to be stored — a write whose outcome is unknown is read back first, and when even that fails the
// client is kept and the next attempt finds out. Used for a first registration and for a rotation that
// replaces its client.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  deleteClient,
  type ManagedClient,
  type RegisteredClient,
  registerClient,
  updateClient,
} from '../dcr/index.js';
import { classify, ProvisioningError, withConsequence } from '../failures/index.js';
import type { HttpClient, HttpRequest } from '../http/index.js';
import {
  type ClientKeyAlgorithm,
  type ClientKeyPair,
  generateClientKey,
  publicJwkSet,
} from '../keys/index.js';
import { findServerBusy, limitHttpClient, type WriteTurn } from '../limits/index.js';
import { clientRequestToken, type SecretStore } from '../secrets/index.js';
import type { Checkpoint, StoredRegistration } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { resolveInitialAccessToken } from './initial-access-token.js';
import { elapsedMs, type PhaseRecorder, timedDiscoveryCache, timedRegistrationHttp } from './phase-timing.js';
import { DEFAULT_ROTATION_GRACE_MS } from './replaced-client.js';
import {
  expiryToSchedule,
  isManageable,
  readStoredCredentials,
  type StoredCredentials,
  secretValue,
} from './secret-value.js';

/** What to register and where to keep it. */
export interface RegistrationPlan {
  tenantId: string;
  fhirBaseUrl: string;
  clientMetadata: unknown;
  /** POST here instead of discovering the registration endpoint. */
  registrationEndpoint?: string | undefined;
  initialAccessTokenSecretId?: string | undefined;
  rotationPeriodDays?: number | undefined;
  /** The client replaces another (rotation): its secret value records when. */
  replacesClient?: boolean;
  /** How long the replaced client's secret lived: assumed for a new secret whose expiry is not said. */
  previousSecretLifetimeSeconds?: number | undefined;
  secretId: string;
  /**
   * Make the client's key pair (request field `keys`): its public JWK is registered inline in `jwks`,
   * or, with `jwksUri`, published at the route and registered by that URL.
   */
  keys?: { alg: ClientKeyAlgorithm; jwksUri?: string | undefined } | undefined;
  /** Handed the credentials once they are stored (for their verification): secret, never to be kept. */
  onStored?: (credentials: StoredCredentials | undefined) => void;
}

/** 250 ms doubling to 8 s: about 32 s in all, long enough for a throttling burst or a brief outage. */
const DEFAULT_SECRET_WRITE_RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000];
/** Pauses between reads of a write whose answer was lost, before its outcome is left to the next attempt. */
const READ_BACK_DELAYS_MS = [500, 2000];

type Intent = NonNullable<Checkpoint['intent']>;

/**
 * A previous attempt wrote the intent marker of a POST and then died or lost the answer. If its secret
 * write landed (the version id is derived from the intent), the job resumes from there; otherwise the
 * attempt is recorded as lost (see lostRequest) and a new registration is made.
 */
export async function resumeAfterLostAnswer(
  state: Checkpoint,
  secretId: string,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<Checkpoint> {
  const intent = state.intent as Intent;
  const versionId = clientRequestToken(context.jobId, intent.id);
  const current = await deps.secretStore.readCurrent(secretId);
  const landed = current?.versionId === versionId ? readStoredCredentials(current.value) : undefined;
  const next: Checkpoint = landed
    ? { ...withoutIntent(state), stored: storedFacts(landed, secretId, versionId, intent.at) }
    : lostRequest(withoutIntent(state), intent);
  await context.checkpoint.save(next);
  return next;
}

/** The checkpoint's record of credentials found stored at `versionId`. */
export function storedFacts(
  credentials: StoredCredentials,
  secretId: string,
  versionId: string,
  registeredAt: string,
): StoredRegistration {
  return {
    clientId: credentials.clientId,
    secretId,
    secretVersionId: versionId,
    ...(credentials.clientSecretExpiresAt !== undefined
      ? { clientSecretExpiresAt: credentials.clientSecretExpiresAt }
      : {}),
    registeredAt: credentials.registeredAt ?? registeredAt,
    ...(credentials.rotatedAt ? { rotatedAt: credentials.rotatedAt } : {}),
    ...(credentials.rotationPeriodDays ? { rotationPeriodDays: credentials.rotationPeriodDays } : {}),
    managed: isManageable(credentials),
    ...(credentials.privateJwk ? { kid: credentials.privateJwk.kid } : {}),
  };
}

/**
 * What a request whose credentials were never stored leaves behind: the client it made, when its
 * answer arrived, is an orphan (its credentials are gone with the attempt, so it cannot be deleted);
 * otherwise the request may have made one (`possibleOrphan`, `lostAttemptAt`).
 */
export function lostRequest(state: Checkpoint, intent: Intent): Checkpoint {
  return intent.clientId
    ? { ...state, orphanedClientIds: [...new Set([...(state.orphanedClientIds ?? []), intent.clientId])] }
    : { ...state, lostAttemptsAt: [...(state.lostAttemptsAt ?? []), intent.at] };
}

/** The HTTP client for requests to authorization servers: behind the fleet's permits, with a step before sending. */
export function serverHttp(
  http: HttpClient,
  context: JobContext,
  deps: RegistrationDeps,
  beforeSend?: (request: HttpRequest) => Promise<void>,
): HttpClient {
  if (deps.serverLimiter) {
    return limitHttpClient(http, deps.serverLimiter, {
      ...(beforeSend ? { beforeSend } : {}),
      onReleaseError: (err, host) =>
        deps.log?.warn(
          { jobId: context.jobId, host },
          `could not hand back a server permit (it expires by itself): ${err instanceof Error ? err.message : String(err)}`,
        ),
    });
  }
  if (!beforeSend) return http;
  return {
    async request(request) {
      await beforeSend(request);
      return http.request(request);
    },
  };
}

/** What the step before a POST or PUT whose answer must be stored did, read once the request is over. */
export interface PreparedRequest {
  /** The intent marker was saved: the request may have been sent. */
  saved: boolean;
  /** The write turn reserved for the answer (none without a write budget). */
  turn?: WriteTurn | undefined;
}

/**
 * The step before the request that changes the registration: reserve the turn of the write that must
 * follow (a saturated budget ends the attempt before anything happened) and save the intent marker.
 * It runs once the request has its permit, so a job put off for want of a permit leaves its
 * checkpoint as it was.
 */
export function prepareStateChange(
  method: 'POST' | 'PUT',
  state: Checkpoint,
  intent: Intent,
  context: JobContext,
  deps: RegistrationDeps,
): { prepared: PreparedRequest; beforeSend: (request: HttpRequest) => Promise<void> } {
  const prepared: PreparedRequest = { saved: false };
  return {
    prepared,
    async beforeSend(request) {
      if (request.method !== method || prepared.saved) return;
      prepared.turn = await deps.secretWriteTurns?.reserve();
      await context.checkpoint.save({ ...state, intent });
      prepared.saved = true;
    },
  };
}

/**
 * An RFC 7592 update of stored credentials, ready to send: its intent marker and reserved write turn
 * are saved by the time the PUT has its permit (see prepareStateChange); `send` makes the request.
 */
export function preparedUpdate(
  credentials: Pick<StoredCredentials, 'clientId' | 'registrationClientUri' | 'registrationAccessToken'>,
  metadata: Record<string, unknown>,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): { intent: Intent; prepared: PreparedRequest; send: () => Promise<ManagedClient> } {
  const intent: Intent = {
    id: randomUUID(),
    at: (deps.now?.() ?? new Date()).toISOString(),
    request: 'update',
  };
  const { prepared, beforeSend } = prepareStateChange('PUT', state, intent, context, deps);
  const send = () =>
    updateClient({
      http: serverHttp(timedRegistrationHttp(deps.http, phases), context, deps, beforeSend),
      registrationClientUri: credentials.registrationClientUri as string,
      registrationAccessToken: credentials.registrationAccessToken as string,
      clientId: credentials.clientId,
      metadata,
      ...(context.signal ? { signal: context.signal } : {}),
    });
  return { intent, prepared, send };
}

export async function registerAndStore(
  plan: RegistrationPlan,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<Checkpoint> {
  const initialAccessToken = plan.initialAccessTokenSecretId
    ? await resolveInitialAccessToken(deps.secretStore, plan.initialAccessTokenSecretId)
    : undefined;
  const now = () => deps.now?.() ?? new Date();
  // Made by this attempt and held only in memory until it is stored with the answer, like the client
  // secret: an attempt that dies before the write leaves nothing that could sign, and the next one
  // makes a new key (its POST, if any, is a reported possible orphan).
  const keyPair = plan.keys ? await generateClientKey(plan.keys.alg) : undefined;
  const metadata = keyPair ? await withGeneratedKey(plan, keyPair, deps) : plan.clientMetadata;

  const intent: Intent = { id: randomUUID(), at: now().toISOString(), request: 'register' };
  const { prepared, beforeSend } = prepareStateChange('POST', state, intent, context, deps);
  const http = serverHttp(timedRegistrationHttp(deps.http, phases), context, deps, beforeSend);

  let result: Awaited<ReturnType<typeof registerClient>>;
  try {
    result = await registerClient({
      fhirBaseUrl: plan.fhirBaseUrl,
      metadata,
      metadataCheck: { allowInsecureLocalhost: deps.rules.allowInsecureLocalhost },
      http,
      ...(plan.registrationEndpoint ? { registrationEndpoint: plan.registrationEndpoint } : {}),
      ...(initialAccessToken ? { initialAccessToken } : {}),
      cache: timedDiscoveryCache(deps.discoveryCache, phases),
      ...(context.signal ? { signal: context.signal } : {}),
    });
  } catch (err) {
    // Refused a permit before anything was sent: not a failure, and the checkpoint is as it was.
    const busy = findServerBusy(err);
    if (busy) throw busy;
    const failure = classify(err, 'registration');
    // The POST was not sent (discovery failed, no write turn, ...): nothing to record.
    if (!prepared.saved) throw failure;
    await context.checkpoint.save(failure.outcomeUnknown ? lostRequest(state, intent) : state);
    throw failure;
  }
  const { client, configuration } = result;
  for (const warning of client.warnings)
    deps.log?.warn({ tenantId: plan.tenantId, jobId: context.jobId }, warning);

  const registeredAt = now();
  const expiresAt = expiryToSchedule(
    client.clientSecretExpiresAt,
    plan.previousSecretLifetimeSeconds,
    registeredAt,
  );
  const value = JSON.stringify(
    secretValue({
      client,
      fhirBaseUrl: plan.fhirBaseUrl,
      tokenEndpoint: configuration?.tokenEndpoint,
      issuer: configuration?.issuer,
      registrationEndpoint: result.registrationEndpoint,
      registeredAt,
      rotatedAt: plan.replacesClient ? registeredAt : undefined,
      rotationPeriodDays: plan.rotationPeriodDays,
      assumedSecretExpiresAt: typeof expiresAt === 'number' ? expiresAt : undefined,
      privateJwk: keyPair?.privateJwk,
      keyPublication: plan.keys?.jwksUri ? 'jwks_uri' : 'jwks',
    }),
  );
  const secretVersionId = clientRequestToken(context.jobId, intent.id);
  const write = {
    name: plan.secretId,
    value,
    clientRequestToken: secretVersionId,
    tags: secretTags(plan.tenantId, plan.fhirBaseUrl),
  };
  const written = await storeAnswer(deps, phases, write, prepared.turn);
  if (written.outcome === 'unknown') {
    throw await keepUnresolved(written.failure, state, { ...intent, clientId: client.clientId }, context);
  }
  if (written.outcome === 'failed') throw await giveUpClient(client, written.failure, state, context, deps);
  plan.onStored?.(readStoredCredentials(value));

  const next: Checkpoint = {
    ...state,
    stored: {
      clientId: client.clientId,
      secretId: plan.secretId,
      secretVersionId,
      ...(expiresAt !== undefined ? { clientSecretExpiresAt: expiresAt } : {}),
      registeredAt: registeredAt.toISOString(),
      ...(plan.replacesClient ? { rotatedAt: registeredAt.toISOString() } : {}),
      ...(plan.rotationPeriodDays ? { rotationPeriodDays: plan.rotationPeriodDays } : {}),
      managed: isManageable(client),
      ...(keyPair ? { kid: keyPair.publicJwk.kid } : {}),
    },
  };
  await context.checkpoint.save(next);
  return next;
}

/**
 * The metadata with the generated key's public half: inline as `jwks`, or as `jwks_uri` once the key is
 * published there (a server may fetch the set while it registers the client).
 */
async function withGeneratedKey(
  plan: RegistrationPlan,
  keyPair: ClientKeyPair,
  deps: RegistrationDeps,
): Promise<unknown> {
  const metadata = plan.clientMetadata as Record<string, unknown>;
  const jwksUri = plan.keys?.jwksUri;
  if (jwksUri === undefined) return { ...metadata, jwks: publicJwkSet([keyPair.publicJwk]) };
  if (!deps.publishedKeys) {
    throw new ProvisioningError(
      'invalid_job',
      'keys.publish is "jwks_uri" but this worker has no store for published keys; publish by "jwks" or run the worker with Redis',
    );
  }
  await deps.publishedKeys.publishPending(plan.tenantId, plan.fhirBaseUrl, keyPair.publicJwk);
  return { ...metadata, jwks_uri: jwksUri };
}

/** The stored key is the one the route serves as current; the keys it replaced retire after the grace. */
export async function settlePublishedKeys(
  plan: Pick<RegistrationPlan, 'tenantId' | 'fhirBaseUrl'>,
  currentJwk: object,
  deps: RegistrationDeps,
): Promise<void> {
  const now = deps.now?.() ?? new Date();
  const retireAt = new Date(now.getTime() + (deps.rotationGraceMs ?? DEFAULT_ROTATION_GRACE_MS));
  await deps.publishedKeys?.settle(plan.tenantId, plan.fhirBaseUrl, currentJwk, retireAt);
}

/** How a credential write ended: stored, known not stored, or not known (read-back failed too). */
export type StoreResult =
  | { outcome: 'stored' }
  | { outcome: 'failed' | 'unknown'; failure: ProvisioningError };

/**
 * Writes an answer's credentials, retrying in process. When a try's outcome was unknown (a timeout, a
 * 5xx) the write may have landed although the last try failed: the store is read back before the
 * credentials are called lost, because deleting a client whose credentials are current would leave
 * AWSCURRENT naming a dead one.
 */
export async function storeAnswer(
  deps: RegistrationDeps,
  phases: PhaseRecorder,
  write: Parameters<SecretStore['write']>[0],
  turn?: WriteTurn,
): Promise<StoreResult> {
  try {
    await writeWithRetries(deps, phases, write, turn);
    return { outcome: 'stored' };
  } catch (err) {
    const failure = classify(err, 'registration');
    if (!failure.outcomeUnknown) return { outcome: 'failed', failure };
    const landed = await versionLanded(deps, write.name, write.clientRequestToken);
    if (landed === undefined) return { outcome: 'unknown', failure };
    return landed ? { outcome: 'stored' } : { outcome: 'failed', failure };
  }
}

/** Whether `versionId` is the current version; undefined when the store cannot say. */
async function versionLanded(
  deps: RegistrationDeps,
  name: string,
  versionId: string,
): Promise<boolean | undefined> {
  for (const pause of [0, ...READ_BACK_DELAYS_MS]) {
    if (pause > 0) await sleep(pause);
    try {
      return (await deps.secretStore.readCurrent(name))?.versionId === versionId;
    } catch {
      // The store is still unwell: read again, or leave it to the next attempt.
    }
  }
  return undefined;
}

/**
 * The answer's write may have landed and nobody can tell yet: the client is kept, the intent stays in
 * the checkpoint with its client id, and the next attempt reads the store before anything is deleted.
 */
export async function keepUnresolved(
  failure: ProvisioningError,
  state: Checkpoint,
  intent: Intent & { clientId: string },
  context: JobContext,
): Promise<ProvisioningError> {
  await context.checkpoint.save({ ...state, intent });
  return withConsequence(
    failure,
    `whether the credentials of client ${intent.clientId} were stored is not known, so the client is kept and the next attempt finds out before anything is deleted`,
  );
}

/** Tags a secret is created with (DESIGN.md "Secrets"); reindex reads the tenant back from them. */
export function secretTags(tenantId: string, fhirBaseUrl: string): Record<string, string> {
  return { tenant: tenantId, server: new URL(fhirBaseUrl).host, 'managed-by': 'dcr-provisioner' };
}

/**
 * Writes a version, retrying what can be retried in process, each try with its own budget turn (the
 * first may come reserved); returns its version id. The failure thrown says the outcome is unknown
 * when any try's was: a lost try may have landed.
 */
export async function writeWithRetries(
  deps: RegistrationDeps,
  phases: PhaseRecorder,
  write: Parameters<SecretStore['write']>[0],
  firstTurn?: WriteTurn,
): Promise<string> {
  return withSecretStoreRetries(
    deps,
    phases,
    async (store) => (await store.write(write)).versionId,
    firstTurn,
  );
}

/**
 * One change to the secret store (a write, a pending version, a stage move), retried in process through
 * a realistic Secrets Manager hiccup, each try with its own write-budget turn (the first may come
 * reserved). The failure thrown says the outcome is unknown when any try's was.
 */
export async function withSecretStoreRetries<T>(
  deps: RegistrationDeps,
  phases: PhaseRecorder,
  change: (store: SecretStore) => Promise<T>,
  firstTurn?: WriteTurn,
): Promise<T> {
  const delays = deps.secretWriteRetryDelaysMs ?? DEFAULT_SECRET_WRITE_RETRY_DELAYS_MS;
  let outcomeUnknown = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const turn = attempt === 0 && firstTurn ? firstTurn : await deps.secretWriteTurns?.reserve();
      await turn?.wait();
      return await timedChange(deps, phases, change);
    } catch (err) {
      const failure = classify(err, 'registration');
      outcomeUnknown ||= failure.outcomeUnknown;
      const delay = delays[attempt];
      if (!failure.retryable || delay === undefined) {
        throw outcomeUnknown && !failure.outcomeUnknown
          ? withConsequence(failure, undefined, { outcomeUnknown: true })
          : failure;
      }
      await sleep(delay);
    }
  }
}

async function timedChange<T>(
  deps: RegistrationDeps,
  phases: PhaseRecorder,
  change: (store: SecretStore) => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    const result = await change(deps.secretStore);
    phases.secretWrite(elapsedMs(started), 'success');
    return result;
  } catch (err) {
    phases.secretWrite(elapsedMs(started), 'failure');
    throw err;
  }
}

/**
 * The credentials could not be stored: delete the new client at the server (RFC 7592) so nothing
 * usable is left behind; when that is impossible, remember its id so the failure event reports it.
 */
async function giveUpClient(
  client: RegisteredClient,
  storeFailure: ProvisioningError,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<ProvisioningError> {
  let deleted = false;
  if (isManageable(client)) {
    try {
      await deleteClient({
        http: deps.http,
        registrationClientUri: client.registrationClientUri as string,
        registrationAccessToken: client.registrationAccessToken as string,
      });
      deleted = true;
    } catch {
      deleted = false;
    }
  }
  await context.checkpoint.save(
    deleted
      ? withoutIntent(state)
      : { ...withoutIntent(state), orphanedClientIds: [...(state.orphanedClientIds ?? []), client.clientId] },
  );
  const consequence = deleted
    ? `the new client ${client.clientId} was deleted at the server`
    : `the new client ${client.clientId} could not be deleted at the server and is orphaned`;
  return withConsequence(storeFailure, consequence);
}

export function withoutIntent(state: Checkpoint): Checkpoint {
  const { intent: _intent, ...rest } = state;
  return rest;
}

/** A pause on the global timer (which tests can fake). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
