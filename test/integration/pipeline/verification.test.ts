// Verification of stored client-secret credentials (issue 14 point 4, DESIGN.md request field `verify`):
// producer -> Redis -> worker -> oidc-provider or the fault stub -> moto -> event stream, with the
// token request made after the one secret write, retried without re-registering, and its token
// appearing nowhere.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata } from '../../../src/dcr/index.js';
import { createMetrics } from '../../../src/observability/index.js';
import { registrationStatus } from '../../../src/queue/index.js';
import { registrationKey } from '../../../src/queue/registration-key.js';
import type { SecretStore } from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { type Pipeline, startPipeline } from './harness.js';

let pipeline: Pipeline;
let smart: SmartServer;
let stub: StubServer;
/** Secret writes per secret name, through the worker's store. */
const writes = new Map<string, number>();
const metrics = createMetrics();
// Every access token the stub handed out: none may appear anywhere the service writes.
const tokensIssued: string[] = [];
const jobIds: string[] = [];

function countingStore(store: SecretStore): SecretStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'write') {
        return (write: Parameters<SecretStore['write']>[0]) => {
          writes.set(write.name, (writes.get(write.name) ?? 0) + 1);
          return target.write(write);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

beforeAll(async () => {
  [pipeline, smart, stub] = await Promise.all([
    startPipeline('verification', { JOB_ATTEMPTS: '8' }),
    startSmartServer(),
    startStubServer(),
  ]);
  // oidc-provider's opaque client_credentials tokens are their jti.
  smart.provider.on('client_credentials.saved', (token) => {
    tokensIssued.push((token as { jti: string }).jti);
  });
  await pipeline.startWorker({ secretStore: countingStore(pipeline.secretStore), metrics });
});
afterAll(async () => {
  await pipeline.close();
  await Promise.all([smart.close(), stub.close()]);
});

const backendSecretClient = (name: string, method = 'client_secret_basic') => ({
  client_name: name,
  grant_types: ['client_credentials'],
  response_types: [],
  token_endpoint_auth_method: method,
  scope: 'system/Patient.rs',
});

/** A stub FHIR server with SMART discovery and a registration endpoint that issues a client secret. */
function stubServerAt(path: string, token: (calls: number) => { status: number; json: unknown }): string {
  const base = stub.url(path);
  stub.on('GET', `${path}/.well-known/smart-configuration`, {
    json: {
      issuer: stub.baseUrl,
      authorization_endpoint: stub.url(`${path}/authorize`),
      token_endpoint: stub.url(`${path}/token`),
      registration_endpoint: stub.url(`${path}/register`),
      capabilities: ['client-confidential-symmetric'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['client_credentials'],
    },
  });
  stub.on('POST', `${path}/register`, (request, calls) => ({
    status: 201,
    json: {
      ...(request.json as object),
      client_id: `client-${path.slice(1)}-${calls}`,
      client_secret: `s-${randomUUID()}`,
    },
  }));
  stub.on('POST', `${path}/token`, (_request, calls) => token(calls));
  return base;
}

const granted = () => {
  const accessToken = `at-${randomUUID()}`;
  tokensIssued.push(accessToken);
  return { status: 200, json: { access_token: accessToken, token_type: 'bearer', expires_in: 300 } };
};
const refused = (error: string, status = 400) => ({ status, json: { error, error_description: 'not yet' } });

async function enqueue(request: Record<string, unknown>): Promise<string> {
  const result = await pipeline.producer.enqueue(request as never);
  expect(result, JSON.stringify(result)).toMatchObject({ status: 'queued' });
  const { jobId } = result as { jobId: string };
  jobIds.push(jobId);
  return jobId;
}

async function eventOf(jobId: string) {
  return (await pipeline.events()).find((e) => e.data.jobId === jobId);
}

describe('verification of client-secret credentials', () => {
  it('a client_secret_basic client_credentials client at oidc-provider ends verified in registry, status and event', async () => {
    const jobId = await enqueue({
      tenantId: 'verified-basic',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: backendSecretClient('Verified basic'),
    });
    const job = await pipeline.waitForJob(jobId);
    expect(job.state).toBe('completed');
    expect(job.attemptsMade).toBe(1);
    expect(job.returnvalue).toMatchObject({ verified: true, verifiedAt: expect.any(String) });
    expect(job.returnvalue).not.toHaveProperty('verificationError');

    const record = await pipeline.registry.get(registrationKey('verified-basic', smart.fhirBaseUrl));
    expect(record).toMatchObject({ verified: true, verifiedAt: job.returnvalue?.verifiedAt });
    const status = await registrationStatus(pipeline, 'verified-basic', smart.fhirBaseUrl);
    expect(status).toMatchObject({ state: 'completed', verified: true, verifiedAt: expect.any(String) });
    expect((await eventOf(jobId))?.data).toMatchObject({ verified: true, verifiedAt: expect.any(String) });
    expect(smart.stats.registrationPosts).toBeGreaterThanOrEqual(1);
    // The token oidc-provider issued is one the final scan looks for.
    expect(tokensIssued).toHaveLength(1);
  });

  it('a client_secret_post client is verified with its credentials in the form body', async () => {
    const base = stubServerAt('/post', (calls) => (calls === 0 ? granted() : refused('invalid_client', 401)));
    const jobId = await enqueue({
      tenantId: 'verified-post',
      fhirBaseUrl: base,
      clientMetadata: backendSecretClient('Verified post', 'client_secret_post'),
    });
    const job = await pipeline.waitForJob(jobId);
    expect(job.returnvalue).toMatchObject({ verified: true });
    const [token] = stub.requestsTo('POST', '/post/token');
    expect(token?.headers.authorization).toBeUndefined();
    const form = new URLSearchParams(token?.body);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('scope')).toBe('system/Patient.rs');
    expect(form.get('client_id')).toBe(job.returnvalue?.clientId);
    expect(form.get('client_secret')).toMatch(/^s-/);
    expect(token?.headers['content-type']).toContain('application/x-www-form-urlencoded');
  });

  it('a token endpoint refusing the first 2 requests: retried, then verified, with one POST and one secret write', async () => {
    const base = stubServerAt('/late', (calls) => (calls < 2 ? refused('invalid_grant') : granted()));
    const jobId = await enqueue({
      tenantId: 'verified-late',
      fhirBaseUrl: base,
      clientMetadata: backendSecretClient('Verified late'),
    });
    const job = await pipeline.waitForJob(jobId);
    expect(job.state).toBe('completed');
    expect(job.attemptsMade).toBe(3);
    expect(job.returnvalue).toMatchObject({ verified: true });
    expect(stub.requestsTo('POST', '/late/register')).toHaveLength(1);
    expect(stub.requestsTo('POST', '/late/token')).toHaveLength(3);
    const secretId = job.returnvalue?.secretId as string;
    expect(writes.get(secretId)).toBe(1);
    // RFC 6749 §2.3.1: HTTP Basic over the form-urlencoded client id and secret.
    const basic = String(stub.requestsTo('POST', '/late/token')[0]?.headers.authorization);
    const [id] = Buffer.from(basic.replace(/^Basic /, ''), 'base64')
      .toString('utf8')
      .split(':');
    expect(id).toBe(job.returnvalue?.clientId);
    expect((await eventOf(jobId))?.data).toMatchObject({ verified: true });
  });

  it('a token endpoint that always refuses: completed unverified with the code, one live client stored, a warning', async () => {
    const base = stubServerAt('/never', () => refused('invalid_client', 401));
    const jobId = await enqueue({
      tenantId: 'unverified',
      fhirBaseUrl: base,
      clientMetadata: backendSecretClient('Never verified'),
    });
    const job = await pipeline.waitForJob(jobId);
    expect(job.state).toBe('completed');
    expect(job.attemptsMade).toBe(4);
    expect(job.returnvalue).toMatchObject({ verified: false, verificationError: 'invalid_client' });
    expect(stub.requestsTo('POST', '/never/register')).toHaveLength(1);
    expect(stub.requestsTo('POST', '/never/token')).toHaveLength(4);
    const secretId = job.returnvalue?.secretId as string;
    expect(writes.get(secretId)).toBe(1);
    const stored = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(stored.client_id).toBe(job.returnvalue?.clientId);
    expect(stored).not.toHaveProperty('verified');

    const status = await registrationStatus(pipeline, 'unverified', base);
    expect(status).toMatchObject({
      state: 'completed',
      clientId: job.returnvalue?.clientId,
      verified: false,
      verificationError: 'invalid_client',
    });
    expect((await eventOf(jobId))?.data).toMatchObject({
      verified: false,
      verificationError: 'invalid_client',
    });
    const warning = pipeline
      .logLines()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find(
        (line) => line.jobId === jobId && line.verificationError === 'invalid_client' && line.level === 40,
      );
    expect(warning?.msg).toContain('verified: false');
    const counted = (await metrics.registry.getSingleMetric('dcr_registrations_unverified_total')?.get())
      ?.values;
    expect(
      counted?.find((v) => v.labels.code === 'invalid_client' && v.labels.job === 'registration')?.value,
    ).toBe(1);
  });

  it('verify: false sends no token request', async () => {
    const base = stubServerAt('/skip', () => granted());
    const jobId = await enqueue({
      tenantId: 'not-verified',
      fhirBaseUrl: base,
      clientMetadata: backendSecretClient('Not verified'),
      verify: false,
    });
    const job = await pipeline.waitForJob(jobId);
    expect(job.state).toBe('completed');
    expect(job.returnvalue).not.toHaveProperty('verified');
    expect(stub.requestsTo('POST', '/skip/token')).toHaveLength(0);
    expect((await eventOf(jobId))?.data).not.toHaveProperty('verified');
  });

  it('an authorization_code client is not verified by default, and verify: true for it is refused', async () => {
    const metadata = confidentialSymmetricMetadata({
      clientName: 'Portal',
      redirectUris: ['https://app.example/cb'],
    });
    const refusedRequest = await pipeline.producer.enqueue({
      tenantId: 'portal',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: metadata,
      verify: true,
    });
    expect(refusedRequest).toMatchObject({
      status: 'invalid',
      issues: [{ path: 'verify', message: expect.stringContaining('client_credentials') }],
    });
  });

  it('rotated credentials are verified like the registration was (retried once here); a verify: false one stays unchecked', async () => {
    const base = stubServerAt('/rot', (calls) => (calls === 1 ? refused('invalid_grant') : granted()));
    const registered = await pipeline.waitForJob(
      await enqueue({ tenantId: 'rot', fhirBaseUrl: base, clientMetadata: backendSecretClient('Rotated') }),
    );
    expect(registered.returnvalue).toMatchObject({ verified: true });
    const rotation = await pipeline.producer.enqueueRotation({ tenantId: 'rot', fhirBaseUrl: base });
    const { jobId } = rotation as { jobId: string };
    jobIds.push(jobId);
    const rotated = await pipeline.waitForJob(jobId);
    expect(rotated.state).toBe('completed');
    expect(rotated.attemptsMade).toBe(2);
    expect(rotated.returnvalue).toMatchObject({ rotatedBy: 'new_registration', verified: true });
    expect(stub.requestsTo('POST', '/rot/register')).toHaveLength(2);
    expect(stub.requestsTo('POST', '/rot/token')).toHaveLength(3);
    expect(writes.get(rotated.returnvalue?.secretId as string)).toBe(2);
    const event = (await pipeline.events()).find(
      (e) => e.type === 'client.rotated' && e.data.jobId === jobId,
    );
    expect(event?.data).toMatchObject({ verified: true, verifiedAt: expect.any(String) });

    const quiet = stubServerAt('/rot-quiet', () => granted());
    await pipeline.waitForJob(
      await enqueue({
        tenantId: 'rot-quiet',
        fhirBaseUrl: quiet,
        clientMetadata: backendSecretClient('Quiet'),
        verify: false,
      }),
    );
    const quietRotation = (await pipeline.producer.enqueueRotation({
      tenantId: 'rot-quiet',
      fhirBaseUrl: quiet,
    })) as {
      jobId: string;
    };
    const quietRotated = await pipeline.waitForJob(quietRotation.jobId);
    expect(quietRotated.state).toBe('completed');
    expect(quietRotated.returnvalue).not.toHaveProperty('verified');
    expect(stub.requestsTo('POST', '/rot-quiet/token')).toHaveLength(0);
  });

  it('no access token in the logs (at debug), Redis, events or job return values', async () => {
    expect(tokensIssued.length).toBeGreaterThan(0);
    const haystacks = [
      pipeline.logLines().join('\n'),
      await pipeline.dumpRedis(),
      JSON.stringify(await pipeline.events()),
      JSON.stringify(await Promise.all(jobIds.map((id) => pipeline.waitForJob(id)))),
    ];
    for (const token of tokensIssued) {
      for (const haystack of haystacks) expect(haystack).not.toContain(token);
    }
  });
});
