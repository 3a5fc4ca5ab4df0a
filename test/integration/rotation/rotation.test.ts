// Re-registration end to end: producer -> Redis -> worker -> oidc-provider (RFC 7592) -> moto -> events.
// Three real servers: one whose RFC 7592 update issues a new secret (in-place rotation), one that keeps
// the secret on update as oidc-provider does (a successor client, the old one deleted after the grace),
// and one without RFC 7592 management (a successor, the old one reported for manual clean-up).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata, readClient } from '../../../src/dcr/index.js';
import { createHttpClient } from '../../../src/http/index.js';
import { registrationKey, registrationStatus } from '../../../src/queue/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';

let pipeline: Pipeline;
let rotatesOnUpdate: SmartServer;
let keepsSecretOnUpdate: SmartServer;
let unmanaged: SmartServer;
const GRACE_S = 1;

beforeAll(async () => {
  [pipeline, rotatesOnUpdate, keepsSecretOnUpdate, unmanaged] = await Promise.all([
    startPipeline('rotation', { ROTATION_GRACE: `${GRACE_S}s` }),
    startSmartServer({ updateRotatesSecret: true, secretExpiresInSeconds: 3600 }),
    startSmartServer({ secretExpiresInSeconds: 3600 }),
    startSmartServer({ registrationManagement: false }),
  ]);
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await Promise.all([rotatesOnUpdate.close(), keepsSecretOnUpdate.close(), unmanaged.close()]);
});

const metadata = (name: string) =>
  confidentialSymmetricMetadata({ clientName: name, redirectUris: ['https://app.example/callback'] });

async function register(tenantId: string, server: SmartServer): Promise<Record<string, unknown>> {
  const result = await pipeline.producer.enqueue({
    tenantId,
    fhirBaseUrl: server.fhirBaseUrl,
    clientMetadata: metadata(tenantId),
  });
  expect(result.status).toBe('queued');
  const job = await pipeline.waitForJob((result as { jobId: string }).jobId);
  expect(job.state).toBe('completed');
  return job.returnvalue as Record<string, unknown>;
}

async function rotate(tenantId: string, server: SmartServer) {
  const result = await pipeline.producer.enqueueRotation({ tenantId, fhirBaseUrl: server.fhirBaseUrl });
  expect(result.status).toBe('queued');
  return pipeline.waitForJob((result as { jobId: string }).jobId);
}

async function storedValue(
  tenantId: string,
  server: SmartServer,
  stage: 'current' | 'previous' = 'current',
): Promise<Record<string, unknown>> {
  const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, server.fhirBaseUrl);
  const secret =
    stage === 'current'
      ? await pipeline.secretStore.readCurrent(secretId)
      : await pipeline.secretStore.readPrevious(secretId);
  return JSON.parse(secret?.value ?? '{}');
}

