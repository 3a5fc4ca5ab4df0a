// The errors of the event channel. A caller tells them apart by `name` as well as `instanceof`, because
// errors cross package boundaries: an invalid event is a bug to fix, a failed write is worth a retry.

/** The event did not match its schema; nothing was written. Retrying cannot help. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';

  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Redis refused or did not answer the write; the original error is the `cause`. The event may or may not be
 * in the stream, which is harmless: publishing again appends the same eventId, and consumers drop duplicates. */
export class EventPublishError extends Error {
  override readonly name = 'EventPublishError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
