// The service under the least Redis ACL the README documents for a managed Redis (ElastiCache, MemoryDB):
// keys under its hash-tagged prefix only, no dangerous commands except the few BullMQ and the cluster
// client need. A registration runs end to end and Redis logs no refusal of its own; a user missing one
// of those permissions, or a wrong password, stops the worker with one message naming the refusal.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { createRedisConnection } from '../../../src/queue/index.js';
import { startRegistrationWorker } from '../../../workers/registration-worker.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type PasswordRedis, REDIS_PASSWORD, startPasswordRedis } from '../../support/password-redis.js';
import { type Pipeline, pipelineEnv, startPipeline } from './harness.js';

const PREFIX = '{dcr-acl}';
/** The README's ACL ("Running on Redis Cluster"), with the prefix of this test. */
const SERVICE_ACL = [
  `~${PREFIX}*`,
  '&*',
  '+@all',
  '-@dangerous',
  '+info',
  '+cluster|info',
  '+cluster|slots',
  '+cluster|nodes',
  '+client|setname',
  '+client|getname',
];

async function aclLog(redis: PasswordRedis): Promise<Array<Record<string, unknown>>> {
  const admin = createRedisConnection({ REDIS_URL: redis.adminUrl, REDIS_CLUSTER: false }, 'worker');
  try {
    const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
    return entries.map((entry) => {
      const record: Record<string, unknown> = {};
      for (let i = 0; i < entry.length; i += 2) record[String(entry[i])] = entry[i + 1];
      return record;
    });
  } finally {
    admin.disconnect();
  }
}

describe('the documented Redis ACL', () => {
  let redis: PasswordRedis;
  let pipeline: Pipeline;
  let smart: SmartServer;
  beforeAll(async () => {
    redis = await startPasswordRedis(SERVICE_ACL);
    smart = await startSmartServer();
    pipeline = await startPipeline('acl', {
      REDIS_URL: redis.url,
      REDIS_CLUSTER: 'false',
      QUEUE_PREFIX: PREFIX,
    });
    await pipeline.startWorker();
  });
  afterAll(async () => {
    await pipeline?.close();
    await smart?.close();
    await redis?.stop();
  });

  it('is enough to register, rotate and announce, and nothing the service sends is refused', async () => {
    const queued = await pipeline.producer.enqueue({
      tenantId: 'acl',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: publicAppMetadata({ redirectUris: ['https://app.example/cb'] }),
    });
    const job = await pipeline.waitForJob((queued as { jobId: string }).jobId);
    expect(job.state, job.failedReason).toBe('completed');
    expect((await pipeline.events()).map((event) => event.type)).toEqual(['client.registered']);

    // The ACL is in force: a key outside the prefix and a dangerous command are refused, and logged.
    await expect(pipeline.redis.get('outside-the-prefix')).rejects.toThrow(/NOPERM/);
    await expect(pipeline.redis.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
    const refused = await aclLog(redis);
    expect(refused.map((entry) => entry.object).sort()).toEqual(['flushall', 'outside-the-prefix']);
  });
});

describe('a Redis user the service cannot work with', () => {
  it('stops the worker with the refusal named: a user without INFO', async () => {
    const redis = await startPasswordRedis(SERVICE_ACL.filter((rule) => rule !== '+info'));
    try {
      const config = loadConfig(
        pipelineEnv('acl-noinfo', { REDIS_URL: redis.url, REDIS_CLUSTER: 'false', QUEUE_PREFIX: PREFIX }),
      );
      const error = await startRegistrationWorker(config).catch((err: unknown) => err);
      expect(String(error)).toMatch(
        /Redis at REDIS_URL \(127\.0\.0\.1:\d+\) refused the service's first command: NOPERM/,
      );
    } finally {
      await redis.stop();
    }
  });

  it('stops the worker with the refusal named, never the password: a wrong password', async () => {
    const redis = await startPasswordRedis(SERVICE_ACL);
    try {
      const wrongUrl = redis.url.replace(REDIS_PASSWORD, 'not-the-password-93f1');
      const config = loadConfig(
        pipelineEnv('acl-wrongpass', { REDIS_URL: wrongUrl, REDIS_CLUSTER: 'false', QUEUE_PREFIX: PREFIX }),
      );
      const error = await startRegistrationWorker(config).catch((err: unknown) => err);
      expect(String(error)).toMatch(/refused the service's first command: WRONGPASS/);
      expect(String(error)).not.toContain('not-the-password-93f1');
    } finally {
      await redis.stop();
    }
  });
});
