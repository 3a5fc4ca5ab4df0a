// The command as a user runs it: a separate process, its output and its exit code.

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmartServer, startSmartServer } from '../fixtures/smart-server.js';

const run = promisify(execFile);
const main = path.resolve(import.meta.dirname, '../../src/cli/main.ts');

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', main, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let smart: SmartServer;
beforeAll(async () => {
  smart = await startSmartServer();
});
afterAll(() => smart.close());

describe('cli', () => {
  it('exits 2 with the help on an unknown command', async () => {
    const result = await cli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it('discover prints what the server advertises', async () => {
    const result = await cli(['discover', smart.fhirBaseUrl], { ALLOW_INSECURE_LOCALHOST: 'true' });
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed).toMatchObject({
      registrationEndpoint: smart.registrationEndpoint,
      dynamicRegistration: true,
    });
  });

  it('discover refuses plain http unless ALLOW_INSECURE_LOCALHOST is set, exiting 1 with the code', async () => {
    const result = await cli(['discover', smart.fhirBaseUrl], { ALLOW_INSECURE_LOCALHOST: 'false' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: insecure_endpoint: /);
  });

  it('exits 2 naming the variable when the configuration is invalid', async () => {
    const result = await cli(['discover', smart.fhirBaseUrl], { HTTP_TIMEOUT_MS: 'soon' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('HTTP_TIMEOUT_MS must be a whole number');
  });

  it('check-metadata lists every problem with its path and exits 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dcr-cli-'));
    const file = path.join(dir, 'metadata.json');
    writeFileSync(
      file,
      JSON.stringify({ grant_types: ['authorization_code'], jwks: { keys: [] }, jwks_uri: 'https://x' }),
    );
    const result = await cli(['check-metadata', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('redirect_uris:');
    expect(result.stdout).toContain('jwks:');
    writeFileSync(file, JSON.stringify({ redirect_uris: ['https://app.example/cb'] }));
    expect(await cli(['check-metadata', file])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('valid'),
    });
  });
});
