// The one error type of the product: a contract failure code plus what a retry policy needs to know.
// Its message is shown to users, logged and stored in Redis, so it must never hold a secret.

import { type FailureCode, isRetryable } from './codes.js';

export interface ProvisioningErrorOptions {
  /** HTTP status of the peer's answer, when there was one. */
  status?: number;
  /** How long the peer asked us to wait (Retry-After), already capped. */
  retryAfterMs?: number;
  /** True when the request may have reached the server and changed state there (e.g. a POST that timed out). */
  outcomeUnknown?: boolean;
  /** The underlying error, kept for debugging; not part of the message. */
  cause?: unknown;
}

export class ProvisioningError extends Error {
  override readonly name = 'ProvisioningError';
  readonly code: FailureCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly outcomeUnknown: boolean;

  constructor(code: FailureCode, message: string, options: ProvisioningErrorOptions = {}) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
    this.code = code;
    this.retryable = isRetryable(code);
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    // Non-enumerable so that serialising the error (logs, job data) never walks into a response or request.
    if (options.cause !== undefined) {
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, configurable: true });
    }
  }

  /** The form BullMQ stores as failedReason: `<code>: <message>`. */
  toFailedReason(): string {
    return `${this.code}: ${this.message}`;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      outcomeUnknown: this.outcomeUnknown,
    };
  }
}

/**
 * The same failure with what followed from it appended to its message (`<message>; <consequence>`):
 * code, retry behaviour and Retry-After stay, the original is the cause. `outcomeUnknown` may be raised
 * (a lost try behind a later, known failure), never lowered.
 */
export function withConsequence(
  failure: ProvisioningError,
  consequence: string | undefined,
  options: { outcomeUnknown?: boolean } = {},
): ProvisioningError {
  return new ProvisioningError(
    failure.code,
    consequence === undefined ? failure.message : `${failure.message}; ${consequence}`,
    {
      cause: failure,
      outcomeUnknown: failure.outcomeUnknown || options.outcomeUnknown === true,
      ...(failure.status !== undefined ? { status: failure.status } : {}),
      ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
    },
  );
}

/** Works across package and process boundaries where `instanceof` does not. */
export function isProvisioningError(err: unknown): err is ProvisioningError {
  return (
    err instanceof ProvisioningError ||
    (err instanceof Error && err.name === 'ProvisioningError' && 'code' in err)
  );
}