describe('rotation', () => {
  it('rotates in place with RFC 7592: same client id, new secret, old one kept as AWSPREVIOUS', async () => {
    const registered = await register('in-place', rotatesOnUpdate);
    const before = await storedValue('in-place', rotatesOnUpdate);

    const job = await rotate('in-place', rotatesOnUpdate);
    expect(job.state).toBe('completed');
    expect(job.returnvalue).toMatchObject({
      clientId: registered.clientId,
      previousClientId: registered.clientId,
      rotatedBy: 'update',
    });
    expect(job.returnvalue).not.toHaveProperty('deletion');

    const after = await storedValue('in-place', rotatesOnUpdate);
    expect(after.client_id).toBe(before.client_id);
    expect(after.client_secret).not.toBe(before.client_secret);
    // The server holds exactly the secret now stored; the old one is AWSPREVIOUS.
    expect(rotatesOnUpdate.stats.getClient(String(after.client_id))?.client_secret).toBe(after.client_secret);
    expect((await storedValue('in-place', rotatesOnUpdate, 'previous')).client_secret).toBe(
      before.client_secret,
    );
    expect(after.rotated_at).toEqual(expect.any(String));
    expect(after.registered_at).toBe(before.registered_at);
    expect(after.client_secret_expires_at).toBeGreaterThan(Math.floor(Date.now() / 1000));

    // The registration access token was rotated by the PUT and the new one was stored: it works.
    expect(after.registration_access_token).not.toBe(before.registration_access_token);
    const http = createHttpClient({ allowInsecureLocalhost: true });
    try {
      const read = await readClient({
        http,
        registrationClientUri: String(after.registration_client_uri),
        registrationAccessToken: String(after.registration_access_token),
      });
      expect(read.clientId).toBe(after.client_id);
    } finally {
      http.close();
    }

    const rotated = (await pipeline.events()).filter(
      (e) => e.type === 'client.rotated' && e.data.tenantId === 'in-place',
    );
    expect(rotated).toHaveLength(1);
    expect(rotated[0]?.data).toMatchObject({
      clientId: registered.clientId,
      previousClientId: registered.clientId,
      rotatedBy: 'update',
      reason: 'manual',
      secretVersionId: job.returnvalue?.secretVersionId,
    });
    expect(rotated[0]?.data).not.toHaveProperty('deleteAfter');

    const record = await pipeline.registry.get(registrationKey('in-place', rotatesOnUpdate.fhirBaseUrl));
    expect(record).toMatchObject({
      clientId: registered.clientId,
      managed: true,
      rotatedAt: after.rotated_at,
    });
    expect(await registrationStatus(pipeline, 'in-place', rotatesOnUpdate.fhirBaseUrl)).toMatchObject({
      state: 'completed',
      clientId: registered.clientId,
      rotatedAt: after.rotated_at,
    });
  });

  it('registers a successor when the update keeps the secret, and deletes the old client after the grace', async () => {
    const registered = await register('successor', keepsSecretOnUpdate);
    const oldClientId = String(registered.clientId);

    const job = await rotate('successor', keepsSecretOnUpdate);
    expect(job.state).toBe('completed');
    const outcome = job.returnvalue as Record<string, unknown> & {
      deletion: { jobId: string; after: string };
    };
    expect(outcome).toMatchObject({ previousClientId: oldClientId, rotatedBy: 'new_registration' });
    expect(outcome.clientId).not.toBe(oldClientId);
    // During the grace both clients work: the consumers switch over to the new one.
    expect(keepsSecretOnUpdate.stats.getClient(oldClientId)).toBeDefined();
    expect(keepsSecretOnUpdate.stats.getClient(String(outcome.clientId))).toBeDefined();

    const current = await storedValue('successor', keepsSecretOnUpdate);
    const previous = await storedValue('successor', keepsSecretOnUpdate, 'previous');
    expect(current.client_id).toBe(outcome.clientId);
    expect(previous.client_id).toBe(oldClientId);
    expect(current.registered_at).toBe(current.rotated_at);

    const deletion = await pipeline.waitForJob(outcome.deletion.jobId, 15_000);
    expect(deletion.state).toBe('completed');
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(outcome.deletion.after));
    // Exactly one live client for the tenant: the successor.
    expect(keepsSecretOnUpdate.stats.getClient(oldClientId)).toBeUndefined();
    expect(keepsSecretOnUpdate.stats.getClient(String(outcome.clientId))).toBeDefined();

    const events = (await pipeline.events()).filter((e) => e.data.tenantId === 'successor');
    expect(events.map((e) => e.type)).toEqual(['client.registered', 'client.rotated', 'client.deleted']);
    expect(events[1]?.data).toMatchObject({
      clientId: outcome.clientId,
      previousClientId: oldClientId,
      rotatedBy: 'new_registration',
      deleteAfter: outcome.deletion.after,
    });
    expect(events[2]?.data).toMatchObject({ clientId: oldClientId, jobId: outcome.deletion.jobId });
    // One outcome line per job, saying which kind of job it was.
    const outcomes = pipeline
      .logLines()
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === 'registration job completed');
    expect(outcomes.find((line) => line.jobId === outcome.deletion.jobId)).toMatchObject({ job: 'deletion' });
    expect(
      outcomes.find((line) => line.clientId === outcome.clientId && line.job === 'rotation'),
    ).toBeDefined();
  });

  it('registers a successor on a server without RFC 7592 management and reports the old client', async () => {
    const registered = await register('unmanaged', unmanaged);
    const job = await rotate('unmanaged', unmanaged);
    expect(job.state).toBe('completed');
    expect(job.returnvalue).toMatchObject({
      previousClientId: registered.clientId,
      rotatedBy: 'new_registration',
    });
    expect(job.returnvalue).not.toHaveProperty('deletion');
    expect(job.returnvalue).toMatchObject({ orphanedClientIds: [registered.clientId] });
    const event = (await pipeline.events()).find(
      (e) => e.type === 'client.rotated' && e.data.tenantId === 'unmanaged',
    );
    // Nobody can delete it through RFC 7592: the event names it for a person to remove.
    expect(event?.data).toMatchObject({ orphanedClientId: registered.clientId });
    expect(event?.data).not.toHaveProperty('deleteAfter');
  });

  it('deletes the client a second registration replaced, after the grace', async () => {
    const first = await register('again', keepsSecretOnUpdate);
    const second = await register('again', keepsSecretOnUpdate);
    expect(second.clientId).not.toBe(first.clientId);
    expect(second).toMatchObject({
      previousClientId: first.clientId,
      deletion: { jobId: expect.any(String) },
    });
    const registeredEvent = (await pipeline.events()).findLast(
      (e) => e.type === 'client.registered' && e.data.tenantId === 'again',
    );
    expect(registeredEvent?.data).toMatchObject({
      clientId: second.clientId,
      previousClientId: first.clientId,
      deleteAfter: expect.any(String),
    });
    const deletion = await pipeline.waitForJob((second.deletion as { jobId: string }).jobId);
    expect(deletion.state).toBe('completed');
    expect(keepsSecretOnUpdate.stats.getClient(String(first.clientId))).toBeUndefined();
    expect(keepsSecretOnUpdate.stats.getClient(String(second.clientId))).toBeDefined();
  });

  it('refuses to rotate what was never registered', async () => {
    const result = await pipeline.producer.enqueueRotation({
      tenantId: 'never-registered',
      fhirBaseUrl: keepsSecretOnUpdate.fhirBaseUrl,
    });
    expect(result).toMatchObject({
      status: 'not_found',
      message: expect.stringContaining('never-registered'),
    });
  });

  it('keeps every secret out of Redis, the return values, the events and the logs', async () => {
    const dump = [
      await pipeline.dumpRedis(),
      JSON.stringify(await pipeline.events()),
      ...pipeline.logLines(),
    ].join('\n');
    for (const [tenantId, server] of [
      ['in-place', rotatesOnUpdate],
      ['successor', keepsSecretOnUpdate],
      ['again', keepsSecretOnUpdate],
    ] as const) {
      for (const stage of ['current', 'previous'] as const) {
        const value = await storedValue(tenantId, server, stage);
        for (const field of ['client_secret', 'registration_access_token']) {
          expect(typeof value[field]).toBe('string');
          expect(dump).not.toContain(value[field]);
        }
      }
    }
  });
});
