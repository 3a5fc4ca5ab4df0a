// Public surface of the provisioning use cases.
export {
  type Checkpoint,
  type CheckpointStore,
  MemoryCheckpointStore,
  type StoredRegistration,
} from './checkpoint.js';
export type { DeletionRequest, DeletionScheduler, JobContext, RegistrationDeps } from './deps.js';
export {
  guardObserver,
  JOB_OUTCOMES,
  type JobFinished,
  type JobOutcome,
  NOOP_OBSERVER,
  PHASE_OUTCOMES,
  type PhaseDurations,
  type PhaseOutcome,
  type ProvisioningObserver,
} from './observer.js';
export { type RegistrationOutcome, runRegistration } from './run-registration.js';
export { readStoredCredentials, type StoredCredentials, secretValue } from './secret-value.js';
