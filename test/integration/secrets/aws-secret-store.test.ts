// The AWS adapter against the run's moto server: the shared contract, then what only Secrets Manager
// has — stages as AWS reports them, creation tags and KMS key, deletion scheduling, an unreachable service.
// Names carry the run's unique prefix and moto is never reset, because other test files share it.

import {
  DeleteSecretCommand,
  DescribeSecretCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { AwsSecretStore } from '../../../src/secrets/index.js';
import {
  credentials,
  describeSecretStoreContract,
  expectNoSecretInFailures,
  failure,
  newSecretsSeen,
  token,
} from './secret-store-contract.js';

const runPrefix = `${inject('redisPrefix')}/aws/`;

function motoClient(): SecretsManagerClient {
  return new SecretsManagerClient({
    region: 'us-east-1',
    endpoint: inject('awsEndpoint'),
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

const client = motoClient();
afterAll(() => client.destroy());

describeSecretStoreContract(
  'secrets/aws',
  async () => ({ store: new AwsSecretStore({ client }), namePrefix: `${runPrefix}contract/` }),
  newSecretsSeen(),
  {
    // PutSecretValue's documentation: AWSCURRENT moves to the new version, AWSPREVIOUS to the one it
    // left. moto (5.2) finds "the current version" in a field UpdateSecretVersionStage never updates, so it
    // labels the new version AWSCURRENT, leaves AWSCURRENT on the version made current too, and
    // GetSecretValue answers with that older one.
    plainWriteAfterMakeCurrent: 'moto: UpdateSecretVersionStage does not update default_version_id',
  },
);

describe('secrets/aws', () => {
  const seen = newSecretsSeen();
  const store = new AwsSecretStore({ client, kmsKeyId: 'alias/dcr-provisioner-test' });
  let counter = 0;
  const uniqueName = (what: string) => `${runPrefix}${what}-${++counter}/ehr.example_fhir`;
  const tags = { tenant: 'tenant-1', server: 'https://ehr.example/fhir', 'managed-by': 'dcr-provisioner' };
  const describeSecret = (name: string) => client.send(new DescribeSecretCommand({ SecretId: name }));
  /** The labels of each version that has any (moto also lists unlabelled versions, AWS does not). */
  const labels = async (name: string) =>
    Object.fromEntries(
      Object.entries((await describeSecret(name)).VersionIdsToStages ?? {})
        .filter(([, stages]) => stages.length > 0)
        .map(([id, stages]) => [id, [...stages].sort()]),
    );

  it('creates the secret with its tags and the configured KMS key, as DescribeSecret shows', async () => {
    const name = uniqueName('describe');
    await store.write({ name, value: credentials(seen), clientRequestToken: token(seen, 'd'), tags });
    const described = await describeSecret(name);
    expect(Object.fromEntries((described.Tags ?? []).map((t) => [t.Key, t.Value]))).toEqual(tags);
    expect(described.KmsKeyId).toBe('alias/dcr-provisioner-test');
  });

  it('moves AWSCURRENT to the new version and AWSPREVIOUS to the old one', async () => {
    const name = uniqueName('stages');
    const [t1, t2] = [token(seen, 'one'), token(seen, 'two')];
    await store.write({ name, value: credentials(seen), clientRequestToken: t1, tags });
    await store.write({ name, value: credentials(seen), clientRequestToken: t2, tags });
    expect((await describeSecret(name)).VersionIdsToStages).toEqual({
      [t1]: ['AWSPREVIOUS'],
      [t2]: ['AWSCURRENT'],
    });
  });

  it('keeps exactly one version when the same write is repeated', async () => {
    const name = uniqueName('one-version');
    const write = { name, value: credentials(seen), clientRequestToken: token(seen, 'once'), tags };
    await store.write(write);
    await store.write(write);
    expect((await describeSecret(name)).VersionIdsToStages).toEqual({
      [write.clientRequestToken]: ['AWSCURRENT'],
    });
  });

  it('labels a pending version AWSPENDING alone, and moves that label off an older pending version', async () => {
    const name = uniqueName('pending-labels');
    const [t1, p1, p2] = [token(seen, 'one'), token(seen, 'p1'), token(seen, 'p2')];
    await store.write({ name, value: credentials(seen), clientRequestToken: t1, tags });
    await store.writePending({ name, value: credentials(seen), clientRequestToken: p1 });
    expect(await labels(name)).toEqual({ [t1]: ['AWSCURRENT'], [p1]: ['AWSPENDING'] });
    await store.writePending({ name, value: credentials(seen), clientRequestToken: p2 });
    expect(await labels(name)).toEqual({ [t1]: ['AWSCURRENT'], [p2]: ['AWSPENDING'] });
  });

  it('makeCurrent leaves the version AWSCURRENT without AWSPENDING, and the former current AWSPREVIOUS', async () => {
    const name = uniqueName('make-current-labels');
    const [t1, t2, p] = [token(seen, 'one'), token(seen, 'two'), token(seen, 'p')];
    await store.write({ name, value: credentials(seen), clientRequestToken: t1, tags });
    await store.write({ name, value: credentials(seen), clientRequestToken: t2 });
    await store.writePending({ name, value: credentials(seen), clientRequestToken: p });
    await store.makeCurrent(name, p);
    expect(await labels(name)).toEqual({ [t2]: ['AWSPREVIOUS'], [p]: ['AWSCURRENT'] });
  });

  it('answers a repeated makeCurrent from DescribeSecret alone, sending nothing that changes the secret', async () => {
    const name = uniqueName('make-current-repeat');
    const [t1, p] = [token(seen, 'one'), token(seen, 'p')];
    await store.write({ name, value: credentials(seen), clientRequestToken: t1, tags });
    await store.writePending({ name, value: credentials(seen), clientRequestToken: p });
    await store.makeCurrent(name, p);
    const spied = motoClient();
    const send = vi.spyOn(spied, 'send');
    try {
      await new AwsSecretStore({ client: spied }).makeCurrent(name, p);
      expect(send.mock.calls.map(([command]) => command.constructor.name)).toEqual(['DescribeSecretCommand']);
    } finally {
      spied.destroy();
    }
    expect(await labels(name)).toEqual({ [t1]: ['AWSPREVIOUS'], [p]: ['AWSCURRENT'] });
  });

  it('refuses a pending write and makeCurrent on a secret scheduled for deletion, with the restore command', async () => {
    const name = uniqueName('pending-scheduled');
    const t1 = token(seen, 'one');
    await store.write({ name, value: credentials(seen), clientRequestToken: t1, tags });
    await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    const pendingWrite = { name, value: credentials(seen), clientRequestToken: token(seen, 'p') };
    const refused = await failure(seen, store.writePending(pendingWrite), 'secret_store_rejected');
    expect(refused.message).toContain('scheduled for deletion');
    expect(refused.message).toContain(`aws secretsmanager restore-secret --secret-id ${name}`);
    expect(Object.keys((await describeSecret(name)).VersionIdsToStages ?? {})).not.toContain(
      pendingWrite.clientRequestToken,
    );
    const move = await failure(seen, store.makeCurrent(name, t1), 'secret_store_rejected');
    expect(move.message).toContain('scheduled for deletion');
    await client.send(new RestoreSecretCommand({ SecretId: name }));
  });

  it('refuses to write a secret scheduled for deletion, says how to restore it, and writes after a restore', async () => {
    const name = uniqueName('scheduled');
    await store.write({ name, value: credentials(seen), clientRequestToken: token(seen, 'before'), tags });
    await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));

    const retry = { name, value: credentials(seen), clientRequestToken: token(seen, 'during') };
    const err = await failure(seen, store.write(retry), 'secret_store_rejected');
    expect(err.message).toContain('scheduled for deletion');
    expect(err.message).toContain(`aws secretsmanager restore-secret --secret-id ${name}`);
    // moto would have accepted the PutSecretValue that AWS refuses; the adapter must not have sent it.
    expect(Object.keys((await describeSecret(name)).VersionIdsToStages ?? {})).not.toContain(
      retry.clientRequestToken,
    );

    const read = await failure(seen, store.readCurrent(name), 'secret_store_rejected');
    expect(read.message).toContain(`aws secretsmanager restore-secret --secret-id ${name}`);

    await client.send(new RestoreSecretCommand({ SecretId: name }));
    await expect(store.write(retry)).resolves.toEqual({
      versionId: retry.clientRequestToken,
      created: false,
    });
    expect((await store.readCurrent(name))?.value).toBe(retry.value);
  });

  it('refuses an invalid name or an oversize value without calling Secrets Manager', async () => {
    const spied = motoClient();
    const send = vi.spyOn(spied, 'send');
    const guarded = new AwsSecretStore({ client: spied });
    try {
      const value = credentials(seen);
      await failure(
        seen,
        guarded.write({ name: 'dcr/bad name', value, clientRequestToken: token(seen, 'n') }),
        'secret_store_rejected',
      );
      await failure(
        seen,
        guarded.write({
          name: uniqueName('oversize'),
          value: JSON.stringify({ pad: 'x'.repeat(70_000) }),
          clientRequestToken: token(seen, 'o'),
        }),
        'secret_store_rejected',
      );
      expect(send).not.toHaveBeenCalled();
    } finally {
      spied.destroy();
    }
  });

  it('reports an unreachable endpoint as secret_store_unavailable, retryable, within the timeouts', async () => {
    const down = new SecretsManagerClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 500, requestTimeout: 1000 },
    });
    const unreachable = new AwsSecretStore({ client: down });
    const started = Date.now();
    try {
      const err = await failure(
        seen,
        unreachable.write({
          name: uniqueName('down'),
          value: credentials(seen),
          clientRequestToken: token(seen, 'x'),
        }),
        'secret_store_unavailable',
      );
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('ECONNREFUSED');
      // Refused before a byte was sent: the write certainly did not happen.
      expect(err.outcomeUnknown).toBe(false);
      await failure(seen, unreachable.readCurrent(uniqueName('down')), 'secret_store_unavailable');
      await failure(seen, unreachable.list(runPrefix), 'secret_store_unavailable');
    } finally {
      down.destroy();
    }
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('never puts a secret value or a client request token into a failure', () => {
    expectNoSecretInFailures(seen);
  });
});
