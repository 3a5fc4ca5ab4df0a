// The producer API's contract through `inject`, on a real queue with no worker (jobs stay waiting):
// what a caller sends, what it gets back, and what never comes back.

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { ProvisioningError } from '../../../src/failures/index.js';
import {
  JOB_NAMES,
  producerSettingsFromConfig,
  RegistrationProducer,
  registrationKey,
} from '../../../src/queue/index.js';
import {
  createSecretStore,
  initialAccessTokenSecretName,
  MAX_SECRET_VALUE_BYTES,
  type SecretWrite,
} from '../../../src/secrets/index.js';
import { BULK_MAX_REQUESTS } from '../../../src/server/index.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';
import { call, scheduleTokenSecretDeletion, serverFor, TEST_TOKEN } from './server-harness.js';

let pipeline: Pipeline;
let app: FastifyInstance;
beforeAll(async () => {
  pipeline = await startPipeline('server-api', { API_TOKEN: TEST_TOKEN });
  app = await serverFor(pipeline);
});
afterAll(async () => {
  await app.close();
  await pipeline.close();
});

const request = (tenantId: string, extra: Record<string, unknown> = {}) => ({
  tenantId,
  fhirBaseUrl: `https://ehr.example/fhir/${tenantId}`,
  clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
  ...extra,
});

const post = (payload: unknown, url = '/v1/registrations') =>
  call(app, { method: 'POST', url, payload: payload as object });

function issuePaths(body: { issues?: Array<{ path: string }> }): string[] {
  return (body.issues ?? []).map((issue) => issue.path);
}

const fhirBaseUrlOf = (tenantId: string) => request(tenantId).fhirBaseUrl;
const tokenSecretOf = (tenantId: string) =>
  initialAccessTokenSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, fhirBaseUrlOf(tenantId));

const tokenSecretScheduledForDeletion = (tenantId: string) =>
  scheduleTokenSecretDeletion(pipeline, tenantId, fhirBaseUrlOf(tenantId));

/** What a completed registration leaves in the registry, so a rotation of it may be queued. */
async function registered(tenantId: string): Promise<void> {
  await pipeline.registry.recordStored(registrationKey(tenantId, fhirBaseUrlOf(tenantId)), {
    tenantId,
    fhirBaseUrl: fhirBaseUrlOf(tenantId),
    clientId: `client-of-${tenantId}`,
    secretId: `${pipeline.config.SECRET_NAME_PREFIX}${tenantId}/ehr.example_fhir_${tenantId}`,
    secretVersionId: 'v1',
    registeredAt: new Date().toISOString(),
    managed: true,
  });
}

