// What every provisioning job does around its own work: validate the payload and its checkpoint (an
// invalid one fails at once and is still announced), report one outcome per attempt to the observer,
// let a "server busy" through (the job adapter delays the job) — but only for so long: an attempt that
// waits longer than `maxServerWaitMs` for its first permit is spent as `rate_limited` — and announce a
// permanent failure, or the last attempt's, as `client.registration_failed`.

import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import type { RegistrationReason } from '../events/index.js';
import {
  classify,
  isProvisioningError,
  markFailureEventPending,
  ProvisioningError,
  withConsequence,
} from '../failures/index.js';
import { type BusyReason, findServerBusy, type ServerBusyError } from '../limits/index.js';
import type { RequestRules } from '../queue/registration-request.js';
import type { Checkpoint } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { guardObserver, type JobFinished, type JobKind, NOOP_OBSERVER } from './observer.js';
import { elapsedMs, PhaseRecorder } from './phase-timing.js';
import { lostRequest, withoutIntent } from './register-and-store.js';

/** DESIGN.md: an attempt that cannot get its first request out for this long is visible, not silent. */
export const DEFAULT_MAX_SERVER_WAIT_MS = 3_600_000;

/** Pauses between tries of a failure event that could not be appended. */
const FAILURE_EVENT_RETRY_DELAYS_MS = [200, 1000, 3000];

/**
 * A job schema built once per rules object: building one is costly, and a worker's rules never change.
 * The worker checks exactly what the API checks: the request rules, and that an initial access token is
 * read only from under the tenant's own secret prefix (SECRET_NAME_PREFIX), whoever put the job in Redis.
 * Use it at module level: `const schemaFor = perRules(registrationJobSchema)`, then `schemaFor(deps)`.
 */
export function perRules<S>(
  build: (rules: RequestRules) => S,
): (deps: Pick<RegistrationDeps, 'rules' | 'secretNamePrefix'>) => S {
  const built = new WeakMap<RequestRules, S>();
  return ({ rules, secretNamePrefix }) => {
    let schema = built.get(rules);
    if (schema === undefined) {
      schema = build({ ...rules, secretNamePrefix: rules.secretNamePrefix ?? secretNamePrefix });
      built.set(rules, schema);
    }
    return schema;
  };
}

/** What every job payload names. */
export interface JobSubject {
  tenantId: string;
  fhirBaseUrl: string;
  reason?: RegistrationReason | undefined;
}

