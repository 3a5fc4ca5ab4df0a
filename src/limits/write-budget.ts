// The fleet-wide budget of secret writes. Secrets Manager allows 50 write requests per second per
// account and region, whatever the number of workers; a token bucket in Redis spaces the fleet's writes
// below that, so a burst waits in process instead of coming back as ThrottlingException.

import type { Redis } from 'ioredis';
import { RESERVE_TOKEN, redisScript } from './redis-scripts.js';

/** A shared allowance: `reserve` says how long the caller must wait for its turn. */
export interface WriteBudget {
  /** Milliseconds until the caller's turn (0: now), or undefined when that would exceed `maxWaitMs`. */
  reserve(maxWaitMs: number): Promise<number | undefined>;
  /** Writes per second, for messages. */
  readonly ratePerSecond: number;
}

export interface RedisWriteBudgetOptions {
  redis: Redis;
  /** Key of the bucket; `${QUEUE_PREFIX}:limits:secret-writes` for the secret store. */
  key: string;
  /** SECRET_WRITES_PER_S. */
  ratePerSecond: number;
  /**
   * Tokens the bucket holds after a quiet spell. With 1, writes are evenly spaced and no second holds
   * more than ratePerSecond + 1 of them. @defaultValue 1
   */
  burst?: number;
}

export class RedisWriteBudget implements WriteBudget {
  readonly ratePerSecond: number;
  readonly #key: string;
  readonly #burst: number;
  readonly #reserve;

  constructor(options: RedisWriteBudgetOptions) {
    this.ratePerSecond = options.ratePerSecond;
    this.#key = options.key;
    this.#burst = options.burst ?? 1;
    this.#reserve = redisScript(options.redis, 'dcrReserveToken', RESERVE_TOKEN, 1);
  }

  async reserve(maxWaitMs: number): Promise<number | undefined> {
    const waitMs = Number(
      await this.#reserve([this.#key], [1000 / this.ratePerSecond, this.#burst, Math.max(0, maxWaitMs)]),
    );
    return waitMs < 0 ? undefined : waitMs;
  }
}

/** The Redis key of the secret-write budget for a QUEUE_PREFIX. */
export function secretWriteBudgetKey(prefix: string): string {
  return `${prefix}:limits:secret-writes`;
}
