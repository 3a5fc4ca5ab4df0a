// The use case: one registration job from payload to completion event (DESIGN.md "What one
// registration does"). It does not know which queue or process called it; the job adapter hands it a
// checkpoint store and the attempt counters, and turns its ProvisioningError into the queue's terms.
// What it measures goes to a ProvisioningObserver, so it knows nothing of metrics or log formats.
// Every request to an authorization server first takes a permit from the ServerLimiter; when the
// server has no room the use case throws a ServerBusyError, which is not a failure: the job adapter
// delays the job, and neither its attempt count nor its checkpoint changes.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { deleteClient, type RegisteredClient, registerClient } from '../dcr/index.js';
import type { EventPublisher } from '../events/index.js';
import { classify, isProvisioningError, ProvisioningError } from '../failures/index.js';
import type { HttpClient } from '../http/index.js';
import { findServerBusy, limitHttpClient, type ServerLimiter } from '../limits/index.js';
import { registrationKey } from '../queue/registration-key.js';
import {
  type RegistrationJob,
  type RequestRules,
  registrationJobSchema,
} from '../queue/registration-request.js';
import type { RegistrationRegistry } from '../registry/index.js';
import { clientRequestToken, registrationSecretName, type SecretStore } from '../secrets/index.js';
import type { DiscoveryCache, SmartConfiguration } from '../smart/index.js';
import type { Checkpoint, CheckpointStore, StoredRegistration } from './checkpoint.js';
import { resolveInitialAccessToken } from './initial-access-token.js';
import { guardObserver, type JobFinished, NOOP_OBSERVER, type ProvisioningObserver } from './observer.js';
import { elapsedMs, PhaseRecorder, timedDiscoveryCache, timedRegistrationHttp } from './phase-timing.js';
import { secretValue, storedFacts } from './secret-value.js';

export interface RegistrationDeps {
  http: HttpClient;
  secretStore: SecretStore;
  events: EventPublisher;
  discoveryCache?: DiscoveryCache;
  /** The non-secret index status and rotation read; optional for library use. */
  registry?: RegistrationRegistry;
  /** SECRET_NAME_PREFIX. */
  secretNamePrefix: string;
  rules: RequestRules;
  /** Bounded in-process retries of the secret write, before the new client is given up. */
  secretWriteRetryDelaysMs?: readonly number[];
  now?: () => Date;
  log?: Pick<Console, 'warn'> | { warn(obj: object, msg?: string): void };
  /** Receives phase latencies and one report per attempt's outcome. @defaultValue NOOP_OBSERVER */
  observer?: ProvisioningObserver;
  /**
   * Permits for the discovery and registration requests, per host requested. Without it requests go
   * out unlimited (library use). The RFC 7592 delete of a client that could not be stored is not
   * limited: it must not be put off.
   */
  serverLimiter?: ServerLimiter;
}

export interface JobContext {
  jobId: string;
  /** 1 for the first try. */
  attempt: number;
  maxAttempts: number;
  checkpoint: CheckpointStore;
  signal?: AbortSignal;
}

/** The job's return value: everything an operator needs, nothing secret. */
export interface RegistrationOutcome {
  tenantId: string;
  fhirBaseUrl: string;
  clientId: string;
  secretId: string;
  secretVersionId: string;
  clientSecretExpiresAt?: number | 'unknown';
  registeredAt: string;
  eventId: string;
  /** A POST of this job may have registered a client that was never stored. */
  possibleOrphan?: boolean;
  lostAttemptsAt?: string[];
  orphanedClientIds?: string[];
}

const DEFAULT_SECRET_WRITE_RETRY_DELAYS_MS = [250, 1000];

