// Docker does not run on our machines, so the local stack (infra/docker-compose.yml) is checked by
// reading it: Redis is configured as BullMQ needs, and the service's environment is a valid
// configuration for the real schema, with which it can reach the sandbox.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema, loadConfig } from '../../../src/config/index.js';
import { checkOutboundUrl } from '../../../src/http/index.js';

const COMPOSE_FILE = fileURLToPath(new URL('../../../infra/docker-compose.yml', import.meta.url));

/** Variables the service does not read itself but its libraries do (the AWS SDK's credentials). */
const SDK_VARIABLES = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string } | string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }> | string[];
  network_mode?: string;
  volumes?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose's interpolation (`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`) against a given shell environment; an empty one by default, as on a
 * fresh machine where `docker compose up` must work without a .env file.
 */
function interpolate(value: string, shell: Record<string, string> = {}): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name?: string, colon?: string, operator?: string, operand?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare !== undefined) return shell[bare] ?? '';
      const key = name as string;
      const current = shell[key];
      const missing = current === undefined || (colon === ':' && current === '');
      if (operator === '-') return missing ? (operand ?? '') : (current as string);
      if (operator === '?') {
        if (missing) throw new Error(`compose needs ${key}: ${operand}`);
        return current as string;
      }
      return current ?? '';
    },
  );
}

function environmentOf(service: ComposeService, shell: Record<string, string> = {}): Record<string, string> {
  const raw = service.environment ?? {};
  const entries: Array<[string, string]> = Array.isArray(raw)
    ? raw.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw).map(([key, value]) => [key, value === null ? '' : String(value)]);
  return Object.fromEntries(entries.map(([key, value]) => [key, interpolate(value, shell)]));
}

function words(command: string[] | string | undefined): string[] {
  return typeof command === 'string' ? command.split(/\s+/).filter(Boolean) : (command ?? []);
}

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8')) as ComposeFile;
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`infra/docker-compose.yml has no service ${name}`);
  return found;
};

describe('infra/docker-compose.yml', () => {
  it('runs the local stack: redis, moto, the service and the sandbox', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['dcr-provisioner', 'moto', 'redis', 'sandbox']);
  });

  it('runs Redis with noeviction and the append-only file, on a named volume', () => {
    const redis = service('redis');
    expect(redis.image).toMatch(/^redis:7(\.|$)/);
    const command = words(redis.command).join(' ');
    expect(command).toMatch(/--maxmemory-policy noeviction\b/);
    expect(command).toMatch(/--appendonly yes\b/);
    const dataVolume = (redis.volumes ?? []).find((v) => v.endsWith(':/data'));
    expect(dataVolume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(dataVolume?.split(':')[0]);
  });

  it('builds the service from the repository root and runs `start`', () => {
    const app = service('dcr-provisioner');
    expect(app.build).toMatchObject({ context: '..', dockerfile: 'Dockerfile' });
    expect(words(app.command)).toEqual(['start']);
    expect(words(service('sandbox').command)[0]).toBe('sandbox');
    expect(service('sandbox').image).toBe(app.image);
  });

  it('sets only variables the configuration schema knows, or the AWS SDK credentials', () => {
    const known = new Set([...Object.keys(configSchema.shape), ...SDK_VARIABLES]);
    const unknown = Object.keys(environmentOf(service('dcr-provisioner'))).filter((key) => !known.has(key));
    expect(unknown).toEqual([]);
  });

  it('gives a configuration that loads, with Redis, moto and the bind address of the stack', () => {
    const env = environmentOf(service('dcr-provisioner'));
    const config = loadConfig(env);
    expect(config.SECRETS_BACKEND).toBe('aws');
    expect(config.HTTP_HOST).toBe('0.0.0.0');
    expect(config.API_TOKEN).toBeDefined();
    expect(new URL(config.REDIS_URL).hostname).toBe('redis');
    const moto = new URL(config.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? '');
    expect(moto.hostname).toBe('moto');
    expect(moto.port).toBe('5000');
  });

  it('takes API_TOKEN from the shell when set', () => {
    const token = 'a-token-from-the-shell-0123456789';
    expect(loadConfig(environmentOf(service('dcr-provisioner'), { API_TOKEN: token })).API_TOKEN).toBe(token);
  });

  it('publishes ports on loopback only, since the default token is public', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const port of s.ports ?? []) expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('lets the service reach the sandbox over http on their shared loopback, and nowhere else', () => {
    const config = loadConfig(environmentOf(service('dcr-provisioner')));
    const policy = {
      allowInsecureLocalhost: config.ALLOW_INSECURE_LOCALHOST,
      allowedPrivateHosts: config.ALLOWED_PRIVATE_HOSTS,
    };
    const sandbox = service('sandbox');
    expect(sandbox.network_mode).toBe('service:dcr-provisioner');
    const port = words(sandbox.command)[words(sandbox.command).indexOf('--port') + 1];
    expect(() => checkOutboundUrl(`http://127.0.0.1:${port}/fhir`, policy)).not.toThrow();
    // Why the shared namespace: plain http to another container is refused whatever the settings.
    expect(() =>
      checkOutboundUrl(`http://sandbox:${port}/fhir`, { ...policy, allowedPrivateHosts: ['sandbox'] }),
    ).toThrow(/loopback/);
  });

  it('starts the service after Redis and moto are healthy, and checks the health of every service', () => {
    expect(service('dcr-provisioner').depends_on).toEqual({
      redis: { condition: 'service_healthy' },
      moto: { condition: 'service_healthy' },
    });
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.healthcheck?.test, `${name} has a healthcheck`).toBeDefined();
    }
  });
});
