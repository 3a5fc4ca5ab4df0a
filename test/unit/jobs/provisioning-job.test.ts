// The job adapter's checkpoint: kept with the id of the job that wrote it, so a copy is not trusted;
// and a failure to save it is named as our own Redis's, not as a request failure.

import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { provisioningProcessor } from '../../../jobs/provisioning-job.js';
import type { Checkpoint, JobContext } from '../../../src/provisioning/index.js';

function fakeJob(id: string, data: Record<string, unknown>, updateData: (data: unknown) => Promise<void>) {
  return { id, data, attemptsMade: 0, opts: { attempts: 3 }, updateData } as unknown as Job;
}

describe('jobs/provisioningProcessor', () => {
  it("stamps a saved checkpoint with the job's id and reads back only its own", async () => {
    const saved: unknown[] = [];
    const seen: Checkpoint[] = [];
    const processor = provisioningProcessor(async (_payload, context: JobContext) => {
      seen.push(context.checkpoint.load());
      await context.checkpoint.save({ lostAttemptsAt: ['2026-12-01T00:00:00.000Z'] });
      return 'done';
    });
    const copied = { jobId: 'original', stored: { clientId: 'theirs' } };
    await processor(
      fakeJob('copy', { tenantId: 't', checkpoint: copied }, async (data) => void saved.push(data)),
      'token',
    );
    expect(seen).toEqual([{}]);
    expect(saved).toEqual([
      { tenantId: 't', checkpoint: { jobId: 'copy', lostAttemptsAt: ['2026-12-01T00:00:00.000Z'] } },
    ]);
  });

  it('reports a checkpoint Redis would not save as a retryable network_error that says so', async () => {
    const processor = provisioningProcessor(async (_payload, context: JobContext) => {
      await context.checkpoint.save({});
      return 'done';
    });
    const error = await processor(
      fakeJob('j', {}, async () => {
        throw new Error('OOM command not allowed when used memory > maxmemory');
      }),
      'token',
    ).catch((err: unknown) => err);
    expect(error).toMatchObject({ name: 'RetryableJobError' });
    expect((error as Error).message).toBe(
      "network_error: could not save the job's checkpoint in Redis (OOM command not allowed when used memory > maxmemory); the attempt is tried again",
    );
  });
});
