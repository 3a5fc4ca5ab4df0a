// POST /v1/registrations/{tenantId}/rotate through `inject`, on a real queue with no worker (jobs stay
// waiting): a registration the registry knows is queued for rotation once, an unknown one is a 404, a
// body that says what the path and the route decide is a 400 naming the field, and no token is a 401.

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { JOB_NAMES, registrationKey } from '../../../src/queue/index.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';
import { bearer, call, scheduleTokenSecretDeletion, serverFor, TEST_TOKEN } from './server-harness.js';

let pipeline: Pipeline;
let app: FastifyInstance;
beforeAll(async () => {
  pipeline = await startPipeline('server-rotate', { API_TOKEN: TEST_TOKEN });
  app = await serverFor(pipeline);
});
afterAll(async () => {
  await app.close();
  await pipeline.close();
});

const fhirBaseUrl = (tenantId: string) => `https://ehr.example/fhir/${tenantId}`;

/** What a completed registration leaves in the registry (the route looks no further). */
async function registered(tenantId: string): Promise<void> {
  await pipeline.registry.recordStored(registrationKey(tenantId, fhirBaseUrl(tenantId)), {
    tenantId,
    fhirBaseUrl: fhirBaseUrl(tenantId),
    clientId: `client-of-${tenantId}`,
    secretId: `${pipeline.config.SECRET_NAME_PREFIX}${tenantId}/ehr.example_fhir_${tenantId}`,
    secretVersionId: 'v1',
    registeredAt: new Date().toISOString(),
    managed: true,
  });
}

const rotate = (tenantId: string, payload: unknown, headers: Record<string, string> = {}) =>
  call(app, {
    method: 'POST',
    url: `/v1/registrations/${tenantId}/rotate`,
    payload: payload as object,
    headers,
  });

function issuePaths(body: { issues?: Array<{ path: string }> }): string[] {
  return (body.issues ?? []).map((issue) => issue.path);
}

