// Appends completion events to the durable channel. BullMQ's QueueEvents is trimmed and lossy, so outcomes
// go to a Redis Stream of our own that consumer groups read at their own pace (REFERENCE.md, BullMQ).

import type { Cluster, Redis } from 'ioredis';
import { formatIssues } from '../failures/index.js';
import { EventPublishError, InvalidEventError } from './errors.js';
import { eventId } from './event-id.js';
import { type EventData, type EventType, eventDataSchemas, isEventType } from './event-types.js';

export interface PublishOptions {
  /** Tells apart several outcomes of one type announced by one job; see `eventId`. */
  discriminator?: string;
}

export interface PublishedEvent {
  /** Deterministic per outcome: the same outcome published twice carries the same id. */
  eventId: string;
  /** The entry's id in the stream (`<ms>-<seq>`); differs between duplicates. */
  streamId: string;
}

/**
 * Where the use case announces outcomes. Delivery is at-least-once: a caller that is unsure whether a
 * publish went through publishes again, and consumers drop the duplicate by `eventId`.
 */
export interface EventPublisher {
  /** Validates and appends one event. Throws `InvalidEventError` before writing anything if `data` is wrong. */
  publish<T extends EventType>(
    type: T,
    data: EventData<T>,
    options?: PublishOptions,
  ): Promise<PublishedEvent>;
}

/** DESIGN.md: the stream keeps about this many entries (`MAXLEN ~`). */
export const DEFAULT_EVENT_STREAM_MAX_LENGTH = 100_000;

/**
 * The stream's key for a queue prefix. With a hash-tagged prefix such as `{dcr}` the stream hashes to the
 * same Redis Cluster slot as the queues.
 */
export function eventStreamKey(queuePrefix: string): string {
  return `${queuePrefix}:events`;
}

export interface RedisStreamEventPublisherOptions {
  /** Connection to write with; shared with other producers is fine, XADD never blocks. */
  redis: Redis | Cluster;
  /** Usually `eventStreamKey(QUEUE_PREFIX)`. */
  streamKey: string;
  /**
   * Entries the stream keeps. Trimming is approximate (`MAXLEN ~`): Redis only drops whole internal nodes,
   * which is much cheaper, so the stream may hold up to one node's worth more (by default 100 entries).
   * @defaultValue 100000
   */
  maxLength?: number;
}

export class RedisStreamEventPublisher implements EventPublisher {
  readonly #redis: Redis | Cluster;
  readonly #streamKey: string;
  readonly #maxLength: number;

  constructor(options: RedisStreamEventPublisherOptions) {
    const maxLength = options.maxLength ?? DEFAULT_EVENT_STREAM_MAX_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
    }
    this.#redis = options.redis;
    this.#streamKey = options.streamKey;
    this.#maxLength = maxLength;
  }

  async publish<T extends EventType>(
    type: T,
    data: EventData<T>,
    options: PublishOptions = {},
  ): Promise<PublishedEvent> {
    if (!isEventType(type)) throw new InvalidEventError(`unknown event type ${JSON.stringify(type)}`);
    const parsed = eventDataSchemas[type].safeParse(data);
    if (!parsed.success) {
      // Issues name the field and the problem, never the value, so the message cannot leak what was refused.
      throw new InvalidEventError(`invalid ${type} event data: ${formatIssues(parsed.error.issues)}`);
    }
    const id = eventId(type, parsed.data.jobId, options.discriminator);
    let streamId: string | null;
    try {
      streamId = await this.#redis.xadd(
        this.#streamKey,
        'MAXLEN',
        '~',
        this.#maxLength,
        '*',
        'type',
        type,
        'eventId',
        id,
        'data',
        JSON.stringify(parsed.data),
      );
    } catch (err) {
      throw new EventPublishError(`could not append ${type} event ${id} to ${this.#streamKey}`, {
        cause: err,
      });
    }
    // XADD answers null only with NOMKSTREAM, which we never send; guard anyway rather than return a lie.
    if (streamId === null) throw new EventPublishError(`Redis did not append ${type} event ${id}`);
    return { eventId: id, streamId };
  }
}
