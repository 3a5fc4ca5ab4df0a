// Public surface of the queue concern: names, connections, payload schemas, the producer, retry policy.
export { type BackoffSettings, retryDelayMs } from './backoff.js';
export {
  assertRedisKind,
  type ConnectionRole,
  connected,
  createRedisConnection,
  openProducerConnection,
  type RedisConnection,
  type RedisEndpoint,
  redisHosts,
} from './connection.js';
export { parseFailedReason, RetryableJobError, retryAfterOf, toQueueError } from './job-errors.js';
export { JOB_NAMES, REGISTRATION_QUEUE, ROTATION_SWEEP_SCHEDULER } from './names.js';
export {
  type EnqueueResult,
  type ProducerOptions,
  producerSettingsFromConfig,
  provisioningJobOptions,
  RegistrationProducer,
  type RotationEnqueueResult,
  requestRulesFromConfig,
} from './producer.js';
export { newJobId, registrationKey } from './registration-key.js';
export {
  type GeneratedKeys,
  KEY_PUBLICATIONS,
  type RegistrationJob,
  type RegistrationRequest,
  type RequestIssue,
  type RequestRules,
  registrationJobSchema,
  registrationRequestSchema,
  requestIssues,
  TENANT_ID_PATTERN,
  type ValidRegistrationRequest,
} from './registration-request.js';
export {
  REGISTRATION_STATES,
  type RegistrationState,
  type RegistrationStatus,
  registrationStatus,
  type StatusSources,
  tenantStatuses,
} from './registration-status.js';
export {
  type DeletionJob,
  deletionJobSchema,
  type KeyRetirementJob,
  keyRetirementJobSchema,
  type RotationJob,
  type RotationRequest,
  rotationJobSchema,
  rotationRequestSchema,
} from './rotation-request.js';
export { upsertRotationSweep } from './rotation-scheduler.js';
