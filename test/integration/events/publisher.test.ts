// The publisher against a real Redis: what it appends, that an outcome is appended once however often
// it is published, what it refuses before writing, and how a refused write is reported and retried.

import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  APPEND_ONCE_WINDOW_S,
  type EventData,
  EventPublishError,
  eventId,
  eventStreamKey,
  InvalidEventError,
  RedisStreamEventPublisher,
} from '../../../src/events/index.js';
import { keysMatching, readEventStream, testQueuePrefix, testRedis } from '../../support/redis.js';

const redis = testRedis();
const prefix = testQueuePrefix('publisher');
afterAll(async () => {
  for (const key of await keysMatching(redis, `${prefix}*`)) await redis.del(key);
  redis.disconnect();
});

/** A stream of its own per case, under the file's prefix (one Cluster slot). */
const streamKey = () => `${prefix}:events-${randomUUID()}`;

const data: EventData<'client.registered'> = {
  tenantId: 'acme',
  fhirBaseUrl: 'https://fhir.example.org/r4',
  clientId: 'c-1',
  secretId: 'dcr/acme/fhir.example.org_r4',
  jobId: 'job-1',
  attempts: 1,
  occurredAt: '2025-01-02T03:04:05.678Z',
};

describe('events/RedisStreamEventPublisher', () => {
  it('appends type, eventId and data, and answers with the entry id', async () => {
    const key = streamKey();
    const published = await new RedisStreamEventPublisher({ redis, streamKey: key }).publish(
      'client.registered',
      data,
      { discriminator: 'v1' },
    );
    expect(published.eventId).toBe(eventId('client.registered', 'job-1', 'v1'));
    const entries = await redis.xrange(key, '-', '+');
    expect(entries.map(([id]) => id)).toEqual([published.streamId]);
    expect(await readEventStream(redis, key)).toEqual([
      { streamId: published.streamId, type: 'client.registered', eventId: published.eventId, data },
    ]);
  });

  it('appends an outcome published again (a job re-run after a lost completion) only once, for the window', async () => {
    const key = streamKey();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    const first = await publisher.publish('client.registered', data);
    const again = await new RedisStreamEventPublisher({ redis, streamKey: key }).publish(
      'client.registered',
      data,
    );
    expect(again).toEqual({ eventId: first.eventId });
    expect(await redis.xlen(key)).toBe(1);
    const ttl = await redis.ttl(`${key}:seen:${first.eventId}`);
    expect(ttl).toBeGreaterThan(APPEND_ONCE_WINDOW_S - 60);
    expect(ttl).toBeLessThanOrEqual(APPEND_ONCE_WINDOW_S);
    // Other outcomes are not held back.
    await publisher.publish('client.registered', data, { discriminator: 'v2' });
    await publisher.publish('client.registered', { ...data, jobId: 'job-2' });
    expect(await redis.xlen(key)).toBe(3);
  });

  it('appends once when many workers publish the same outcome at the same moment', async () => {
    const key = streamKey();
    const racers = Array.from({ length: 20 }, () => new RedisStreamEventPublisher({ redis, streamKey: key }));
    const answers = await Promise.all(
      racers.map((publisher) => publisher.publish('client.registered', data)),
    );
    expect(answers.filter((answer) => answer.streamId !== undefined)).toHaveLength(1);
    expect(await redis.xlen(key)).toBe(1);
  });

  it('trims approximately to the configured length', async () => {
    const key = streamKey();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key, maxLength: 10 });
    for (let i = 0; i < 400; i++)
      await publisher.publish('client.registered', { ...data, jobId: `job-${i}` });
    const length = await redis.xlen(key);
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThan(400);
  });

  it('refuses data with a secret in it before writing, naming the key but not its value', async () => {
    const key = streamKey();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    const leaky = { ...data, client_secret: 's3cr3t' } as EventData<'client.registered'>;
    const error = await publisher.publish('client.registered', leaky).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toContain('client_secret');
    expect((error as Error).message).not.toContain('s3cr3t');
    expect(await keysMatching(redis, `${key}*`)).toEqual([]);
  });

  it('refuses an unknown event type without writing', async () => {
    const key = streamKey();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    // @ts-expect-error: a JavaScript caller could send anything
    await expect(publisher.publish('client.exploded', data)).rejects.toBeInstanceOf(InvalidEventError);
    expect(await keysMatching(redis, `${key}*`)).toEqual([]);
  });

  it('reports a write Redis refuses as EventPublishError with the cause, and a retry after the fix appends', async () => {
    const key = streamKey();
    await redis.set(key, 'not a stream');
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    const error = await publisher.publish('client.registered', data).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EventPublishError);
    expect(String((error as Error).cause)).toContain('WRONGTYPE');
    // The refusal left no marker behind: once the key is a stream again, the same outcome appends.
    await redis.del(key);
    const retried = await publisher.publish('client.registered', data);
    expect(retried.streamId).toEqual(expect.any(String));
    expect(await redis.xlen(key)).toBe(1);
  });

  it('refuses a cap that is not a positive integer', () => {
    expect(() => new RedisStreamEventPublisher({ redis, streamKey: 'k', maxLength: 0 })).toThrow(RangeError);
    expect(() => new RedisStreamEventPublisher({ redis, streamKey: 'k', maxLength: 1.5 })).toThrow(
      RangeError,
    );
  });
});

describe('events/eventStreamKey', () => {
  it('names the stream after the queue prefix, keeping a hash tag so it shares the queues’ Cluster slot', () => {
    expect(eventStreamKey('dcr')).toBe('dcr:events');
    expect(eventStreamKey('{dcr}')).toBe('{dcr}:events');
  });
});
