// The delete-client job type: a client that a rotation (or a registration over an existing one)
// replaced, deleted through RFC 7592 once the rotation grace has passed. Added as a delayed job by the
// replacing job (the DeletionScheduler below), with a job id derived from it, so a retried job never
// schedules it twice.

import type { JobsOptions, Processor, Queue } from 'bullmq';
import {
  type DelayedJobScheduler,
  type DeletionOutcome,
  type DeletionRequest,
  type DeletionScheduler,
  type RegistrationDeps,
  runDeletion,
} from '../src/provisioning/index.js';
import { type DeletionJob, JOB_NAMES } from '../src/queue/index.js';
import {
  type ProvisioningJobOptions,
  provisioningProcessor,
  type WithCheckpoint,
} from './provisioning-job.js';

export const name = JOB_NAMES.deleteClient;

export type DeleteClientData = WithCheckpoint<DeletionJob>;

export function deleteClientProcessor(
  deps: RegistrationDeps,
  options: ProvisioningJobOptions = {},
): Processor<DeleteClientData, DeletionOutcome> {
  return provisioningProcessor((payload, context) => runDeletion(payload, context, deps), options);
}

/** Schedules deletions as delayed jobs on the queue, retried like registrations. */
export function queueDeletionScheduler(queue: Queue, jobOptions: DelayedJobOptions): DeletionScheduler {
  return queueDelayedJobs<DeletionRequest, DeletionJob>(queue, name, jobOptions);
}

export type DelayedJobOptions = Pick<
  JobsOptions,
  'attempts' | 'backoff' | 'removeOnComplete' | 'removeOnFail'
>;

/**
 * A scheduler of delayed jobs of one name: the request becomes the job's data with its reason
 * (`rotation` unless given) and the time it was asked for.
 */
export function queueDelayedJobs<R extends { reason?: unknown }, D>(
  queue: Queue,
  jobName: string,
  jobOptions: DelayedJobOptions,
): DelayedJobScheduler<R> {
  return {
    async schedule(request, { delayMs, jobId }) {
      const { reason, ...rest } = request;
      const data = { ...rest, reason: reason ?? 'rotation', requestedAt: new Date().toISOString() } as D;
      // An id already taken (a retried rotation) makes BullMQ return the existing job: no second one.
      const job = await queue.add(jobName, data, { ...jobOptions, jobId, delay: delayMs });
      return job.id as string;
    },
  };
}
