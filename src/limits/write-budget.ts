// The fleet-wide budget of secret writes. Secrets Manager allows 50 write requests per second per
// account and region, whatever the number of workers; a token bucket in Redis spaces the fleet's writes
// below that, so a burst waits in process instead of coming back as ThrottlingException.
//
// A turn is a moment, but a write leaves the process somewhat after it: its timer fires late on a busy
// event loop, and the SDK does its own work before the request is on the wire. With turns exactly
// 1000 / rate apart, writes leaving a few tens of ms late next to punctual ones put 51–54 into one
// second against a 50/s quota, and in bench/quota.ts a quarter of the writes drew ThrottlingException.
// Turns are therefore spaced so that no window of 1,000 ms + `jitterMs` holds more than `ratePerSecond`
// of them: no second at the server sees more than `ratePerSecond` writes while each leaves within
// `jitterMs` of its turn.

import type { Cluster, Redis } from 'ioredis';
import { RESERVE_TOKEN, redisScript } from './redis-scripts.js';

/** A shared allowance: `reserve` says how long the caller must wait for its turn. */
export interface WriteBudget {
  /** Milliseconds until the caller's turn (0: now), or undefined when that would exceed `maxWaitMs`. */
  reserve(maxWaitMs: number): Promise<number | undefined>;
  /** Writes per second, for messages. */
  readonly ratePerSecond: number;
  /** How late after its turn a write may leave without breaking the rate. */
  readonly jitterMs: number;
}

/** How late a write may leave after its turn and still keep to the rate: a busy worker's usual lag. */
const DEFAULT_WRITE_JITTER_MS = 50;

export interface RedisWriteBudgetOptions {
  redis: Redis | Cluster;
  /** Key of the bucket; `${QUEUE_PREFIX}:limits:secret-writes` for the secret store. */
  key: string;
  /** SECRET_WRITES_PER_S: no second sees more writes than this. */
  ratePerSecond: number;
  /**
   * How late after its turn a write may leave without breaking the rate. Turns are
   * (1000 + jitterMs) / ratePerSecond ms apart, so a steady stream runs at
   * ratePerSecond x 1000 / (1000 + jitterMs): 47.6/s for 50/s and 50 ms.
   * @defaultValue 50
   */
  jitterMs?: number;
}

export class RedisWriteBudget implements WriteBudget {
  readonly ratePerSecond: number;
  readonly jitterMs: number;
  readonly #key: string;
  readonly #intervalMs: number;
  readonly #reserve;

  constructor(options: RedisWriteBudgetOptions) {
    this.ratePerSecond = options.ratePerSecond;
    this.jitterMs = options.jitterMs ?? DEFAULT_WRITE_JITTER_MS;
    this.#key = options.key;
    this.#intervalMs = (1000 + this.jitterMs) / this.ratePerSecond;
    this.#reserve = redisScript(options.redis, 'dcrReserveToken', RESERVE_TOKEN, 1);
  }

  async reserve(maxWaitMs: number): Promise<number | undefined> {
    const waitMs = Number(await this.#reserve([this.#key], [this.#intervalMs, Math.max(0, maxWaitMs)]));
    return waitMs < 0 ? undefined : waitMs;
  }
}

/** The Redis key of the secret-write budget for a QUEUE_PREFIX. */
export function secretWriteBudgetKey(prefix: string): string {
  return `${prefix}:limits:secret-writes`;
}