export async function runProvisioningJob<J extends JobSubject, O extends { clientId: string }>(
  kind: JobKind,
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
  schema: z.ZodType<J>,
  work: (job: J, phases: PhaseRecorder) => Promise<O>,
  /** Told when the job has failed for good (after its event is published). */
  onFinalFailure?: (job: J) => Promise<unknown>,
): Promise<O> {
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
  const report = (
    fields: Pick<JobFinished, 'outcome' | 'code' | 'message' | 'clientId' | 'verified' | 'verificationError'>,
  ) =>
    observer.jobFinished({
      kind,
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
    const outcome = await validateAndRun(
      data,
      context,
      deps,
      schema,
      (job) => work(job, phases),
      onFinalFailure,
    );
    const { verified, verificationError } = outcome as { verified?: unknown; verificationError?: unknown };
    report({
      outcome: 'completed',
      clientId: outcome.clientId,
      ...(typeof verified === 'boolean' ? { verified } : {}),
      ...(typeof verificationError === 'string' ? { verificationError } : {}),
    });
    return outcome;
  } catch (err) {
    // Not an outcome: the job waits for the server and this attempt starts again later.
    if (findServerBusy(err)) throw err;
    const failure = classify(err, 'registration');
    const exceeded = serverWaitExceeded(failure);
    if (exceeded) observer.serverWaitExceeded(exceeded);
    // The job adapter hands anything but a ProvisioningError to the queue as is, and the queue retries it.
    const final = isProvisioningError(err)
      ? isFinalAttempt(err, context)
      : context.attempt >= context.maxAttempts;
    report({ outcome: final ? 'failed' : 'retry', code: failure.code, message: failure.message });
    throw err;
  }
}

async function validateAndRun<J extends JobSubject, O>(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
  schema: z.ZodType<J>,
  work: (job: J) => Promise<O>,
  onFinalFailure: ((job: J) => Promise<unknown>) | undefined,
): Promise<O> {
  let state: Checkpoint;
  try {
    state = context.checkpoint.load();
  } catch (err) {
    const failure = classify(err, 'registration');
    throw await publishFailure(failure, partialJob(data), context, {}, deps);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    // Published with what can be read of the payload, so a consumer still learns about it.
    const failure = classify(parsed.error, 'registration');
    throw await publishFailure(failure, partialJob(data), context, state, deps);
  }
  const job = parsed.data;
  try {
    return await work(job);
  } catch (err) {
    const busy = findServerBusy(err);
    const failure = busy ? await waitedTooLong(busy, context, deps) : classify(err, 'registration');
    if (failure === undefined) throw busy;
    if (!isFinalAttempt(failure, context)) throw failure;
    const announced = await publishFailure(failure, job, context, context.checkpoint.load(), deps);
    await onFinalFailure?.(job).catch((err: unknown) =>
      deps.log?.warn(
        { jobId: context.jobId },
        `could not record the failure: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
    throw announced;
  }
}

const SERVER_WAIT_EXCEEDED = Symbol.for('dcr-provisioner.serverWaitExceeded');

/** The busy reason of an attempt spent for waiting too long, if this failure is one. */
function serverWaitExceeded(failure: ProvisioningError): BusyReason | undefined {
  return (failure as unknown as Record<symbol, BusyReason | undefined>)[SERVER_WAIT_EXCEEDED];
}

/**
 * A server had no room for the attempt's first request. The first time in an attempt, the wait is
 * recorded (status shows it); once it has lasted `maxServerWaitMs`, the attempt is spent as
 * `rate_limited` instead of waiting on without end. Undefined: keep waiting.
 */
async function waitedTooLong(
  busy: ServerBusyError,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<ProvisioningError | undefined> {
  const now = deps.now?.() ?? new Date();
  const state = context.checkpoint.load();
  // A key rotation's wait for servers' JWKS caches is the job's own, bounded by JWKS_MAX_AGE_S: shown
  // like a server wait, but neither bounded by maxServerWaitMs nor counted into a server wait after it.
  const ownWait = (reason: string | undefined) => reason === 'key_publication';
  const sameKind = (reason: string) => ownWait(reason) === ownWait(busy.reason);
  const waiting =
    state.waiting?.attempt === context.attempt && sameKind(state.waiting.reason) ? state.waiting : undefined;
  if (waiting && ownWait(busy.reason)) return undefined;
  if (!waiting) {
    await context.checkpoint.save({
      ...state,
      waiting: { attempt: context.attempt, since: now.toISOString(), host: busy.host, reason: busy.reason },
    });
    return undefined;
  }
  const waitedMs = now.getTime() - Date.parse(waiting.since);
  const maxMs = deps.maxServerWaitMs ?? DEFAULT_MAX_SERVER_WAIT_MS;
  if (waitedMs < maxMs) return undefined;
  const failure = new ProvisioningError(
    'rate_limited',
    `server ${busy.host} had no room for this job for ${Math.round(waitedMs / 60_000)} min (${busy.reason}); its politeness limits (SERVER_MAX_IN_FLIGHT, SERVER_RATE_PER_S, SERVER_LIMITS) or an open circuit breaker leave it no turn`,
    // No `cause`: the busy error behind it would make the job look busy again (findServerBusy).
  );
  Object.defineProperty(failure, SERVER_WAIT_EXCEEDED, { value: busy.reason });
  return failure;
}

/** Whether the queue stops after this failure: a permanent code, or the last attempt. */
function isFinalAttempt(failure: ProvisioningError, context: JobContext): boolean {
  return !failure.retryable || context.attempt >= context.maxAttempts;
}

/**
 * Announces a failure for good and answers the error to fail the job with. A publish that keeps failing
 * does not take the failure code away: the job still fails with its code, its reason says the event is
 * missing, and the error is marked so that the worker announces it once the queue has failed the job.
 */
async function publishFailure(
  failure: ProvisioningError,
  job: Partial<JobSubject>,
  context: JobContext,
  state: Checkpoint,
  deps: RegistrationDeps,
): Promise<ProvisioningError> {
  const publish = () =>
    announceFailure(failure, { ...job, jobId: context.jobId, attempts: context.attempt }, state, deps);
  let lastError: unknown;
  for (const pause of [0, ...FAILURE_EVENT_RETRY_DELAYS_MS]) {
    if (pause > 0) await sleep(pause);
    try {
      await publish();
      return failure;
    } catch (err) {
      lastError = err;
    }
  }
  const why = lastError instanceof Error ? lastError.message : String(lastError);
  deps.log?.warn({ jobId: context.jobId, code: failure.code }, `could not append the failure event: ${why}`);
  const pending = withConsequence(
    failure,
    `its client.registration_failed event could not be appended yet (${why})`,
  );
  return markFailureEventPending(pending);
}

/** What a failure event names of the job. */
export interface FailedJob extends Partial<JobSubject> {
  jobId: string;
  attempts: number;
}

/**
 * Appends `client.registration_failed` for a job that failed for good, with the orphan facts of its
 * checkpoint. Also for failures the queue makes outside any processor (BullMQ's stalled limit).
 */
export async function announceFailure(
  failure: ProvisioningError,
  job: FailedJob,
  state: Checkpoint,
  deps: Pick<RegistrationDeps, 'events' | 'now'>,
): Promise<void> {
  await deps.events.publish(
    'client.registration_failed',
    {
      tenantId: job.tenantId ?? 'unknown',
      fhirBaseUrl: job.fhirBaseUrl ?? 'unknown',
      jobId: job.jobId,
      attempts: job.attempts,
      occurredAt: (deps.now?.() ?? new Date()).toISOString(),
      code: failure.code,
      message: failure.message,
      ...(job.reason ? { reason: job.reason } : {}),
      ...orphanFields(state),
    },
    { discriminator: 'failed' },
  );
}

/**
 * The orphan facts a job's final event carries (DESIGN.md "No silent orphan"). An intent still in the
 * checkpoint is a request whose outcome the job never learnt (it died, or stalled for good).
 */
export function orphanFields(checkpoint: Checkpoint): Record<string, unknown> {
  const state = checkpoint.intent ? lostRequest(withoutIntent(checkpoint), checkpoint.intent) : checkpoint;
  const orphans = state.orphanedClientIds ?? [];
  const orphaned = orphans.at(-1);
  const lost = state.lostAttemptsAt?.at(-1);
  return {
    ...(orphaned ? { orphanedClientId: orphaned } : {}),
    ...(orphans.length > 1 ? { orphanedClientIds: orphans } : {}),
    ...(lost ? { possibleOrphan: true, lostAttemptAt: lost } : {}),
  };
}

/** The orphan facts a job's return value carries. */
export function orphanOutcome(state: Checkpoint): {
  possibleOrphan?: true;
  lostAttemptsAt?: string[];
  orphanedClientIds?: string[];
} {
  return {
    ...(state.lostAttemptsAt?.length ? { possibleOrphan: true, lostAttemptsAt: state.lostAttemptsAt } : {}),
    ...(state.orphanedClientIds?.length ? { orphanedClientIds: state.orphanedClientIds } : {}),
  };
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

function partialJob(data: unknown): Partial<JobSubject> {
  if (typeof data !== 'object' || data === null) return {};
  const { tenantId, fhirBaseUrl } = data as Record<string, unknown>;
  return {
    ...(typeof tenantId === 'string' ? { tenantId } : {}),
    ...(typeof fhirBaseUrl === 'string' ? { fhirBaseUrl } : {}),
  };
}

/** A pause on the global timer (which tests can fake). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
