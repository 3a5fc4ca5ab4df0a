// The image's health check script (infra/docker/healthcheck.mjs), run as the container runs it, against
// a local HTTP server standing in for the service, and against a real `dcr-provisioner worker` process
// (the built binary, as the image runs it).

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../../src/demo/local-redis.js';

const SCRIPT = fileURLToPath(new URL('../../../infra/docker/healthcheck.mjs', import.meta.url));
const BINARY = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));

function runCheck(args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { env: { PATH: process.env.PATH, ...env } }, (err) => {
      resolve(err ? Number((err as { code?: number }).code ?? 1) : 0);
    });
  });
}

let server: Server | undefined;

async function serve(status: number): Promise<number> {
  server = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

let worker: ChildProcess | undefined;

/** `dcr-provisioner worker` on its own port, answering once it says its probes are listening. */
async function startWorker(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BINARY, 'worker'], {
    env: {
      ...process.env,
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: `${inject('redisPrefix')}-healthcheck`,
      SECRETS_FILE_DIR: path.join(mkdtempSync(path.join(tmpdir(), 'dcr-health-')), 'secrets'),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker = child;
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      if (output.includes('http server listening')) resolve();
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code} before listening:\n${output}`)));
  });
  return child;
}

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  // A failed expectation must not leave a worker running (or frozen) against the shared Redis.
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  worker = undefined;
});

describe('infra/docker/healthcheck.mjs', () => {
  it('is healthy when /healthz answers 200 on HTTP_PORT, with HTTP_HOST bound to all interfaces', async () => {
    const port = await serve(200);
    expect(await runCheck(['start'], { HTTP_HOST: '0.0.0.0', HTTP_PORT: String(port) })).toBe(0);
    expect(await runCheck(['server'], { HTTP_PORT: String(port) })).toBe(0);
  });

  it('is unhealthy when /healthz answers anything else', async () => {
    const port = await serve(503);
    expect(await runCheck(['start'], { HTTP_HOST: '0.0.0.0', HTTP_PORT: String(port) })).toBe(1);
  });

  it('is unhealthy when nothing listens', async () => {
    const port = await serve(200);
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    expect(await runCheck(['start'], { HTTP_PORT: String(port) })).toBe(1);
  });

  it('checks that the sandbox accepts connections on its --port', async () => {
    const port = await serve(404);
    expect(await runCheck(['sandbox', '--port', String(port)])).toBe(0);
    expect(await runCheck(['sandbox', `--port=${port}`])).toBe(0);
    expect(await runCheck(['sandbox'], { SANDBOX_PORT: String(port) })).toBe(0);
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    expect(await runCheck(['sandbox', '--port', String(port)])).toBe(1);
  });

  it('follows a real worker’s /healthz: healthy while it answers, unhealthy frozen or gone', async () => {
    const port = await freePort();
    const env = { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) };
    const child = await startWorker(port);
    expect(await runCheck(['worker'], env), 'running worker').toBe(0);

    // A frozen process keeps its port open but answers nothing.
    child.kill('SIGSTOP');
    expect(await runCheck(['worker'], env), 'frozen worker').toBe(1);
    child.kill('SIGCONT');
    expect(await runCheck(['worker'], env), 'resumed worker').toBe(0);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    expect(await runCheck(['worker'], env), 'stopped worker').toBe(1);
  });

  // The real worker's /healthz is liveness only and answers 200 whenever it answers at all, so a
  // stand-in gives the answer a broken one would.
  it('reports a worker unhealthy when its /healthz answers anything but 200', async () => {
    const port = await serve(503);
    expect(await runCheck(['worker'], { HTTP_PORT: String(port) })).toBe(1);
  });
});
