// The project's own chaos run (`npm run test:chaos`): many tenants registered while everything that can
// go wrong does, at once — a gateway in front of a real oidc-provider that loses answers after the
// server acted (502, 504, cut connections) or refuses before it (503, resets), a Secrets Manager proxy
// in front of moto that throttles, fails and loses the answers of writes that landed, Redis connections
// killed every few seconds and one CLIENT PAUSE, and the worker process SIGKILLed and restarted twice.
// Then, with the faults gone, the invariants users buy are asserted end to end:
//   every tenant completed; each secret holds a live client; every live client no secret names is
//   reported on its tenant (orphanedClientId(s) or possibleOrphan); no tenant announced with two client
//   ids; no secret byte in Redis or the worker's logs.
// Every fault decision comes from a seeded random source; the seed is printed, and CHAOS_SEED replays it.
// The run has a Redis of its own (spawned on a free port), so killing and pausing clients touches no one
// else's; moto is the test run's, under a prefix of this run's own.

import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { confidentialSymmetricMetadata } from '../../src/dcr/index.js';
import { type LocalRedis, spawnLocalRedis } from '../../src/demo/local-redis.js';
import { eventStreamKey } from '../../src/events/index.js';
import {
  createRedisConnection,
  producerSettingsFromConfig,
  REGISTRATION_QUEUE,
  RegistrationProducer,
} from '../../src/queue/index.js';
import { RegistrationRegistry } from '../../src/registry/index.js';
import { createSecretStore, registrationSecretName, type SecretStore } from '../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../fixtures/smart-server.js';
import { pipelineEnv } from '../integration/pipeline/harness.js';
import { type GatewayAnswer, type GatewayProxy, startGatewayProxy } from '../support/gateway-proxy.js';
import { dumpKeys, readEventStream, type StreamEvent } from '../support/redis.js';
import {
  type SecretsFault,
  type SecretsFaultProxy,
  startSecretsFaultProxy,
} from '../support/secrets-fault-proxy.js';
import { forkWorker, stopWorker } from '../support/worker-fleet.js';
import { chaosSeed, seededRandom } from './seeded-random.js';

