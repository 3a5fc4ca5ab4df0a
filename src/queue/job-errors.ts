// How a ProvisioningError is handed to BullMQ: permanent codes stop at once (UnrecoverableError);
// retryable ones carry the server's Retry-After to the backoff strategy. Either way the failedReason
// is `<code>: <message>`, so the board and the status API show the code first.

import { UnrecoverableError } from 'bullmq';
import {
  type FailureCode,
  isFailureCode,
  isFailureEventPending,
  markFailureEventPending,
  type ProvisioningError,
} from '../failures/index.js';

export class RetryableJobError extends Error {
  override readonly name = 'RetryableJobError';
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function toQueueError(failure: ProvisioningError): Error {
  const reason = failure.toFailedReason();
  const error = failure.retryable
    ? new RetryableJobError(reason, failure.retryAfterMs)
    : new UnrecoverableError(reason);
  return isFailureEventPending(failure) ? markFailureEventPending(error) : error;
}

/** The Retry-After carried by a RetryableJobError, recognised by name across package copies. */
export function retryAfterOf(err: Error | undefined): number | undefined {
  if (err?.name !== 'RetryableJobError') return undefined;
  const value = (err as Partial<RetryableJobError>).retryAfterMs;
  return typeof value === 'number' ? value : undefined;
}

/** `<code>: <message>` back into its parts; undefined for a reason without a known code (BullMQ's own). */
export function parseFailedReason(reason: string): { code: FailureCode; message: string } | undefined {
  const separator = reason.indexOf(': ');
  const code = separator > 0 ? reason.slice(0, separator) : '';
  return isFailureCode(code) ? { code, message: reason.slice(separator + 2) } : undefined;
}
