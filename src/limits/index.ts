// Public surface of the fleet-wide limits: per-server politeness (in-flight cap, request rate, circuit
// breaker) and the secret write budget, with their Redis adapters.
export { type BudgetedSecretStoreOptions, budgetSecretWrites } from './budgeted-secret-store.js';
export {
  LEASE_TIMEOUT_MULTIPLE,
  type ServerLimiterSettings,
  serverLimiterSettingsFromConfig,
} from './from-config.js';
export {
  errorOutcome,
  type LimitedHttpClientOptions,
  limitHttpClient,
  responseOutcome,
} from './limited-http-client.js';
export {
  type BreakerSettings,
  RedisServerLimiter,
  type RedisServerLimiterOptions,
  type ServerLimits,
} from './redis-server-limiter.js';
export {
  type Admission,
  type BreakerState,
  type BreakerTransition,
  BUSY_REASONS,
  type BusyReason,
  breakerTransitionLog,
  findServerBusy,
  REQUEST_OUTCOMES,
  type RequestOutcome,
  ServerBusyError,
  type ServerLimiter,
  type ServerPermit,
} from './server-limiter.js';
export {
  RedisWriteBudget,
  type RedisWriteBudgetOptions,
  secretWriteBudgetKey,
  type WriteBudget,
} from './write-budget.js';
