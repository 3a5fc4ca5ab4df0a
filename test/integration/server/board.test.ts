// Bull Board as SREs reach it: what it shows of a job (secrets redacted wherever they could hide) and
// what it lets them do (nothing that writes, with BOARD_READ_ONLY).

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { REDACTED, redactSecrets } from '../../../src/server/index.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../pipeline/harness.js';
import { basic, serverFor, TEST_TOKEN } from './server-harness.js';

describe('redactSecrets', () => {
  it.each([
    ['a client secret', { client_secret: 's1' }, { client_secret: REDACTED }],
    [
      'tokens of every spelling',
      { access_token: 'a', registrationAccessToken: 'b', apiToken: 'c' },
      {
        access_token: REDACTED,
        registrationAccessToken: REDACTED,
        apiToken: REDACTED,
      },
    ],
    [
      'passwords and authorization headers',
      { headers: { Authorization: 'Bearer x' }, password: 'p' },
      {
        headers: { Authorization: REDACTED },
        password: REDACTED,
      },
    ],
    [
      'an initial access token by value, keeping the reference',
      {
        initialAccessToken: { value: 'iat', secretId: 'dcr/acme/iat' },
      },
      { initialAccessToken: { value: REDACTED, secretId: 'dcr/acme/iat' } },
    ],
    [
      'everything beneath a secret key, arrays included',
      { credentials: [{ kid: 'k', d: 'private' }], n: 1 },
      {
        credentials: [{ kid: REDACTED, d: REDACTED }],
        n: 1,
      },
    ],
    [
      'nothing of the known non-secret fields',
      {
        secretId: 'dcr/acme/ehr',
        secretVersionId: 'v1',
        clientSecretExpiresAt: 0,
        clientMetadata: { token_endpoint_auth_method: 'private_key_jwt', client_secret_expires_at: 0 },
        tokenEndpoint: 'https://ehr.example/token',
      },
      {
        secretId: 'dcr/acme/ehr',
        secretVersionId: 'v1',
        clientSecretExpiresAt: 0,
        clientMetadata: { token_endpoint_auth_method: 'private_key_jwt', client_secret_expires_at: 0 },
        tokenEndpoint: 'https://ehr.example/token',
      },
    ],
    [
      'a known field name that holds an object under a secret key',
      { token: { secretId: { value: 'x' } } },
      {
        token: { secretId: { value: REDACTED } },
      },
    ],
    [
      'plain values and nulls untouched',
      { tenantId: 'acme', attempts: 2, client_secret: null, list: ['a'] },
      {
        tenantId: 'acme',
        attempts: 2,
        client_secret: null,
        list: ['a'],
      },
    ],
  ])('hides %s', (_what, input, expected) => {
    expect(redactSecrets(input)).toEqual(expected);
  });

  it('leaves its input alone and survives cycles', () => {
    const input: Record<string, unknown> = { password: 'p' };
    input.self = input;
    const output = redactSecrets(input) as Record<string, unknown>;
    expect(input.password).toBe('p');
    expect(output).toEqual({ password: REDACTED, self: '[circular]' });
  });
});

