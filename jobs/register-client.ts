// The register-client job type: its name, the payload it carries, and the processor that adapts a
// BullMQ job to the provisioning use case. The job's data holds the queued request plus the
// use case's non-secret checkpoint. A server with no room for the job's request (ServerBusyError) delays
// the job with moveToDelayed + DelayedError: no attempt is spent, the checkpoint stays in the data, and
// the worker takes jobs for other servers meanwhile.

import { DelayedError, type Job, type Processor } from 'bullmq';
import { isProvisioningError } from '../src/failures/index.js';
import { findServerBusy, type ServerBusyError } from '../src/limits/index.js';
import {
  type Checkpoint,
  type CheckpointStore,
  type RegistrationDeps,
  type RegistrationOutcome,
  runRegistration,
} from '../src/provisioning/index.js';
import { JOB_NAMES, type RegistrationJob, toQueueError } from '../src/queue/index.js';

export const name = JOB_NAMES.registerClient;

export type RegisterClientData = RegistrationJob & { checkpoint?: Checkpoint };

/** Keeps the checkpoint in the job's data, so it survives the worker process. */
function jobCheckpointStore(job: Job<RegisterClientData>): CheckpointStore {
  return {
    load: () => structuredClone(job.data.checkpoint ?? {}),
    save: async (checkpoint) => {
      await job.updateData({ ...job.data, checkpoint });
    },
  };
}

export interface RegisterClientProcessorOptions {
  /** Told each time a job is put off because its server had no room (metrics, debug log). */
  onDelayed?: (job: Job<RegisterClientData>, busy: ServerBusyError) => void;
}

export function registerClientProcessor(
  deps: RegistrationDeps,
  options: RegisterClientProcessorOptions = {},
): Processor<RegisterClientData, RegistrationOutcome> {
  return async (job, token, signal) => {
    const { checkpoint: _checkpoint, ...payload } = job.data;
    try {
      return await runRegistration(
        payload,
        {
          jobId: job.id as string,
          attempt: job.attemptsMade + 1,
          maxAttempts: job.opts.attempts ?? 1,
          checkpoint: jobCheckpointStore(job),
          ...(signal ? { signal } : {}),
        },
        deps,
      );
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
