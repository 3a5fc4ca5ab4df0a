// The register-client job type: its name, the payload it carries, and the processor that adapts a
// BullMQ job to the provisioning use case. The job's data holds the queued request plus the
// use case's non-secret checkpoint.

import type { Job, Processor } from 'bullmq';
import { isProvisioningError } from '../src/failures/index.js';
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

export function registerClientProcessor(
  deps: RegistrationDeps,
): Processor<RegisterClientData, RegistrationOutcome> {
  return async (job, _token, signal) => {
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
      throw isProvisioningError(err) ? toQueueError(err) : err;
    }
  };
}
