import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import {
  type EventData,
  EventPublishError,
  eventId,
  eventStreamKey,
  InvalidEventError,
  RedisStreamEventPublisher,
} from '../../../src/events/index.js';

const data: EventData<'client.registered'> = {
  tenantId: 'acme',
  fhirBaseUrl: 'https://fhir.example.org/r4',
  clientId: 'c-1',
  secretId: 'dcr/acme/fhir.example.org_r4',
  jobId: 'job-1',
  attempts: 1,
  occurredAt: '2025-01-02T03:04:05.678Z',
};

// Only XADD is used by the publisher; a stand-in is enough to see what it would send.
function fakeRedis(xadd: (...args: unknown[]) => Promise<string | null>) {
  return { xadd: vi.fn(xadd) } as unknown as Redis & { xadd: ReturnType<typeof vi.fn> };
}

describe('events/RedisStreamEventPublisher', () => {
  it('appends type, eventId and data with approximate trimming to the configured length', async () => {
    const redis = fakeRedis(async () => '1-0');
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: 'dcr:events', maxLength: 500 });
    const published = await publisher.publish('client.registered', data, { discriminator: 'v1' });
    expect(published).toEqual({ eventId: eventId('client.registered', 'job-1', 'v1'), streamId: '1-0' });
    expect(redis.xadd).toHaveBeenCalledWith(
      'dcr:events',
      'MAXLEN',
      '~',
      500,
      '*',
      'type',
      'client.registered',
      'eventId',
      published.eventId,
      'data',
      expect.any(String),
    );
    expect(JSON.parse(redis.xadd.mock.calls[0]?.[10] as string)).toEqual(data);
  });

  it('caps the stream at 100000 entries unless told otherwise', async () => {
    const redis = fakeRedis(async () => '1-0');
    await new RedisStreamEventPublisher({ redis, streamKey: 'k' }).publish('client.registered', data);
    expect(redis.xadd.mock.calls[0]?.[3]).toBe(100_000);
  });

  it('refuses data with a secret in it before writing, naming the key but not its value', async () => {
    const redis = fakeRedis(async () => '1-0');
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: 'k' });
    const leaky = { ...data, client_secret: 's3cr3t' } as EventData<'client.registered'>;
    const error = await publisher.publish('client.registered', leaky).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).name).toBe('InvalidEventError');
    expect((error as Error).message).toContain('client_secret');
    expect((error as Error).message).not.toContain('s3cr3t');
    expect(redis.xadd).not.toHaveBeenCalled();
  });

  it('refuses an unknown event type', async () => {
    const redis = fakeRedis(async () => '1-0');
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: 'k' });
    // @ts-expect-error: a JavaScript caller could send anything
    await expect(publisher.publish('client.exploded', data)).rejects.toBeInstanceOf(InvalidEventError);
    expect(redis.xadd).not.toHaveBeenCalled();
  });

  it('reports a failed write as EventPublishError, keeping the Redis error as cause', async () => {
    const cause = new Error('READONLY You cannot write against a read only replica.');
    const publisher = new RedisStreamEventPublisher({
      redis: fakeRedis(() => Promise.reject(cause)),
      streamKey: 'k',
    });
    const error = await publisher.publish('client.registered', data).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EventPublishError);
    expect((error as Error).cause).toBe(cause);
  });

  it('refuses a cap that is not a positive integer', () => {
    const redis = fakeRedis(async () => '1-0');
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