describe('POST /v1/registrations', () => {
  it('queues a valid request: 202 with the job id, and the job is on the queue', async () => {
    const res = await post(request('api-one'));
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({ jobId: expect.any(String), status: 'queued' });
    const job = await pipeline.queue.getJob(body.jobId);
    expect(job?.data).toMatchObject({ tenantId: 'api-one', fhirBaseUrl: 'https://ehr.example/fhir/api-one' });
  });

  it('answers 200 already_queued with the same job id when the tenant and server are already waiting', async () => {
    const first = await post(request('api-dup'));
    const again = await post(request('api-dup', { fhirBaseUrl: 'https://EHR.example/fhir/api-dup/' }));
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ jobId: first.json().jobId, status: 'already_queued' });
  });

  it.each([
    ['tenantId', request('-not-a-tenant')],
    ['tenantId', { ...request('x'), tenantId: undefined }],
    ['fhirBaseUrl', request('api-bad', { fhirBaseUrl: 'http://ehr.example/fhir' })],
    ['fhirBaseUrl', request('api-bad', { fhirBaseUrl: 'not a url' })],
    [
      'clientMetadata.redirect_uris',
      request('api-bad', { clientMetadata: { redirect_uris: 'https://a.example/cb' } }),
    ],
    ['registrationEndpoint', request('api-bad', { registrationEndpoint: 'ftp://ehr.example/reg' })],
    ['reason', request('api-bad', { reason: 'because' })],
  ])('answers 400 invalid_request naming %s', async (path, body) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
    expect(issuePaths(res.json())).toContain(path);
  });

  it('names an unknown field in its issue', async () => {
    const res = await post(request('api-bad', { tenantID: 'typo' }));
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([{ path: 'tenantID', message: 'is not a known field' }]);
  });

  it('lists every issue of a request at once, each with its path and a message', async () => {
    const res = await post({
      tenantId: '',
      fhirBaseUrl: 'http://ehr.example/fhir',
      clientMetadata: { redirect_uris: 'nope' },
      extra: true,
    });
    expect(res.statusCode).toBe(400);
    const { issues } = res.json();
    expect(issuePaths(res.json())).toEqual(
      expect.arrayContaining(['tenantId', 'fhirBaseUrl', 'clientMetadata.redirect_uris', 'extra']),
    );
    for (const issue of issues) expect(issue.message).toEqual(expect.any(String));
  });

  it('answers 400 naming the body when it is not valid JSON, without quoting it', async () => {
    const res = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      headers: { 'content-type': 'application/json' },
      payload: '{"initialAccessToken": {"value": "iat-must-not-echo-1"',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'invalid_request',
      issues: [{ path: '(root)', message: 'the request body is not valid JSON' }],
    });
    expect(res.body).not.toContain('iat-must-not-echo-1');
  });

  it('answers 400 for an empty JSON body and for a body that is not an object', async () => {
    const empty = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    expect(empty.statusCode).toBe(400);
    expect(issuePaths(empty.json())).toEqual(['(root)']);
    const array = await post([request('api-array')]);
    expect(array.statusCode).toBe(400);
    expect(issuePaths(array.json())).toEqual(['(root)']);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await call(app, {
      method: 'POST',
      url: '/v1/registrations',
      headers: { 'content-type': 'text/plain' },
      payload: 'tenantId=acme',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('answers 413 for a body over 1 MiB', async () => {
    const res = await post(request('api-big', { clientMetadata: { client_name: 'x'.repeat(1024 * 1024) } }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'payload_too_large', message: expect.stringContaining('1048576') });
  });

  it('answers 400 JSON for a URL that cannot be decoded', async () => {
    const res = await call(app, { method: 'GET', url: '/v1/registrations/%E0%A4%A' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad_request' });
  });

  it('answers 404 JSON for an unknown route and method', async () => {
    for (const [method, url] of [
      ['GET', '/v1/nothing'],
      ['DELETE', '/v1/registrations/acme'],
      ['GET', '/nothing'],
    ] as const) {
      const res = await call(app, { method, url });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'not_found' });
    }
  });
});

describe('the verify field', () => {
  const secretClient = {
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'system/Patient.rs',
  };

  it('is queued as given, for a single request and a bulk item alike', async () => {
    const single = await post(request('verify-single', { clientMetadata: secretClient, verify: false }));
    expect(single.statusCode).toBe(202);
    expect((await pipeline.queue.getJob(single.json().jobId))?.data.verify).toBe(false);
    const bulk = await post(
      { requests: [request('verify-bulk', { clientMetadata: secretClient, verify: true })] },
      '/v1/registrations/bulk',
    );
    expect(bulk.statusCode).toBe(207);
    const [item] = bulk.json().results;
    expect((await pipeline.queue.getJob(item.jobId))?.data.verify).toBe(true);
  });

  it('answers 400 naming verify for a non-boolean, or verify: true on a client without client_credentials, in single and bulk requests', async () => {
    const notBoolean = await post(request('verify-bad', { clientMetadata: secretClient, verify: 'yes' }));
    expect(notBoolean.statusCode).toBe(400);
    expect(issuePaths(notBoolean.json())).toEqual(['verify']);
    const noGrant = await post(request('verify-no-grant', { verify: true }));
    expect(noGrant.statusCode).toBe(400);
    expect(issuePaths(noGrant.json())).toEqual(['verify']);
    const bulk = await post(
      {
        requests: [
          request('verify-bulk-bad', { verify: true }),
          request('verify-bulk-ok', { verify: false }),
        ],
      },
      '/v1/registrations/bulk',
    );
    expect(bulk.statusCode).toBe(207);
    const [bad, ok] = bulk.json().results;
    expect(bad).toMatchObject({ status: 'invalid', issues: [{ path: 'verify' }] });
    expect(ok).toMatchObject({ status: 'queued' });
  });
});

describe('the keys field', () => {
  const backendClient = {
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'system/Patient.rs',
  };
  const keys = { generate: { alg: 'ES384' } };
  const ownJwks = {
    keys: [
      {
        kty: 'EC',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        kid: 'own-1',
      },
    ],
  };

  it('is queued with its publish default, for a private_key_jwt client without keys of its own', async () => {
    const res = await post(request('keys-single', { clientMetadata: backendClient, keys }));
    expect(res.statusCode).toBe(202);
    expect((await pipeline.queue.getJob(res.json().jobId))?.data.keys).toEqual({ ...keys, publish: 'jwks' });
  });

  it('answers 400 naming keys when the metadata carries jwks too, in a single request and a bulk item alike', async () => {
    const both = request('keys-and-jwks', { clientMetadata: { ...backendClient, jwks: ownJwks }, keys });
    const single = await post(both);
    expect(single.statusCode).toBe(400);
    expect(single.json()).toEqual({
      error: 'invalid_request',
      issues: [{ path: 'keys', message: expect.stringContaining('clientMetadata.jwks') }],
    });
    const bulk = await post(
      { requests: [both, request('keys-bulk-ok', { clientMetadata: backendClient, keys })] },
      '/v1/registrations/bulk',
    );
    expect(bulk.statusCode).toBe(207);
    const [bad, ok] = bulk.json().results;
    expect(bad).toMatchObject({ status: 'invalid', issues: [{ path: 'keys' }] });
    expect(issuePaths(bad)).toEqual(['keys']);
    expect(ok).toMatchObject({ status: 'queued' });
    expect(await pipeline.registry.keysOfTenant('keys-and-jwks')).toEqual([]);
  });

  it('answers 400 naming keys, never a 5xx, for keys that are null', async () => {
    const res = await post(request('keys-null', { clientMetadata: backendClient, keys: null }));
    expect(res.statusCode).toBe(400);
    expect(issuePaths(res.json())).toContain('keys');
  });
});

describe('initial access token given by value', () => {
  const iat = 'iat-by-value-7f3c9e2a-never-shown';

  it('is stored in the secret store, and never appears in a response nor in Redis', async () => {
    const res = await post(request('api-iat', { initialAccessToken: { value: iat } }));
    expect(res.statusCode).toBe(202);
    const { jobId } = res.json();
    const job = await pipeline.queue.getJob(jobId);
    const data = job?.data as { initialAccessToken?: { secretId?: string; value?: string } } | undefined;
    expect(data?.initialAccessToken).toEqual({ secretId: expect.any(String) });
    const secretId = data?.initialAccessToken?.secretId ?? '';
    expect((await pipeline.secretStore.readCurrent(secretId))?.value).toBe(iat);

    const responses = [
      res,
      await post(request('api-iat', { initialAccessToken: { value: iat } })),
      await post(request('api-iat-bad', { initialAccessToken: { value: iat, extra: 1 } })),
      await post(request('-api-iat-bad', { initialAccessToken: { value: iat } })),
      await post(
        { requests: [request('api-iat', { initialAccessToken: { value: iat } })] },
        '/v1/registrations/bulk',
      ),
      await call(app, {
        method: 'GET',
        url: `/v1/registrations/api-iat?fhirBaseUrl=${encodeURIComponent('https://ehr.example/fhir/api-iat')}`,
      }),
      await call(app, { method: 'GET', url: '/v1/registrations/api-iat' }),
      await call(app, {
        method: 'GET',
        url: '/admin/queues/api/queues?activeQueue=registrations&status=waiting',
      }),
      await call(app, { method: 'GET', url: `/admin/queues/api/queues/registrations/${jobId}` }),
    ];
    expect(responses[1]?.statusCode).toBe(200);
    expect(responses[2]?.statusCode).toBe(400);
    for (const response of responses) expect(response.body).not.toContain(iat);
    expect(await pipeline.dumpRedis()).not.toContain(iat);
  });
});

describe('an initial access token the secret store cannot take', () => {
  it('answers 400 naming initialAccessToken.value for a value over 65,536 bytes of UTF-8, and stores nothing', async () => {
    // 32,769 characters, 65,538 bytes: the limit is the store's, in bytes.
    const value = 'é'.repeat(MAX_SECRET_VALUE_BYTES / 2 + 1);
    const res = await post(request('iat-big', { initialAccessToken: { value } }));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'invalid_request',
      issues: [
        {
          path: 'initialAccessToken.value',
          message: expect.stringContaining(String(MAX_SECRET_VALUE_BYTES)),
        },
      ],
    });
    expect(res.body).not.toContain('éééé');
    expect(await pipeline.secretStore.readCurrent(tokenSecretOf('iat-big'))).toBeUndefined();
    expect(await pipeline.registry.keysOfTenant('iat-big')).toEqual([]);
  });

  it("answers 400 naming initialAccessToken.value with the store's reason when the store refuses it, and queues nothing", async () => {
    await tokenSecretScheduledForDeletion('iat-refused');
    const value = 'iat-refused-by-the-store-4b1e-never-shown';
    const res = await post(request('iat-refused', { initialAccessToken: { value } }));
    expect(res.statusCode).toBe(400);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.json()).toEqual({
      error: 'invalid_request',
      issues: [
        {
          path: 'initialAccessToken.value',
          message: expect.stringMatching(/^the secret store refused to store it: .*scheduled for deletion/),
        },
      ],
    });
    expect(res.json().issues[0].message).toContain('restore-secret');
    expect(res.body).not.toContain(value);
    expect(await pipeline.registry.keysOfTenant('iat-refused')).toEqual([]);
  });

  it('fails only the bulk items whose token cannot be stored; the others are queued', async () => {
    await tokenSecretScheduledForDeletion('bulk-iat-refused');
    const good = 'iat-good-bulk-item-5d2a';
    const res = await post(
      {
        requests: [
          request('bulk-iat-a'),
          request('bulk-iat-refused', { initialAccessToken: { value: 'iat-refused-in-bulk-9c0f' } }),
          request('bulk-iat-big', { initialAccessToken: { value: 'x'.repeat(MAX_SECRET_VALUE_BYTES + 1) } }),
          request('bulk-iat-b', { initialAccessToken: { value: good } }),
        ],
      },
      '/v1/registrations/bulk',
    );
    expect(res.statusCode).toBe(207);
    const { results, summary } = res.json();
    expect(results.map((r: { status: string }) => r.status)).toEqual([
      'queued',
      'invalid',
      'invalid',
      'queued',
    ]);
    expect(results[1].issues).toEqual([
      {
        path: 'initialAccessToken.value',
        message: expect.stringContaining('the secret store refused to store it'),
      },
    ]);
    expect(issuePaths(results[2])).toEqual(['initialAccessToken.value']);
    expect(summary).toEqual({ queued: 2, already_queued: 0, conflict: 0, invalid: 2, unavailable: 0 });
    for (const index of [0, 3]) expect(await pipeline.queue.getJob(results[index].jobId)).toBeDefined();
    expect((await pipeline.secretStore.readCurrent(tokenSecretOf('bulk-iat-b')))?.value).toBe(good);
    expect(await pipeline.secretStore.readCurrent(tokenSecretOf('bulk-iat-big'))).toBeUndefined();
  });
});

