// Public surface of the failure taxonomy.
export {
  classify,
  classifyResponse,
  formatIssues,
  type HttpAnswer,
  parseOAuthError,
  redact,
  type Stage,
} from './classify.js';
export { FAILURE_CODES, type FailureCode, failureCodes, isFailureCode, isRetryable } from './codes.js';
export { isFailureEventPending, markFailureEventPending } from './event-pending.js';
export { AFTER_SEND_CODES, NOT_SENT_CODES } from './network-codes.js';
export {
  isProvisioningError,
  ProvisioningError,
  type ProvisioningErrorOptions,
  withConsequence,
} from './provisioning-error.js';
export { DEFAULT_RETRY_AFTER_CAP_MS, parseRetryAfter } from './retry-after.js';