describe('POST /v1/registrations/:tenantId/rotate', () => {
  it('queues a rotation of a known registration: 202 with the job id, a manual rotate-client job', async () => {
    await registered('rot-one');
    const res = await rotate('rot-one', { fhirBaseUrl: fhirBaseUrl('rot-one') });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({ jobId: expect.any(String), status: 'queued' });
    const job = await pipeline.queue.getJob(body.jobId);
    expect(job?.name).toBe(JOB_NAMES.rotateClient);
    expect(job?.data).toMatchObject({
      tenantId: 'rot-one',
      fhirBaseUrl: fhirBaseUrl('rot-one'),
      reason: 'manual',
    });
  });

  it('answers 200 already_queued with the same job id while that rotation waits', async () => {
    await registered('rot-dup');
    const first = await rotate('rot-dup', { fhirBaseUrl: fhirBaseUrl('rot-dup') });
    const again = await rotate('rot-dup', { fhirBaseUrl: 'https://EHR.example/fhir/rot-dup/' });
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ jobId: first.json().jobId, status: 'already_queued' });
  });

  it('stores an initial access token given by value and queues only its reference, never echoing it', async () => {
    await registered('rot-iat');
    const iat = 'iat-for-rotation-must-not-echo-3c9d';
    const res = await rotate('rot-iat', {
      fhirBaseUrl: fhirBaseUrl('rot-iat'),
      initialAccessToken: { value: iat },
    });
    expect(res.statusCode).toBe(202);
    expect(res.body).not.toContain(iat);
    const job = await pipeline.queue.getJob(res.json().jobId);
    expect(job?.data.initialAccessToken).toEqual({ secretId: expect.stringContaining('rot-iat/') });
    expect(JSON.stringify(job?.data)).not.toContain(iat);
  });

  it("answers 200 already_queued with the waiting registration's id: that one issues fresh credentials anyway", async () => {
    await registered('rot-after-reg');
    const registration = await pipeline.producer.enqueue({
      tenantId: 'rot-after-reg',
      fhirBaseUrl: fhirBaseUrl('rot-after-reg'),
      clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
    });
    expect(registration.status).toBe('queued');
    const res = await rotate('rot-after-reg', { fhirBaseUrl: fhirBaseUrl('rot-after-reg') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      jobId: (registration as { jobId: string }).jobId,
      status: 'already_queued',
    });
  });

  it('answers 400 naming initialAccessToken.value when the secret store refuses the token, and queues nothing', async () => {
    await registered('rot-iat-refused');
    await scheduleTokenSecretDeletion(pipeline, 'rot-iat-refused', fhirBaseUrl('rot-iat-refused'));
    const iat = 'iat-for-rotation-refused-7e21';
    const res = await rotate('rot-iat-refused', {
      fhirBaseUrl: fhirBaseUrl('rot-iat-refused'),
      initialAccessToken: { value: iat },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'invalid_request',
      issues: [
        {
          path: 'initialAccessToken.value',
          message: expect.stringContaining('the secret store refused to store it'),
        },
      ],
    });
    expect(res.body).not.toContain(iat);
    const record = await pipeline.registry.get(
      registrationKey('rot-iat-refused', fhirBaseUrl('rot-iat-refused')),
    );
    expect(record?.latestJobId).toBeUndefined();
  });

  it('answers 404 not_found with a message when the registry knows no client for the tenant and server', async () => {
    await registered('rot-known');
    for (const [tenantId, url] of [
      ['rot-nobody', fhirBaseUrl('rot-nobody')],
      ['rot-known', 'https://other.example/fhir'],
    ] as const) {
      const res = await rotate(tenantId, { fhirBaseUrl: url });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'not_found', message: expect.stringContaining(tenantId) });
    }
    // Nothing was queued, so nothing was recorded either.
    expect(
      await pipeline.registry.get(registrationKey('rot-nobody', fhirBaseUrl('rot-nobody'))),
    ).toBeUndefined();
  });

  it.each([
    ['tenantId', 'rot-bad', { fhirBaseUrl: fhirBaseUrl('rot-bad'), tenantId: 'rot-other' }],
    ['tenantId', '-not-a-tenant', { fhirBaseUrl: fhirBaseUrl('rot-bad') }],
    ['reason', 'rot-bad', { fhirBaseUrl: fhirBaseUrl('rot-bad'), reason: 'scheduled' }],
    ['fhirBaseUrl', 'rot-bad', {}],
    ['fhirBaseUrl', 'rot-bad', { fhirBaseUrl: 'http://ehr.example/fhir' }],
    ['clientMetadata', 'rot-bad', { fhirBaseUrl: fhirBaseUrl('rot-bad'), clientMetadata: {} }],
    [
      'initialAccessToken.secretId',
      'rot-bad',
      { fhirBaseUrl: fhirBaseUrl('rot-bad'), initialAccessToken: { secretId: 'dcr/another-tenant/x' } },
    ],
    ['(root)', 'rot-bad', [{ fhirBaseUrl: fhirBaseUrl('rot-bad') }]],
  ])('answers 400 invalid_request naming %s', async (path, tenantId, body) => {
    const res = await rotate(tenantId, body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
    expect(issuePaths(res.json())).toContain(path);
  });

  it('accepts a body that repeats the tenant of the path and gives the reason "rotation"', async () => {
    await registered('rot-echo');
    const res = await rotate('rot-echo', {
      tenantId: 'rot-echo',
      fhirBaseUrl: fhirBaseUrl('rot-echo'),
      reason: 'rotation',
    });
    expect(res.statusCode).toBe(202);
    expect((await pipeline.queue.getJob(res.json().jobId))?.data).toMatchObject({
      tenantId: 'rot-echo',
      reason: 'rotation',
    });
  });

  it('says why a tenantId in the body is refused, and that an unknown field is unknown', async () => {
    const res = await rotate('rot-bad', { fhirBaseUrl: fhirBaseUrl('rot-bad'), tenantId: 'rot-other' });
    expect(res.json().issues).toEqual([
      { path: 'tenantId', message: 'must match the tenant in the path, or be left out' },
    ]);
    const reason = await rotate('rot-bad', { fhirBaseUrl: fhirBaseUrl('rot-bad'), reason: 'scheduled' });
    expect(reason.json().issues).toEqual([
      { path: 'reason', message: 'must be "manual" or "rotation" (the default is "manual")' },
    ]);
    const unknown = await rotate('rot-bad', { fhirBaseUrl: fhirBaseUrl('rot-bad'), fhirBaseURL: 'x' });
    expect(unknown.json().issues).toEqual([{ path: 'fhirBaseURL', message: 'is not a known field' }]);
  });

  it('answers 401 without the token or with a wrong one, and queues nothing', async () => {
    await registered('rot-auth');
    const waiting = await pipeline.queue.getWaitingCount();
    const anonymous = await app.inject({
      method: 'POST',
      url: '/v1/registrations/rot-auth/rotate',
      payload: { fhirBaseUrl: fhirBaseUrl('rot-auth') },
    });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toEqual({ error: 'unauthorized' });
    const wrong = await rotate('rot-auth', { fhirBaseUrl: fhirBaseUrl('rot-auth') }, bearer('not-the-token'));
    expect(wrong.statusCode).toBe(401);
    expect(await pipeline.queue.getWaitingCount()).toBe(waiting);
  });
});
