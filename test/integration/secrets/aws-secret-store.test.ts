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

describeSecretStoreContract('secrets/aws', async () => ({
  store: new AwsSecretStore({ client }),
  namePrefix: `${runPrefix}contract/`,
}));

describe('secrets/aws', () => {
  const seen = newSecretsSeen();
  const store = new AwsSecretStore({ client, kmsKeyId: 'alias/dcr-provisioner-test' });
  let counter = 0;
  const uniqueName = (what: string) => `${runPrefix}${what}-${++counter}/ehr.example_fhir`;
  const tags = { tenant: 'tenant-1', server: 'https://ehr.example/fhir', 'managed-by': 'dcr-provisioner' };
  const describeSecret = (name: string) => client.send(new DescribeSecretCommand({ SecretId: name }));

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