const TENANTS = Number(process.env.CHAOS_TENANTS ?? '120');
/** How long the faults last; then the backlog drains without them. */
const CHAOS_MS = 25_000;
const DRAIN_MS = 150_000;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A worker in its own process, its log lines collected; SIGKILL is the crash the chaos run needs. */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos', () => {
  it(`keeps every guarantee for ${TENANTS} tenants under compound faults`, async () => {
    const seed = chaosSeed();
    const random = seededRandom(seed);
    console.log(`chaos seed ${seed} (replay: CHAOS_SEED=${seed} npm run test:chaos)`);

    const redis: LocalRedis = await spawnLocalRedis();
    cleanups.push(() => redis.stop());
    const initialAccessToken = `chaos-iat-${randomBytes(16).toString('hex')}`;
    const smart: SmartServer = await startSmartServer({ initialAccessToken });
    cleanups.push(() => smart.close());
    const gateway: GatewayProxy = await startGatewayProxy(smart.issuer, { rewriteOrigin: true });
    cleanups.push(() => gateway.close());
    const store: SecretsFaultProxy = await startSecretsFaultProxy(inject('awsEndpoint'));
    cleanups.push(() => store.close());

    const settings = {
      REDIS_URL: redis.url,
      REDIS_CLUSTER: 'false',
      BACKOFF_BASE_MS: '50',
      BACKOFF_MAX_MS: '1000',
      HTTP_TIMEOUT_MS: '2000',
      JOB_ATTEMPTS: '30',
      WORKER_CONCURRENCY: '16',
      // Polite enough that the backlog takes about as long as the faults last, so that every fault
      // meets work in flight: 120 registrations at 6 requests a second.
      SERVER_MAX_IN_FLIGHT: '4',
      SERVER_RATE_PER_S: '6',
      // A breaker that opens and probes during the run, and comes back quickly.
      BREAKER_FAILURE_THRESHOLD: '10',
      BREAKER_COOLDOWN_MS: '500',
      SECRET_WRITES_PER_S: '200',
      LOG_LEVEL: 'debug',
    };
    const producerEnv = pipelineEnv(`chaos-${seed}`, settings);
    const workerEnv = {
      ...producerEnv,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: store.url,
      // Locks outlast the CLIENT PAUSE below, so only the SIGKILLs make jobs stall.
      TEST_LOCK_DURATION_MS: '4000',
    };
    const config = loadConfig(producerEnv);
    const connection = createRedisConnection(config, 'worker');
    const queue = new Queue(REGISTRATION_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
    const secretStore: SecretStore = createSecretStore(config);
    cleanups.push(async () => {
      await queue.close();
      await secretStore.close();
      connection.disconnect();
    });
    const producer = new RegistrationProducer({
      queue,
      secretStore,
      registry: new RegistrationRegistry({ redis: connection, prefix: config.QUEUE_PREFIX }),
      ...producerSettingsFromConfig(config),
    });

    const logs: string[] = [];
    let worker = await forkWorker(workerEnv, { logs, stderr: process.env.CHAOS_WORKER_STDERR === '1' });
    cleanups.push(() => stopWorker(worker, 'SIGKILL'));

    const tenants = Array.from({ length: TENANTS }, (_, i) => `chaos-${i}`);
    const fhirBaseUrl = gateway.url('/fhir');
    const results = await producer.enqueueMany(
      tenants.map((tenantId) => ({
        tenantId,
        fhirBaseUrl,
        // The client's name is its tenant: every client at the server can be traced to whoever asked.
        clientMetadata: confidentialSymmetricMetadata({
          clientName: tenantId,
          redirectUris: ['https://app.example/callback'],
        }),
        initialAccessToken: { value: initialAccessToken },
      })),
    );
    const jobIds = results.map((result, i) => {
      if (result.status !== 'queued') throw new Error(`${tenants[i]} not queued: ${JSON.stringify(result)}`);
      return result.jobId;
    });

    // The faults.
    let faulty = true;
    gateway.setRule(({ method, path: requestPath }): GatewayAnswer => {
      if (!faulty) return 'pass';
      if (method === 'POST' && requestPath === '/reg') {
        return random.pick<GatewayAnswer>(
          [
            ['lose-answer', 0.06],
            [502, 0.04],
            [504, 0.03],
            [503, 0.04],
            ['reset', 0.03],
          ],
          'pass',
        );
      }
      if (requestPath.startsWith('/reg/')) {
        return random.pick<GatewayAnswer>(
          [
            ['lose-answer', 0.05],
            [502, 0.05],
          ],
          'pass',
        );
      }
      return random.pick<GatewayAnswer>(
        [
          [502, 0.05],
          ['reset', 0.05],
        ],
        'pass',
      );
    });
    store.setRule(({ isWrite }): SecretsFault => {
      if (!faulty) return 'pass';
      return isWrite
        ? random.pick<SecretsFault>(
            [
              ['throttle', 0.08],
              ['fail', 0.04],
              ['lose-answer', 0.04],
              ['reset', 0.02],
            ],
            'pass',
          )
        : random.pick<SecretsFault>(
            [
              ['fail', 0.03],
              ['reset', 0.02],
            ],
            'pass',
          );
    });
    const controller = new Redis(redis.url);
    cleanups.push(async () => controller.disconnect());
    let connectionKills = 0;
    const killer = setInterval(() => {
      controller
        .client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
        .then((killed) => {
          connectionKills += Number(killed);
        })
        .catch(() => {});
    }, 3000);
    cleanups.push(async () => clearInterval(killer));

    const started = Date.now();
    const at = (ms: number) => sleep(Math.max(0, started + ms - Date.now()));
    /** Jobs in the hands of the worker at each SIGKILL: the crash must meet work in flight. */
    const activeAtKills: number[] = [];
    const crashAndRestart = async () => {
      activeAtKills.push(await queue.getActiveCount());
      await stopWorker(worker, 'SIGKILL');
      worker = await forkWorker(workerEnv, { logs, stderr: process.env.CHAOS_WORKER_STDERR === '1' });
    };
    await at(6000);
    await crashAndRestart();
    await at(10_000);
    await controller.call('CLIENT', 'PAUSE', '1500', 'ALL');
    await at(16_000);
    await crashAndRestart();
    await at(CHAOS_MS);
    faulty = false;
    clearInterval(killer);

    // The backlog drains without faults.
    const deadline = Date.now() + DRAIN_MS;
    let states: string[] = [];
    for (;;) {
      states = await Promise.all(jobIds.map((id) => queue.getJobState(id)));
      if (states.every((state) => state === 'completed' || state === 'failed')) break;
      if (Date.now() > deadline) break;
      await sleep(250);
    }
    await stopWorker(worker, 'SIGTERM');

    const events = await readEventStream(connection, eventStreamKey(config.QUEUE_PREFIX));
    const byTenant = new Map<string, StreamEvent[]>();
    const seenEventIds = new Set<string>();
    for (const event of events) {
      if (seenEventIds.has(event.eventId)) continue;
      seenEventIds.add(event.eventId);
      const tenant = String(event.data.tenantId);
      byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), event]);
    }
    const secretName = (tenantId: string) =>
      registrationSecretName(config.SECRET_NAME_PREFIX, tenantId, fhirBaseUrl);
    const stored = new Map<string, Record<string, unknown>>();
    const secrets = new Set<string>([initialAccessToken]);
    for (const tenantId of tenants) {
      for (const version of [
        await secretStore.readCurrent(secretName(tenantId)),
        await secretStore.readPrevious(secretName(tenantId)),
      ]) {
        if (!version) continue;
        const value = JSON.parse(version.value) as Record<string, unknown>;
        if (!stored.has(tenantId)) stored.set(tenantId, value);
        for (const field of ['client_secret', 'registration_access_token']) {
          if (typeof value[field] === 'string') secrets.add(value[field] as string);
        }
      }
    }
    const liveClients = smart.stats.liveClientIds();
    for (const clientId of liveClients) {
      const secret = smart.stats.getClient(clientId)?.client_secret;
      if (typeof secret === 'string') secrets.add(secret);
    }

    const summary = {
      seed,
      tenants: TENANTS,
      completed: states.filter((s) => s === 'completed').length,
      failed: states.filter((s) => s === 'failed').length,
      liveClients: liveClients.length,
      gatewayFaults: gateway.log.filter(
        (entry) => typeof entry.answered === 'string' || entry.answered >= 500,
      ).length,
      storeFaults: Object.entries(store.counts)
        .filter(([key]) => !key.endsWith(':pass'))
        .reduce((sum, [, n]) => sum + n, 0),
      connectionKills,
      activeAtKills,
      possibleOrphans: [...byTenant.values()].filter((list) => list.some((e) => e.data.possibleOrphan))
        .length,
      orphanedClients: [...byTenant.values()].flatMap((list) =>
        list.flatMap(
          (e) =>
            (e.data.orphanedClientIds as string[] | undefined) ??
            (e.data.orphanedClientId ? [e.data.orphanedClientId] : []),
        ),
      ).length,
    };
    console.log(`chaos summary ${JSON.stringify(summary)}`);
    // Enough happened for the invariants to mean something.
    expect(summary.gatewayFaults).toBeGreaterThan(5);
    expect(summary.storeFaults).toBeGreaterThan(5);
    expect(summary.connectionKills).toBeGreaterThan(3);
    expect(
      activeAtKills.every((active) => active > 0),
      'both crashes met jobs in flight',
    ).toBe(true);

    // Every tenant completed.
    const unfinished = tenants.filter((_, i) => states[i] !== 'completed');
    expect(unfinished, `tenants not completed (seed ${seed})`).toEqual([]);

    const named = new Set<string>();
    for (const tenantId of tenants) {
      // No tenant announced with two client ids.
      const registered = (byTenant.get(tenantId) ?? []).filter((e) => e.type === 'client.registered');
      const announced = [...new Set(registered.map((e) => String(e.data.clientId)))];
      expect(announced, `client ids announced for ${tenantId} (seed ${seed})`).toHaveLength(1);
      // Each secret holds a live client: the one announced.
      const current = stored.get(tenantId);
      expect(current?.client_id, `the client stored for ${tenantId} (seed ${seed})`).toBe(announced[0]);
      expect(
        smart.stats.getClient(String(current?.client_id)),
        `${tenantId}'s stored client is live`,
      ).toBeDefined();
      named.add(String(current?.client_id));
    }

    // Every live client that no secret names is reported on its tenant.
    const unreported = liveClients
      .filter((clientId) => !named.has(clientId))
      .filter((clientId) => {
        const tenantId = String(smart.stats.getClient(clientId)?.client_name);
        return !(byTenant.get(tenantId) ?? []).some(
          (e) =>
            e.data.possibleOrphan === true ||
            e.data.orphanedClientId === clientId ||
            (e.data.orphanedClientIds as string[] | undefined)?.includes(clientId),
        );
      });
    expect(unreported, `live clients nobody holds and nobody reported (seed ${seed})`).toEqual([]);

    // No secret byte in Redis or the logs.
    expect(logs.length).toBeGreaterThan(TENANTS);
    const haystacks = { redis: await dumpKeys(connection, '*'), logs: logs.join('\n') };
    for (const [where, text] of Object.entries(haystacks)) {
      const leaked = [...secrets].filter((secret) => text.includes(secret));
      expect(leaked.length, `secrets found in ${where} (seed ${seed})`).toBe(0);
    }
  });
});
