// `dcr-provisioner demo`: the whole mission on a developer's machine with no setup — a local Redis
// (spawned if none answers), the sandbox SMART server, the file secret store under ./.data, the
// worker, the API and the board — then sample tenants, progress as they finish, and a summary.

import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { startApplication } from '../../workers/application.js';
import { type Config, loadConfig, withoutUserinfo } from '../config/index.js';
import { type RegistrationStatus, registrationStatus } from '../queue/index.js';
import { type SmartServer, startSmartServer } from '../sandbox/index.js';
import { FileSecretStore, registrationSecretName } from '../secrets/index.js';
import { ensureLocalRedis } from './local-redis.js';
import { type SampleTenant, sampleTenants } from './sample-tenants.js';

export interface DemoOptions {
  /** Exit after the summary instead of running until Ctrl-C. */
  once: boolean;
  env?: NodeJS.ProcessEnv;
  write?: (text: string) => void;
}

export interface DemoRow {
  tenantId: string;
  profile: string;
  state: string;
  clientId?: string;
  secretLocation?: string;
  failureCode?: string;
  /** Whether a token request with the stored credentials worked; absent when none was made. */
  verified?: boolean;
  asExpected: boolean;
}

const FINISHED = new Set(['completed', 'failed']);

/** `preferred` when nothing listens there, else a free port the system picks. */
async function freePortOr(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const { port: bound } = server.address() as AddressInfo;
        server.close(() => resolve(bound));
      });
    });
  return (await tryListen(preferred)) ?? ((await tryListen(0)) as number);
}

function demoConfig(env: NodeJS.ProcessEnv, redisUrl: string, httpPort: number): Config {
  return loadConfig({
    LOG_LEVEL: 'warn',
    ...env,
    HTTP_PORT: String(httpPort),
    // The sandbox fetches the keys of the jwks_uri sample from the API process itself.
    JWKS_PUBLIC_BASE_URL: env.JWKS_PUBLIC_BASE_URL ?? `http://127.0.0.1:${httpPort}`,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: env.QUEUE_PREFIX ?? 'dcr-demo',
    SECRETS_BACKEND: 'file',
    ALLOW_INSECURE_LOCALHOST: 'true',
    API_TOKEN: env.API_TOKEN ?? randomBytes(18).toString('base64url'),
    BACKOFF_BASE_MS: env.BACKOFF_BASE_MS ?? '500',
    BACKOFF_MAX_MS: env.BACKOFF_MAX_MS ?? '5000',
  });
}

