// The rotation and deletion use cases outside the queue, where a crash can be placed exactly: a
// checkpoint store that "dies" on a chosen save, then a resumed attempt with what was saved before.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata } from '../../../src/dcr/index.js';
import { RedisStreamEventPublisher } from '../../../src/events/index.js';
import { createHttpClient } from '../../../src/http/index.js';
import {
  type Checkpoint,
  type CheckpointStore,
  type DeletionRequest,
  MemoryCheckpointStore,
  type RegistrationDeps,
  runDeletion,
  runRegistration,
  runRotation,
} from '../../../src/provisioning/index.js';
import { FileSecretStore, registrationSecretName } from '../../../src/secrets/index.js';
import { type StubServer, startStubServer } from '../../fixtures/stub-server.js';
import { testQueuePrefix, testRedis } from '../../support/redis.js';

let stub: StubServer;
const redis = testRedis();
const streamKey = `${testQueuePrefix('rotation-usecase')}:events`;
const http = createHttpClient({ timeoutMs: 300, allowInsecureLocalhost: true });
const secretStore = new FileSecretStore({ rootDir: mkdtempSync(path.join(tmpdir(), 'dcr-rotation-')) });
const scheduled: Array<DeletionRequest & { jobId: string }> = [];
const deps: RegistrationDeps = {
  http,
  secretStore,
  events: new RedisStreamEventPublisher({ redis, streamKey }),
  secretNamePrefix: 'dcr/',
  rules: { allowInsecureLocalhost: true },
  secretWriteRetryDelaysMs: [],
  deletions: {
    schedule: async (request, { jobId }) => {
      scheduled.push({ ...request, jobId });
      return jobId;
    },
  },
};

beforeAll(async () => {
  stub = await startStubServer();
});
beforeEach(() => {
  stub.reset();
  scheduled.length = 0;
});
afterAll(async () => {
  http.close();
  await stub.close();
  await redis.del(streamKey);
  redis.disconnect();
});

class Crash extends Error {}