describe('an initial access token the secret store fails to take for now', () => {
  // moto cannot be made to throttle one secret on demand, and a fault proxy in front of it fails every
  // write at once; so the real store is wrapped to fail, as the AWS adapter does under throttling, for
  // the token secrets of tenants whose id starts with "down-".
  let flakyApp: FastifyInstance;
  const writesTried: string[] = [];
  beforeAll(async () => {
    const flaky = createSecretStore(pipeline.config);
    const write = flaky.write.bind(flaky);
    flaky.write = (input: SecretWrite) => {
      const down = input.name.startsWith(`${pipeline.config.SECRET_NAME_PREFIX}down-`);
      if (!down) return write(input);
      writesTried.push(input.name);
      return Promise.reject(
        new ProvisioningError(
          'secret_store_unavailable',
          `cannot write secret ${input.name}: Secrets Manager is throttling requests (ThrottlingException); retry later`,
        ),
      );
    };
    const producer = new RegistrationProducer({
      queue: pipeline.queue,
      secretStore: flaky,
      registry: pipeline.registry,
      ...producerSettingsFromConfig(pipeline.config),
    });
    flakyApp = await serverFor(pipeline, { producer });
    return async () => {
      await flakyApp.close();
      await flaky.close();
    };
  });

  const flakyPost = (payload: unknown, url = '/v1/registrations') =>
    call(flakyApp, { method: 'POST', url, payload: payload as object });

  it('answers 503 with Retry-After for a single request: that is an outage, and nothing is queued', async () => {
    const res = await flakyPost(
      request('down-single', { initialAccessToken: { value: 'iat-down-single-1' } }),
    );
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toEqual({ error: 'unavailable' });
    expect(await pipeline.registry.keysOfTenant('down-single')).toEqual([]);
  });

  it('answers the bulk item alone as unavailable with a message, and queues the others', async () => {
    const res = await flakyPost(
      {
        requests: [
          request('down-bulk-a', { initialAccessToken: { value: 'iat-down-bulk-a-1' } }),
          request('up-bulk-b', { initialAccessToken: { value: 'iat-up-bulk-b-1' } }),
          request('up-bulk-c'),
        ],
      },
      '/v1/registrations/bulk',
    );
    expect(res.statusCode).toBe(207);
    const { results, summary } = res.json();
    expect(results[0]).toEqual({
      index: 0,
      status: 'unavailable',
      message: expect.stringMatching(/could not be stored.*throttling.*send it again later/),
    });
    expect(results.slice(1).map((r: { status: string }) => r.status)).toEqual(['queued', 'queued']);
    expect(summary).toEqual({ queued: 2, already_queued: 0, conflict: 0, invalid: 0, unavailable: 1 });
    expect(await pipeline.registry.keysOfTenant('down-bulk-a')).toEqual([]);
  });

  it('stops writing tokens after three failures in a row, and still queues the items without one', async () => {
    writesTried.length = 0;
    const res = await flakyPost(
      {
        requests: [
          ...['down-row-1', 'down-row-2', 'down-row-3', 'down-row-4', 'down-row-5'].map((tenantId) =>
            request(tenantId, { initialAccessToken: { value: `iat-${tenantId}` } }),
          ),
          request('up-row-6'),
        ],
      },
      '/v1/registrations/bulk',
    );
    const { results, summary } = res.json();
    expect(writesTried).toHaveLength(3);
    expect(summary).toMatchObject({ queued: 1, unavailable: 5 });
    expect(results[3].message).toContain('failed for the 3 tokens of this batch before it');
  });
});

