// When a retryable failure is tried again: exponential backoff with full jitter between
// BACKOFF_BASE_MS and BACKOFF_MAX_MS, unless the server said when (Retry-After), which wins.

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

/**
 * @param attemptsMade tries so far (1 after the first failure), as BullMQ passes it
 * @param retryAfterMs the server's Retry-After, already capped, when it sent one
 */
export function retryDelayMs(
  attemptsMade: number,
  retryAfterMs: number | undefined,
  { baseMs, maxMs }: BackoffSettings,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.max(retryAfterMs, baseMs);
  // Already the first retry spreads over [base, 2·base], so jobs that failed together do not retry together.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(1, attemptsMade));
  return Math.round(baseMs + random() * (ceiling - baseMs));
}
