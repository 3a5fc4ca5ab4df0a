// Public surface of the provisioning use case.
export {
  type Checkpoint,
  type CheckpointStore,
  MemoryCheckpointStore,
  type StoredRegistration,
} from './checkpoint.js';
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
export {
  type JobContext,
  type RegistrationDeps,
  type RegistrationOutcome,
  runRegistration,
} from './run-registration.js';
export { secretValue } from './secret-value.js';
