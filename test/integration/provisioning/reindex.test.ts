// `reindex` rebuilds the registry from the secret store alone: registrations made by the real worker
// against oidc-provider (moto as the store), the registry wiped, then rebuilt and compared with what it
// was. Foreign secrets and initial access tokens under the prefix are skipped with a reason, paging
// follows the store's page tokens (an empty page included), a secret at a name of the old rule is
// reported as misplaced, and no secret value comes back.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidentialSymmetricMetadata, publicAppMetadata } from '../../../src/dcr/index.js';
import { type ReindexProgress, reindexRegistry } from '../../../src/provisioning/index.js';
import { registrationKey } from '../../../src/queue/index.js';
import { type RegistrationRecord, RegistrationRegistry } from '../../../src/registry/index.js';
import {
  FileSecretStore,
  initialAccessTokenSecretName,
  registrationSecretName,
  type SecretStore,
} from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { keysMatching } from '../../support/redis.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';

let pipeline: Pipeline;
let expiring: SmartServer;
let plain: SmartServer;
let prefix: string;

const HANDMADE_URL = 'https://ehr.example/fhir/handmade';
const IAT_VALUE = 'iat-value-must-not-leak-4f1e';
const FOREIGN_TEXT = 'foreign-plain-text-must-not-leak-93ab';
const FOREIGN_JSON = { note: 'foreign-json-must-not-leak-07cd' };
const HANDMADE_SECRET = 'handmade-client-secret-must-not-leak-5b2a';

/** The facts reindex rebuilds; `latestJobId` and `updatedAt` belong to the queue, not the store. */
const FACTS = [
  'tenantId',
  'fhirBaseUrl',
  'clientId',
  'secretId',
  'secretVersionId',
  'clientSecretExpiresAt',
  'registeredAt',
  'rotatedAt',
  'rotationPeriodDays',
  'managed',
] as const;

function facts(record: RegistrationRecord | undefined): Partial<RegistrationRecord> {
  if (!record) return {};
  return Object.fromEntries(FACTS.filter((f) => record[f] !== undefined).map((f) => [f, record[f]]));
}

beforeAll(async () => {
  [pipeline, expiring, plain] = await Promise.all([
    startPipeline('reindex'),
    startSmartServer({ secretExpiresInSeconds: 3600 }),
    startSmartServer(),
  ]);
  prefix = pipeline.config.SECRET_NAME_PREFIX;
  const worker = await pipeline.startWorker();
  try {
    const results = await pipeline.producer.enqueueMany([
      {
        tenantId: 'ri-expiring',
        fhirBaseUrl: expiring.fhirBaseUrl,
        clientMetadata: confidentialSymmetricMetadata({
          clientName: 'ri-expiring',
          redirectUris: ['https://app.example/callback'],
        }),
      },
      {
        tenantId: 'ri-period',
        fhirBaseUrl: plain.fhirBaseUrl,
        clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/callback'] }),
        rotation: { periodDays: 30 },
      },
    ]);
    const jobs = await Promise.all(results.map((r) => pipeline.waitForJob((r as { jobId: string }).jobId)));
    expect(jobs.map((job) => job.state)).toEqual(['completed', 'completed']);
  } finally {
    await worker.close();
  }

  const write = (name: string, value: string, token: string) =>
    pipeline.secretStore.write({ name, value, clientRequestToken: `reindex-test-${token}-0123456789abcdef` });
  const expiringValue = await pipeline.secretStore.readCurrent(
    registrationSecretName(prefix, 'ri-expiring', expiring.fhirBaseUrl),
  );
  await Promise.all([
    // What the producer stores for an initial access token given by value.
    write(initialAccessTokenSecretName(prefix, 'ri-period', plain.fhirBaseUrl), IAT_VALUE, 'iat'),
    write(`${prefix}foreign/not_json`, FOREIGN_TEXT, 'text'),
    write(`${prefix}foreign/no_client_id`, JSON.stringify(FOREIGN_JSON), 'json'),
    // A registration copied under another name: rotation would never write there.
    write(`${prefix}ri-copy/elsewhere`, expiringValue?.value ?? '', 'copy'),
    // Written by hand (or an older version): no registered_at, no RFC 7592 credentials.
    write(
      registrationSecretName(prefix, 'ri-handmade', HANDMADE_URL),
      JSON.stringify({
        client_id: 'handmade-client',
        client_secret: HANDMADE_SECRET,
        fhir_base_url: HANDMADE_URL,
      }),
      'handmade',
    ),
  ]);
}, 60_000);

