// The sweep-registrations job type, run by the `rotation-sweep` job scheduler: enqueues the rotations
// that are due. Reports progress (registrations found so far) to the board as it pages, and the
// refused ones in one log line per sweep.

import type { Processor } from 'bullmq';
import {
  type SweepDeps,
  type SweepOutcome,
  type SweepRefusals,
  type SweepSettings,
  sweepDueRegistrations,
} from '../src/provisioning/index.js';
import { JOB_NAMES } from '../src/queue/index.js';

export const name = JOB_NAMES.sweepRegistrations;

export function sweepRegistrationsProcessor(
  deps: SweepDeps,
  settings: SweepSettings,
  log?: { warn(obj: object, msg?: string): void },
): Processor<Record<string, never>, SweepOutcome> {
  return async (job) => {
    let refusals: SweepRefusals | undefined;
    try {
      return await sweepDueRegistrations(deps, settings, async (progress, soFar) => {
        refusals = soFar;
        await job.updateProgress(progress);
      });
    } finally {
      // One line per sweep, however many were refused (also when the sweep failed part-way).
      if (refusals && refusals.count > 0) {
        const reasons = Object.entries(refusals.byReason).map(([reason, count]) => `${count} ${reason}`);
        log?.warn(
          {
            jobId: job.id,
            refused: refusals.count,
            byReason: refusals.byReason,
            examples: refusals.examples,
          },
          `rotation sweep: ${refusals.count} due rotations not enqueued (${reasons.join(', ')}); the first ${refusals.examples.length} are in examples`,
        );
      }
    }
  };
}
