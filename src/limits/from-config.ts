// The limits' settings as the configuration states them, so every process derives them alike.

import type { Config } from '../config/index.js';
import type { BreakerSettings, ServerLimits } from './redis-server-limiter.js';

export interface ServerLimiterSettings {
  defaults: ServerLimits;
  overrides: Readonly<Record<string, Readonly<Partial<ServerLimits>>>>;
  breaker: BreakerSettings;
  leaseTtlMs: number;
}

/**
 * A permit whose worker died counts until its lease ends: 3 x HTTP_TIMEOUT_MS. A live request renews
 * its lease every third of that (redis-server-limiter.ts), so a request longer than its lease (six phase
 * timers, redirects) keeps its slot.
 */
export const LEASE_TIMEOUT_MULTIPLE = 3;

export function serverLimiterSettingsFromConfig(
  config: Pick<
    Config,
    | 'SERVER_MAX_IN_FLIGHT'
    | 'SERVER_RATE_PER_S'
    | 'SERVER_LIMITS'
    | 'BREAKER_FAILURE_THRESHOLD'
    | 'BREAKER_COOLDOWN_MS'
    | 'HTTP_TIMEOUT_MS'
  >,
): ServerLimiterSettings {
  return {
    defaults: { concurrency: config.SERVER_MAX_IN_FLIGHT, ratePerSecond: config.SERVER_RATE_PER_S },
    overrides: config.SERVER_LIMITS ?? {},
    breaker: { failureThreshold: config.BREAKER_FAILURE_THRESHOLD, cooldownMs: config.BREAKER_COOLDOWN_MS },
    leaseTtlMs: LEASE_TIMEOUT_MULTIPLE * config.HTTP_TIMEOUT_MS,
  };
}
