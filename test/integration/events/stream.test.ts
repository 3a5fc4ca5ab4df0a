// The completion-event stream against a real Redis: what the publisher writes, what consumer groups read,
// how the stream stays bounded, and how a crashed consumer's events reach another one.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createEventConsumer,
  type EventConsumerOptions,
  type EventData,
  InvalidEventError,
  RedisStreamEventPublisher,
  type UnreadableEntry,
} from '../../../src/events/index.js';
import type { RedisConnection } from '../../../src/queue/index.js';
import { testQueuePrefix, testRedis } from '../../support/redis.js';

let redis: RedisConnection;
const connections: RedisConnection[] = [];
const createdKeys = new Set<string>();

/** A stream key of this run, deleted afterwards. */
function streamKey(name: string): string {
  // The stream and its append-once markers share the prefix's slot on a cluster.
  const key = `${testQueuePrefix('events-test')}:${name}-${randomUUID()}`;
  createdKeys.add(key);
  return key;
}

/** Consumers block on their connection, so each gets its own, as the consumer's documentation asks. */
function consumerFor(key: string, consumer: string, options: Partial<EventConsumerOptions> = {}) {
  const connection = testRedis();
  connections.push(connection);
  return createEventConsumer({
    redis: connection,
    streamKey: key,
    group: 'downstream',
    consumer,
    blockMs: 100,
    ...options,
  });
}

const registered = (jobId: string): EventData<'client.registered'> => ({
  tenantId: 'acme',
  fhirBaseUrl: 'https://fhir.example.org/r4',
  clientId: `client-${jobId}`,
  secretId: 'dcr/acme/fhir.example.org_r4',
  secretVersionId: `version-${jobId}`,
  jobId,
  attempts: 1,
  occurredAt: new Date().toISOString(),
});

async function pendingCount(key: string): Promise<number> {
  const [count] = (await redis.xpending(key, 'downstream')) as [number, ...unknown[]];
  return count;
}

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  if (createdKeys.size > 0) await redis.del(...createdKeys);
  for (const connection of [redis, ...connections]) connection.disconnect();
});

