// One new client, from the POST to its stored credentials, keeping "at most one registration per job"
// and "no silent orphan" (DESIGN.md "Guarantees"): an intent marker before the POST, a secret version
// id derived from that intent so a resumed job recognises a write that landed, bounded retries of the
// write, and the new client deleted (or reported) when its credentials cannot be stored. Used for a
// first registration and for a rotation that replaces its client.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { deleteClient, type RegisteredClient, registerClient } from '../dcr/index.js';
import { classify, ProvisioningError } from '../failures/index.js';
import type { HttpClient } from '../http/index.js';
import { findServerBusy, limitHttpClient } from '../limits/index.js';
import { clientRequestToken, type SecretStore } from '../secrets/index.js';
import type { Checkpoint } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { resolveInitialAccessToken } from './initial-access-token.js';
import { elapsedMs, type PhaseRecorder, timedDiscoveryCache, timedRegistrationHttp } from './phase-timing.js';
import { expiryToSchedule, isManageable, readStoredCredentials, secretValue } from './secret-value.js';

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
}

const DEFAULT_SECRET_WRITE_RETRY_DELAYS_MS = [250, 1000];

/**
 * A previous attempt wrote the intent marker and then died or lost the answer. If its secret write
 * landed (the version id is derived from the intent), the job resumes from there; otherwise the
 * attempt is recorded as a possible orphan and a new registration is made.
 */
export async function resumeAfterLostAnswer(
  state: Checkpoint,
  secretId: string,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<Checkpoint> {
  const intent = state.intent as NonNullable<Checkpoint['intent']>;
  const current = await deps.secretStore.readCurrent(secretId);
  const landed =
    current?.versionId === clientRequestToken(context.jobId, intent.id)
      ? readStoredCredentials(current.value)
      : undefined;
  const next: Checkpoint = landed
    ? {
        ...withoutIntent(state),
        stored: {
          clientId: landed.clientId,
          secretId,
          secretVersionId: current?.versionId as string,
          ...(landed.clientSecretExpiresAt !== undefined
            ? { clientSecretExpiresAt: landed.clientSecretExpiresAt }
            : {}),
          registeredAt: landed.registeredAt ?? intent.at,
          ...(landed.rotatedAt ? { rotatedAt: landed.rotatedAt } : {}),
          ...(landed.rotationPeriodDays ? { rotationPeriodDays: landed.rotationPeriodDays } : {}),
          managed: isManageable(landed),
        },
      }
    : { ...withoutIntent(state), lostAttemptsAt: [...(state.lostAttemptsAt ?? []), intent.at] };
  await context.checkpoint.save(next);
  return next;
}

/** The HTTP client for requests to authorization servers: timed, and behind the fleet's permits. */
export function serverHttp(http: HttpClient, context: JobContext, deps: RegistrationDeps): HttpClient {
  return deps.serverLimiter
    ? limitHttpClient(http, deps.serverLimiter, {
        onReleaseError: (err, host) =>
          deps.log?.warn(
            { jobId: context.jobId, host },
            `could not hand back a server permit (it expires by itself): ${err instanceof Error ? err.message : String(err)}`,
          ),
      })
    : http;
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

  // The intent marker is written once the POST has its permit, just before it is sent: a job that
  // is delayed for want of a permit leaves its checkpoint as it was.
  const intent = { id: randomUUID(), at: now().toISOString() };
  let intentSaved = false;
  const saveIntent = async () => {
    await context.checkpoint.save({ ...state, intent });
    intentSaved = true;
  };
  const http = serverHttp(
    recordingIntentBeforePost(timedRegistrationHttp(deps.http, phases), saveIntent),
    context,
    deps,
  );

  let result: Awaited<ReturnType<typeof registerClient>>;
  try {
    result = await registerClient({
      fhirBaseUrl: plan.fhirBaseUrl,
      metadata: plan.clientMetadata,
      http,
      ...(plan.registrationEndpoint ? { registrationEndpoint: plan.registrationEndpoint } : {}),
      ...(initialAccessToken ? { initialAccessToken } : {}),
      cache: timedDiscoveryCache(deps.discoveryCache, phases),
      ...(context.signal ? { signal: context.signal } : {}),
    });
  } catch (err) {
    const busy = findServerBusy(err);
    if (busy) {
      if (intentSaved) await context.checkpoint.save(withoutIntent(state));
      throw busy;
    }
    const failure = classify(err, 'registration');
    await context.checkpoint.save(
      failure.outcomeUnknown
        ? { ...state, lostAttemptsAt: [...(state.lostAttemptsAt ?? []), intent.at] }
        : withoutIntent(state),
    );
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
    }),
  );
  let secretVersionId: string;
  const token = clientRequestToken(context.jobId, intent.id);
  try {
    secretVersionId = await writeWithRetries(deps, phases, {
      name: plan.secretId,
      value,
      clientRequestToken: token,
      tags: secretTags(plan.tenantId, plan.fhirBaseUrl),
    });
  } catch (err) {
    const failure = classify(err, 'registration');
    // A write whose answer was lost may have landed: then the credentials are stored and current, and
    // deleting the client would leave AWSCURRENT pointing at a dead one.
    const landed = failure.outcomeUnknown ? await versionIsCurrent(deps, plan.secretId, token) : false;
    if (!landed) throw await giveUpClient(client, failure, state, context, deps);
    secretVersionId = token;
  }

  const next: Checkpoint = {
    ...withoutIntent(state),
    stored: {
      clientId: client.clientId,
      secretId: plan.secretId,
      secretVersionId,
      ...(expiresAt !== undefined ? { clientSecretExpiresAt: expiresAt } : {}),
      registeredAt: registeredAt.toISOString(),
      ...(plan.replacesClient ? { rotatedAt: registeredAt.toISOString() } : {}),
      ...(plan.rotationPeriodDays ? { rotationPeriodDays: plan.rotationPeriodDays } : {}),
      managed: isManageable(client),
    },
  };
  await context.checkpoint.save(next);
  return next;
}

