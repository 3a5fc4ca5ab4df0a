// The errors the outbound HTTP client raises itself. failures/classify recognises them by `name`, so
// the names are part of the contract; messages name a host, never a full URL (it may carry secrets).

/** Why an outbound request was refused before (or instead of) reaching the peer. */
export const OUTBOUND_BLOCK_REASONS = [
  'invalid_url',
  'unsupported_scheme',
  'insecure_scheme',
  'credentials_in_url',
  'blocked_address',
  'redirect_to_http',
] as const;
export type OutboundBlockReason = (typeof OUTBOUND_BLOCK_REASONS)[number];

export class OutboundBlockedError extends Error {
  override readonly name = 'OutboundBlockedError';
  readonly reason: OutboundBlockReason;
  /** The refused host (no scheme, path, query or credentials); undefined when the URL did not parse. */
  readonly host: string | undefined;

  /** `rule` completes the sentence "outbound request to <host> refused: …". */
  constructor(reason: OutboundBlockReason, host: string | undefined, rule: string) {
    const named = host === undefined || host === '' ? undefined : host;
    super(
      named === undefined
        ? `outbound request refused: ${rule}`
        : `outbound request to ${named} refused: ${rule}`,
    );
    Object.setPrototypeOf(this, new.target.prototype);
    this.reason = reason;
    this.host = named;
  }
}

export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  readonly limitBytes: number;
  readonly host: string;

  constructor(host: string, limitBytes: number) {
    super(`response from ${host} exceeds the limit of ${limitBytes} bytes; the rest was not read`);
    Object.setPrototypeOf(this, new.target.prototype);
    this.limitBytes = limitBytes;
    this.host = host;
  }
}

const OWN_ERROR_NAMES: ReadonlySet<string> = new Set(['OutboundBlockedError', 'ResponseTooLargeError']);

/**
 * got wraps any error raised inside its request stream (a refusal from our DNS guard, our size cap) in a
 * RequestError. Callers classify by `name`, so hand back our own error when it is somewhere in the chain.
 */
export function surfaceOwnError(err: unknown): unknown {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth += 1) {
    if (OWN_ERROR_NAMES.has((current as Error).name)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return err;
}
