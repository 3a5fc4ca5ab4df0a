// Public surface of the fleet-wide limits: per-server politeness (in-flight cap, request rate, circuit
// breaker) and the secret write budget, with their Redis adapters.
export { serverLimiterSettingsFromConfig } from './from-config.js';
export { limitHttpClient } from './limited-http-client.js';
export {
  type BreakerSettings,
  RedisServerLimiter,
  type RedisServerLimiterOptions,
  type ServerLimits,
} from './redis-server-limiter.js';
export {
  type SecretWriteTurns,
  type SecretWriteTurnsOptions,
  secretWriteTurns,
  type WriteTurn,
} from './secret-write-turns.js';
export {
  type AcquireOptions,
  type Admission,
  type BreakerTransition,
  BUSY_REASONS,
  type BusyReason,
  breakerTransitionLog,
  findServerBusy,
  type RequestOutcome,
  ServerBusyError,
  type ServerLimiter,
  type ServerPermit,
} from './server-limiter.js';
export {
  RedisWriteBudget,
  secretWriteBudgetKey,
  type WriteBudget,
} from './write-budget.js';
