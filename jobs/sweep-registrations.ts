// The sweep-registrations job type, run by the `rotation-sweep` job scheduler: enqueues the rotations
// that are due. Reports progress (registrations found so far) to the board as it pages.

import type { Processor } from 'bullmq';
import {
  type SweepDeps,
  type SweepOutcome,
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
  return (job) =>
    sweepDueRegistrations(deps, settings, async (progress, refusals) => {
      for (const refusal of refusals) log?.warn({ jobId: job.id }, `rotation not enqueued: ${refusal}`);
      await job.updateProgress(progress);
    });
}
