// The producer side wired from configuration: a fail-fast Redis connection, the registration queue,
// the registry and the secret store behind a RegistrationProducer. The service, the demo and the
// enqueue and status commands all open it the same way.

import { Queue } from 'bullmq';
import type { Config } from '../src/config/index.js';
import {
  openProducerConnection,
  producerSettingsFromConfig,
  REGISTRATION_QUEUE,
  type RedisConnection,
  RegistrationProducer,
  type StatusSources,
} from '../src/queue/index.js';
import { PublishedKeys, RegistrationRegistry } from '../src/registry/index.js';
import { createSecretStore } from '../src/secrets/index.js';

export interface ProducerContext extends StatusSources {
  redis: RedisConnection;
  producer: RegistrationProducer;
  /** What the /jwks/... route serves. */
  publishedKeys: PublishedKeys;
  close(): Promise<void>;
}

export async function openProducerContext(
  config: Config,
  onRedisError: (err: Error) => void = () => {},
): Promise<ProducerContext> {
  const redis = await openProducerConnection(config, onRedisError);
  const queue = new Queue(REGISTRATION_QUEUE, { connection: redis, prefix: config.QUEUE_PREFIX });
  // BullMQ re-emits connection trouble on the queue; unheard, it reaches stderr as a bare stack.
  queue.on('error', onRedisError);
  const registry = new RegistrationRegistry({ redis, prefix: config.QUEUE_PREFIX });
  const publishedKeys = new PublishedKeys({ redis, prefix: config.QUEUE_PREFIX });
  const secretStore = createSecretStore(config);
  const producer = new RegistrationProducer({
    queue,
    secretStore,
    registry,
    ...producerSettingsFromConfig(config),
  });
  return {
    redis,
    queue,
    registry,
    publishedKeys,
    producer,
    close: async () => {
      await queue.close();
      await secretStore.close();
      redis.disconnect();
    },
  };
}
