// SERVER_HEADERS through the real pipeline: the worker's requests to the configured host — SMART
// discovery (well-known and CapabilityStatement), the registration POST and the RFC 7592 update of a
// rotation — carry its headers; requests to any other host do not, even within the same job; and the
// header's value appears in no line the worker logs at debug.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata } from '../../../src/dcr/index.js';
import type { RunningWorker } from '../../../workers/registration-worker.js';
import { smartCapabilityStatement } from '../../fixtures/capability-statement.js';
import { type RecordedRequest, type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from './harness.js';

// Unique to this run, so finding it in a log line means it leaked from here.
const EPIC_CLIENT_ID = `parent-app-${randomUUID()}`;

let pipeline: Pipeline;
/** The host SERVER_HEADERS names (an Epic stand-in); another port is another host. */
let epic: StubServer;
let other: StubServer;
let worker: RunningWorker;

/** A server with a well-known document at /fhir and only a CapabilityStatement at /fhir-r4. */
function serveSmart(stub: StubServer, registrationEndpoint: string): void {
  stub.on('GET', '/fhir/.well-known/smart-configuration', {
    json: {
      token_endpoint: stub.url('/token'),
      registration_endpoint: registrationEndpoint,
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
    },
  });
  stub.on('GET', '/fhir-r4/.well-known/smart-configuration', { status: 404, json: { error: 'not found' } });
  stub.on('GET', '/fhir-r4/metadata', {
    json: smartCapabilityStatement({ token: stub.url('/token'), register: registrationEndpoint }),
  });
}

/** Tenants whose RFC 7592 update keeps the secret, so the rotation registers a successor and deletes the old client. */
const UPDATE_KEEPS_SECRET = new Set(['replaced']);

/**
 * Registers every POST to /reg under its client_name (`c-{name}`, then `c-{name}-2`, ...), with RFC 7592
 * management at /reg/{client_id}.
 */
function serveRegistrations(stub: StubServer): void {
  const calls = new Map<string, number>();
  stub.on('POST', '/reg', (request: RecordedRequest) => {
    const name = String((request.json as Record<string, unknown>).client_name);
    const n = (calls.get(name) ?? 0) + 1;
    calls.set(name, n);
    const clientId = n === 1 ? `c-${name}` : `c-${name}-${n}`;
    const secret = `secret-of-${clientId}`;
    stub.on('PUT', `/reg/${clientId}`, (update: RecordedRequest) => ({
      json: {
        ...(update.json as Record<string, unknown>),
        client_secret: UPDATE_KEEPS_SECRET.has(name) ? secret : `rotated-${secret}`,
        client_secret_expires_at: 0,
      },
    }));
    stub.on('DELETE', `/reg/${clientId}`, { status: 204 });
    return {
      status: 201,
      json: {
        ...(request.json as Record<string, unknown>),
        client_id: clientId,
        client_secret: secret,
        client_secret_expires_at: 0,
        registration_access_token: `token-of-${clientId}`,
        registration_client_uri: stub.url(`/reg/${clientId}`),
      },
    };
  });
}

beforeAll(async () => {
  [epic, other] = await Promise.all([startStubServer(), startStubServer()]);
  serveSmart(epic, epic.url('/reg'));
  serveSmart(other, other.url('/reg'));
  // A FHIR server on one host whose registration endpoint is on the configured one.
  other.on('GET', '/split/.well-known/smart-configuration', {
    json: {
      token_endpoint: other.url('/token'),
      registration_endpoint: epic.url('/reg'),
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
    },
  });
  serveRegistrations(epic);
  serveRegistrations(other);
  pipeline = await startPipeline('server-headers', {
    // The replaced client of a successor rotation is deleted this soon after.
    ROTATION_GRACE: '1s',
    // Upper case and the host as a URL names it: matched as SERVER_LIMITS keys are.
    SERVER_HEADERS: JSON.stringify({
      [new URL(epic.baseUrl).host.toUpperCase()]: { 'Epic-Client-ID': EPIC_CLIENT_ID },
    }),
  });
  worker = await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline?.close();
  await Promise.all([epic?.close(), other?.close()]);
});

async function registerAndRotate(
  tenant: string,
  fhirBaseUrl: string,
  rotatedBy: 'update' | 'new_registration' = 'update',
): Promise<Record<string, unknown>> {
  const registered = await pipeline.producer.enqueue({
    tenantId: tenant,
    fhirBaseUrl,
    clientMetadata: confidentialSymmetricMetadata({
      clientName: tenant,
      redirectUris: ['https://app.example/callback'],
    }),
  });
  const job = await pipeline.waitForJob((registered as { jobId: string }).jobId);
  expect(job, job.failedReason).toMatchObject({ state: 'completed' });
  const rotation = await pipeline.producer.enqueueRotation({ tenantId: tenant, fhirBaseUrl });
  const rotated = await pipeline.waitForJob((rotation as { jobId: string }).jobId);
  expect(rotated, rotated.failedReason).toMatchObject({
    state: 'completed',
    returnvalue: expect.objectContaining({ rotatedBy }),
  });
  return rotated.returnvalue ?? {};
}

const line = (r: RecordedRequest) => `${r.method} ${r.path}`;
const epicClientIdOf = (r: RecordedRequest) => r.headers['epic-client-id'];

describe('SERVER_HEADERS', () => {
  it('sends the header on discovery, registration and the RFC 7592 update to the configured host', async () => {
    await registerAndRotate('wellknown', epic.url('/fhir'));
    await registerAndRotate('capability', epic.url('/fhir-r4'));

    expect(epic.requests.map(line)).toEqual(
      expect.arrayContaining([
        'GET /fhir/.well-known/smart-configuration',
        'POST /reg',
        'PUT /reg/c-wellknown',
        'GET /fhir-r4/.well-known/smart-configuration',
        'GET /fhir-r4/metadata',
        'PUT /reg/c-capability',
      ]),
    );
    for (const request of epic.requests) {
      expect(epicClientIdOf(request), line(request)).toBe(EPIC_CLIENT_ID);
    }
  });

  it('sends it on the RFC 7592 DELETE of a client replaced by a rotation', async () => {
    const rotated = await registerAndRotate('replaced', epic.url('/fhir'), 'new_registration');
    const deletion = await pipeline.waitForJob((rotated as { deletion: { jobId: string } }).deletion.jobId);
    expect(deletion, deletion.failedReason).toMatchObject({ state: 'completed' });
    expect(epic.requestsTo('DELETE', '/reg/c-replaced').map(epicClientIdOf)).toEqual([EPIC_CLIENT_ID]);
    for (const request of epic.requests) {
      expect(epicClientIdOf(request), line(request)).toBe(EPIC_CLIENT_ID);
    }
  });

  it('sends it to no other host', async () => {
    await registerAndRotate('elsewhere', other.url('/fhir'));
    await registerAndRotate('elsewhere-r4', other.url('/fhir-r4'));

    expect(other.requests.map(line)).toEqual(
      expect.arrayContaining([
        'GET /fhir/.well-known/smart-configuration',
        'POST /reg',
        'PUT /reg/c-elsewhere',
        'GET /fhir-r4/metadata',
        'PUT /reg/c-elsewhere-r4',
      ]),
    );
    for (const request of other.requests) {
      expect(epicClientIdOf(request), line(request)).toBeUndefined();
    }
  });

  it('decides per request: discovery on another host without it, the registration on the configured host with it', async () => {
    await registerAndRotate('split', other.url('/split'));
    const discovery = other.requestsTo('GET', '/split/.well-known/smart-configuration');
    expect(discovery.length).toBeGreaterThan(0);
    expect(discovery.map(epicClientIdOf)).toEqual(discovery.map(() => undefined));
    const posts = epic
      .requestsTo('POST', '/reg')
      .filter((r) => (r.json as Record<string, unknown>).client_name === 'split');
    expect(posts.map(epicClientIdOf)).toEqual([EPIC_CLIENT_ID]);
    expect(epic.requestsTo('PUT', '/reg/c-split').map(epicClientIdOf)).toEqual([EPIC_CLIENT_ID]);
  });

  it('never logs the header value, at the debug level the harness logs at', () => {
    const lines = pipeline.logLines();
    expect((worker.logger as unknown as { level: string }).level).toBe('debug');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).not.toContain(EPIC_CLIENT_ID);
  });
});
