// The permit around each request: nothing is sent without one, it is always handed back, and the
// outcome it reports is what the server's breaker should hear.

import { describe, expect, it } from 'vitest';
import { classify, isProvisioningError } from '../../../src/failures/index.js';
import type { HttpClient, HttpRequest, HttpResponse } from '../../../src/http/index.js';
import {
  type Admission,
  findServerBusy,
  limitHttpClient,
  type RequestOutcome,
  ServerBusyError,
  type ServerLimiter,
} from '../../../src/limits/index.js';

class FakeLimiter implements ServerLimiter {
  readonly asked: string[] = [];
  readonly released: RequestOutcome[] = [];
  next: Admission | undefined;
  releaseFails = false;

  async acquire(host: string): Promise<Admission> {
    this.asked.push(host);
    if (this.next) return this.next;
    return {
      granted: true,
      permit: {
        probe: false,
        release: async (outcome) => {
          this.released.push(outcome);
          if (this.releaseFails) throw new Error('redis down');
        },
      },
    };
  }
}

function httpAnswering(
  answer: (request: HttpRequest) => Promise<HttpResponse>,
): HttpClient & { sent: number } {
  const client = {
    sent: 0,
    async request(request: HttpRequest) {
      client.sent += 1;
      return answer(request);
    },
  };
  return client;
}

const status = (code: number) => async (): Promise<HttpResponse> => ({
  status: code,
  headers: {},
  body: '',
  url: 'https://ehr.example/',
});

const failing = (err: unknown) => async (): Promise<HttpResponse> => {
  throw err;
};

describe('limits/limitHttpClient', () => {
  it('asks for a permit for the host actually requested, port included', async () => {
    const limiter = new FakeLimiter();
    const http = limitHttpClient(httpAnswering(status(200)), limiter);
    await http.request({
      method: 'GET',
      url: 'https://EHR.example:8443/fhir/.well-known/smart-configuration',
    });
    await http.request({ method: 'POST', url: 'https://auth.example/register', json: {} });
    expect(limiter.asked).toEqual(['ehr.example:8443', 'auth.example']);
  });

  it('sends nothing when the server has no room, and says how long to wait', async () => {
    const limiter = new FakeLimiter();
    limiter.next = { granted: false, waitMs: 180, reason: 'in_flight' };
    const inner = httpAnswering(status(201));
    const error = await limitHttpClient(inner, limiter)
      .request({ method: 'POST', url: 'https://ehr.example/register' })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ServerBusyError);
    expect(error).toMatchObject({ host: 'ehr.example', retryAfterMs: 180, reason: 'in_flight' });
    expect(inner.sent).toBe(0);
  });

  it.each([
    [200, 'success'],
    [201, 'success'],
    [400, 'success'],
    [404, 'success'],
    [429, 'transient_failure'],
    [500, 'transient_failure'],
    [503, 'transient_failure'],
  ] as const)('reports an answer with HTTP %i to the breaker as %s', async (code, expected) => {
    const limiter = new FakeLimiter();
    await limitHttpClient(httpAnswering(status(code)), limiter).request({
      method: 'POST',
      url: 'https://ehr.example/register',
    });
    expect(limiter.released).toEqual([expected]);
  });

  it('hands the permit back on a connection failure and counts it against the server', async () => {
    const limiter = new FakeLimiter();
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    await expect(
      limitHttpClient(httpAnswering(failing(reset)), limiter).request({
        method: 'GET',
        url: 'https://ehr.example/x',
      }),
    ).rejects.toBe(reset);
    expect(limiter.released).toEqual(['transient_failure']);
  });

  it('hands the permit back without blaming the server when the job aborts or the address guard refuses', async () => {
    const limiter = new FakeLimiter();
    const controller = new AbortController();
    controller.abort();
    const aborted = Object.assign(new Error('aborted'), { name: 'AbortError' });
    await expect(
      limitHttpClient(httpAnswering(failing(aborted)), limiter).request({
        method: 'POST',
        url: 'https://ehr.example/register',
        signal: controller.signal,
      }),
    ).rejects.toBe(aborted);
    const blocked = Object.assign(new Error('private address'), { name: 'OutboundBlockedError' });
    await expect(
      limitHttpClient(httpAnswering(failing(blocked)), limiter).request({
        method: 'GET',
        url: 'https://x.example/',
      }),
    ).rejects.toBe(blocked);
    expect(limiter.released).toEqual(['neutral', 'neutral']);
  });

  it('keeps the answer when the permit cannot be handed back, and tells who asked', async () => {
    const limiter = new FakeLimiter();
    limiter.releaseFails = true;
    const problems: string[] = [];
    const response = await limitHttpClient(httpAnswering(status(201)), limiter, {
      onReleaseError: (err, host) => problems.push(`${host}: ${(err as Error).message}`),
    }).request({ method: 'POST', url: 'https://ehr.example/register' });
    expect(response.status).toBe(201);
    expect(problems).toEqual(['ehr.example: redis down']);
  });
});

describe('limits/findServerBusy', () => {
  it('finds the busy signal behind the ProvisioningError that discovery and registration wrap it in', () => {
    const busy = new ServerBusyError('ehr.example', 250, 'rate');
    const wrapped = classify(busy, 'discovery');
    expect(isProvisioningError(wrapped)).toBe(true);
    expect(findServerBusy(wrapped)).toBe(busy);
    expect(findServerBusy(busy)).toBe(busy);
  });

  it('finds nothing in an ordinary failure', () => {
    expect(
      findServerBusy(classify(Object.assign(new Error('x'), { code: 'ECONNRESET' }), 'registration')),
    ).toBe(undefined);
    expect(findServerBusy(undefined)).toBeUndefined();
    expect(findServerBusy('busy')).toBeUndefined();
  });
});
