// Appends completion events to the durable channel. BullMQ's QueueEvents is trimmed and lossy, so outcomes
// go to a Redis Stream of our own that consumer groups read at their own pace (REFERENCE.md, BullMQ).

import type { Cluster, Redis } from 'ioredis';
import { formatIssues } from '../failures/index.js';
import { redisScript } from '../limits/redis-scripts.js';
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
  /** The entry's id in the stream (`<ms>-<seq>`); absent when this outcome was already appended. */
  streamId?: string;
}

/**
 * Where the use case announces outcomes. A caller that is unsure whether a publish went through
 * publishes again; the Redis publisher appends an outcome once within APPEND_ONCE_WINDOW_S, and
 * consumers still drop duplicates by `eventId` (delivery to a consumer group is at-least-once).
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

/**
 * How long an appended event's id is remembered, so the same outcome published again (a job re-run
 * after its completion was lost — a Redis failover, a slot migration, a worker killed after publishing)
 * is not appended twice. Longer than any retry of one job's announcement.
 */
export const APPEND_ONCE_WINDOW_S = 3600;

/**
 * Appends unless the event id's marker exists, and sets the marker in the same script: atomic, so two
 * workers racing on one outcome append it once. The marker shares the stream's hash tag (its key starts
 * with the stream's), so both live in one Cluster slot. A refused XADD aborts the script before the
 * marker is set, so a retry can still append.
 */
const APPEND_ONCE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[3], 'eventId', ARGV[4], 'data', ARGV[5])
redis.call('SET', KEYS[2], id, 'EX', ARGV[2])
return id
`;

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
  readonly #appendOnce: ReturnType<typeof redisScript>;
  readonly #streamKey: string;
  readonly #maxLength: number;

  constructor(options: RedisStreamEventPublisherOptions) {
    const maxLength = options.maxLength ?? DEFAULT_EVENT_STREAM_MAX_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
    }
    // EVALSHA, like the limits' scripts: the script text is not sent with every event.
    this.#appendOnce = redisScript(options.redis, 'dcrAppendEventOnce', APPEND_ONCE, 2);
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
    let streamId: unknown;
    try {
      streamId = await this.#appendOnce(
        [this.#streamKey, `${this.#streamKey}:seen:${id}`],
        [this.#maxLength, APPEND_ONCE_WINDOW_S, type, id, JSON.stringify(parsed.data)],
      );
    } catch (err) {
      throw new EventPublishError(`could not append ${type} event ${id} to ${this.#streamKey}`, {
        cause: err,
      });
    }
    return typeof streamId === 'string' ? { eventId: id, streamId } : { eventId: id };
  }
}
