// The image's health check script (infra/docker/healthcheck.mjs), run as the container runs it, against
// a local HTTP server standing in for the service.

import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../infra/docker/healthcheck.mjs', import.meta.url));

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

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
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

  it('reports a worker healthy while it runs, as it serves no HTTP', async () => {
    expect(await runCheck(['worker'])).toBe(0);
  });
});
