// The use case when a server has no room: it sends nothing, reports no outcome, publishes nothing and
// leaves the checkpoint as it was, and says how long to wait; the job adapter does the rest.
// Real parts: the fleet's RedisServerLimiter on the run's Redis, whose "no room" is a permit this test
// really holds (or a rate slot it really spent); the product's HTTP client against two stub servers
// (the FHIR server and its authorization server, two hosts); moto behind the secret store; the Redis
// stream publisher. The limiter is wrapped only to record what was asked and handed back.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { RedisStreamEventPublisher } from '../../../src/events/index.js';
import { isProvisioningError, ProvisioningError } from '../../../src/failures/index.js';
import { createHttpClient } from '../../../src/http/index.js';
import {
  type Admission,
  type BreakerTransition,
  RedisServerLimiter,
  type RedisServerLimiterOptions,
  ServerBusyError,
  type ServerLimiter,
  type ServerPermit,
} from '../../../src/limits/index.js';
import {
  MemoryCheckpointStore,
  NOOP_OBSERVER,
  type RegistrationDeps,
  runRegistration,
} from '../../../src/provisioning/index.js';
import type { RedisConnection } from '../../../src/queue/index.js';
import { AwsSecretStore } from '../../../src/secrets/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { readEventStream, testQueuePrefix, testRedis } from '../../support/redis.js';

const http = createHttpClient({ timeoutMs: 3000, allowInsecureLocalhost: true });
const secretStore = new AwsSecretStore({ endpoint: inject('awsEndpoint'), region: 'us-east-1' });
const SECRET_NAME_PREFIX = `${inject('redisPrefix')}-use-case-waits/`;
let redis: RedisConnection;
let fhir: StubServer;
let auth: StubServer;
let fhirHost: string;
let authHost: string;
/** A prefix of its own per test: limiter state and event stream start empty. */
let prefix: string;

beforeAll(async () => {
  redis = testRedis();
  [fhir, auth] = await Promise.all([startStubServer(), startStubServer()]);
  fhirHost = new URL(fhir.baseUrl).host;
  authHost = new URL(auth.baseUrl).host;
});
beforeEach(() => {
  prefix = `${testQueuePrefix('use-case-waits')}:${randomUUID().slice(0, 8)}`;
  for (const stub of [fhir, auth]) stub.reset();
  fhir.on('GET', '/fhir/.well-known/smart-configuration', {
    json: {
      token_endpoint: auth.url('/token'),
      registration_endpoint: auth.url('/register'),
      grant_types_supported: ['authorization_code'],
      capabilities: ['client-public'],
      code_challenge_methods_supported: ['S256'],
    },
  });
  auth.on('POST', '/register', { status: 201, json: { client_id: 'fresh-client' } });
});
afterAll(async () => {
  http.close();
  await Promise.all([fhir.close(), auth.close(), secretStore.close()]);
  redis.disconnect();
});

/** The fleet's limiter on this test's prefix: one request in flight per host, rate no obstacle. */
function fleetLimiter(overrides: Partial<RedisServerLimiterOptions> = {}): RedisServerLimiter {
  return new RedisServerLimiter({
    redis,
    prefix,
    defaults: { concurrency: 1, ratePerSecond: 1000 },
    breaker: { failureThreshold: 2, cooldownMs: 60_000 },
    leaseTtlMs: 10_000,
    // The guessed wait for a full server is then exactly its base: 100 ms.
    random: () => 0.5,
    ...overrides,
  });
}

/** The limiter as the use case sees it, recording each ask and each permit handed back. */
function recording(limiter: ServerLimiter): ServerLimiter & { asks: string[]; released: string[] } {
  const asks: string[] = [];
  const released: string[] = [];
  return {
    asks,
    released,
    async acquire(host, options): Promise<Admission> {
      asks.push(`${host}${options?.claimRate ? ' claim' : ''}${options?.rateClaimed ? ' claimed' : ''}`);
      const admission = await limiter.acquire(host, options);
      if (!admission.granted) return admission;
      const { permit } = admission;
      return {
        granted: true,
        permit: {
          probe: permit.probe,
          release: async (outcome) => {
            released.push(`${host} ${outcome}`);
            await permit.release(outcome);
          },
        },
      };
    },
  };
}

/** A permit this test takes and keeps: the host has no room until it is handed back. */
async function hold(limiter: ServerLimiter, host: string): Promise<ServerPermit> {
  const admission = await limiter.acquire(host);
  if (!admission.granted) throw new Error(`expected a permit for ${host}, got ${admission.reason}`);
  return admission.permit;
}

