// Container health check of the dcr-provisioner image (Docker HEALTHCHECK, compose, ECS). The slim
// image has no curl, so Node asks the service itself. What "healthy" means depends on the command the
// container runs: `start`, `server` and `worker` (which serves its probes and metrics) answer GET
// /healthz on HTTP_HOST:HTTP_PORT; `sandbox` accepts connections on its port; the one-shot commands
// serve no HTTP, so a running process is all there is to check.
//
// Usage: `node healthcheck.mjs` reads the command from PID 1's command line (the ENTRYPOINT, possibly
// behind an init such as tini); `node healthcheck.mjs <command> [args...]` names it explicitly.
// Exit 0 = healthy, 1 = unhealthy (the only codes Docker defines).

import { readFileSync } from 'node:fs';
import net from 'node:net';

const TIMEOUT_MS = 4000;
const DEFAULT_HTTP_PORT = 3000;
const DEFAULT_SANDBOX_PORT = 8090;
// Bind-all addresses are not addresses to connect to; the service is reachable on loopback then.
const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

/** The dcr-provisioner subcommand and its arguments, from argv or from PID 1's command line. */
function containerCommand() {
  const explicit = process.argv.slice(2);
  if (explicit.length > 0) return explicit;
  try {
    const args = readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
    const main = args.findIndex((arg) => arg.endsWith('main.js'));
    if (main >= 0) return args.slice(main + 1);
  } catch {
    // Not Linux, or /proc hidden: fall back to the image's default command.
  }
  return ['start'];
}

function optionValue(args, name) {
  const index = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (index < 0) return undefined;
  const arg = args[index];
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
}

function port(value, fallback) {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
}

async function httpHealthy() {
  const configured = (process.env.HTTP_HOST ?? '').trim();
  const host = WILDCARD_HOSTS.has(configured) ? '127.0.0.1' : configured;
  const hostInUrl = net.isIPv6(host.replace(/^\[|\]$/g, '')) ? `[${host.replace(/^\[|\]$/g, '')}]` : host;
  const url = `http://${hostInUrl}:${port(process.env.HTTP_PORT, DEFAULT_HTTP_PORT)}/healthz`;
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  await response.body?.cancel();
  return response.status === 200;
}

function acceptsConnections(tcpPort) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: tcpPort, timeout: TIMEOUT_MS });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

async function healthy([command = 'start', ...args]) {
  switch (command) {
    case 'start':
    case 'server':
    case 'worker':
      return httpHealthy();
    case 'sandbox':
      return acceptsConnections(
        port(optionValue(args, '--port') ?? process.env.SANDBOX_PORT, DEFAULT_SANDBOX_PORT),
      );
    default:
      return true;
  }
}

try {
  process.exitCode = (await healthy(containerCommand())) ? 0 : 1;
} catch {
  process.exitCode = 1;
}
