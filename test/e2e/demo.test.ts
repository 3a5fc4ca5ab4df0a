// The newcomer's first command, as the README gives it (`demo --once` from the built binary), in an
// empty directory: every sample tenant ends as expected and the secrets are on disk, readable by the
// owner only.

import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('dcr-provisioner demo --once', () => {
  it('registers the four sample profiles (the backend services with generated, verified keys), fails the misconfigured one, and leaves 0600 secrets', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'dcr-demo-'));
    const { stdout } = await run(
      process.execPath,
      [path.join(root, 'dist/src/cli/main.js'), 'demo', '--once'],
      {
        cwd,
        env: {
          ...process.env,
          REDIS_URL: inject('redisUrl'),
          QUEUE_PREFIX: `${inject('redisPrefix')}-demo`,
          HTTP_PORT: '0',
        },
        timeout: 90_000,
      },
    );
    for (const tenant of [
      'demo-patient-app',
      'demo-clinic-portal',
      'demo-clinic-app',
      'demo-population-export',
      'demo-lab-feed',
    ]) {
      expect(stdout).toMatch(new RegExp(`^${tenant}\\s.*\\scompleted\\s`, 'm'));
    }
    // The backend services' generated keys (one inline, one fetched by the sandbox from the API's
    // /jwks/... route) signed client assertions that got tokens.
    expect(stdout).toMatch(/^demo-population-export\s.*\scompleted\s+\S+\s+yes\s/m);
    expect(stdout).toMatch(/^demo-lab-feed\s.*\scompleted\s+\S+\s+yes\s/m);
    expect(stdout).toMatch(/^demo-misconfigured\s.*\sfailed\s+-\s+-\s+invalid_client_metadata/m);
    expect(stdout).not.toContain('(unexpected)');
    expect(stdout).toMatch(/board\s+http:\/\/127\.0\.0\.1:\d+\/admin\/queues \(user: admin, password: \S+\)/);
    expect(stdout).toMatch(/^Rotate one by hand: curl -X POST .*\/v1\/registrations\/demo-[\w-]+\/rotate$/m);

    const secretsDir = path.join(cwd, '.data/secrets');
    expect((await stat(secretsDir)).mode & 0o777).toBe(0o700);
    const files: string[] = [];
    for (const dir of await readdir(secretsDir)) {
      for (const file of await readdir(path.join(secretsDir, dir)))
        files.push(path.join(secretsDir, dir, file));
    }
    expect(files.length).toBeGreaterThan(8);
    for (const file of files) expect((await stat(file)).mode & 0o777, file).toBe(0o600);
    const versions = files.filter((f) => /v-[^/]+\.json$/.test(f));
    const clientIds = (await Promise.all(versions.map((f) => readFile(f, 'utf8'))))
      .map((text) => JSON.parse(text))
      .map((secret) => secret.value ?? secret)
      .filter((value) => typeof value === 'string' && value.includes('client_id'));
    expect(clientIds).toHaveLength(5);
  }, 120_000);
});
