// A consumer-group reader of the completion events, short enough for downstream systems to copy. Delivery
// is at-least-once: process, then ack; dedupe by eventId; claim what a crashed consumer left pending.

import type { Cluster, Redis } from 'ioredis';
import { formatIssues } from '../failures/index.js';
import { type CompletionEvent, completionEventSchema } from './event-types.js';

/** An event as read: validated, plus the stream entry id to ack. */
export type ReceivedEvent = CompletionEvent & { streamId: string };

/** An entry that is not a readable event, or one trimmed away before anyone acked it. */
export interface UnreadableEntry {
  streamId: string;
  /** What is wrong, naming fields but never quoting their values. */
  problem: string;
}

export interface EventConsumerOptions {
  /** A connection of its own: XREADGROUP with BLOCK holds the connection while it waits. */
  redis: Redis | Cluster;
  streamKey: string;
  /** The consumer group: one per downstream system; each group sees every event. */
  group: string;
  /** This process's name within the group, stable across restarts (e.g. the host name). */
  consumer: string;
  /**
   * How long `read` waits for new events before answering with none. 0 waits forever, as in Redis.
   * @defaultValue 5000
   */
  blockMs?: number;
  /**
   * Most events one `read` or `claimStale` returns.
   * @defaultValue 100
   */
  count?: number;
  /**
   * Told about every entry that is not a valid event, which is then skipped but not acked: it stays
   * pending for an operator to see (XPENDING), and `claimStale` offers it again — to a consumer with a
   * newer schema, say, that can read it. Also told about pending entries the stream trimmed before anyone
   * acked them: those are lost to this group, and Redis forgets them.
   * @defaultValue writes a warning to stderr
   */
  onUnreadable?: (entry: UnreadableEntry) => void;
}

export interface EventConsumer {
  /** Creates the group (and the stream) unless it exists. New groups see events appended from now on,
   * or the whole retained stream with `fromStart`. */
  ensureGroup(options?: { fromStart?: boolean }): Promise<void>;
  /** Events never delivered to this group before; waits up to `blockMs` for some. */
  read(): Promise<ReceivedEvent[]>;
  /** Marks events done; returns how many were pending. */
  ack(streamIds: readonly string[]): Promise<number>;
  /** Takes over events another consumer received but has not acked for `minIdleMs` (it probably crashed). */
  claimStale(minIdleMs: number): Promise<ReceivedEvent[]>;
}

// Redis 6.2's XAUTOCLAIM answers nil, without an id, in place of a pending entry that was trimmed away.
type RawEntry = [id: string, fields: string[]] | null;

export function createEventConsumer(options: EventConsumerOptions): EventConsumer {
  const { redis, streamKey, group, consumer, blockMs = 5000, count = 100 } = options;
  const onUnreadable =
    options.onUnreadable ??
    ((entry: UnreadableEntry) => console.warn(`skipping stream entry ${entry.streamId}: ${entry.problem}`));
  // XAUTOCLAIM scans the pending list from a cursor; carrying it across calls lets entries that stay pending
  // (unreadable ones) not hide the ones behind them.
  let claimCursor = '0-0';

  function parse(entries: RawEntry[]): ReceivedEvent[] {
    const events: ReceivedEvent[] = [];
    for (const entry of entries) {
      if (!entry) continue;
      const [streamId, fields] = entry;
      const event = toEvent(fields);
      if ('problem' in event) onUnreadable({ streamId, problem: event.problem });
      else events.push({ ...event, streamId });
    }
    return events;
  }

  return {
    async ensureGroup({ fromStart = false } = {}) {
      try {
        await redis.xgroup('CREATE', streamKey, group, fromStart ? '0' : '$', 'MKSTREAM');
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err;
      }
    },

    async read() {
      const reply = (await redis.xreadgroup(
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        'BLOCK',
        blockMs,
        'STREAMS',
        streamKey,
        '>',
      )) as Array<[key: string, entries: RawEntry[]]> | null;
      return parse(reply?.[0]?.[1] ?? []);
    },

    async ack(streamIds) {
      return streamIds.length === 0 ? 0 : redis.xack(streamKey, group, ...streamIds);
    },

    async claimStale(minIdleMs) {
      // Redis 7 adds a third element: ids that were pending but trimmed away, now dropped from the list.
      const [next, entries, trimmed = []] = (await redis.xautoclaim(
        streamKey,
        group,
        consumer,
        minIdleMs,
        claimCursor,
        'COUNT',
        count,
      )) as [next: string, entries: RawEntry[], trimmed?: string[]];
      claimCursor = next;
      for (const streamId of trimmed)
        onUnreadable({ streamId, problem: 'the entry was trimmed before it was acked' });
      return parse(entries);
    },
  };
}

function toEvent(fields: string[]): CompletionEvent | { problem: string } {
  const entry: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i] as string] = fields[i + 1] as string;
  let data: unknown;
  try {
    data = JSON.parse(entry.data ?? '');
  } catch {
    return { problem: 'data is missing or not JSON' };
  }
  const parsed = completionEventSchema.safeParse({ type: entry.type, eventId: entry.eventId, data });
  return parsed.success ? parsed.data : { problem: formatIssues(parsed.error.issues) };
}
