// What the provisioning job types share: a checkpoint kept in the job's data, so it survives the
// worker process; and a server with no room for the job's request (ServerBusyError) delays the job
// with moveToDelayed + DelayedError: no attempt is spent, the checkpoint stays in the data, and the
// worker takes jobs for other servers meanwhile.

import { DelayedError, type Job, type Processor } from 'bullmq';
import { isProvisioningError } from '../src/failures/index.js';
import { findServerBusy, type ServerBusyError } from '../src/limits/index.js';
import type { Checkpoint, CheckpointStore, JobContext } from '../src/provisioning/index.js';
import { toQueueError } from '../src/queue/index.js';

export type WithCheckpoint<T> = T & { checkpoint?: Checkpoint };

/** Keeps the checkpoint in the job's data. */
function jobCheckpointStore<T>(job: Job<WithCheckpoint<T>>): CheckpointStore {
  return {
    load: () => structuredClone(job.data.checkpoint ?? {}),
    save: async (checkpoint) => {
      await job.updateData({ ...job.data, checkpoint });
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
