// The command as a user runs it: the built binary in its own process, its output and exit code.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRATION_QUEUE } from '../../src/queue/index.js';
import { type SmartServer, startSmartServer } from '../fixtures/smart-server.js';
import { cliRunner } from '../support/cli.js';
import { testQueuePrefix, testRedis, testRedisEnv } from '../support/redis.js';

const work = mkdtempSync(path.join(tmpdir(), 'dcr-cli-'));
const baseEnv = {
  ...testRedisEnv(),
  QUEUE_PREFIX: testQueuePrefix('cli'),
  SECRETS_FILE_DIR: path.join(work, 'secrets'),
  ALLOW_INSECURE_LOCALHOST: 'true',
};

const cli = cliRunner(baseEnv);

function file(name: string, content: string): string {
  const target = path.join(work, name);
  writeFileSync(target, content);
  return target;
}

const metadata = { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' };

let smart: SmartServer;
// To read what a command queued; the CLI itself only prints the job id.
const redis = testRedis('producer');
const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix: baseEnv.QUEUE_PREFIX });
beforeAll(async () => {
  smart = await startSmartServer();
}, 120_000);
afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await smart.close();
});

describe('cli', () => {
  it('prints help for every command and exits 0', async () => {
    for (const command of [[], ['enqueue'], ['status'], ['discover'], ['check-metadata']]) {
      const result = await cli([...command, '--help']);
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout).toContain('Usage: dcr-provisioner');
    }
  });

  it('exits 2 on an unknown command or a bad flag', async () => {
    expect(await cli(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown command 'frobnicate'"),
    });
    expect(await cli(['enqueue', '--tenant'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--tenant'),
    });
    expect(await cli(['enqueue', '--fhir-base-url', smart.fhirBaseUrl])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--tenant'),
    });
  });

  it('exits 2 naming the variable when the configuration is invalid', async () => {
    const result = await cli(['discover', smart.fhirBaseUrl], { HTTP_TIMEOUT_MS: 'soon' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('HTTP_TIMEOUT_MS must be a whole number');
  });

  it('discover prints what the server advertises; plain http needs ALLOW_INSECURE_LOCALHOST', async () => {
    const result = await cli(['discover', smart.fhirBaseUrl]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      registrationEndpoint: smart.registrationEndpoint,
      dynamicRegistration: true,
    });
    const refused = await cli(['discover', smart.fhirBaseUrl], { ALLOW_INSECURE_LOCALHOST: 'false' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: insecure_endpoint: /);
  });

  it('check-metadata lists every problem with its path and exits 1', async () => {
    const bad = file(
      'bad.json',
      JSON.stringify({ grant_types: ['authorization_code'], jwks: { keys: [] }, jwks_uri: 'https://x' }),
    );
    const result = await cli(['check-metadata', bad]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('redirect_uris:');
    expect(result.stdout).toContain('jwks:');
    expect(await cli(['check-metadata', file('good.json', JSON.stringify(metadata))])).toMatchObject({
      code: 0,
    });
  });

  it('enqueue prints the job id, and the same id for a duplicate while it waits', async () => {
    const args = [
      'enqueue',
      '--tenant',
      'cli-one',
      '--fhir-base-url',
      smart.fhirBaseUrl,
      '--metadata',
      file('m.json', JSON.stringify(metadata)),
    ];
    const first = await cli(args);
    expect(first.code).toBe(0);
    const jobId = first.stdout.trim();
    expect(jobId).toMatch(/^cli-one\./);
    const second = await cli(args);
    expect(second).toMatchObject({
      code: 0,
      stdout: `${jobId}\n`,
      stderr: expect.stringContaining('already queued'),
    });
  });

  it('enqueue names the bad field and exits 1', async () => {
    const result = await cli([
      'enqueue',
      '--tenant',
      'cli-bad',
      '--fhir-base-url',
      'ftp://x',
      '--metadata',
      file('e.json', '{}'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: fhirBaseUrl:');
    expect(result.stderr).toContain('error: clientMetadata.redirect_uris:');
  });

  it('enqueue passes --verify and --no-verify to the request, validated as the API does', async () => {
    const args = (tenant: string, flag: string) => [
      'enqueue',
      '--tenant',
      tenant,
      '--fhir-base-url',
      smart.fhirBaseUrl,
      '--metadata',
      file(`${tenant}.json`, JSON.stringify(metadata)),
      flag,
    ];
    // A public authorization_code client has no credentials a client_credentials request could check.
    const refused = await cli(args('cli-verify', '--verify'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: verify: needs "client_credentials"');
    expect((await cli(args('cli-no-verify', '--no-verify'))).code).toBe(0);
    const both = await cli(['enqueue', '--file', file('v.ndjson', ''), '--no-verify']);
    expect(both).toMatchObject({ code: 2, stderr: expect.stringContaining('--no-verify') });
  });

  describe('enqueue --generate-key and --publish', () => {
    const backend = {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'private_key_jwt',
      scope: 'system/*.rs',
    };
    const args = (tenant: string, clientMetadata: object, ...flags: string[]) => [
      'enqueue',
      '--tenant',
      tenant,
      '--fhir-base-url',
      smart.fhirBaseUrl,
      '--metadata',
      file(`${tenant}.json`, JSON.stringify(clientMetadata)),
      ...flags,
    ];
    const keysQueued = async (stdout: string) => (await queue.getJob(stdout.trim()))?.data.keys;

    it('queue keys.generate with its alg, published inline as jwks unless --publish says otherwise', async () => {
      const inline = await cli(args('cli-keys-jwks', backend, '--generate-key', 'ES384'));
      expect(inline.code).toBe(0);
      expect(await keysQueued(inline.stdout)).toEqual({ generate: { alg: 'ES384' }, publish: 'jwks' });
      const byUri = await cli(
        args('cli-keys-uri', backend, '--generate-key', 'RS384', '--publish', 'jwks_uri'),
        {
          JWKS_PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
        },
      );
      expect(byUri.code).toBe(0);
      expect(await keysQueued(byUri.stdout)).toEqual({ generate: { alg: 'RS384' }, publish: 'jwks_uri' });
    });

    it('exit 1 naming the field the request rules refuse, as for every other flag', async () => {
      const noBase = await cli(
        args('cli-keys-nobase', backend, '--generate-key', 'RS384', '--publish', 'jwks_uri'),
      );
      expect(noBase.code).toBe(1);
      expect(noBase.stderr).toContain('error: keys.publish: "jwks_uri" needs JWKS_PUBLIC_BASE_URL');
      const ownKeys = { ...backend, jwks_uri: 'https://app.example/jwks.json' };
      const both = await cli(args('cli-keys-own', ownKeys, '--generate-key', 'RS384'));
      expect(both.code).toBe(1);
      expect(both.stderr).toContain('error: keys: must not be sent with clientMetadata.jwks_uri');
      const secretClient = await cli(args('cli-keys-secret', metadata, '--generate-key', 'RS384'));
      expect(secretClient.code).toBe(1);
      expect(secretClient.stderr).toContain(
        'error: keys: needs clientMetadata.token_endpoint_auth_method "private_key_jwt"',
      );
    });

    it('exit 2 naming the flag for an unknown alg or publication, --publish alone, or either with --file', async () => {
      const badAlg = await cli(args('cli-keys-alg', backend, '--generate-key', 'HS256'));
      expect(badAlg).toMatchObject({ code: 2, stderr: expect.stringContaining('--generate-key') });
      expect(badAlg.stderr).toContain('RS384');
      const badPublish = await cli(
        args('cli-keys-pub', backend, '--generate-key', 'RS384', '--publish', 'x5c'),
      );
      expect(badPublish).toMatchObject({ code: 2, stderr: expect.stringContaining('--publish') });
      const alone = await cli(args('cli-keys-alone', backend, '--publish', 'jwks'));
      expect(alone).toMatchObject({
        code: 2,
        stderr: expect.stringContaining('--publish needs --generate-key'),
      });
      const withFile = await cli(['enqueue', '--file', file('k.ndjson', ''), '--generate-key', 'RS384']);
      expect(withFile).toMatchObject({ code: 2, stderr: expect.stringContaining('--generate-key') });
    });

    it('are described in the help', async () => {
      const help = await cli(['enqueue', '--help']);
      expect(help.stdout).toContain('--generate-key <alg>');
      expect(help.stdout).toContain('--publish <how>');
    });
  });

  it('enqueue --file queues the good lines and reports the rejected ones by line number', async () => {
    const request = (tenantId: string) =>
      JSON.stringify({ tenantId, fhirBaseUrl: smart.fhirBaseUrl, clientMetadata: metadata });
    const ndjson = file(
      'tenants.ndjson',
      [
        request('bulk-1'),
        '{not json',
        request('bulk-2'),
        '',
        JSON.stringify({ tenantId: 'bulk-3' }),
        request('bulk-4'),
      ].join('\n'),
    );
    const result = await cli(['enqueue', '--file', ndjson]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('queued 3, already queued 0, rejected 2 (of 5 lines)');
    expect(result.stderr).toContain('line 2: (line): is not valid JSON');
    expect(result.stderr).toMatch(/line 5: fhirBaseUrl: /);
  });

  it('status shows the state of a queued registration, and exits 1 for an unknown tenant', async () => {
    await cli([
      'enqueue',
      '--tenant',
      'cli-status',
      '--fhir-base-url',
      smart.fhirBaseUrl,
      '--metadata',
      file('s.json', JSON.stringify(metadata)),
    ]);
    const result = await cli(['status', 'cli-status']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/state\s+queued/);
    expect(result.stdout).toMatch(/attempts\s+0/);
    const json = await cli(['status', 'cli-status', '--fhir-base-url', smart.fhirBaseUrl, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ tenantId: 'cli-status', state: 'queued' }),
    ]);
    expect(await cli(['status', 'nobody'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no registration for tenant nobody'),
    });
  });
});