describe('events/stream', () => {
  it('publishes an event that a consumer group reads as type, eventId and data, and ack clears it from the pending list', async () => {
    const key = streamKey('roundtrip');
    const consumer = consumerFor(key, 'a');
    await consumer.ensureGroup();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });

    const data = registered('job-1');

    const { eventId, streamId } = await publisher.publish('client.registered', data);

    const [[, fields] = []] = await redis.xrange(key, '-', '+');
    expect(fields).toEqual(['type', 'client.registered', 'eventId', eventId, 'data', expect.any(String)]);
    expect(await consumer.read()).toEqual([{ type: 'client.registered', eventId, streamId, data }]);
    expect(await pendingCount(key)).toBe(1);
    expect(await consumer.ack([streamId as string])).toBe(1);
    expect(await pendingCount(key)).toBe(0);
    expect(await consumer.read()).toEqual([]);
  });

  it('gives the same outcome published twice the same eventId and appends it once; different outcomes differ', async () => {
    const key = streamKey('dedupe');
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    const data = registered('job-1');

    const first = await publisher.publish('client.registered', data, { discriminator: 'v1' });
    const again = await publisher.publish('client.registered', data, { discriminator: 'v1' });
    const otherVersion = await publisher.publish('client.registered', data, { discriminator: 'v2' });
    const otherJob = await publisher.publish('client.registered', registered('job-2'), {
      discriminator: 'v1',
    });

    expect(again.eventId).toBe(first.eventId);
    expect(again.streamId).toBeUndefined();
    expect(new Set([first.eventId, otherVersion.eventId, otherJob.eventId]).size).toBe(3);
    expect(await redis.xlen(key)).toBe(3);
  });

  it('keeps the stream near its cap: never under it, and less than one stream node over it', async () => {
    const key = streamKey('capped');
    const maxLength = 100;
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key, maxLength });
    // `MAXLEN ~` drops only whole nodes and stops before going under the cap, so the length stays below
    // cap + entries per node (stream-node-max-entries, 100 unless configured). 300 events overflow that
    // bound, so the test fails if nothing is trimmed at all. (Nodes are also capped at 4 KiB by default, so
    // with events of this size the length in fact stays within a few entries of the cap.)
    const nodeEntries = await redis
      .config('GET', 'stream-node-max-entries')
      .then((reply: unknown) => Number((reply as string[])[1]) || 100)
      .catch(() => 100);
    const published = 3 * (maxLength + nodeEntries);

    for (let i = 0; i < published; i += 1)
      await publisher.publish('client.registered', registered(`job-${i}`));

    const length = await redis.xlen(key);
    expect(length).toBeGreaterThanOrEqual(maxLength);
    expect(length).toBeLessThan(maxLength + nodeEntries);
    // What remains is the newest events.
    const [[, newest] = []] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
    expect(JSON.parse(newest?.[5] ?? '{}')).toMatchObject({ jobId: `job-${published - 1}` });
  });

  it('refuses data with an unknown key such as client_secret before anything is written', async () => {
    const key = streamKey('refused');
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    const leaky = { ...registered('job-1'), client_secret: 's3cr3t' } as EventData<'client.registered'>;

    await expect(publisher.publish('client.registered', leaky)).rejects.toBeInstanceOf(InvalidEventError);
    expect(await redis.exists(key)).toBe(0);
  });

  it('shares a group between two consumers, each receiving events the other did not', async () => {
    const key = streamKey('shared');
    const a = consumerFor(key, 'a', { count: 2 });
    const b = consumerFor(key, 'b', { count: 2 });
    await a.ensureGroup();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    for (const jobId of ['j1', 'j2', 'j3', 'j4'])
      await publisher.publish('client.registered', registered(jobId));

    const fromA = await a.read();
    const fromB = await b.read();

    expect(fromA).toHaveLength(2);
    expect(fromB).toHaveLength(2);
    const jobIds = [...fromA, ...fromB].map((event) => event.data.jobId);
    expect(new Set(jobIds)).toEqual(new Set(['j1', 'j2', 'j3', 'j4']));
  });

  it('hands the unacked events of a crashed consumer to another one with claimStale', async () => {
    const key = streamKey('claim');
    const crashed = consumerFor(key, 'crashed');
    const survivor = consumerFor(key, 'survivor');
    await crashed.ensureGroup();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    await publisher.publish('client.registered', registered('j1'));
    await publisher.publish('client.registered', registered('j2'));
    const received = await crashed.read(); // ...and the process dies before acking

    expect(await survivor.claimStale(60_000)).toEqual([]); // not idle long enough: its owner may still work on it
    await new Promise((resolve) => setTimeout(resolve, 50));
    const claimed = await survivor.claimStale(20);

    expect(claimed.map((event) => event.streamId)).toEqual(received.map((event) => event.streamId));
    expect(await survivor.ack(claimed.map((event) => event.streamId))).toBe(2);
    expect(await pendingCount(key)).toBe(0);
  });

  it('creates the group only once, so ensureGroup at every start is harmless', async () => {
    const key = streamKey('ensure');
    const consumer = consumerFor(key, 'a');
    await consumer.ensureGroup();
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    await publisher.publish('client.registered', registered('j1'));

    await consumer.ensureGroup();
    await consumer.ensureGroup({ fromStart: true }); // an existing group keeps its position

    expect(await consumer.read()).toHaveLength(1);
    expect(await redis.xinfo('GROUPS', key)).toHaveLength(1);
  });

  it('lets a new group start from the oldest retained event, or by default only see new ones', async () => {
    const key = streamKey('from-start');
    const publisher = new RedisStreamEventPublisher({ redis, streamKey: key });
    await publisher.publish('client.registered', registered('before'));
    const history = consumerFor(key, 'h', { group: 'history' });
    const live = consumerFor(key, 'l', { group: 'live' });
    await history.ensureGroup({ fromStart: true });
    await live.ensureGroup();
    await publisher.publish('client.registered', registered('after'));

    expect((await history.read()).map((event) => event.data.jobId)).toEqual(['before', 'after']);
    expect((await live.read()).map((event) => event.data.jobId)).toEqual(['after']);
  });

  it('skips and reports an entry that is not a valid event, leaving it pending for an operator', async () => {
    const key = streamKey('unreadable');
    const onUnreadable = vi.fn<(entry: UnreadableEntry) => void>();
    const consumer = consumerFor(key, 'a', { onUnreadable });
    await consumer.ensureGroup();
    const bad = await redis.xadd(key, '*', 'type', 'client.exploded', 'eventId', 'x', 'data', '{}');
    const notJson = await redis.xadd(key, '*', 'type', 'client.registered', 'eventId', 'y', 'data', 'nope');
    const newer = JSON.stringify({ ...registered('j1'), addedByANewerProducer: true });
    await redis.xadd(key, '*', 'type', 'client.registered', 'eventId', 'z', 'data', newer);

    const events = await consumer.read();

    expect(events.map((event) => event.eventId)).toEqual(['z']);
    expect(events[0]?.data).not.toHaveProperty('addedByANewerProducer');
    expect(onUnreadable.mock.calls.map(([entry]) => entry.streamId)).toEqual([bad, notJson]);
    expect(onUnreadable.mock.calls[1]?.[0].problem).toContain('not JSON');
    expect(await pendingCount(key)).toBe(3);
  });

  it('reports a pending event the stream trimmed before anyone acked it', async () => {
    const key = streamKey('trimmed');
    const onUnreadable = vi.fn<(entry: UnreadableEntry) => void>();
    const consumer = consumerFor(key, 'a', { onUnreadable });
    await consumer.ensureGroup();
    const { streamId } = await new RedisStreamEventPublisher({ redis, streamKey: key }).publish(
      'client.registered',
      registered('j1'),
    );
    await consumer.read();
    await redis.xtrim(key, 'MAXLEN', 0);

    expect(await consumer.claimStale(0)).toEqual([]);
    // Redis 7 names the lost entry; 6.2 answers nil without an id, so there is nothing to report. Either
    // way the outcome is asserted, and a version that cannot be read fails rather than skips.
    const version = /redis_version:(\d+)\.(\d+)/.exec(await redis.info('server'));
    const [major, minor] = [Number(version?.[1]), Number(version?.[2])];
    expect(
      major * 100 + minor,
      `${version?.[0] ?? 'no redis_version'} is at least the supported 6.2`,
    ).toBeGreaterThanOrEqual(602);
    expect(onUnreadable.mock.calls).toEqual(
      major >= 7 ? [[{ streamId, problem: expect.stringContaining('trimmed') }]] : [],
    );
  });
});
