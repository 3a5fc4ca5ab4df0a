// The retry backoff as a real worker applies it (DESIGN.md "Retries": exponential backoff with full
// jitter between BACKOFF_BASE_MS and BACKOFF_MAX_MS), seen from the server: the gaps between a job's
// POSTs. Only relationships with bounds derived from the configuration are asserted — a retry never
// comes sooner than the base; the spread of the gaps grows with the attempts until the cap; no gap is
// far beyond the cap; and the gaps are not all alike — never how long one particular gap took.
// The server's 503s carry no Retry-After, so the product's own backoff alone decides.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Backoff', redirectUris: ['https://app.example/cb'] });
const BASE_MS = 100;
const CAP_MS = 800;
const ATTEMPTS = 7;
const JOBS = 6;

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

describe('retry backoff through a real worker', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStubServer();
    pipeline = await startPipeline('backoff', {
      BACKOFF_BASE_MS: String(BASE_MS),
      BACKOFF_MAX_MS: String(CAP_MS),
      JOB_ATTEMPTS: String(ATTEMPTS),
    });
    await pipeline.startWorker();
  });
  afterAll(async () => {
    await pipeline.close();
    await stub.close();
  });

  it('spaces the retries of 503s at least the base apart, growing to the cap, jittered', async () => {
    const jobIds: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      // 503 without Retry-After on every attempt but the last, which registers the client.
      stub.on('POST', `/register/${i}`, (_request, calls) =>
        calls < ATTEMPTS - 1
          ? { status: 503, json: { error: 'temporarily_unavailable' } }
          : { status: 201, json: { client_id: `backoff-${i}` } },
      );
      const result = await pipeline.producer.enqueue({
        tenantId: `backoff-${i}`,
        fhirBaseUrl: stub.url(`/fhir/${i}`),
        registrationEndpoint: stub.url(`/register/${i}`),
        clientMetadata: metadata,
      });
      if (result.status !== 'queued') throw new Error(`not queued: ${JSON.stringify(result)}`);
      jobIds.push(result.jobId);
    }

    // gaps[i][k]: the pause before retry k+1 of job i, as the server saw it.
    const gaps: number[][] = [];
    for (const [i, jobId] of jobIds.entries()) {
      const job = await pipeline.waitForJob(jobId, 30_000);
      expect(job.state).toBe('completed');
      expect(job.attemptsMade).toBe(ATTEMPTS);
      const arrivals = stub.requestsTo('POST', `/register/${i}`).map((r) => r.receivedAt);
      expect(arrivals).toHaveLength(ATTEMPTS);
      gaps.push(arrivals.slice(1).map((at, k) => at - (arrivals[k] as number)));
    }
    const all = gaps.flat();

    // Never sooner than the base: the delay is a lower bound of the gap whatever the machine's load.
    for (const gap of all) expect(gap).toBeGreaterThanOrEqual(BASE_MS);

    // Growth: the first retry is drawn from [base, 2·base], retries from the third on from [base, cap].
    // Their means differ by (cap − 2·base)/2 in expectation; half of that is asserted.
    const first = gaps.map((g) => g[0] as number);
    const capped = gaps.flatMap((g) => g.slice(2));
    expect(mean(capped) - mean(first)).toBeGreaterThanOrEqual((CAP_MS - 2 * BASE_MS) / 4);

    // The cap: capped draws average about (base + cap)/2 = 450 ms, so their mean stays under the cap even
    // with a busy machine's pickup delay added to each; uncapped, the later retries would be drawn from up
    // to 64·base and average well over it. No single gap is asserted, so one late promotion cannot fail it.
    expect(mean(capped)).toBeLessThanOrEqual(CAP_MS);

    // Jitter: retries drawn from [base, cap] are spread over it, not one fixed delay.
    expect(Math.max(...capped) - Math.min(...capped)).toBeGreaterThanOrEqual((CAP_MS - BASE_MS) / 4);
    expect(new Set(first).size).toBeGreaterThan(1);
  }, 60_000);
});
