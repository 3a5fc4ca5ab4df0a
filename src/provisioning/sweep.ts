// The rotation sweep (DESIGN.md "Scheduled re-registration"): finds the registrations whose secret
// expires within ROTATE_BEFORE_EXPIRY or whose rotation period has run out, and enqueues a
// deduplicated re-registration (reason `scheduled`) for each, one registry page at a time, so memory
// stays flat whatever the number of registrations.

import type { RotationEnqueueResult } from '../queue/producer.js';
import type { RegistrationRegistry } from '../registry/index.js';

export interface SweepDeps {
  registry: RegistrationRegistry;
  /** The producer's rotation enqueue (deduplicated per tenant and server). */
  enqueueRotations(requests: ReadonlyArray<Record<string, unknown>>): Promise<RotationEnqueueResult[]>;
  now?: () => Date;
}

export interface SweepSettings {
  /** ROTATE_BEFORE_EXPIRY in seconds. */
  rotateBeforeExpirySeconds: number;
  /** Registrations per page. @defaultValue 500 */
  pageSize?: number;
}

export interface SweepOutcome {
  /** Due registrations found (one due for two reasons counts twice). */
  due: number;
  queued: number;
  /** Due, and already waiting or running: nothing was added. */
  alreadyQueued: number;
  /** Refused by the producer (e.g. a stored URL the current rules refuse); see SweepRefusals. */
  refused: number;
}

/** Refusals a sweep names one by one; the rest are only counted. */
export const MAX_REFUSAL_EXAMPLES = 10;

/**
 * The refusals of a sweep, summed up: after a change of the rules thousands of registrations may be
 * refused at once, and one log line each would bury everything else.
 */
export interface SweepRefusals {
  count: number;
  /** Counts by reason: `invalid <fields>` for a request the rules refuse, else the producer's status. */
  byReason: Record<string, number>;
  /** The first MAX_REFUSAL_EXAMPLES, each naming the tenant, the server and why. */
  examples: string[];
}

export async function sweepDueRegistrations(
  deps: SweepDeps,
  settings: SweepSettings,
  onPage?: (progress: SweepOutcome, refusals: SweepRefusals) => void | Promise<void>,
): Promise<SweepOutcome> {
  const now = deps.now?.() ?? new Date();
  const outcome: SweepOutcome = { due: 0, queued: 0, alreadyQueued: 0, refused: 0 };
  const refusals: SweepRefusals = { count: 0, byReason: {}, examples: [] };
  const pages = deps.registry.due({
    now,
    rotateBeforeExpirySeconds: settings.rotateBeforeExpirySeconds,
    ...(settings.pageSize ? { pageSize: settings.pageSize } : {}),
  });
  for await (const page of pages) {
    const results = await deps.enqueueRotations(
      page.map(({ tenantId, fhirBaseUrl }) => ({ tenantId, fhirBaseUrl, reason: 'scheduled' })),
    );
    outcome.due += page.length;
    results.forEach((result, i) => {
      if (result.status === 'queued') outcome.queued++;
      else if (result.status === 'already_queued') outcome.alreadyQueued++;
      else {
        outcome.refused++;
        refusals.count++;
        const reason =
          result.status === 'invalid'
            ? `invalid ${[...new Set(result.issues.map((issue) => issue.path))].sort().join(', ')}`
            : result.status;
        refusals.byReason[reason] = (refusals.byReason[reason] ?? 0) + 1;
        if (refusals.examples.length < MAX_REFUSAL_EXAMPLES) {
          const detail =
            result.status === 'invalid'
              ? result.issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')
              : result.message;
          refusals.examples.push(`${page[i]?.tenantId} ${page[i]?.fhirBaseUrl}: ${detail}`);
        }
      }
    });
    await onPage?.({ ...outcome }, refusals);
  }
  return outcome;
}
