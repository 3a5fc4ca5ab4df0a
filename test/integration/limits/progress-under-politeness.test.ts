// Progress under the default politeness limits (5 requests a second, 4 in flight): a job that needs
// several requests to one server in one attempt — a SMART 1.0 server's well-known 404, then its
// CapabilityStatement, then the POST — finishes, and never repeats a request that already succeeded
// because a later one had to wait. Before, the second GET was refused a rate slot, the job was delayed,
// started over with the well-known GET, was refused again: a livelock.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { registrationStatus } from '../../../src/queue/index.js';
import { smartCapabilityStatement } from '../../fixtures/capability-statement.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';

const metadata = publicAppMetadata({ clientName: 'Old server', redirectUris: ['https://app.example/cb'] });
const TENANTS = 6;

describe('a SMART 1.0 server (CapabilityStatement only) under SERVER_RATE_PER_S=5', () => {
  let pipeline: Pipeline;
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStubServer();
    let issued = 0;
    stub.on('GET', '/fhir/.well-known/smart-configuration', { status: 404, json: { error: 'not found' } });
    stub.on('GET', '/fhir/metadata', {
      json: smartCapabilityStatement({
        authorize: stub.url('/authorize'),
        token: stub.url('/token'),
        register: stub.url('/register'),
      }),
    });
    stub.on('POST', '/register', () => ({ status: 201, json: { client_id: `old-${++issued}` } }));
    pipeline = await startPipeline('politeness-progress', {
      // The product's defaults, which the harness raises for tests about other things.
      SERVER_MAX_IN_FLIGHT: '4',
      SERVER_RATE_PER_S: '5',
      // Every job discovers for itself, so each one makes all three requests to the one host.
      DISCOVERY_CACHE_TTL_S: '0',
    });
    await pipeline.startWorker();
  });
  afterAll(async () => {
    await pipeline.close();
    await stub.close();
  });

  it('registers every tenant, with exactly one well-known GET and one metadata GET per job', async () => {
    const results = await pipeline.producer.enqueueMany(
      Array.from({ length: TENANTS }, (_, i) => ({
        tenantId: `old-server-${i}`,
        fhirBaseUrl: stub.url('/fhir'),
        clientMetadata: metadata,
      })),
    );
    const jobs = await Promise.all(
      results.map((result) => pipeline.waitForJob((result as { jobId: string }).jobId, 30_000)),
    );

    expect(jobs.map((job) => job.state)).toEqual(Array(TENANTS).fill('completed'));
    // One attempt each: waiting for a slot spent none.
    expect(jobs.map((job) => job.attemptsMade)).toEqual(Array(TENANTS).fill(1));
    expect(stub.requestsTo('GET', '/fhir/.well-known/smart-configuration')).toHaveLength(TENANTS);
    expect(stub.requestsTo('GET', '/fhir/metadata')).toHaveLength(TENANTS);
    expect(stub.requestsTo('POST', '/register')).toHaveLength(TENANTS);
    // And the server was not asked faster than its rate: 3 requests per job at 5 a second.
    const times = stub.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    const spanMs = (times.at(-1) as number) - (times[0] as number);
    expect(spanMs).toBeGreaterThanOrEqual(((3 * TENANTS - 1) * 1000) / 5 - 50);
  });

  it('shows a job that waits for its first permit as waiting in its status', async () => {
    // A host whose rate allows one request every 20 s: the second job waits for its first permit.
    const slow = await startStubServer();
    try {
      slow.on('GET', '/fhir/.well-known/smart-configuration', {
        json: {
          token_endpoint: slow.url('/token'),
          registration_endpoint: slow.url('/register'),
          grant_types_supported: ['authorization_code'],
          capabilities: ['launch-standalone', 'client-public'],
          code_challenge_methods_supported: ['S256'],
        },
      });
      const host = new URL(slow.baseUrl).host;
      const env = { SERVER_LIMITS: JSON.stringify({ [host]: { ratePerSecond: 0.05 } }) };
      const limited = await startPipeline('politeness-waiting', env);
      try {
        await limited.startWorker();
        const [first, second] = await limited.producer.enqueueMany(
          ['waits-a', 'waits-b'].map((tenantId) => ({
            tenantId,
            fhirBaseUrl: slow.url('/fhir'),
            registrationEndpoint: slow.url('/register'),
            clientMetadata: metadata,
          })),
        );
        const status = (tenantId: string) =>
          registrationStatus(
            { queue: limited.queue, registry: limited.registry },
            tenantId,
            slow.url('/fhir'),
          );
        const deadline = Date.now() + 10_000;
        let waiting: Record<string, unknown> | undefined;
        while (Date.now() < deadline && !waiting) {
          const [a, b] = await Promise.all([status('waits-a'), status('waits-b')]);
          waiting = [a, b].find((s) => s?.waitingForServer) as Record<string, unknown> | undefined;
          if (!waiting) await new Promise((r) => setTimeout(r, 50));
        }
        expect(first?.status).toBe('queued');
        expect(second?.status).toBe('queued');
        expect(waiting).toMatchObject({
          state: 'queued',
          attempts: 0,
          waitingForServer: { host, reason: 'rate', since: expect.any(String) },
        });
      } finally {
        await limited.close();
      }
    } finally {
      await slow.close();
    }
  });
});