function table(rows: DemoRow[]): string {
  const header = ['tenant', 'profile', 'state', 'client id', 'verified', 'failure', 'secret location'];
  const lines = rows.map((r) => [
    r.tenantId,
    r.profile,
    r.asExpected ? r.state : `${r.state} (unexpected)`,
    r.clientId ?? '-',
    r.verified === undefined ? '-' : r.verified ? 'yes' : 'no',
    r.failureCode ?? '-',
    r.secretLocation ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const format = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [format(header), format(widths.map((w) => '-'.repeat(w))), ...lines.map(format)].join('\n');
}

async function waitForOutcomes(
  samples: SampleTenant[],
  lookup: (tenantId: string) => Promise<RegistrationStatus | undefined>,
  write: (text: string) => void,
  timeoutMs: number,
): Promise<Map<string, RegistrationStatus | undefined>> {
  const outcomes = new Map<string, RegistrationStatus | undefined>();
  const deadline = Date.now() + timeoutMs;
  while (outcomes.size < samples.length && Date.now() < deadline) {
    for (const sample of samples) {
      if (outcomes.has(sample.tenantId)) continue;
      const status = await lookup(sample.tenantId);
      if (status && FINISHED.has(status.state)) {
        outcomes.set(sample.tenantId, status);
        const detail =
          status.state === 'failed' ? ` (${status.lastFailure?.code})` : ` as ${status.clientId}`;
        write(`  [${outcomes.size}/${samples.length}] ${sample.tenantId}: ${status.state}${detail}\n`);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const sample of samples)
    if (!outcomes.has(sample.tenantId)) outcomes.set(sample.tenantId, await lookup(sample.tenantId));
  return outcomes;
}

export async function runDemo(options: DemoOptions): Promise<DemoRow[]> {
  const env = options.env ?? process.env;
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  };

  try {
    write('dcr-provisioner demo\n');
    const redis = await ensureLocalRedis(env.REDIS_URL);
    cleanups.push(redis.stop);
    write(
      `  redis            ${withoutUserinfo(redis.url)}${redis.spawned ? ' (spawned for the demo)' : ''}\n`,
    );

    const sandbox: SmartServer = await startSmartServer({ initialAccessToken: true });
    cleanups.push(() => sandbox.close());
    write(
      `  sandbox server   ${sandbox.fhirBaseUrl} (oidc-provider; registration at ${sandbox.registrationEndpoint})\n`,
    );

    // The port is settled before the configuration: the jwks_uri sample registers a URL on it.
    const config = demoConfig(env, redis.url, await freePortOr(Number(env.HTTP_PORT ?? 3000)));
    const app = await startApplication(config, { pretty: true });
    cleanups.push(() => app.close());
    const secretStore = new FileSecretStore({ rootDir: config.SECRETS_FILE_DIR });
    write(`  secrets          ${secretStore.rootDir} (file store, mode 0600)\n`);
    write(`  api              ${app.url}/v1/registrations (Authorization: Bearer ${config.API_TOKEN})\n`);
    write(`  board            ${app.url}/admin/queues (user: admin, password: ${config.API_TOKEN})\n\n`);

    const samples = sampleTenants();
    const requests = await Promise.all(
      samples.map(async (s) => s.request(sandbox.fhirBaseUrl, await sandbox.issueInitialAccessToken())),
    );
    const results = await app.producer.enqueueMany(requests);
    write(
      `enqueued ${results.filter((r) => r.status === 'queued' || r.status === 'already_queued').length} sample tenants; waiting for them:\n`,
    );

    const outcomes = await waitForOutcomes(
      samples,
      (tenantId) => registrationStatus(app.status, tenantId, sandbox.fhirBaseUrl),
      write,
      60_000,
    );

    const rows: DemoRow[] = samples.map((sample) => {
      const status = outcomes.get(sample.tenantId);
      const state = status?.state ?? 'unknown';
      const failureCode = status?.lastFailure?.code;
      const secretId = registrationSecretName(
        config.SECRET_NAME_PREFIX,
        sample.tenantId,
        sandbox.fhirBaseUrl,
      );
      return {
        tenantId: sample.tenantId,
        profile: sample.profile,
        state,
        ...(status?.clientId
          ? { clientId: status.clientId, secretLocation: secretStore.locate(secretId) }
          : {}),
        ...(state === 'failed' && failureCode ? { failureCode } : {}),
        ...(status?.verified !== undefined ? { verified: status.verified } : {}),
        asExpected:
          state === sample.expectedState &&
          (sample.expectedCode === undefined || failureCode === sample.expectedCode) &&
          (sample.expectVerified === undefined || status?.verified === sample.expectVerified),
      };
    });
    write(`\n${table(rows)}\n\n`);
    write(
      `Secrets are JSON files under ${secretStore.rootDir}; completion events are on the Redis stream ${config.QUEUE_PREFIX}:events.\n`,
    );

    const rotatable = rows.find((row) => row.state === 'completed');
    if (rotatable) {
      write(
        `Rotate one by hand: curl -X POST -H 'Authorization: Bearer ${config.API_TOKEN}' -H 'Content-Type: application/json' ` +
          `-d '${JSON.stringify({ fhirBaseUrl: sandbox.fhirBaseUrl })}' ${app.url}/v1/registrations/${rotatable.tenantId}/rotate\n`,
      );
    }
    if (options.once) return rows;
    write(`Open ${app.url}/admin/queues (user admin, password ${config.API_TOKEN}). Ctrl-C to stop.\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return rows;
  } finally {
    await cleanup();
  }
}