describe('a registration while a rotation of the same tenant and server waits', () => {
  async function rotationWaiting(tenantId: string): Promise<string> {
    await registered(tenantId);
    const rotation = await pipeline.producer.enqueueRotation({
      tenantId,
      fhirBaseUrl: fhirBaseUrlOf(tenantId),
      reason: 'manual',
    });
    expect(rotation.status).toBe('queued');
    return (rotation as { jobId: string }).jobId;
  }

  it("answers 409 conflict with the rotation's job id and says to send it again, and queues nothing", async () => {
    const rotationJobId = await rotationWaiting('conflict-one');
    const res = await post(
      request('conflict-one', {
        clientMetadata: publicAppMetadata({ redirectUris: ['https://new.example/cb'] }),
      }),
    );
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: 'conflict', jobId: rotationJobId, message: expect.any(String) });
    const { message } = res.json();
    expect(message).toContain('rotation');
    expect(message).toContain(rotationJobId);
    expect(message).toContain('was not queued');
    expect(message).toContain('send it again once that job has finished');
    const rotation = await pipeline.queue.getJob(rotationJobId);
    expect(rotation?.name).toBe(JOB_NAMES.rotateClient);
    const record = await pipeline.registry.get(
      registrationKey('conflict-one', fhirBaseUrlOf('conflict-one')),
    );
    expect(record?.latestJobId).toBe(rotationJobId);
  });

  it('answers 409 before storing a token given by value, so the rotation keeps its own', async () => {
    const rotationJobId = await rotationWaiting('conflict-iat');
    const res = await post(
      request('conflict-iat', { initialAccessToken: { value: 'iat-not-for-the-rotation-1' } }),
    );
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: 'conflict', jobId: rotationJobId });
    expect(await pipeline.secretStore.readCurrent(tokenSecretOf('conflict-iat'))).toBeUndefined();
  });

  it('reports the item as conflict in a bulk request, counted in the summary', async () => {
    const rotationJobId = await rotationWaiting('conflict-bulk');
    const res = await post(
      {
        requests: [
          request('conflict-bulk'),
          request('conflict-bulk-other'),
          request('conflict-bulk', { initialAccessToken: { value: 'iat-conflict-bulk-1' } }),
          // A repeat within the batch shares the first one's answer, never the id of a job not queued.
          request('conflict-bulk'),
        ],
      },
      '/v1/registrations/bulk',
    );
    expect(res.statusCode).toBe(207);
    const { results, summary } = res.json();
    expect(results[0]).toEqual({
      index: 0,
      status: 'conflict',
      jobId: rotationJobId,
      message: expect.stringContaining(rotationJobId),
    });
    expect(results[1]).toMatchObject({ status: 'queued' });
    expect(results[2]).toMatchObject({ status: 'conflict', jobId: rotationJobId });
    expect(results[3]).toMatchObject({ status: 'conflict', jobId: rotationJobId });
    expect(summary).toEqual({ queued: 1, already_queued: 0, conflict: 3, invalid: 0, unavailable: 0 });
  });
});

