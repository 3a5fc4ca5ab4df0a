// The port through which the use case reports what it measured: phase latencies and one report per job
// outcome. It keeps runRegistration free of prom-client and pino; src/observability implements it.
// Reports carry no URL and no secret, only what metrics labels and log lines may hold.

import type { FailureCode } from '../failures/index.js';
import type { BusyReason } from '../limits/index.js';

/** How one outbound phase ended. `success`: a 2xx answer, or a stored write. */
export const PHASE_OUTCOMES = ['success', 'failure'] as const;
export type PhaseOutcome = (typeof PHASE_OUTCOMES)[number];

/**
 * How one attempt of a job ended. `retry`: it failed and the queue will try again; `failed`: it failed
 * for good (a permanent code, or the last attempt).
 */
export const JOB_OUTCOMES = ['completed', 'failed', 'retry'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** Time spent in each phase during one attempt; a phase that did not run is absent. */
export interface PhaseDurations {
  /** The discovery lookup, cache included. */
  discoveryMs?: number;
  /** Whether that lookup was answered by the cache. */
  cacheHit?: boolean;
  /** The registration POST, from sending to the answer. */
  registrationRequestMs?: number;
  /** Every secret write of the attempt, in-process retries summed. */
  secretWriteMs?: number;
}

/** What a provisioning job does: a first registration, a rotation, or the delete of a replaced client. */
export type JobKind = 'registration' | 'rotation' | 'deletion' | 'key_retirement';

export interface JobFinished {
  outcome: JobOutcome;
  /** @defaultValue registration */
  kind?: JobKind;
  jobId: string;
  /** 1 for the first try. */
  attempt: number;
  maxAttempts: number;
  /** Absent when the payload was too broken to name it. */
  tenantId?: string;
  /** Host (and port) of the FHIR base URL: never its path, query or user info. */
  serverHost?: string;
  /** The failure code, for `failed` and `retry`. */
  code?: FailureCode;
  /** The failure's message, which by contract holds no secret. */
  message?: string;
  /** The registered client's id, for `completed`. */
  clientId?: string;
  /** For `completed`: whether the stored credentials obtained a token, when a verification was made. */
  verified?: boolean;
  /** The token endpoint's error code when `verified` is false (a metrics label: short OAuth codes). */
  verificationError?: string;
  /** The whole attempt, from the processor handing over to the outcome. */
  durationMs: number;
  phases: PhaseDurations;
}

export interface ProvisioningObserver {
  /** One discovery lookup (the request's registrationEndpoint skips it), failed ones included. */
  discovery(durationMs: number, cacheHit: boolean): void;
  /** One registration POST. */
  registrationRequest(durationMs: number, outcome: PhaseOutcome): void;
  /** One secret-store write (each in-process retry counts). */
  secretWrite(durationMs: number, outcome: PhaseOutcome): void;
  /** Exactly once per attempt. */
  jobFinished(job: JobFinished): void;
  /**
   * An attempt was spent because its server had no room for its first request for too long (the
   * reason of the last refusal: in_flight, rate or breaker_open); its jobFinished follows.
   */
  serverWaitExceeded(reason: BusyReason): void;
}

export const NOOP_OBSERVER: ProvisioningObserver = {
  discovery: () => {},
  registrationRequest: () => {},
  secretWrite: () => {},
  jobFinished: () => {},
  serverWaitExceeded: () => {},
};

/**
 * Wraps an observer so that a failing one (a metrics or logging bug) can never fail a registration:
 * by the time most reports are made the credentials are already stored.
 */
export function guardObserver(
  observer: ProvisioningObserver,
  onError: (err: unknown) => void = () => {},
): ProvisioningObserver {
  const guard =
    <A extends unknown[]>(call: (...args: A) => void) =>
    (...args: A): void => {
      try {
        call(...args);
      } catch (err) {
        onError(err);
      }
    };
  return {
    discovery: guard((ms: number, hit: boolean) => observer.discovery(ms, hit)),
    registrationRequest: guard((ms: number, outcome: PhaseOutcome) =>
      observer.registrationRequest(ms, outcome),
    ),
    secretWrite: guard((ms: number, outcome: PhaseOutcome) => observer.secretWrite(ms, outcome)),
    jobFinished: guard((job: JobFinished) => observer.jobFinished(job)),
    serverWaitExceeded: guard((reason: BusyReason) => observer.serverWaitExceeded(reason)),
  };
}
