// Public surface of the provisioning use case.
export {
  type Checkpoint,
  type CheckpointStore,
  MemoryCheckpointStore,
  type StoredRegistration,
} from './checkpoint.js';
export {
  type JobContext,
  type RegistrationDeps,
  type RegistrationOutcome,
  runRegistration,
} from './run-registration.js';
export { secretValue } from './secret-value.js';
