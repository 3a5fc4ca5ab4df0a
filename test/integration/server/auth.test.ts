// Who gets in: the API wants the bearer token, the board the token as bearer or as basic-auth password;
// probes need nothing; without API_TOKEN (loopback only) everything is open.

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { basicPassword, bearerCredential, tokenMatches } from '../../../src/server/index.js';
import { type Pipeline, pipelineEnv, startPipeline } from '../pipeline/harness.js';
import { basic, bearer, serverFor, TEST_TOKEN, testMetrics } from './server-harness.js';

let pipeline: Pipeline;
let app: FastifyInstance;
let openApp: FastifyInstance;
beforeAll(async () => {
  pipeline = await startPipeline('server-auth', { API_TOKEN: TEST_TOKEN });
  app = await serverFor(pipeline, { metrics: testMetrics() });
  // The same pipeline without a token, as on a loopback HTTP_HOST.
  openApp = await serverFor(pipeline, { config: loadConfig(pipelineEnv('server-auth')) });
});
afterAll(async () => {
  await app.close();
  await openApp.close();
  await pipeline.close();
});

const apiRoutes = [
  { method: 'POST', url: '/v1/registrations', payload: {} },
  { method: 'POST', url: '/v1/registrations/bulk', payload: { requests: [{}] } },
  { method: 'GET', url: '/v1/registrations/acme' },
  { method: 'GET', url: '/v1/registrations/acme?fhirBaseUrl=https%3A%2F%2Fehr.example%2Ffhir' },
  { method: 'GET', url: '/v1/no-such-route' },
] as const;

const boardRoutes = [
  '/admin/queues',
  '/admin/queues/',
  '/admin/queues/queue/registrations',
  '/admin/queues/api/queues',
  '/admin/queues/api/queues/registrations/some-job',
  '/admin/queues/static/favicon-32x32.png',
  '/admin/queues/no-such-page/at/all',
];

describe('server/auth on the API', () => {
  it.each(apiRoutes)('$method $url without a token answers 401 with a Bearer challenge', async (route) => {
    const res = await app.inject(route);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'unauthorized' });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
  });

  it.each(apiRoutes)('$method $url with a wrong token answers 401', async (route) => {
    for (const token of ['wrong-token-0123456789abcdef', `${TEST_TOKEN}x`, TEST_TOKEN.slice(0, -1), '']) {
      const res = await app.inject({ ...route, headers: { authorization: `Bearer ${token}` } });
      expect(res.statusCode, `token ${JSON.stringify(token)}`).toBe(401);
    }
    const lowerCase = await app.inject({ ...route, headers: bearer(TEST_TOKEN.toUpperCase()) });
    expect(lowerCase.statusCode).toBe(401);
  });

  it.each(apiRoutes)('$method $url refuses basic auth even with the right password', async (route) => {
    const res = await app.inject({ ...route, headers: basic() });
    expect(res.statusCode).toBe(401);
  });

  it.each(apiRoutes)('$method $url with the right token gets past authentication', async (route) => {
    const res = await app.inject({ ...route, headers: bearer() });
    expect(res.statusCode).not.toBe(401);
    expect(res.headers['www-authenticate']).toBeUndefined();
  });

  it('accepts the scheme name in any case, as HTTP allows', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/registrations/acme',
      headers: { authorization: `bearer ${TEST_TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('server/auth on the board', () => {
  it.each(boardRoutes)('%s without credentials answers 401 with a Basic challenge', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'unauthorized' });
    expect(res.headers['www-authenticate']).toBe('Basic realm="dcr-provisioner", charset="UTF-8"');
  });

  it.each(boardRoutes)('%s with a wrong basic-auth password answers 401', async (url) => {
    for (const headers of [
      basic('wrong-password'),
      basic(`${TEST_TOKEN}x`),
      basic(''),
      bearer('nope-nope'),
    ]) {
      const res = await app.inject({ method: 'GET', url, headers });
      expect(res.statusCode).toBe(401);
    }
  });

  it('serves the board with basic auth (any user name, the token as password) or the bearer token', async () => {
    for (const headers of [basic(), basic(TEST_TOKEN, ''), basic(TEST_TOKEN, 'someone else'), bearer()]) {
      const page = await app.inject({ method: 'GET', url: '/admin/queues', headers });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const api = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers });
      expect(api.statusCode).toBe(200);
      expect(api.json().queues.map((q: { name: string }) => q.name)).toEqual(['registrations']);
    }
  });

  it('a password containing ":" is read whole', () => {
    const header = `Basic ${Buffer.from('user:pa:ss').toString('base64')}`;
    expect(basicPassword(header)).toBe('pa:ss');
    expect(basicPassword('Basic not base64 at all')).toBeUndefined();
    expect(bearerCredential('Bearer   abc  ')).toBe('abc');
    expect(bearerCredential('Token abc')).toBeUndefined();
  });
});

describe('server/auth elsewhere', () => {
  it.each(['/healthz', '/readyz', '/metrics'])('%s needs no credentials', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
  });

  it('compares tokens of different lengths without throwing, and only equal ones match', () => {
    expect(tokenMatches(TEST_TOKEN, TEST_TOKEN)).toBe(true);
    expect(tokenMatches('short', TEST_TOKEN)).toBe(false);
    expect(tokenMatches(`${TEST_TOKEN}${TEST_TOKEN}`, TEST_TOKEN)).toBe(false);
  });

  it('without API_TOKEN (loopback only) the API and the board are open', async () => {
    const api = await openApp.inject({ method: 'GET', url: '/v1/registrations/acme' });
    expect(api.statusCode).toBe(200);
    const board = await openApp.inject({ method: 'GET', url: '/admin/queues/api/queues' });
    expect(board.statusCode).toBe(200);
  });
});
