// Public surface of the provisioning use cases.
export {
  type Checkpoint,
  type CheckpointStore,
  MemoryCheckpointStore,
  type OwnedCheckpoint,
  ownCheckpoint,
  type StoredRegistration,
} from './checkpoint.js';
export type {
  DelayedJobScheduler,
  DeletionRequest,
  DeletionScheduler,
  JobContext,
  KeyRetirementRequest,
  KeyRetirementScheduler,
  RegistrationDeps,
} from './deps.js';
export { announceFailure, type FailedJob } from './job-runner.js';
export {
  guardObserver,
  JOB_OUTCOMES,
  type JobFinished,
  type JobKind,
  type JobOutcome,
  NOOP_OBSERVER,
  PHASE_OUTCOMES,
  type PhaseDurations,
  type PhaseOutcome,
  type ProvisioningObserver,
} from './observer.js';
export {
  type ReindexDeps,
  type ReindexOutcome,
  type ReindexProgress,
  reindexRegistry,
  type SkippedSecret,
} from './reindex.js';
export { DEFAULT_ROTATION_GRACE_MS } from './replaced-client.js';
export { type DeletionOutcome, runDeletion } from './run-deletion.js';
export { type KeyRetirementOutcome, runKeyRetirement } from './run-key-retirement.js';
export { type RegistrationOutcome, runRegistration } from './run-registration.js';
export { type RotationOutcome, runRotation } from './run-rotation.js';
export { readStoredCredentials, type StoredCredentials, secretValue } from './secret-value.js';
export {
  MAX_REFUSAL_EXAMPLES,
  type SweepDeps,
  type SweepOutcome,
  type SweepRefusals,
  type SweepSettings,
  sweepDueRegistrations,
} from './sweep.js';