export async function runRegistration(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<RegistrationOutcome> {
  const started = performance.now();
  const observer = guardObserver(deps.observer ?? NOOP_OBSERVER, (err) =>
    deps.log?.warn(
      { jobId: context.jobId },
      `provisioning observer failed: ${err instanceof Error ? err.message : String(err)}`,
    ),
  );
  const phases = new PhaseRecorder(observer);
  // Read from the raw payload, so that even a job failing validation is reported with what it names.
  const { tenantId, fhirBaseUrl } = partialJob(data);
  const serverHost = serverHostOf(fhirBaseUrl);
  const report = (fields: Pick<JobFinished, 'outcome' | 'code' | 'message' | 'clientId'>) =>
    observer.jobFinished({
      jobId: context.jobId,
      attempt: context.attempt,
      maxAttempts: context.maxAttempts,
      ...(tenantId !== undefined ? { tenantId } : {}),
      ...(serverHost !== undefined ? { serverHost } : {}),
      durationMs: elapsedMs(started),
      phases: { ...phases.durations },
      ...fields,
    });

  try {
    const outcome = await validateAndProvision(data, context, deps, phases);
    report({ outcome: 'completed', clientId: outcome.clientId });
    return outcome;
  } catch (err) {
    // Not an outcome: the job waits for the server and this attempt starts again later.
    if (findServerBusy(err)) throw err;
    const failure = classify(err, 'registration');
    // The job adapter hands anything but a ProvisioningError to the queue as is, and the queue retries it.
    const final = isProvisioningError(err)
      ? isFinalAttempt(err, context)
      : context.attempt >= context.maxAttempts;
    report({ outcome: final ? 'failed' : 'retry', code: failure.code, message: failure.message });
    throw err;
  }
}

async function validateAndProvision(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<RegistrationOutcome> {
  const parsed = registrationJobSchema(deps.rules).safeParse(data);
  if (!parsed.success) {
    // Published with what can be read of the payload, so a consumer still learns about it.
    const failure = classify(parsed.error, 'registration');
    await publishFailure(failure, partialJob(data), context, context.checkpoint.load(), deps);
    throw failure;
  }
  const job = parsed.data;
  try {
    return await provision(job, context, deps, phases);
  } catch (err) {
    const busy = findServerBusy(err);
    if (busy) throw busy;
    const failure = classify(err, 'registration');
    if (isFinalAttempt(failure, context))
      await publishFailure(failure, job, context, context.checkpoint.load(), deps);
    throw failure;
  }
}

/** Whether the queue stops after this failure: a permanent code, or the last attempt. */
function isFinalAttempt(failure: ProvisioningError, context: JobContext): boolean {
  return !failure.retryable || context.attempt >= context.maxAttempts;
}

async function provision(
  job: RegistrationJob,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<RegistrationOutcome> {
  const { checkpoint } = context;
  const secretId = registrationSecretName(deps.secretNamePrefix, job.tenantId, job.fhirBaseUrl);
  let state = checkpoint.load();
  // Status follows the job that is working on the registration, even if the producer could not record it.
  await deps.registry?.recordEnqueued(registrationKey(job.tenantId, job.fhirBaseUrl), {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    jobId: context.jobId,
  });

  if (!state.stored && state.intent) state = await resumeAfterLostAnswer(state, secretId, context, deps);
  if (!state.stored) state = await registerAndStore(job, secretId, state, context, deps, phases);
  const stored = state.stored as StoredRegistration;
  await deps.registry?.recordStored(registrationKey(job.tenantId, job.fhirBaseUrl), {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    ...stored,
  });

  if (!state.eventId) {
    const { eventId } = await deps.events.publish(
      'client.registered',
      {
        tenantId: job.tenantId,
        fhirBaseUrl: job.fhirBaseUrl,
        clientId: stored.clientId,
        secretId: stored.secretId,
        secretVersionId: stored.secretVersionId,
        jobId: context.jobId,
        attempts: context.attempt,
        occurredAt: (deps.now?.() ?? new Date()).toISOString(),
        reason: job.reason,
        ...orphanFields(state),
      },
      { discriminator: stored.secretVersionId },
    );
    state = { ...state, eventId };
    await checkpoint.save(state);
  }

  return {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    ...stored,
    eventId: state.eventId as string,
    ...(state.lostAttemptsAt?.length ? { possibleOrphan: true, lostAttemptsAt: state.lostAttemptsAt } : {}),
    ...(state.orphanedClientIds?.length ? { orphanedClientIds: state.orphanedClientIds } : {}),
  };
}

/**
 * A previous attempt wrote the intent marker and then died or lost the answer. If its secret write
 * landed (the version id is derived from the intent), the job resumes from there; otherwise the
 * attempt is recorded as a possible orphan and a new registration is made.
 */
async function resumeAfterLostAnswer(
  state: Checkpoint,
  secretId: string,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<Checkpoint> {
  const intent = state.intent as NonNullable<Checkpoint['intent']>;
  const current = await deps.secretStore.readCurrent(secretId);
  const facts =
    current?.versionId === versionToken(context.jobId, intent.id) ? storedFacts(current.value) : undefined;
  const next: Checkpoint = facts
    ? {
        ...withoutIntent(state),
        stored: {
          clientId: facts.clientId,
          secretId,
          secretVersionId: current?.versionId as string,
          ...(facts.clientSecretExpiresAt !== undefined
            ? { clientSecretExpiresAt: facts.clientSecretExpiresAt }
            : {}),
          registeredAt: facts.registeredAt ?? intent.at,
        },
      }
    : { ...withoutIntent(state), lostAttemptsAt: [...(state.lostAttemptsAt ?? []), intent.at] };
  await context.checkpoint.save(next);
  return next;
}

async function registerAndStore(
  job: RegistrationJob,
  secretId: string,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<Checkpoint> {
  const initialAccessToken = job.initialAccessToken
    ? await resolveInitialAccessToken(deps.secretStore, job.initialAccessToken.secretId)
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
  const timed = recordingIntentBeforePost(timedRegistrationHttp(deps.http, phases), saveIntent);
  const http = deps.serverLimiter
    ? limitHttpClient(timed, deps.serverLimiter, {
        onReleaseError: (err, host) =>
          deps.log?.warn(
            { jobId: context.jobId, host },
            `could not hand back a server permit (it expires by itself): ${err instanceof Error ? err.message : String(err)}`,
          ),
      })
    : timed;

  let client: RegisteredClient;
  let configuration: SmartConfiguration | undefined;
  try {
    ({ client, configuration } = await registerClient({
      fhirBaseUrl: job.fhirBaseUrl,
      metadata: job.clientMetadata,
      http,
      ...(job.registrationEndpoint ? { registrationEndpoint: job.registrationEndpoint } : {}),
      ...(initialAccessToken ? { initialAccessToken } : {}),
      cache: timedDiscoveryCache(deps.discoveryCache, phases),
      ...(context.signal ? { signal: context.signal } : {}),
    }));
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
  for (const warning of client.warnings)
    deps.log?.warn({ tenantId: job.tenantId, jobId: context.jobId }, warning);

  const registeredAt = now();
  const value = JSON.stringify(
    secretValue({ client, fhirBaseUrl: job.fhirBaseUrl, configuration, registeredAt }),
  );
  let secretVersionId: string;
  const token = versionToken(context.jobId, intent.id);
  try {
    secretVersionId = await writeWithRetries(deps, phases, {
      name: secretId,
      value,
      clientRequestToken: token,
      tags: { tenant: job.tenantId, server: new URL(job.fhirBaseUrl).host, 'managed-by': 'dcr-provisioner' },
    });
  } catch (err) {
    const failure = classify(err, 'registration');
    // A write whose answer was lost may have landed: then the credentials are stored and current, and
    // deleting the client would leave AWSCURRENT pointing at a dead one.
    const landed = failure.outcomeUnknown ? await versionIsCurrent(deps, secretId, token) : false;
    if (!landed) throw await giveUpClient(client, failure, state, context, deps);
    secretVersionId = token;
  }

  const next: Checkpoint = {
    ...withoutIntent(state),
    stored: {
      clientId: client.clientId,
      secretId,
      secretVersionId,
      ...(client.clientSecretExpiresAt !== undefined
        ? { clientSecretExpiresAt: client.clientSecretExpiresAt }
        : {}),
      registeredAt: registeredAt.toISOString(),
    },
  };
  await context.checkpoint.save(next);
  return next;
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

async function writeWithRetries(
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
  if (client.registrationClientUri && client.registrationAccessToken) {
    try {
      await deleteClient({
        http: deps.http,
        registrationClientUri: client.registrationClientUri,
        registrationAccessToken: client.registrationAccessToken,
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

async function publishFailure(
  failure: ProvisioningError,
  job: Partial<RegistrationJob>,
  context: JobContext,
  state: Checkpoint,
  deps: RegistrationDeps,
): Promise<void> {
  await deps.events.publish(
    'client.registration_failed',
    {
      tenantId: job.tenantId ?? 'unknown',
      fhirBaseUrl: job.fhirBaseUrl ?? 'unknown',
      jobId: context.jobId,
      attempts: context.attempt,
      occurredAt: (deps.now?.() ?? new Date()).toISOString(),
      code: failure.code,
      message: failure.message,
      ...(job.reason ? { reason: job.reason } : {}),
      ...orphanFields(state),
    },
    { discriminator: 'failed' },
  );
}

function orphanFields(state: Checkpoint): Record<string, unknown> {
  const orphaned = state.orphanedClientIds?.at(-1);
  const lost = state.lostAttemptsAt?.at(-1);
  return {
    ...(orphaned ? { orphanedClientId: orphaned } : {}),
    ...(lost ? { possibleOrphan: true, lostAttemptAt: lost } : {}),
  };
}

function withoutIntent(state: Checkpoint): Checkpoint {
  const { intent: _intent, ...rest } = state;
  return rest;
}

/** The secret version id of the write that follows a given POST: a retried write is then a no-op. */
function versionToken(jobId: string, intentId: string): string {
  return clientRequestToken(jobId, intentId);
}

/** Host and port only: a URL's user info may hold a password, and its path and query belong to the tenant. */
function serverHostOf(fhirBaseUrl: string | undefined): string | undefined {
  if (fhirBaseUrl === undefined) return undefined;
  try {
    return new URL(fhirBaseUrl).host || undefined;
  } catch {
    return undefined;
  }
}

function partialJob(data: unknown): Partial<RegistrationJob> {
  if (typeof data !== 'object' || data === null) return {};
  const { tenantId, fhirBaseUrl } = data as Record<string, unknown>;
  return {
    ...(typeof tenantId === 'string' ? { tenantId } : {}),
    ...(typeof fhirBaseUrl === 'string' ? { fhirBaseUrl } : {}),
  };
}
