// The register-client job type: a first registration (or a fresh one asked for by a producer). Its
// data is the queued request plus the use case's non-secret checkpoint.

import type { Processor } from 'bullmq';
import {
  type RegistrationDeps,
  type RegistrationOutcome,
  runRegistration,
} from '../src/provisioning/index.js';
import { JOB_NAMES, type RegistrationJob } from '../src/queue/index.js';
import {
  type ProvisioningJobOptions,
  provisioningProcessor,
  type WithCheckpoint,
} from './provisioning-job.js';

export const name = JOB_NAMES.registerClient;

export type RegisterClientData = WithCheckpoint<RegistrationJob>;

export function registerClientProcessor(
  deps: RegistrationDeps,
  options: ProvisioningJobOptions = {},
): Processor<RegisterClientData, RegistrationOutcome> {
  return provisioningProcessor((payload, context) => runRegistration(payload, context, deps), options);
}
