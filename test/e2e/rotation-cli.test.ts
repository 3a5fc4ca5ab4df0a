// `rotate` and `reindex` as a user runs them: the built binary in its own process, on the file secret
// store, its output and exit code. A registration written to the store by hand stands in for one whose
// registry entry Redis lost: reindex finds it, and rotate can then queue it.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSecretStore, registrationSecretName } from '../../src/secrets/index.js';
import { cliRunner } from '../support/cli.js';
import { testQueuePrefix, testRedisEnv } from '../support/redis.js';

const work = mkdtempSync(path.join(tmpdir(), 'dcr-cli-rotation-'));
const secretsDir = path.join(work, 'secrets');
const prefix = 'dcr-e2e/';
const baseEnv = {
  ...testRedisEnv(),
  QUEUE_PREFIX: testQueuePrefix('cli-rotation'),
  SECRETS_FILE_DIR: secretsDir,
  SECRET_NAME_PREFIX: prefix,
};
const FHIR = 'https://ehr.example/fhir';
const CLIENT_SECRET = 'cli-client-secret-must-not-print-8e21';

const cli = cliRunner(baseEnv);

const store = new FileSecretStore({ rootDir: secretsDir });
afterAll(() => store.close());

describe('cli rotate and reindex', () => {
  it('prints help for both and exits 0', async () => {
    for (const command of ['rotate', 'reindex']) {
      const result = await cli([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout).toContain(`Usage: dcr-provisioner ${command}`);
    }
  });

  it('rotate exits 1 with a clear message for a registration nobody knows', async () => {
    const result = await cli(['rotate', 'cli-nobody', '--fhir-base-url', FHIR]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`error: no registration of tenant cli-nobody with ${FHIR} is known`);
  });

  it('rotate exits 2 naming the field the rules refuse, or the missing option', async () => {
    const badUrl = await cli(['rotate', 'cli-bad', '--fhir-base-url', 'ftp://ehr.example/fhir']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/^error: --fhir-base-url: /);
    const badTenant = await cli(['rotate', 'no spaces allowed', '--fhir-base-url', FHIR]);
    expect(badTenant.code).toBe(2);
    expect(badTenant.stderr).toMatch(/^error: <tenantId>: /);
    const missing = await cli(['rotate', 'cli-bad']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--fhir-base-url');
  });

  it('reindex over an empty prefix reports nothing found and exits 0', async () => {
    const env = { SECRET_NAME_PREFIX: 'dcr-e2e-empty/' };
    const text = await cli(['reindex'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('scanned 0 secrets under "dcr-e2e-empty/": indexed 0, skipped 0\n');
    const json = await cli(['reindex', '--json'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      secretNamePrefix: 'dcr-e2e-empty/',
      scanned: 0,
      indexed: 0,
      skipped: [],
      skippedTotal: 0,
    });
  });

  it('reindex indexes a stored registration and reports a foreign secret; rotate then queues it once', async () => {
    const secretId = registrationSecretName(prefix, 'cli-rot', FHIR);
    await store.write({
      name: secretId,
      value: JSON.stringify({
        client_id: 'cli-rot-client',
        client_secret: CLIENT_SECRET,
        fhir_base_url: FHIR,
      }),
      clientRequestToken: 'cli-rotation-registration-0123456789abcdef',
    });
    await store.write({
      name: `${prefix}someone/else`,
      value: 'not ours',
      clientRequestToken: 'cli-rotation-foreign-0123456789abcdef',
    });
    expect(await cli(['rotate', 'cli-rot', '--fhir-base-url', FHIR])).toMatchObject({ code: 1 });

    const reindexed = await cli(['reindex']);
    expect(reindexed.code).toBe(0);
    expect(reindexed.stdout).toContain(`scanned 2 secrets under "${prefix}": indexed 1, skipped 1`);
    expect(reindexed.stdout).toContain(`skipped ${prefix}someone/else: not a registration`);
    expect(reindexed.stdout + reindexed.stderr).not.toContain(CLIENT_SECRET);

    const first = await cli(['rotate', 'cli-rot', '--fhir-base-url', FHIR]);
    expect(first.code).toBe(0);
    const jobId = first.stdout.trim();
    expect(jobId).toMatch(/^cli-rot\./);
    const again = await cli(['rotate', 'cli-rot', '--fhir-base-url', `${FHIR}/`, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ jobId, status: 'already_queued' });
  });
});