describe('POST /v1/registrations/bulk', () => {
  it('answers 207 with one result per item in order and the counts; bad items reject nothing else', async () => {
    const res = await post(
      {
        requests: [
          request('bulk-a'),
          request('-bulk-bad'),
          request('bulk-b'),
          request('bulk-a'),
          { tenantId: 'bulk-c' },
          request('bulk-d', { unexpected: 1 }),
          request('bulk-e'),
        ],
      },
      '/v1/registrations/bulk',
    );
    expect(res.statusCode).toBe(207);
    const { results, summary } = res.json();
    expect(results.map((r: { index: number; status: string }) => [r.index, r.status])).toEqual([
      [0, 'queued'],
      [1, 'invalid'],
      [2, 'queued'],
      [3, 'already_queued'],
      [4, 'invalid'],
      [5, 'invalid'],
      [6, 'queued'],
    ]);
    expect(results[3].jobId).toBe(results[0].jobId);
    expect(issuePaths(results[1])).toEqual(['tenantId']);
    expect(issuePaths(results[4])).toEqual(expect.arrayContaining(['fhirBaseUrl', 'clientMetadata']));
    expect(results[5].issues).toEqual([{ path: 'unexpected', message: 'is not a known field' }]);
    expect(summary).toEqual({ queued: 3, already_queued: 1, conflict: 0, invalid: 3, unavailable: 0 });
    for (const index of [0, 2, 6]) expect(await pipeline.queue.getJob(results[index].jobId)).toBeDefined();
  });

  it(`accepts exactly ${BULK_MAX_REQUESTS} requests`, async () => {
    const requests = Array.from({ length: BULK_MAX_REQUESTS }, (_, i) => ({ ...request(`-bulk-max-${i}`) }));
    const res = await post({ requests }, '/v1/registrations/bulk');
    expect(res.statusCode).toBe(207);
    expect(res.json().results).toHaveLength(BULK_MAX_REQUESTS);
    expect(res.json().summary).toEqual({
      queued: 0,
      already_queued: 0,
      conflict: 0,
      invalid: BULK_MAX_REQUESTS,
      unavailable: 0,
    });
  });

  it(`refuses more than ${BULK_MAX_REQUESTS} requests whole with 400 naming the limit`, async () => {
    const requests = Array.from({ length: BULK_MAX_REQUESTS + 1 }, (_, i) => request(`bulk-over-${i}`));
    const res = await post({ requests }, '/v1/registrations/bulk');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'invalid_request',
      issues: [{ path: 'requests', message: expect.stringContaining(String(BULK_MAX_REQUESTS)) }],
    });
    expect(await pipeline.registry.keysOfTenant('bulk-over-0')).toEqual([]);
  });

  it.each([
    ['a bare array', [{}], '(root)'],
    ['no requests field', { items: [] }, 'requests'],
    ['an empty list', { requests: [] }, 'requests'],
    ['requests that is not a list', { requests: 'all of them' }, 'requests'],
  ])('answers 400 for %s', async (_situation, payload, path) => {
    const res = await post(payload, '/v1/registrations/bulk');
    expect(res.statusCode).toBe(400);
    expect(issuePaths(res.json())).toContain(path);
  });

  it('answers 413 for a body over 16 MiB', async () => {
    const filler = 'x'.repeat(64 * 1024);
    const requests = Array.from({ length: 260 }, (_, i) => request(`bulk-big-${i}`, { note: filler }));
    const res = await post({ requests }, '/v1/registrations/bulk');
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toContain(String(16 * 1024 * 1024));
  });
});

