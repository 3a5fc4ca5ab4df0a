// The process kinds as deployed — `start`, `worker`, `server` from the built binary, configured by the
// environment — come up, and stop cleanly with exit code 0 on SIGTERM.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testQueuePrefix, testRedisEnv } from '../support/redis.js';

const binary = path.resolve(import.meta.dirname, '../../dist/src/cli/main.js');

const launched: ChildProcess[] = [];
// A failed expectation must not leave a service running against the shared Redis.
afterEach(() => {
  for (const child of launched.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function launch(
  command: string,
  env: Record<string, string> = {},
): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [binary, command], {
    env: {
      ...process.env,
      ...testRedisEnv(),
      QUEUE_PREFIX: testQueuePrefix('processes'),
      SECRETS_FILE_DIR: path.join(mkdtempSync(path.join(tmpdir(), 'dcr-proc-')), 'secrets'),
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  launched.push(child);
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  return { child, output: () => output };
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exitCode = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once('exit', resolve));

describe('service processes', () => {
  for (const [command, ready] of [
    ['start', ['registration worker started', 'http server listening']],
    ['worker', ['registration worker started', 'http server listening']],
    ['server', ['http server listening']],
  ] as const) {
    it(`${command} comes up and exits 0 on SIGTERM`, async () => {
      const { child, output } = launch(command);
      await until(() => ready.every((line) => output().includes(line)), `${command} start-up`);
      const url = /"url":"(http:\/\/[^"]+)"/.exec(output())?.[1];
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
      // A worker-only process serves the probes and metrics, not the API.
      expect((await fetch(`${url}/v1/registrations/x`)).status).toBe(command === 'worker' ? 404 : 200);
      if (command !== 'worker') {
        // The public keys route answers without credentials (nothing is published here) and is counted.
        const jwks = await fetch(`${url}/jwks/x/ehr.example_fhir-0123abcd.json`);
        expect(jwks.status).toBe(404);
        expect(await jwks.json()).toEqual({ error: 'not_found' });
        expect(await (await fetch(`${url}/metrics`)).text()).toContain(
          'dcr_jwks_requests_total{outcome="not_found"} 1',
        );
      }
      const exited = exitCode(child);
      child.kill('SIGTERM');
      expect(await exited, output()).toBe(0);
    });
  }

  it('refuses to start with invalid configuration, exiting 2 and naming the variable', async () => {
    const { child, output } = launch('start', { WORKER_CONCURRENCY: 'many' });
    expect(await exitCode(child)).toBe(2);
    expect(output()).toContain('WORKER_CONCURRENCY must be a whole number');
  });

  it('refuses to listen beyond loopback without API_TOKEN', async () => {
    const { child, output } = launch('server', { HTTP_HOST: '0.0.0.0' });
    expect(await exitCode(child)).toBe(2);
    expect(output()).toContain('API_TOKEN is required');
  });
});