describe('the board', () => {
  let pipeline: Pipeline;
  let app: FastifyInstance;
  let readOnly: FastifyInstance;
  let jobId: string;
  const planted = {
    clientSecret: 'planted-client-secret-4b1d',
    iat: 'planted-iat-value-93ce',
    schedulerToken: 'planted-scheduler-token-11fe',
    returned: 'planted-returned-rat-5c2e',
  };

  beforeAll(async () => {
    pipeline = await startPipeline('server-board', { API_TOKEN: TEST_TOKEN });
    app = await serverFor(pipeline);
    readOnly = await serverFor(pipeline, {
      config: loadConfig(pipelineEnv('server-board', { API_TOKEN: TEST_TOKEN, BOARD_READ_ONLY: 'true' })),
    });
    // Jobs never hold secrets by design; these are planted to prove the board would hide them anyway.
    const job = await pipeline.queue.add(
      'register-client',
      {
        tenantId: 'board-planted',
        fhirBaseUrl: 'https://ehr.example/fhir',
        initialAccessToken: { value: planted.iat },
        clientMetadata: { client_name: 'Planted', client_secret: planted.clientSecret },
      },
      { jobId: 'board-planted-job', delay: 3_600_000 },
    );
    jobId = job.id as string;
    await pipeline.queue.upsertJobScheduler(
      'board-planted-scheduler',
      { every: 3_600_000 },
      { name: 'rotate', data: { tenantId: 'board-planted', apiToken: planted.schedulerToken } },
    );
  });
  afterAll(async () => {
    await app.close();
    await readOnly.close();
    await pipeline.close();
  });

  const board = (
    server: FastifyInstance,
    method: 'GET' | 'PUT' | 'POST' | 'PATCH',
    url: string,
    payload?: object,
  ) =>
    server.inject({ method, url: `/admin/queues${url}`, headers: basic(), ...(payload ? { payload } : {}) });

  it('redacts secrets in job data in the list and the job view, keeping the rest readable', async () => {
    const list = await board(app, 'GET', '/api/queues?activeQueue=registrations&status=delayed');
    const detail = await board(app, 'GET', `/api/queues/registrations/${jobId}`);
    for (const res of [list, detail]) {
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(planted.iat);
      expect(res.body).not.toContain(planted.clientSecret);
    }
    const job = detail.json().job;
    expect(job.data).toEqual({
      tenantId: 'board-planted',
      fhirBaseUrl: 'https://ehr.example/fhir',
      initialAccessToken: { value: REDACTED },
      clientMetadata: { client_name: 'Planted', client_secret: REDACTED },
    });
  });

  it('redacts secrets in return values', async () => {
    const job = await pipeline.queue.getJob(jobId);
    // As a worker would store it, if one ever returned a secret by mistake.
    await pipeline.redis.hset(
      `${pipeline.config.QUEUE_PREFIX}:registrations:${jobId}`,
      'returnvalue',
      JSON.stringify({ clientId: 'c1', registration_access_token: planted.returned, secretId: 'dcr/x' }),
    );
    expect(job).toBeDefined();
    const detail = await board(app, 'GET', `/api/queues/registrations/${jobId}`);
    expect(detail.body).not.toContain(planted.returned);
    expect(detail.json().job.returnValue).toEqual({
      clientId: 'c1',
      registration_access_token: REDACTED,
      secretId: 'dcr/x',
    });
  });

  it('redacts what formatters do not reach: job scheduler templates', async () => {
    const detail = await board(app, 'GET', `/api/queues/registrations/${jobId}`);
    expect(detail.json().job.opts.delay).toBe(3_600_000);
    const schedulers = await board(app, 'GET', '/api/job-schedulers');
    expect(schedulers.statusCode).toBe(200);
    expect(schedulers.body).toContain('board-planted-scheduler');
    expect(schedulers.body).not.toContain(planted.schedulerToken);
    const everything = [detail.body, schedulers.body].join('\n');
    for (const value of Object.values(planted)) expect(everything).not.toContain(value);
  });

  it('in read-only mode refuses every write with 405 and leaves the queue as it was', async () => {
    const writes = [
      ['PUT', '/api/queues/registrations/pause'],
      ['PUT', '/api/queues/pause'],
      ['PUT', '/api/queues/registrations/retry/failed'],
      ['PUT', '/api/queues/registrations/clean/delayed'],
      ['PUT', '/api/queues/registrations/empty'],
      ['PUT', `/api/queues/registrations/${jobId}/promote`],
      ['PUT', `/api/queues/registrations/${jobId}/clean`],
      ['PUT', `/api/queues/registrations/${jobId}/retry`],
      ['PATCH', `/api/queues/registrations/${jobId}/update-data`, { jobData: { tenantId: 'x' } }],
      ['POST', '/api/queues/registrations/add', { name: 'register-client', data: {}, options: {} }],
      ['PUT', '/api/queues/registrations/job-schedulers/board-planted-scheduler/remove'],
    ] as const;
    for (const [method, url, payload] of writes) {
      const res = await board(readOnly, method, url, payload);
      if (url === '/api/queues/pause')
        expect(res.statusCode, url).toBe(200); // skips read-only queues
      else expect(res.statusCode, `${method} ${url}`).toBe(405);
    }
    expect(await pipeline.queue.isPaused()).toBe(false);
    expect(await pipeline.queue.getJobState(jobId)).toBe('delayed');
    expect((await pipeline.queue.getJob(jobId))?.data.tenantId).toBe('board-planted');
    expect(await pipeline.queue.getJobScheduler('board-planted-scheduler')).toBeDefined();
    expect(await pipeline.queue.count()).toBeGreaterThanOrEqual(1);

    const list = await board(readOnly, 'GET', '/api/queues');
    expect(list.statusCode).toBe(200);
    expect(list.json().queues[0]).toMatchObject({
      name: 'registrations',
      readOnlyMode: true,
      allowRetries: false,
    });
  });

  it('without read-only mode lets an SRE pause and resume the queue', async () => {
    expect((await board(app, 'PUT', '/api/queues/registrations/pause')).statusCode).toBe(200);
    expect(await pipeline.queue.isPaused()).toBe(true);
    expect((await board(app, 'PUT', '/api/queues/registrations/resume')).statusCode).toBe(200);
    expect(await pipeline.queue.isPaused()).toBe(false);
  });
});
