// Public surface of observability: the logger, the Prometheus series and the adapters that feed them.

export {
  PUBLISHED_STATES,
  QUEUE_JOBS_METRIC,
  type QueueDepthPublisher,
  type QueueDepthPublisherOptions,
  startQueueDepthPublisher,
} from './cloudwatch-queue-depth.js';
export { instrumentSecretStore } from './instrumented-secret-store.js';
export {
  type CreateLoggerOptions,
  createLogger,
  type Logger,
  type LogLevel,
  type LogMethod,
  secretKeysFromConfig,
} from './logger.js';
export {
  type CreateMetricsOptions,
  createMetrics,
  type JobCountsSource,
  JWKS_REQUEST_OUTCOMES,
  type JwksRequestOutcome,
  type Metrics,
  QUEUE_STATES,
  type QueueState,
  SECRET_STORE_OPERATIONS,
  SECRET_STORE_SUCCESS,
  SECRET_STORE_UNEXPECTED,
  type SecretStoreOperation,
  SUCCESS_CODE,
} from './metrics.js';
export { createPrettyStream, type PrettyStreamOptions } from './pretty-stream.js';
export {
  createProvisioningObserver,
  OUTCOME_MESSAGES,
  type ProvisioningObserverOptions,
} from './provisioning-observer.js';
export { REDACT_PATHS, REDACTED } from './redaction.js';
export { atMostEvery, type RepeatedErrorReport } from './repeated-errors.js';
