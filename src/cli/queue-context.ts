// What the enqueue and status commands need, opened from the configuration and closed after one
// command: a fail-fast Redis connection, the registration queue, the registry and the secret store.

import { Queue } from 'bullmq';
import type { Config } from '../config/index.js';
import {
  connected,
  createRedisConnection,
  producerSettingsFromConfig,
  REGISTRATION_QUEUE,
  RegistrationProducer,
  type StatusSources,
} from '../queue/index.js';
import { RegistrationRegistry } from '../registry/index.js';
import { createSecretStore } from '../secrets/index.js';

export interface QueueContext extends StatusSources {
  producer: RegistrationProducer;
  close(): Promise<void>;
}

export async function openQueueContext(config: Config): Promise<QueueContext> {
  const redis = createRedisConnection(config.REDIS_URL, 'producer');
  try {
    await connected(redis);
  } catch {
    redis.disconnect();
    throw new Error(`cannot reach Redis at REDIS_URL (${new URL(config.REDIS_URL).host})`);
  }
  const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix: config.QUEUE_PREFIX });
  const registry = new RegistrationRegistry({ redis, prefix: config.QUEUE_PREFIX });
  const secretStore = createSecretStore(config);
  const producer = new RegistrationProducer({
    queue,
    secretStore,
    registry,
    ...producerSettingsFromConfig(config),
  });
  return {
    queue,
    registry,
    producer,
    close: async () => {
      await queue.close();
      await secretStore.close();
      redis.disconnect();
    },
  };
}
