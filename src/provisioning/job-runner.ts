// What every provisioning job does around its own work: validate the payload (an invalid one fails at
// once and is still announced), report one outcome per attempt to the observer, let a "server busy"
// through untouched (the job adapter delays the job), and announce a permanent failure, or the last
// attempt's, as `client.registration_failed`.

import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import type { RegistrationReason } from '../events/index.js';
import { classify, isProvisioningError, type ProvisioningError } from '../failures/index.js';
import { findServerBusy } from '../limits/index.js';
import type { RequestRules } from '../queue/registration-request.js';
import type { Checkpoint } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { guardObserver, type JobFinished, type JobKind, NOOP_OBSERVER } from './observer.js';
import { elapsedMs, PhaseRecorder } from './phase-timing.js';

/**
 * A job schema built once per rules object: building one is costly, and a worker's rules never change.
 * Use it at module level: `const schemaFor = perRules(registrationJobSchema)`.
 */
export function perRules<S>(build: (rules: RequestRules) => S): (rules: RequestRules) => S {
  const built = new WeakMap<RequestRules, S>();
  return (rules) => {
    let schema = built.get(rules);
    if (schema === undefined) {
      schema = build(rules);
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
  const report = (fields: Pick<JobFinished, 'outcome' | 'code' | 'message' | 'clientId'>) =>
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

async function validateAndRun<J extends JobSubject, O>(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
  schema: z.ZodType<J>,
  work: (job: J) => Promise<O>,
  onFinalFailure: ((job: J) => Promise<unknown>) | undefined,
): Promise<O> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    // Published with what can be read of the payload, so a consumer still learns about it.
    const failure = classify(parsed.error, 'registration');
    await publishFailure(failure, partialJob(data), context, context.checkpoint.load(), deps);
    throw failure;
  }
  const job = parsed.data;
  try {
    return await work(job);
  } catch (err) {
    const busy = findServerBusy(err);
    if (busy) throw busy;
    const failure = classify(err, 'registration');
    if (isFinalAttempt(failure, context)) {
      await publishFailure(failure, job, context, context.checkpoint.load(), deps);
      await onFinalFailure?.(job).catch((err: unknown) =>
        deps.log?.warn(
          { jobId: context.jobId },
          `could not record the failure: ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
    }
    throw failure;
  }
}

/** Whether the queue stops after this failure: a permanent code, or the last attempt. */
function isFinalAttempt(failure: ProvisioningError, context: JobContext): boolean {
  return !failure.retryable || context.attempt >= context.maxAttempts;
}

async function publishFailure(
  failure: ProvisioningError,
  job: Partial<JobSubject>,
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

/** The orphan facts a job's final event carries (DESIGN.md "No silent orphan"). */
export function orphanFields(state: Checkpoint): Record<string, unknown> {
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
