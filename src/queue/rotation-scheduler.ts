// The one job scheduler of the service: the rotation sweep, on ROTATION_SWEEP_CRON. Upserted by every
// worker at start; BullMQ keys schedulers by id, so any number of upserts leave exactly one, with the
// latest pattern.

import type { Queue } from 'bullmq';
import { JOB_NAMES, ROTATION_SWEEP_SCHEDULER } from './names.js';

export async function upsertRotationSweep(queue: Queue, pattern: string): Promise<void> {
  await queue.upsertJobScheduler(
    ROTATION_SWEEP_SCHEDULER,
    { pattern, tz: 'UTC' },
    {
      name: JOB_NAMES.sweepRegistrations,
      data: {},
      // A sweep that fails is simply run again at the next tick; keep a few for the board.
      opts: { attempts: 1, removeOnComplete: { count: 50 }, removeOnFail: { count: 50 } },
    },
  );
}
