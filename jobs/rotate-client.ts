// The rotate-client job type: re-registration of an existing registration (from the sweep, the API or
// `dcr-provisioner rotate`). Its data names the registration; the rest is read from the stored secret.

import type { Processor } from 'bullmq';
import { type RegistrationDeps, type RotationOutcome, runRotation } from '../src/provisioning/index.js';
import { JOB_NAMES, type RotationJob } from '../src/queue/index.js';
import {
  type ProvisioningJobOptions,
  provisioningProcessor,
  type WithCheckpoint,
} from './provisioning-job.js';

export const name = JOB_NAMES.rotateClient;

export type RotateClientData = WithCheckpoint<RotationJob>;

export function rotateClientProcessor(
  deps: RegistrationDeps,
  options: ProvisioningJobOptions = {},
): Processor<RotateClientData, RotationOutcome> {
  return provisioningProcessor((payload, context) => runRotation(payload, context, deps), options);
}