afterAll(async () => {
  await pipeline.close();
  await Promise.all([expiring.close(), plain.close()]);
});

/** Deletes every registry key of the pipeline: what a Redis that lost its data leaves. */
async function wipeRegistry(queuePrefix: string): Promise<void> {
  for (const part of ['registration', 'tenant', 'rotation']) {
    for (const key of await keysMatching(pipeline.redis, `${queuePrefix}:${part}:*`))
      await pipeline.redis.unlink(key);
  }
}

/** Every secret value under the prefix that must never come back from reindex. */
async function secretsUnderPrefix(): Promise<string[]> {
  const secrets = [IAT_VALUE, FOREIGN_TEXT, FOREIGN_JSON.note, HANDMADE_SECRET];
  for (const [tenantId, server] of [
    ['ri-expiring', expiring],
    ['ri-period', plain],
  ] as const) {
    const value = JSON.parse(
      (await pipeline.secretStore.readCurrent(registrationSecretName(prefix, tenantId, server.fhirBaseUrl)))
        ?.value ?? '{}',
    );
    for (const field of ['client_secret', 'registration_access_token']) {
      if (typeof value[field] === 'string') secrets.push(value[field]);
    }
  }
  return secrets;
}

const registrations = () => [
  { tenantId: 'ri-expiring', fhirBaseUrl: expiring.fhirBaseUrl },
  { tenantId: 'ri-period', fhirBaseUrl: plain.fhirBaseUrl },
  { tenantId: 'ri-handmade', fhirBaseUrl: HANDMADE_URL },
];

const expectedSkips = () => [
  {
    secretId: initialAccessTokenSecretName(prefix, 'ri-period', plain.fhirBaseUrl),
    reason: 'an initial access token, not a registration',
  },
  { secretId: `${prefix}foreign/not_json`, reason: expect.stringMatching(/^not a registration/) },
  { secretId: `${prefix}foreign/no_client_id`, reason: expect.stringMatching(/^not a registration/) },
  {
    secretId: `${prefix}ri-copy/elsewhere`,
    reason: expect.stringContaining(
      `belong at ${registrationSecretName(prefix, 'ri-copy', expiring.fhirBaseUrl)}`,
    ),
  },
];

const bySecretId = (a: { secretId: string }, b: { secretId: string }) => a.secretId.localeCompare(b.secretId);