/** A checkpoint store whose `n`-th save throws, as if the process died there; later saves work. */
class DyingCheckpointStore implements CheckpointStore {
  readonly memory = new MemoryCheckpointStore();
  #saves = 0;
  constructor(private readonly dieOnSave: number) {}
  load(): Checkpoint {
    return this.memory.load();
  }
  async save(checkpoint: Checkpoint): Promise<void> {
    if (++this.#saves === this.dieOnSave) throw new Crash('worker died');
    await this.memory.save(checkpoint);
  }
}

const context = (jobId: string, checkpoint: CheckpointStore, attempt = 1) => ({
  jobId,
  attempt,
  maxAttempts: 5,
  checkpoint,
});

/** A registration answer echoing the metadata, as real servers do. */
function registers(clientId: string): void {
  stub.on('POST', '/register', (request) => ({
    status: 201,
    json: {
      ...(request.json as object),
      client_id: clientId,
      client_secret: `secret-of-${clientId}`,
      client_secret_expires_at: 0,
      registration_access_token: `token-of-${clientId}-0`,
      registration_client_uri: stub.url(`/register/${clientId}`),
    },
  }));
}

async function registered(tenantId: string, clientId: string): Promise<void> {
  registers(clientId);
  await runRegistration(
    {
      tenantId,
      fhirBaseUrl: stub.url('/fhir'),
      registrationEndpoint: stub.url('/register'),
      clientMetadata: confidentialSymmetricMetadata({ redirectUris: ['https://app.example/cb'] }),
      reason: 'onboarding',
      requestedAt: new Date().toISOString(),
    },
    context(`register-${tenantId}`, new MemoryCheckpointStore()),
    deps,
  );
}

/** A delete-client job's payload: the client a rotation replaced and the version holding its token. */
const deletion = (tenantId: string, clientId: string, secretVersionId: string, replacedByJobId: string) => ({
  tenantId,
  fhirBaseUrl: stub.url('/fhir'),
  clientId,
  secretVersionId,
  replacedByJobId,
  reason: 'rotation',
  requestedAt: new Date().toISOString(),
});

const rotation = (tenantId: string) => ({
  tenantId,
  fhirBaseUrl: stub.url('/fhir'),
  reason: 'manual',
  requestedAt: new Date().toISOString(),
});

describe('provisioning/runRotation after a crash', () => {
  it('deletes the replaced client with the token a crashed attempt stored, not the one it replaced', async () => {
    await registered('refresh-crash', 'c-1');
    let puts = 0;
    stub.on('PUT', '/register/c-1', (request) => {
      puts++;
      // The token rotates on every accepted update; the second update is refused (metadata changed).
      if (puts === 1)
        return {
          json: {
            ...(request.json as object),
            client_secret: 'secret-of-c-1',
            registration_access_token: 'token-of-c-1-1',
          },
        };
      return { status: 400, json: { error: 'invalid_client_metadata' } };
    });
    registers('c-2');
    // Saves: 1 = previous, 2 = the refresh (after its secret write landed): the worker dies there.
    const checkpoint = new DyingCheckpointStore(2);
    await expect(runRotation(rotation('refresh-crash'), context('rot-1', checkpoint), deps)).rejects.toThrow(
      'failed unexpectedly',
    );

    const outcome = await runRotation(rotation('refresh-crash'), context('rot-1', checkpoint, 2), deps);
    expect(outcome).toMatchObject({
      previousClientId: 'c-1',
      clientId: 'c-2',
      rotatedBy: 'new_registration',
    });
    const [deletion] = scheduled;
    const secretId = registrationSecretName('dcr/', 'refresh-crash', stub.url('/fhir'));
    const version = await secretStore.readVersion(secretId, deletion?.secretVersionId as string);
    expect(JSON.parse(version?.value ?? '{}')).toMatchObject({
      client_id: 'c-1',
      registration_access_token: 'token-of-c-1-1',
    });
  });
});

describe('provisioning/runDeletion', () => {
  it('takes a 401 after a delete whose answer was lost as the delete having worked', async () => {
    await registered('lost-delete', 'c-old');
    stub.on('PUT', '/register/c-old', { status: 405 });
    registers('c-new');
    // A 405 means no management: force a deletable previous client by scheduling by hand.
    const secretId = registrationSecretName('dcr/', 'lost-delete', stub.url('/fhir'));
    const before = await secretStore.readCurrent(secretId);
    await runRotation(rotation('lost-delete'), context('rot-2', new MemoryCheckpointStore()), deps);
    stub.on('DELETE', '/register/c-old', [{ hang: true }, { status: 401, json: { error: 'invalid_token' } }]);

    const request = deletion('lost-delete', 'c-old', before?.versionId as string, 'rot-2');
    const checkpoint = new MemoryCheckpointStore();
    await expect(runDeletion(request, context('del-1', checkpoint), deps)).rejects.toMatchObject({
      code: 'timeout',
    });
    const outcome = await runDeletion(request, context('del-1', checkpoint, 2), deps);
    expect(outcome).toMatchObject({ clientId: 'c-old' });
    expect(stub.requestsTo('DELETE', '/register/c-old')).toHaveLength(2);
    const [entry] = await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1);
    expect(entry?.[1]).toContain('client.deleted');
  });

  it('takes a 401 as a failure when no earlier delete is known to have reached the server', async () => {
    await registered('refused-delete', 'c-kept');
    stub.on('PUT', '/register/c-kept', { status: 405 });
    registers('c-kept-2');
    const secretId = registrationSecretName('dcr/', 'refused-delete', stub.url('/fhir'));
    const before = await secretStore.readCurrent(secretId);
    await runRotation(rotation('refused-delete'), context('rot-3', new MemoryCheckpointStore()), deps);
    // An answered 503 is a delete that did not happen; the 401 after it is a refusal, not "gone".
    stub.on('DELETE', '/register/c-kept', [
      { status: 503, json: { error: 'temporarily_unavailable' } },
      { status: 401, json: { error: 'invalid_token' } },
    ]);
    const request = deletion('refused-delete', 'c-kept', before?.versionId as string, 'rot-3');
    const checkpoint = new MemoryCheckpointStore();
    await expect(runDeletion(request, context('del-3', checkpoint), deps)).rejects.toMatchObject({
      code: 'server_error',
    });
    await expect(runDeletion(request, context('del-3', checkpoint, 2), deps)).rejects.toMatchObject({
      code: 'unauthorized',
    });
    const [entry] = await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1);
    expect(JSON.parse(entry?.[1][5] ?? '{}')).toMatchObject({ orphanedClientId: 'c-kept' });
  });

  it('refuses to delete the current client, without calling it an orphan', async () => {
    await registered('current', 'c-live');
    const secretId = registrationSecretName('dcr/', 'current', stub.url('/fhir'));
    const current = await secretStore.readCurrent(secretId);
    const request = deletion('current', 'c-live', current?.versionId as string, 'rot-x');
    await expect(
      runDeletion(request, context('del-2', new MemoryCheckpointStore()), deps),
    ).rejects.toMatchObject({
      code: 'invalid_job',
    });
    expect(stub.requestsTo('DELETE', '/register/c-live')).toHaveLength(0);
    const [entry] = await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1);
    const data = JSON.parse(entry?.[1][5] ?? '{}');
    expect(data).toMatchObject({ code: 'invalid_job' });
    expect(data).not.toHaveProperty('orphanedClientId');
  });
});