function deps(serverLimiter: ServerLimiter) {
  const outcomes: string[] = [];
  const streamKey = `${prefix}:events`;
  const value: RegistrationDeps = {
    http,
    secretStore,
    events: new RedisStreamEventPublisher({ redis, streamKey }),
    secretNamePrefix: SECRET_NAME_PREFIX,
    rules: { allowInsecureLocalhost: true },
    secretWriteRetryDelaysMs: [],
    observer: { ...NOOP_OBSERVER, jobFinished: (job) => outcomes.push(job.outcome) },
    serverLimiter,
  };
  const published = async () => (await readEventStream(redis, streamKey)).map((e) => e.type);
  return { value, published, outcomes };
}

const payload = () => ({
  tenantId: `acme-${randomUUID().slice(0, 8)}`,
  fhirBaseUrl: fhir.url('/fhir'),
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
  reason: 'onboarding',
  requestedAt: new Date().toISOString(),
});

const sentTo = () => [
  ...fhir.requests.map((r) => `${r.method} fhir ${r.path}`),
  ...auth.requests.map((r) => `${r.method} auth ${r.path}`),
];

describe('the use case when a server has no room', () => {
  it('stops before the first request, reports no outcome and no event, and records only that the attempt waits', async () => {
    const limiter = fleetLimiter();
    const held = await hold(limiter, fhirHost);
    const { value, published, outcomes } = deps(recording(limiter));
    const before = { lostAttemptsAt: ['2026-01-01T00:00:00.000Z'] };
    const checkpoint = new MemoryCheckpointStore(before);

    const error = await runRegistration(
      payload(),
      { jobId: 'j1', attempt: 3, maxAttempts: 3, checkpoint },
      value,
    ).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(ServerBusyError);
    expect(error).toMatchObject({ host: fhirHost, retryAfterMs: 100, reason: 'in_flight' });
    expect(sentTo()).toEqual([]);
    expect(checkpoint.load()).toEqual({
      ...before,
      waiting: { attempt: 3, since: expect.any(String), host: fhirHost, reason: 'in_flight' },
    });
    // Even on its last attempt, waiting is not failing.
    expect(outcomes).toEqual([]);
    expect(await published()).toEqual([]);
    await held.release('success');
  });

  it('waits in process for a request after the first, booking its rate slot, instead of repeating discovery', async () => {
    // One request a second to the authorization server, and this second's is already spent.
    const limiter = fleetLimiter({ overrides: { [authHost]: { ratePerSecond: 1 } } });
    await (await hold(limiter, authHost)).release('success');
    const recorded = recording(limiter);
    const { value, outcomes } = deps(recorded);
    const outcome = await runRegistration(
      payload(),
      { jobId: 'j3', attempt: 1, maxAttempts: 3, checkpoint: new MemoryCheckpointStore() },
      value,
    );
    expect(outcome.clientId).toBe('fresh-client');
    // One discovery GET and one POST: the POST's refusal was waited out, not turned into a restart.
    expect(sentTo()).toEqual(['GET fhir /fhir/.well-known/smart-configuration', 'POST auth /register']);
    // Refused for the rate, it booked the next slot, and came back for it without asking for the rate.
    expect(recorded.asks).toEqual([fhirHost, `${authHost} claim`, `${authHost} claim claimed`]);
    expect(outcomes).toEqual(['completed']);
  });

  it('spends the attempt as rate_limited once it has waited longer than the bound, and announces it on the last one', async () => {
    const limiter = fleetLimiter();
    const held = await hold(limiter, fhirHost);
    const { value, published, outcomes } = deps(recording(limiter));
    let now = Date.parse('2026-12-01T00:00:00.000Z');
    const exceeded: string[] = [];
    const waitingDeps: RegistrationDeps = {
      ...value,
      now: () => new Date(now),
      maxServerWaitMs: 60_000,
      observer: { ...(value.observer ?? NOOP_OBSERVER), serverWaitExceeded: (r) => exceeded.push(r) },
    };
    const job = payload();
    const checkpoint = new MemoryCheckpointStore();
    const context = { jobId: 'j4', attempt: 2, maxAttempts: 2, checkpoint };
    const first = await runRegistration(job, context, waitingDeps).catch((err: unknown) => err);
    expect(first).toBeInstanceOf(ServerBusyError);
    now += 59_000;
    expect(await runRegistration(job, context, waitingDeps).catch((err: unknown) => err)).toBeInstanceOf(
      ServerBusyError,
    );
    now += 2_000;
    const spent = await runRegistration(job, context, waitingDeps).catch((err: unknown) => err);
    expect(isProvisioningError(spent) && spent.code).toBe('rate_limited');
    expect((spent as Error).message).toContain(
      `server ${fhirHost} had no room for this job for 1 min (in_flight)`,
    );
    expect(exceeded).toEqual(['in_flight']);
    expect(sentTo()).toEqual([]);
    expect(outcomes).toEqual(['failed']);
    expect(await published()).toEqual(['client.registration_failed']);
    await held.release('success');
  });

  it("a key rotation's own wait (key_publication) is never spent as rate_limited, and a server wait after it counts from its own start", async () => {
    const limiter = fleetLimiter();
    // The first two asks are answered as a key rotation's wait would be; then the real limiter, held.
    let asks = 0;
    const keyWaitFirst: ServerLimiter = {
      acquire: (host, options) =>
        ++asks <= 2
          ? Promise.resolve({ granted: false, waitMs: 1000, reason: 'key_publication' })
          : limiter.acquire(host, options),
    };
    const held = await hold(limiter, fhirHost);
    const { value } = deps(keyWaitFirst);
    let now = Date.parse('2026-12-01T00:00:00.000Z');
    const waitingDeps: RegistrationDeps = { ...value, now: () => new Date(now), maxServerWaitMs: 60_000 };
    const job = payload();
    const checkpoint = new MemoryCheckpointStore();
    const context = { jobId: 'j6', attempt: 1, maxAttempts: 2, checkpoint };
    const attempt = () => runRegistration(job, context, waitingDeps).catch((err: unknown) => err);
    expect(await attempt()).toBeInstanceOf(ServerBusyError);
    expect(checkpoint.load().waiting).toMatchObject({ reason: 'key_publication' });
    now += 120_000;
    // Longer than the server-wait bound, and still only waiting.
    expect(await attempt()).toBeInstanceOf(ServerBusyError);
    // The server wait that follows starts now, not when the key wait began.
    expect(await attempt()).toBeInstanceOf(ServerBusyError);
    expect(checkpoint.load().waiting).toMatchObject({
      reason: 'in_flight',
      since: new Date(now).toISOString(),
    });
    now += 59_000;
    expect(await attempt()).toBeInstanceOf(ServerBusyError);
    now += 2_000;
    const spent = await attempt();
    expect(isProvisioningError(spent) && spent.code).toBe('rate_limited');
    await held.release('success');
  });

  it('sends nothing and charges the server nothing when the intent marker cannot be saved (our Redis, not theirs)', async () => {
    const transitions: BreakerTransition[] = [];
    const limiter = fleetLimiter({ onTransition: (t) => transitions.push(t) });
    // One failure already counted against the authorization server; a second would open its breaker.
    await (await hold(limiter, authHost)).release('transient_failure');
    const recorded = recording(limiter);
    const { value, outcomes } = deps(recorded);
    const checkpoint = {
      load: () => ({}),
      save: async () => {
        throw new ProvisioningError('network_error', "could not save the job's checkpoint in Redis (OOM)");
      },
    };
    const error = await runRegistration(
      payload(),
      { jobId: 'j5', attempt: 1, maxAttempts: 3, checkpoint },
      value,
    ).catch((err: unknown) => err);

    expect((error as Error).message).toBe("could not save the job's checkpoint in Redis (OOM)");
    expect(sentTo()).toEqual(['GET fhir /fhir/.well-known/smart-configuration']);
    // The POST's permit goes back as neutral: the server's breaker hears nothing of our Redis.
    expect(recorded.released).toEqual([`${fhirHost} success`, `${authHost} neutral`]);
    expect(outcomes).toEqual(['retry']);
    // In Redis: the slot is free again, the breaker closed, and the earlier failure still counted (a
    // success would have cleared it): one more opens the breaker.
    expect(transitions).toEqual([]);
    await (await hold(limiter, authHost)).release('transient_failure');
    expect(transitions).toMatchObject([
      { host: authHost, from: 'closed', to: 'open', consecutiveFailures: 2 },
    ]);
  });

  it('registers once the server has room, holding a permit for each request', async () => {
    const limiter = fleetLimiter();
    // The server was full a moment ago; the permit is handed back before the job asks.
    await (await hold(limiter, fhirHost)).release('success');
    const recorded = recording(limiter);
    const { value, outcomes, published } = deps(recorded);
    const outcome = await runRegistration(
      payload(),
      { jobId: 'j2', attempt: 1, maxAttempts: 3, checkpoint: new MemoryCheckpointStore() },
      value,
    );
    expect(outcome.clientId).toBe('fresh-client');
    expect(sentTo()).toEqual(['GET fhir /fhir/.well-known/smart-configuration', 'POST auth /register']);
    expect(recorded.released).toEqual([`${fhirHost} success`, `${authHost} success`]);
    // Both permits are back: each host has its one slot free.
    await (await hold(limiter, fhirHost)).release('success');
    await (await hold(limiter, authHost)).release('success');
    expect(outcomes).toEqual(['completed']);
    expect(await published()).toEqual(['client.registered']);
    expect(await secretStore.readCurrent(outcome.secretId)).toMatchObject({
      versionId: outcome.secretVersionId,
    });
  });
});