describe('GET /v1/registrations/:tenantId', () => {
  it('answers 404 not_found for a tenant and server never requested', async () => {
    const res = await call(app, {
      method: 'GET',
      url: `/v1/registrations/nobody?fhirBaseUrl=${encodeURIComponent('https://ehr.example/fhir')}`,
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found' });
  });

  it('reports a waiting job as queued, under any spelling of the base URL', async () => {
    const { jobId } = (await post(request('status-q'))).json();
    for (const spelling of ['https://ehr.example/fhir/status-q', 'https://EHR.example/fhir/status-q/']) {
      const res = await call(app, {
        method: 'GET',
        url: `/v1/registrations/status-q?fhirBaseUrl=${encodeURIComponent(spelling)}`,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        tenantId: 'status-q',
        fhirBaseUrl: 'https://ehr.example/fhir/status-q',
        state: 'queued',
        attempts: 0,
        jobId,
        updatedAt: expect.any(String),
      });
    }
  });

  it('lists every server of a tenant without fhirBaseUrl, and an empty list for an unknown tenant', async () => {
    await post(request('status-list', { fhirBaseUrl: 'https://one.example/fhir' }));
    await post(request('status-list', { fhirBaseUrl: 'https://two.example/fhir' }));
    const res = await call(app, { method: 'GET', url: '/v1/registrations/status-list' });
    expect(res.statusCode).toBe(200);
    const servers = res.json().registrations.map((r: { fhirBaseUrl: string }) => r.fhirBaseUrl);
    expect(servers.sort()).toEqual(['https://one.example/fhir', 'https://two.example/fhir']);
    const none = await call(app, { method: 'GET', url: '/v1/registrations/status-nobody' });
    expect(none.json()).toEqual({ registrations: [] });
  });

  it.each([
    ['tenantId', '/v1/registrations/-bad-tenant'],
    ['tenantId', `/v1/registrations/${'x'.repeat(65)}`],
    ['fhirBaseUrl', '/v1/registrations/acme?fhirBaseUrl=not-a-url'],
    ['fhirBaseUrl', '/v1/registrations/acme?fhirBaseUrl=ftp%3A%2F%2Fehr.example'],
    [
      'fhirBaseUrl',
      '/v1/registrations/acme?fhirBaseUrl=https%3A%2F%2Fa.example&fhirBaseUrl=https%3A%2F%2Fb.example',
    ],
  ])('answers 400 naming %s for %s', async (path, url) => {
    const res = await call(app, { method: 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
    expect(issuePaths(res.json())).toEqual([path]);
  });
});
