// The retire-key job type: after an inline-`jwks` client's key rotation, the RFC 7592 update that
// drops the old key once the rotation grace has passed. Added as a delayed job by the rotation, with a
// job id derived from it, so a retried rotation never schedules it twice.

import type { Processor, Queue } from 'bullmq';
import {
  type KeyRetirementOutcome,
  type KeyRetirementRequest,
  type KeyRetirementScheduler,
  type RegistrationDeps,
  runKeyRetirement,
} from '../src/provisioning/index.js';
import { JOB_NAMES, type KeyRetirementJob } from '../src/queue/index.js';
import { type DelayedJobOptions, queueDelayedJobs } from './delete-client.js';
import {
  type ProvisioningJobOptions,
  provisioningProcessor,
  type WithCheckpoint,
} from './provisioning-job.js';

export const name = JOB_NAMES.retireKey;

export type RetireKeyData = WithCheckpoint<KeyRetirementJob>;

export function retireKeyProcessor(
  deps: RegistrationDeps,
  options: ProvisioningJobOptions = {},
): Processor<RetireKeyData, KeyRetirementOutcome> {
  return provisioningProcessor((payload, context) => runKeyRetirement(payload, context, deps), options);
}

/** Schedules key retirements as delayed jobs on the queue, retried like registrations. */
export function queueKeyRetirementScheduler(
  queue: Queue,
  jobOptions: DelayedJobOptions,
): KeyRetirementScheduler {
  return queueDelayedJobs<KeyRetirementRequest, KeyRetirementJob>(queue, name, jobOptions);
}