/** Tags a secret is created with (DESIGN.md "Secrets"); reindex reads the tenant back from them. */
export function secretTags(tenantId: string, fhirBaseUrl: string): Record<string, string> {
  return { tenant: tenantId, server: new URL(fhirBaseUrl).host, 'managed-by': 'dcr-provisioner' };
}

/** Saves the intent marker before the first POST goes out (registerClient sends exactly one). */
function recordingIntentBeforePost(http: HttpClient, saveIntent: () => Promise<void>): HttpClient {
  let saved: Promise<void> | undefined;
  return {
    async request(request) {
      if (request.method === 'POST') {
        saved ??= saveIntent();
        await saved;
      }
      return http.request(request);
    },
  };
}

async function versionIsCurrent(
  deps: RegistrationDeps,
  secretId: string,
  versionId: string,
): Promise<boolean> {
  try {
    return (await deps.secretStore.readCurrent(secretId))?.versionId === versionId;
  } catch {
    return false;
  }
}

/** Writes a version, retrying what can be retried a few times in process; returns its version id. */
export async function writeWithRetries(
  deps: RegistrationDeps,
  phases: PhaseRecorder,
  write: Parameters<SecretStore['write']>[0],
): Promise<string> {
  const delays = deps.secretWriteRetryDelaysMs ?? DEFAULT_SECRET_WRITE_RETRY_DELAYS_MS;
  for (let attempt = 0; ; attempt++) {
    const started = performance.now();
    try {
      const { versionId } = await deps.secretStore.write(write);
      phases.secretWrite(elapsedMs(started), 'success');
      return versionId;
    } catch (err) {
      phases.secretWrite(elapsedMs(started), 'failure');
      const failure = classify(err, 'registration');
      const delay = delays[attempt];
      if (!failure.retryable || delay === undefined) throw failure;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
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
  return new ProvisioningError(storeFailure.code, `${storeFailure.message}; ${consequence}`, {
    cause: storeFailure,
    ...(storeFailure.retryAfterMs !== undefined ? { retryAfterMs: storeFailure.retryAfterMs } : {}),
  });
}

export function withoutIntent(state: Checkpoint): Checkpoint {
  const { intent: _intent, ...rest } = state;
  return rest;
}
