// The ProvisioningObserver the worker runs with: each report updates the metrics, and each job outcome
// becomes exactly one log line (README "Logs") an operator can search by tenant, server host or job id.

import type { JobFinished, JobOutcome, ProvisioningObserver } from '../provisioning/index.js';
import type { Logger } from './logger.js';
import { codeLabel, type Metrics, verificationLabel } from './metrics.js';

export interface ProvisioningObserverOptions {
  metrics: Metrics;
  logger: Logger;
}

/** The message of each outcome line: stable, so alerts and searches can match it. */
export const OUTCOME_MESSAGES: Readonly<Record<JobOutcome, string>> = {
  completed: 'registration job completed',
  failed: 'registration job failed',
  retry: 'registration job failed; will retry',
};

/** A retry is expected along the way; a final failure needs someone to act. */
const OUTCOME_LEVELS = { completed: 'info', retry: 'warn', failed: 'error' } as const;

export function createProvisioningObserver({
  metrics,
  logger,
}: ProvisioningObserverOptions): ProvisioningObserver {
  return {
    discovery(durationMs, cacheHit) {
      const result = cacheHit ? 'hit' : 'miss';
      metrics.discoveryDuration.observe({ cache: result }, durationMs / 1000);
      metrics.discoveryCache.inc({ result });
    },
    registrationRequest(durationMs, outcome) {
      metrics.registrationRequestDuration.observe({ outcome }, durationMs / 1000);
    },
    secretWrite(durationMs, outcome) {
      metrics.secretWriteDuration.observe({ outcome }, durationMs / 1000);
    },
    serverWaitExceeded(reason) {
      metrics.jobsServerWaitExceeded.inc({ reason });
    },
    jobFinished(job) {
      metrics.jobsFinished.inc({ outcome: job.outcome, code: codeLabel(job.outcome, job.code) });
      if (job.outcome === 'completed' && job.verified === false) {
        metrics.registrationsUnverified.inc({
          job: job.kind ?? 'registration',
          code: verificationLabel(job.verificationError),
        });
      }
      metrics.jobDuration.observe({ outcome: job.outcome }, job.durationMs / 1000);
      // Attempts per job are known only once it is over; a retry is not the end of it.
      if (job.outcome !== 'retry') metrics.jobAttempts.observe({ outcome: job.outcome }, job.attempt);
      logger[OUTCOME_LEVELS[job.outcome]](outcomeFields(job), OUTCOME_MESSAGES[job.outcome]);
    },
  };
}

/** The fields of the outcome line, durations in whole milliseconds; absent facts are left out. */
export function outcomeFields(job: JobFinished): Record<string, unknown> {
  const { phases } = job;
  const ms = (value: number | undefined) => (value === undefined ? undefined : Math.round(value));
  const fields: Record<string, unknown> = {
    outcome: job.outcome,
    job: job.kind ?? 'registration',
    jobId: job.jobId,
    tenantId: job.tenantId,
    serverHost: job.serverHost,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    code: job.code,
    reason: job.message,
    clientId: job.clientId,
    verified: job.verified,
    verificationError: job.verificationError,
    durationMs: ms(job.durationMs),
    discoveryMs: ms(phases.discoveryMs),
    cacheHit: phases.cacheHit,
    registrationRequestMs: ms(phases.registrationRequestMs),
    secretWriteMs: ms(phases.secretWriteMs),
  };
  for (const [name, value] of Object.entries(fields)) if (value === undefined) delete fields[name];
  return fields;
}
