// A failure whose `client.registration_failed` event could not be appended when the job failed for
// good. The mark travels with the error from the use case through the queue's error to the worker's
// `failed` listener, which announces it once the queue has failed the job. A symbol, not a field: it is
// never serialised into a failedReason or a log line.

const FAILURE_EVENT_PENDING = Symbol.for('dcr-provisioner.failureEventPending');

export function markFailureEventPending<E extends object>(err: E): E {
  Object.defineProperty(err, FAILURE_EVENT_PENDING, { value: true });
  return err;
}

export function isFailureEventPending(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as Record<symbol, unknown>)[FAILURE_EVENT_PENDING] === true
  );
}
