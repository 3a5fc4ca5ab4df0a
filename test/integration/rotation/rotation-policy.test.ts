// Scheduled rotation against oidc-provider's own registration policy: secrets that expire after a few
// seconds, and a new secret on every RFC 7592 update (the policy travels with the registration access
// token). Registration -> sweep (clock moved past half the secret's life) -> in-place rotation -> due
// again later, all through the real worker, Redis and moto.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata } from '../../../src/dcr/index.js';
import { sweepDueRegistrations } from '../../../src/provisioning/index.js';
import { registrationKey } from '../../../src/queue/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';

const LIFETIME_S = 6;
let pipeline: Pipeline;
let smart: SmartServer;

beforeAll(async () => {
  [pipeline, smart] = await Promise.all([
    startPipeline('rotation-policy'),
    startSmartServer({
      initialAccessToken: true,
      registrationPolicies: {
        'short-lived-secrets': (ctx, properties) => {
          // On an update (ctx.oidc.client is set) the client gets a new secret; every secret lives briefly.
          if (ctx.oidc?.client) properties.client_secret = randomBytes(32).toString('base64url');
          properties.client_secret_expires_at = Math.floor(Date.now() / 1000) + LIFETIME_S;
        },
      },
    }),
  ]);
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await smart.close();
});

async function stored(): Promise<Record<string, unknown>> {
  const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, 'policy', smart.fhirBaseUrl);
  return JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
}

describe('scheduled rotation with an oidc-provider registration policy', () => {
  it('rotates a short-lived secret in place when the sweep finds it due, and finds the new one due later', async () => {
    const iat = await smart.issueInitialAccessToken({ policies: ['short-lived-secrets'] });
    const registered = await pipeline.producer.enqueue({
      tenantId: 'policy',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: confidentialSymmetricMetadata({ redirectUris: ['https://app.example/cb'] }),
      initialAccessToken: { value: iat },
    });
    expect((await pipeline.waitForJob((registered as { jobId: string }).jobId)).state).toBe('completed');
    const before = await stored();
    expect(before.client_secret_expires_at).toBeGreaterThan(Math.floor(Date.now() / 1000));

    const sweep = (now: Date) =>
      sweepDueRegistrations(
        {
          registry: pipeline.registry,
          enqueueRotations: (requests) => pipeline.producer.enqueueRotations(requests),
          now: () => now,
        },
        { rotateBeforeExpirySeconds: pipeline.config.ROTATE_BEFORE_EXPIRY },
      );
    // Within the 7-day window from the start, but not before half of its 6-second life.
    expect(await sweep(new Date())).toMatchObject({ due: 0 });
    expect(await sweep(new Date(Date.now() + (LIFETIME_S / 2 + 1) * 1000))).toMatchObject({
      due: 1,
      queued: 1,
    });

    const [rotation] = await pipeline.queue.getJobs(['prioritized', 'waiting', 'active', 'completed']);
    const job = await pipeline.waitForJob(rotation?.id as string);
    expect(job.state).toBe('completed');
    expect(job.returnvalue).toMatchObject({ rotatedBy: 'update', clientId: before.client_id });
    const after = await stored();
    expect(after.client_id).toBe(before.client_id);
    expect(after.client_secret).not.toBe(before.client_secret);
    expect(smart.stats.getClient(String(after.client_id))?.client_secret).toBe(after.client_secret);
    expect(Number(after.client_secret_expires_at)).toBeGreaterThanOrEqual(
      Number(before.client_secret_expires_at),
    );

    const record = await pipeline.registry.get(registrationKey('policy', smart.fhirBaseUrl));
    expect(record?.clientSecretExpiresAt).toBe(after.client_secret_expires_at);
    expect(await sweep(new Date(Date.now() + (LIFETIME_S + 1) * 1000))).toMatchObject({ due: 1 });
  });
});
