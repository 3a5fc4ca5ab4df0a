// Key rotation of a client whose generated key is registered inline in `jwks` (issue 14 point 3): by
// RFC 7592 update with [new, old] (both keys get tokens during the grace), then, by the delayed
// retire-key job after the grace, [new]; without RFC 7592, a successor client with a new key.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { tokenStatusWithKey } from '../../support/jwks-route.js';
import { type Pipeline, startPipeline } from './harness.js';

const GRACE_S = 3;
let pipeline: Pipeline;
let managed: SmartServer;
let unmanaged: SmartServer;

beforeAll(async () => {
  [pipeline, managed, unmanaged] = await Promise.all([
    startPipeline('key-rotation-inline', { ROTATION_GRACE: `${GRACE_S}s` }),
    startSmartServer(),
    startSmartServer({ registrationManagement: false }),
  ]);
  await pipeline.startWorker();
});
afterAll(async () => {
  await pipeline.close();
  await Promise.all([managed.close(), unmanaged.close()]);
});

const backendService = {
  client_name: 'Inline rotation',
  grant_types: ['client_credentials'],
  response_types: [],
  token_endpoint_auth_method: 'private_key_jwt',
  scope: 'system/Patient.rs',
};

async function registerAndRotate(tenantId: string, fhirBaseUrl: string) {
  const registered = (await pipeline.producer.enqueue({
    tenantId,
    fhirBaseUrl,
    clientMetadata: backendService,
    keys: { generate: { alg: 'RS384' } },
  } as never)) as { jobId: string };
  const first = await pipeline.waitForJob(registered.jobId, 30_000);
  expect(first.returnvalue).toMatchObject({ verified: true });
  const secretId = first.returnvalue?.secretId as string;
  const before = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value as string);
  const rotation = (await pipeline.producer.enqueueRotation({ tenantId, fhirBaseUrl })) as { jobId: string };
  const rotated = await pipeline.waitForJob(rotation.jobId, 30_000);
  expect(rotated.state, rotated.failedReason).toBe('completed');
  const after = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value as string);
  return { before, after, rotated, secretId, rotationJobId: rotation.jobId };
}

const kidsOf = (value: { jwks?: { keys?: Array<{ kid: string }> } }) => value.jwks?.keys?.map((k) => k.kid);

describe('key rotation of inline keys', () => {
  it('RFC 7592: [new, old] registered, both keys get tokens, then [new] after the grace', async () => {
    const { before, after, rotated, secretId, rotationJobId } = await registerAndRotate(
      'rot-inline',
      managed.fhirBaseUrl,
    );
    const oldKid = before.private_jwk.kid as string;
    const newKid = after.private_jwk.kid as string;
    expect(newKid).not.toBe(oldKid);
    expect(after.client_id).toBe(before.client_id);
    expect(rotated.returnvalue).toMatchObject({
      rotatedBy: 'key',
      kid: newKid,
      previousKid: oldKid,
      verified: true,
    });
    expect(kidsOf(after)).toEqual([newKid, oldKid]);
    expect(await tokenStatusWithKey(after.token_endpoint, after.client_id, after.private_jwk)).toBe(200);
    expect(await tokenStatusWithKey(after.token_endpoint, after.client_id, before.private_jwk)).toBe(200);
    const putsAfterRotation = managed.stats.managementPuts;

    // The retire-key job runs once the grace has passed and leaves only the new key registered.
    const retirement = await pipeline.waitForJob(`${rotationJobId}.retire-key`, (GRACE_S + 20) * 1000);
    expect(retirement.state, retirement.failedReason).toBe('completed');
    expect(retirement.returnvalue).toMatchObject({ retired: true, retireKid: oldKid });
    expect(managed.stats.managementPuts).toBe(putsAfterRotation + 1);
    const retired = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value as string);
    expect(kidsOf(retired)).toEqual([newKid]);
    expect(retired.private_jwk.kid).toBe(newKid);
    expect(await tokenStatusWithKey(retired.token_endpoint, retired.client_id, retired.private_jwk)).toBe(
      200,
    );
    expect(await tokenStatusWithKey(retired.token_endpoint, retired.client_id, before.private_jwk)).toBe(401);
  }, 60_000);

  it('without RFC 7592: a successor client with a new key', async () => {
    const { before, after, rotated } = await registerAndRotate('rot-successor', unmanaged.fhirBaseUrl);
    expect(after.client_id).not.toBe(before.client_id);
    expect(after.private_jwk.kid).not.toBe(before.private_jwk.kid);
    expect(kidsOf(after)).toEqual([after.private_jwk.kid]);
    expect(rotated.returnvalue).toMatchObject({ rotatedBy: 'new_registration', verified: true });
  });
});
