// What the provisioning job types share: a checkpoint kept in the job's data, so it survives the
// worker process — stamped with the id of the job that wrote it, so that a copy (the board's duplicate,
// a job added by hand) starts afresh instead of trusting another job's progress; and a server with no
// room for the job's request (ServerBusyError) delays the job with moveToDelayed + DelayedError: no
// attempt is spent and the worker takes jobs for other servers meanwhile.

import { DelayedError, type Job, type Processor } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { REGISTRATION_REASONS, type RegistrationReason } from '../src/events/index.js';
import { isFailureEventPending, isProvisioningError, ProvisioningError } from '../src/failures/index.js';
import { findServerBusy, type ServerBusyError } from '../src/limits/index.js';
import {
  announceFailure,
  type Checkpoint,
  type CheckpointStore,
  type JobContext,
  type OwnedCheckpoint,
  ownCheckpoint,
  type RegistrationDeps,
} from '../src/provisioning/index.js';
import { parseFailedReason, toQueueError } from '../src/queue/index.js';

export type WithCheckpoint<T> = T & { checkpoint?: OwnedCheckpoint };

/** Keeps the checkpoint in the job's data. */
function jobCheckpointStore<T>(job: Job<WithCheckpoint<T>>): CheckpointStore {
  const jobId = job.id as string;
  return {
    load: () => ownCheckpoint(job.data.checkpoint, jobId),
    save: async (checkpoint: Checkpoint) => {
      try {
        await job.updateData({ ...job.data, checkpoint: { ...checkpoint, jobId } });
      } catch (err) {
        // Our own Redis, not the authorization server: named as such, never counted against the server.
        throw new ProvisioningError(
          'network_error',
          `could not save the job's checkpoint in Redis (${err instanceof Error ? err.message : String(err)}); the attempt is tried again`,
          { cause: err },
        );
      }
    },
  };
}

export interface ProvisioningJobOptions {
  /** Told each time a job is put off because its server had no room (metrics, debug log). */
  onDelayed?: (job: Job, busy: ServerBusyError) => void;
}

/** A BullMQ processor around a provisioning use case, which receives the payload without its checkpoint. */
export function provisioningProcessor<T, R>(
  useCase: (payload: unknown, context: JobContext) => Promise<R>,
  options: ProvisioningJobOptions = {},
): Processor<WithCheckpoint<T>, R> {
  return async (job, token, signal) => {
    const { checkpoint: _checkpoint, ...payload } = job.data;
    try {
      return await useCase(payload, {
        jobId: job.id as string,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
        checkpoint: jobCheckpointStore(job),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      const busy = findServerBusy(err);
      if (busy) {
        // The token proves this worker holds the job's lock; DelayedError tells BullMQ not to fail it.
        await job.moveToDelayed(Date.now() + busy.retryAfterMs, token);
        options.onDelayed?.(job, busy);
        throw new DelayedError();
      }
      throw isProvisioningError(err) ? toQueueError(err) : err;
    }
  };
}

/**
 * The worker's `failed` listener. A job that failed for good without its failure event is announced
 * here: one failed by BullMQ itself, where no processor runs (its stalled limit: the reason gets the
 * code `job_stalled`, which the job's failedReason is rewritten to lead with), and one whose event the
 * use case could not append. Everything else was announced by the use case before the job failed.
 */
export async function announceQueueFailure(
  job: Job<WithCheckpoint<Record<string, unknown>>>,
  err: Error,
  deps: Pick<RegistrationDeps, 'events' | 'now'>,
  queue: { redis: Pick<Redis | Cluster, 'eval'>; jobKey(jobId: string): string },
): Promise<void> {
  const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
  if (!final) return;
  const coded = parseFailedReason(job.failedReason ?? err.message);
  if (coded && !isFailureEventPending(err)) return;
  let state: Checkpoint = {};
  try {
    state = ownCheckpoint(job.data.checkpoint, job.id as string);
  } catch {
    // A malformed checkpoint names no orphan; the failure is still announced.
  }
  const failure = coded
    ? new ProvisioningError(coded.code, coded.message)
    : new ProvisioningError(
        'job_stalled',
        `the job's worker stopped or stalled too often (BullMQ: ${job.failedReason ?? err.message})${state.intent ? '; a request it had sent may have registered a client (possibleOrphan)' : ''}; it is not retried: add the request again`,
      );
  if (!coded) {
    // Only while the job exists: retention may have removed it already, and HSET would recreate it.
    await queue.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], 'failedReason', ARGV[1]) end return 0",
      1,
      queue.jobKey(job.id as string),
      failure.toFailedReason(),
    );
  }
  const { tenantId, fhirBaseUrl, reason } = job.data;
  await announceFailure(
    failure,
    {
      jobId: job.id as string,
      attempts: job.attemptsMade,
      ...(typeof tenantId === 'string' ? { tenantId } : {}),
      ...(typeof fhirBaseUrl === 'string' ? { fhirBaseUrl } : {}),
      ...(REGISTRATION_REASONS.includes(reason as RegistrationReason)
        ? { reason: reason as RegistrationReason }
        : {}),
    },
    state,
    deps,
  );
}
