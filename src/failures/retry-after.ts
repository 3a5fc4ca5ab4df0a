// Retry-After (RFC 9110 §10.2.3) is either delay-seconds or an HTTP-date. A hostile or confused server
// must not park a job for a day, so the result is capped.

export const DEFAULT_RETRY_AFTER_CAP_MS = 900_000;

export function parseRetryAfter(
  header: string | string[] | undefined,
  now: number = Date.now(),
  capMs: number = DEFAULT_RETRY_AFTER_CAP_MS,
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  let delayMs: number;
  if (/^\d+$/.test(value)) {
    delayMs = Number(value) * 1000;
  } else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    delayMs = at - now;
  }
  return Math.min(Math.max(delayMs, 0), capMs);
}
