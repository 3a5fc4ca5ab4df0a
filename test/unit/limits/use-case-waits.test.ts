// The use case when a server has no room: it sends nothing, reports no outcome, publishes nothing and
// leaves the checkpoint as it was, and says how long to wait; the job adapter does the rest.

import { describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import type { EventPublisher } from '../../../src/events/index.js';
import { isProvisioningError, ProvisioningError } from '../../../src/failures/index.js';
import type { HttpRequest, HttpResponse } from '../../../src/http/index.js';
import {
  type Admission,
  breakerTransitionLog,
  ServerBusyError,
  type ServerLimiter,
} from '../../../src/limits/index.js';
import {
  MemoryCheckpointStore,
  NOOP_OBSERVER,
  type ProvisioningObserver,
  type RegistrationDeps,
  runRegistration,
} from '../../../src/provisioning/index.js';
import type { SecretStore } from '../../../src/secrets/index.js';

const BASE = 'https://ehr.example/fhir';

function fakeHttp() {
  const sent: string[] = [];
  return {
    sent,
    async request(request: HttpRequest): Promise<HttpResponse> {
      sent.push(`${request.method} ${String(request.url)}`);
      if (request.method === 'GET') {
        return {
          status: 200,
          headers: { 'content-type': 'application/json' },
          url: String(request.url),
          body: JSON.stringify({
            token_endpoint: 'https://auth.example/token',
            registration_endpoint: 'https://auth.example/register',
            grant_types_supported: ['authorization_code'],
            capabilities: ['client-public'],
            code_challenge_methods_supported: ['S256'],
          }),
        };
      }
      return {
        status: 201,
        headers: { 'content-type': 'application/json' },
        url: String(request.url),
        body: JSON.stringify({ client_id: 'fresh-client' }),
      };
    },
  };
}

/** Grants every host but the ones listed as busy, recording the outcomes handed back. */
function limiterRefusing(busyHosts: string[]): ServerLimiter & { released: string[] } {
  const released: string[] = [];
  return {
    released,
    async acquire(host): Promise<Admission> {
      if (busyHosts.includes(host)) return { granted: false, waitMs: 750, reason: 'in_flight' };
      return {
        granted: true,
        permit: { probe: false, release: async (outcome) => void released.push(`${host} ${outcome}`) },
      };
    },
  };
}

const store: SecretStore = {
  write: async (write) => ({ versionId: write.clientRequestToken, created: true }),
  readCurrent: async () => undefined,
  readPrevious: async () => undefined,
  readVersion: async () => undefined,
  list: async () => ({ names: [] }),
  readTags: async () => undefined,
  close: async () => {},
};

function deps(http: ReturnType<typeof fakeHttp>, serverLimiter: ServerLimiter) {
  const published: string[] = [];
  const outcomes: string[] = [];
  const events: EventPublisher = {
    publish: async (type) => {
      published.push(type);
      return { eventId: `e-${published.length}`, streamId: '1-0' } as never;
    },
  };
  const value: RegistrationDeps = {
    http,
    secretStore: store,
    events,
    secretNamePrefix: 'dcr/',
    rules: { allowInsecureLocalhost: false },
    observer: { ...NOOP_OBSERVER, jobFinished: (job) => outcomes.push(job.outcome) },
    serverLimiter,
  };
  return { value, published, outcomes };
}

const payload = {
  tenantId: 'acme',
  fhirBaseUrl: BASE,
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
  reason: 'onboarding',
  requestedAt: new Date().toISOString(),
};

/** Refuses `host` for its first `times` asks (booking the rate when asked to), then grants. */
function limiterRefusingFirst(host: string, times: number): ServerLimiter & { asks: string[] } {
  const asks: string[] = [];
  return {
    asks,
    async acquire(asked, options): Promise<Admission> {
      asks.push(`${asked}${options?.claimRate ? ' claim' : ''}${options?.rateClaimed ? ' claimed' : ''}`);
      if (asked === host && asks.filter((a) => a.startsWith(host)).length <= times) {
        return { granted: false, waitMs: 20, reason: 'rate', rateClaimed: options?.claimRate === true };
      }
      return { granted: true, permit: { probe: false, release: async () => {} } };
    },
  };
}

describe('the use case when a server has no room', () => {
  it('stops before the first request, reports no outcome and no event, and records only that the attempt waits', async () => {
    const http = fakeHttp();
    const limiter = limiterRefusing(['ehr.example']);
    const { value, published, outcomes } = deps(http, limiter);
    const before = { lostAttemptsAt: ['2026-01-01T00:00:00.000Z'] };
    const checkpoint = new MemoryCheckpointStore(before);

    const error = await runRegistration(
      payload,
      { jobId: 'j1', attempt: 3, maxAttempts: 3, checkpoint },
      value,
    ).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(ServerBusyError);
    expect(error).toMatchObject({ host: 'ehr.example', retryAfterMs: 750, reason: 'in_flight' });
    expect(http.sent).toEqual([]);
    expect(checkpoint.load()).toEqual({
      ...before,
      waiting: { attempt: 3, since: expect.any(String), host: 'ehr.example', reason: 'in_flight' },
    });
    // Even on its last attempt, waiting is not failing.
    expect(outcomes).toEqual([]);
    expect(published).toEqual([]);
  });

  it('waits in process for a request after the first, booking its rate slot, instead of repeating discovery', async () => {
    const http = fakeHttp();
    const limiter = limiterRefusingFirst('auth.example', 2);
    const { value, outcomes } = deps(http, limiter);
    const outcome = await runRegistration(
      payload,
      { jobId: 'j3', attempt: 1, maxAttempts: 3, checkpoint: new MemoryCheckpointStore() },
      value,
    );
    expect(outcome.clientId).toBe('fresh-client');
    // One discovery GET and one POST: the POST's refusals were waited out, not turned into a restart.
    expect(http.sent).toEqual([
      `GET ${BASE}/.well-known/smart-configuration`,
      'POST https://auth.example/register',
    ]);
    expect(limiter.asks).toEqual([
      'ehr.example',
      'auth.example claim',
      'auth.example claim claimed',
      'auth.example claim claimed',
    ]);
    expect(outcomes).toEqual(['completed']);
  });

  it('spends the attempt as rate_limited once it has waited longer than the bound, and announces it on the last one', async () => {
    const http = fakeHttp();
    const limiter = limiterRefusing(['ehr.example']);
    const { value, published, outcomes } = deps(http, limiter);
    let now = Date.parse('2026-12-01T00:00:00.000Z');
    const exceeded: string[] = [];
    const waitingDeps: RegistrationDeps = {
      ...value,
      now: () => new Date(now),
      maxServerWaitMs: 60_000,
      observer: { ...(value.observer as ProvisioningObserver), serverWaitExceeded: (r) => exceeded.push(r) },
    };
    const checkpoint = new MemoryCheckpointStore();
    const context = { jobId: 'j4', attempt: 2, maxAttempts: 2, checkpoint };
    const first = await runRegistration(payload, context, waitingDeps).catch((err: unknown) => err);
    expect(first).toBeInstanceOf(ServerBusyError);
    now += 59_000;
    expect(await runRegistration(payload, context, waitingDeps).catch((err: unknown) => err)).toBeInstanceOf(
      ServerBusyError,
    );
    now += 2_000;
    const spent = await runRegistration(payload, context, waitingDeps).catch((err: unknown) => err);
    expect(isProvisioningError(spent) && spent.code).toBe('rate_limited');
    expect((spent as Error).message).toContain(
      'server ehr.example had no room for this job for 1 min (in_flight)',
    );
    expect(exceeded).toEqual(['in_flight']);
    expect(outcomes).toEqual(['failed']);
    expect(published).toEqual(['client.registration_failed']);
  });

  it('sends nothing and charges the server nothing when the intent marker cannot be saved (our Redis, not theirs)', async () => {
    const http = fakeHttp();
    const limiter = limiterRefusing([]);
    const { value, outcomes } = deps(http, limiter);
    const checkpoint = {
      load: () => ({}),
      save: async () => {
        throw new ProvisioningError('network_error', "could not save the job's checkpoint in Redis (OOM)");
      },
    };
    const error = await runRegistration(
      payload,
      { jobId: 'j5', attempt: 1, maxAttempts: 3, checkpoint },
      value,
    ).catch((err: unknown) => err);

    expect((error as Error).message).toBe("could not save the job's checkpoint in Redis (OOM)");
    expect(http.sent).toEqual([`GET ${BASE}/.well-known/smart-configuration`]);
    // The POST's permit goes back as neutral: the server's breaker hears nothing of our Redis.
    expect(limiter.released).toEqual(['ehr.example success', 'auth.example neutral']);
    expect(outcomes).toEqual(['retry']);
  });

  it('registers once the server has room, holding a permit for each request', async () => {
    const http = fakeHttp();
    const limiter = limiterRefusing([]);
    const { value, outcomes, published } = deps(http, limiter);
    const outcome = await runRegistration(
      payload,
      { jobId: 'j2', attempt: 1, maxAttempts: 3, checkpoint: new MemoryCheckpointStore() },
      value,
    );
    expect(outcome.clientId).toBe('fresh-client');
    expect(limiter.released).toEqual(['ehr.example success', 'auth.example success']);
    expect(outcomes).toEqual(['completed']);
    expect(published).toEqual(['client.registered']);
  });
});

describe('limits/breakerTransitionLog', () => {
  it('warns when a breaker opens or re-opens and informs when it probes or closes', () => {
    const host = 'ehr.example';
    expect(breakerTransitionLog({ host, from: 'closed', to: 'open' })).toEqual({
      level: 'warn',
      message: 'server circuit breaker opened',
    });
    expect(breakerTransitionLog({ host, from: 'half_open', to: 'open' })).toEqual({
      level: 'warn',
      message: 'server circuit breaker re-opened: the probe failed',
    });
    expect(breakerTransitionLog({ host, from: 'open', to: 'half_open' }).level).toBe('info');
    expect(breakerTransitionLog({ host, from: 'half_open', to: 'closed' })).toEqual({
      level: 'info',
      message: 'server circuit breaker closed',
    });
  });
});