describe('reindexRegistry', () => {
  it('rebuilds the registry from the secret store alone, page by page, skipping what is not a registration', async () => {
    const keys = registrations().map(({ tenantId, fhirBaseUrl }) => registrationKey(tenantId, fhirBaseUrl));
    // The worker recorded its two registrations; the hand-written one is known only to the store.
    const before = await Promise.all(keys.map((key) => pipeline.registry.get(key)));
    expect(before[0]).toMatchObject({ managed: true, clientSecretExpiresAt: expect.any(Number) });
    expect(before[1]).toMatchObject({ rotationPeriodDays: 30 });
    expect(before[2]).toBeUndefined();

    await wipeRegistry(pipeline.config.QUEUE_PREFIX);
    expect(await pipeline.registry.get(keys[0] as string)).toBeUndefined();

    const pageTokens: Array<string | undefined> = [];
    const store: Pick<SecretStore, 'list' | 'readCurrent'> = {
      list: (listPrefix, options) => {
        pageTokens.push(options?.pageToken);
        return pipeline.secretStore.list(listPrefix, options);
      },
      readCurrent: (name) => pipeline.secretStore.readCurrent(name),
    };
    const progress: ReindexProgress[] = [];
    const outcome = await reindexRegistry(
      { secretStore: store, registry: pipeline.registry, secretNamePrefix: prefix, pageSize: 2 },
      (p) => progress.push(p),
    );

    expect(outcome).toMatchObject({ scanned: 7, indexed: 3, skippedTotal: 4 });
    expect([...outcome.skipped].sort(bySecretId)).toEqual(expectedSkips().sort(bySecretId));
    // Seven names at two a page: four list calls, each after the first with the previous page's token.
    expect(pageTokens).toHaveLength(4);
    expect(pageTokens[0]).toBeUndefined();
    expect(pageTokens.slice(1).every((token) => typeof token === 'string')).toBe(true);
    expect(progress.at(-1)).toEqual({ listed: 7, scanned: 7, indexed: 3, skipped: 4 });

    const after = await Promise.all(keys.map((key) => pipeline.registry.get(key)));
    expect(facts(after[0])).toEqual(facts(before[0]));
    expect(facts(after[1])).toEqual(facts(before[1]));
    const handmade = await pipeline.secretStore.readCurrent(
      registrationSecretName(prefix, 'ri-handmade', HANDMADE_URL),
    );
    expect(facts(after[2])).toEqual({
      tenantId: 'ri-handmade',
      fhirBaseUrl: HANDMADE_URL,
      clientId: 'handmade-client',
      secretId: registrationSecretName(prefix, 'ri-handmade', HANDMADE_URL),
      secretVersionId: handmade?.versionId,
      // A secret without an expiry, and without registered_at: the version's creation time.
      clientSecretExpiresAt: 'unknown',
      registeredAt: handmade?.createdAt?.toISOString(),
      managed: false,
    });
    expect(await pipeline.registry.keysOfTenant('ri-period')).toEqual([keys[1]]);

    // The sweep's sorted sets are back: the expiring secret is due again, the period one when it runs out.
    const due = async (now: Date, rotateBeforeExpirySeconds: number) => {
      const found: Array<{ tenantId: string; due: string }> = [];
      for await (const page of pipeline.registry.due({ now, rotateBeforeExpirySeconds }))
        found.push(...page.map(({ tenantId, due }) => ({ tenantId, due })));
      return found;
    };
    // The 1-hour secret is due once half its life has passed (within the 7-day window from the start).
    expect(await due(new Date(), 7 * 86_400)).toEqual([]);
    expect(await due(new Date(Date.now() + 40 * 60_000), 7 * 86_400)).toEqual([
      { tenantId: 'ri-expiring', due: 'expiry' },
    ]);
    expect(await due(new Date(Date.now() + 31 * 86_400_000), 0)).toEqual([
      { tenantId: 'ri-expiring', due: 'expiry' },
      { tenantId: 'ri-period', due: 'period' },
    ]);

    const reported = JSON.stringify({ outcome, progress });
    for (const secret of await secretsUnderPrefix()) expect(reported).not.toContain(secret);
    const redis = await pipeline.dumpRedis();
    for (const secret of await secretsUnderPrefix()) expect(redis).not.toContain(secret);
  });

  it('is idempotent: a second run over an intact registry leaves the same records', async () => {
    const keys = registrations().map(({ tenantId, fhirBaseUrl }) => registrationKey(tenantId, fhirBaseUrl));
    const before = await Promise.all(keys.map((key) => pipeline.registry.get(key)));
    const outcome = await reindexRegistry({
      secretStore: pipeline.secretStore,
      registry: pipeline.registry,
      secretNamePrefix: prefix,
    });
    expect(outcome).toMatchObject({ scanned: 7, indexed: 3, skippedTotal: 4 });
    const after = await Promise.all(keys.map((key) => pipeline.registry.get(key)));
    expect(after.map(facts)).toEqual(before.map(facts));
  });

  it('reports a secret written under the old naming rule (no hash) as belonging at its new name', async () => {
    const files = new FileSecretStore({ rootDir: mkdtempSync(path.join(tmpdir(), 'dcr-reindex-old-')) });
    const registry = new RegistrationRegistry({
      redis: pipeline.redis,
      prefix: `${pipeline.config.QUEUE_PREFIX}-old`,
    });
    const fhirBaseUrl = 'https://EHR.example/fhir/R4';
    const value = JSON.stringify({ client_id: 'old-client', fhir_base_url: fhirBaseUrl });
    const newName = registrationSecretName('old/', 'acme-health', fhirBaseUrl);
    try {
      await files.write({
        name: 'old/acme-health/ehr.example_fhir_r4',
        value,
        clientRequestToken: 'reindex-test-old-rule-0123456789abcdef',
      });
      await files.write({
        name: newName,
        value,
        clientRequestToken: 'reindex-test-new-rule-0123456789abcdef',
      });
      const outcome = await reindexRegistry({ secretStore: files, registry, secretNamePrefix: 'old/' });
      expect(outcome).toEqual({
        scanned: 2,
        indexed: 1,
        skippedTotal: 1,
        skipped: [
          {
            secretId: 'old/acme-health/ehr.example_fhir_r4',
            reason: `tenant acme-health and its fhir_base_url ${fhirBaseUrl} belong at ${newName}`,
          },
        ],
      });
      expect(newName).toMatch(/^old\/acme-health\/ehr\.example_fhir_r4-[0-9a-f]{8}$/);
      expect((await registry.get(registrationKey('acme-health', fhirBaseUrl)))?.secretId).toBe(newName);
    } finally {
      await wipeRegistry(`${pipeline.config.QUEUE_PREFIX}-old`);
      await files.close();
    }
  });

  it('works on the file store too: follows an empty page with a token, finishes a page before listing the next, reads at most 8 at once', async () => {
    const files = new FileSecretStore({ rootDir: mkdtempSync(path.join(tmpdir(), 'dcr-reindex-')) });
    // The same secrets, with the same version ids (a write's version id is its request token).
    let token: string | undefined;
    do {
      const page = await pipeline.secretStore.list(prefix, token ? { pageToken: token } : {});
      for (const name of page.names) {
        const current = await pipeline.secretStore.readCurrent(name);
        if (current) await files.write({ name, value: current.value, clientRequestToken: current.versionId });
      }
      token = page.nextPageToken;
    } while (token);
    // Enough foreign secrets for one page to need more than 8 reads.
    for (let i = 0; i < 12; i++) {
      await files.write({
        name: `${prefix}foreign/extra_${i}`,
        value: FOREIGN_TEXT,
        clientRequestToken: `reindex-test-extra-${i}-0123456789abcdef`,
      });
    }

    let reading = 0;
    let mostReading = 0;
    const listedWhileReading: number[] = [];
    const store: Pick<SecretStore, 'list' | 'readCurrent'> = {
      // The first page is empty and carries a token, as Secrets Manager may answer.
      list: async (listPrefix, options) => {
        listedWhileReading.push(reading);
        if (options?.pageToken === undefined) return { names: [], nextPageToken: 'start' };
        const { pageToken, ...rest } = options;
        return files.list(listPrefix, pageToken === 'start' ? rest : options);
      },
      readCurrent: async (name) => {
        reading += 1;
        mostReading = Math.max(mostReading, reading);
        try {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return await files.readCurrent(name);
        } finally {
          reading -= 1;
        }
      },
    };
    const registry = new RegistrationRegistry({
      redis: pipeline.redis,
      prefix: `${pipeline.config.QUEUE_PREFIX}-file`,
    });
    try {
      const outcome = await reindexRegistry({ secretStore: store, registry, secretNamePrefix: prefix });
      expect(outcome).toMatchObject({ scanned: 19, indexed: 3, skippedTotal: 16 });
      expect(listedWhileReading).toEqual([0, 0]);
      expect(mostReading).toBe(8);
      for (const { tenantId, fhirBaseUrl } of registrations()) {
        const key = registrationKey(tenantId, fhirBaseUrl);
        const fromFiles = facts(await registry.get(key));
        const { registeredAt, ...fromMoto } = facts(await pipeline.registry.get(key));
        // The hand-written one has no registered_at: its time is the file version's own.
        expect(fromFiles).toEqual(
          tenantId === 'ri-handmade'
            ? { ...fromMoto, registeredAt: expect.any(String) }
            : { ...fromMoto, registeredAt },
        );
      }
    } finally {
      await wipeRegistry(`${pipeline.config.QUEUE_PREFIX}-file`);
      await files.close();
    }
  });
});
