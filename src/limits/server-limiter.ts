// The politeness port: before each request to an authorization server the use case asks for a permit,
// and hands it back with what the request showed about the server's health. "Not now" is an answer,
// not a failure: the caller learns how long to wait and the job waits outside the worker.

/**
 * Why a job cannot go on now; the `reason` label of dcr_jobs_delayed_total. The first three are a
 * server's politeness limits; `key_publication` is a key rotation waiting until servers' caches of the
 * registration's JWKS have seen its new key.
 */
export const BUSY_REASONS = ['in_flight', 'rate', 'breaker_open', 'key_publication'] as const;
export type BusyReason = (typeof BUSY_REASONS)[number];

/** What a request showed about the server, for its circuit breaker. */
export const REQUEST_OUTCOMES = ['success', 'transient_failure', 'neutral'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export interface ServerPermit {
  /** This request is the one probe of a half-open breaker. */
  readonly probe: boolean;
  /** Frees the in-flight slot and records the outcome; call it exactly once, also on errors and aborts. */
  release(outcome: RequestOutcome): Promise<void>;
}

export type Admission =
  | { granted: true; permit: ServerPermit }
  | {
      granted: false;
      waitMs: number;
      reason: BusyReason;
      /** The refusal booked the next rate slot for the caller (asked with `claimRate`). */
      rateClaimed?: boolean;
    };

export interface AcquireOptions {
  /**
   * When the rate alone refuses, book the next rate slot for this caller: it waits for it in process
   * and asks again with `rateClaimed`. For a job part-way through an attempt, which must not lose its
   * turn to jobs that have not started. @defaultValue false
   */
  claimRate?: boolean;
  /** A slot was booked by an earlier refusal: the rate is not checked (nor spent) again. */
  rateClaimed?: boolean;
}

export interface ServerLimiter {
  /** A permit for one request to `host` (`URL.host`: lower case, with a non-default port). */
  acquire(host: string, options?: AcquireOptions): Promise<Admission>;
}

/** The breaker's states; `half_open` is the cool-down's end, while one probe decides. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** One change of a server's breaker, for the log. */
export interface BreakerTransition {
  host: string;
  from: BreakerState;
  to: BreakerState;
  /** Consecutive transient failures that opened it (on closed -> open). */
  consecutiveFailures?: number;
  /** How long it stays open (on -> open). */
  cooldownMs?: number;
}

/** The log line of a breaker transition: opening is a warning, probing and closing are information. */
export function breakerTransitionLog(transition: BreakerTransition): {
  level: 'warn' | 'info';
  message: string;
} {
  if (transition.to === 'open') {
    return {
      level: 'warn',
      message:
        transition.from === 'half_open'
          ? 'server circuit breaker re-opened: the probe failed'
          : 'server circuit breaker opened',
    };
  }
  return {
    level: 'info',
    message:
      transition.to === 'half_open'
        ? 'server circuit breaker half-open: one probe goes'
        : 'server circuit breaker closed',
  };
}

/**
 * A server cannot take the job's request now. The job adapter turns it into a delay of the job, which
 * neither fails nor spends an attempt.
 */
export class ServerBusyError extends Error {
  override readonly name = 'ServerBusyError';

  constructor(
    readonly host: string,
    readonly retryAfterMs: number,
    readonly reason: BusyReason,
  ) {
    super(`server ${host} is busy (${reason}); retry in ${retryAfterMs} ms`);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * The ServerBusyError behind an error, if any. Discovery and registration classify whatever their HTTP
 * client throws into a ProvisioningError and keep the original as `cause`; this looks through that.
 */
export function findServerBusy(err: unknown): ServerBusyError | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof ServerBusyError) return current;
    const candidate = current as { name?: unknown; retryAfterMs?: unknown; host?: unknown };
    if (
      candidate.name === 'ServerBusyError' &&
      typeof candidate.retryAfterMs === 'number' &&
      typeof candidate.host === 'string'
    ) {
      return current as ServerBusyError;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
