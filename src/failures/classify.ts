// Turns whatever went wrong — a transport error from got, a blocked address, an HTTP answer, a schema
// violation — into a ProvisioningError with the contract's code. Errors are recognised by `name` and
// `code`, not `instanceof`, because they cross package boundaries.

import { AFTER_SEND_CODES, NOT_SENT_CODES } from './network-codes.js';
import { ProvisioningError } from './provisioning-error.js';
import { parseRetryAfter } from './retry-after.js';

/** Which conversation the error came from; the same HTTP status means different things in each. */
export type Stage = 'discovery' | 'registration' | 'management';

// Connection failures, whether or not the request was sent (that is judged from the error itself).
const NETWORK_CODES = new Set([...NOT_SENT_CODES, ...AFTER_SEND_CODES]);

// A certificate that does not verify will not verify on the next attempt either.
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

// 502 Bad Gateway and 504 Gateway Timeout: the gateway may have forwarded the request before failing.
const GATEWAY_LOST_ANSWER: ReadonlySet<number> = new Set([502, 504]);

// Events of got's TimeoutError that fire after the request has been written.
const AFTER_SEND_TIMEOUT_EVENTS = new Set(['response', 'read', 'request', 'socket']);

interface TransportErrorShape {
  name?: string;
  code?: string;
  event?: string;
  message?: string;
  timings?: { upload?: number };
  issues?: Array<{ path: PropertyKey[]; message: string }>;
}

function requestWasSent(err: TransportErrorShape): boolean {
  return err.timings?.upload !== undefined;
}

/** Only a request that can change state at the server leaves its outcome unknown; a discovery GET cannot. */
function changesState(stage: Stage): boolean {
  return stage !== 'discovery';
}

export function classify(err: unknown, stage: Stage): ProvisioningError {
  if (err instanceof ProvisioningError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as TransportErrorShape;
  const cause = err;

  switch (e.name) {
    case 'ProvisioningError':
      return err as ProvisioningError;
    case 'OutboundBlockedError':
      return new ProvisioningError('insecure_endpoint', e.message ?? 'outbound request refused', { cause });
    case 'ResponseTooLargeError':
      // The server answered, possibly with a 2xx: a registration may exist that we cannot read.
      return new ProvisioningError(
        stage === 'discovery' ? 'discovery_invalid' : 'invalid_response',
        e.message ?? 'response body too large',
        { cause, outcomeUnknown: changesState(stage) },
      );
    case 'ZodError':
      return new ProvisioningError('invalid_job', formatIssues(e.issues ?? []), { cause });
    case 'TimeoutError': {
      const sent = requestWasSent(e) || (e.event !== undefined && AFTER_SEND_TIMEOUT_EVENTS.has(e.event));
      const unknown = sent && changesState(stage);
      return new ProvisioningError(
        'timeout',
        `${stage} request timed out ${sent ? 'after' : 'before'} it was sent (${e.event ?? 'unknown'} phase)${unknown ? '; the outcome is unknown' : ''}`,
        { outcomeUnknown: unknown, cause },
      );
    }
    case 'AbortError':
      return new ProvisioningError('network_error', `${stage} request aborted`, {
        outcomeUnknown: changesState(stage) && requestWasSent(e),
        cause,
      });
  }

  if (e.code !== undefined && TLS_CODES.has(e.code)) {
    return new ProvisioningError('insecure_endpoint', `TLS verification failed (${e.code})`, { cause });
  }
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) {
    const sent = changesState(stage) && requestWasSent(e);
    return new ProvisioningError(
      'network_error',
      `${stage} request failed: ${e.code}${sent ? ' after the request was sent; the outcome is unknown' : ''}`,
      { outcomeUnknown: sent, cause },
    );
  }
  // Anything else is unexpected; retrying is the safe default and the attempt budget bounds it.
  return new ProvisioningError(
    'network_error',
    `${stage} request failed unexpectedly (${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''})`,
    { outcomeUnknown: changesState(stage) && requestWasSent(e), cause },
  );
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const RFC7591_ERRORS = new Set([
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'invalid_software_statement',
  'unapproved_software_statement',
] as const);
type Rfc7591Error = typeof RFC7591_ERRORS extends Set<infer T> ? T : never;

/** The RFC 6749 / 7591 error body, when the answer carries one. */
export function parseOAuthError(body: string): { error: string; description?: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { error, error_description: description } = parsed as Record<string, unknown>;
    if (typeof error !== 'string' || error.length === 0) return undefined;
    return typeof description === 'string' ? { error, description } : { error };
  } catch {
    return undefined;
  }
}

const MAX_SERVER_TEXT = 300;

/**
 * Server-supplied text goes into failure reasons; keep it short and printable. Secrets are redacted
 * before the text is cut, so a cut can never leave part of a secret behind.
 */
function serverText(text: string, secrets: readonly string[]): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = redact(text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim(), secrets);
  return clean.length > MAX_SERVER_TEXT ? `${clean.slice(0, MAX_SERVER_TEXT)}…` : clean;
}

/**
 * Classifies a non-2xx answer. `secrets` are values that must not appear in the message even if the
 * server echoes them back (the initial access token, a registration access token).
 */
export function classifyResponse(
  stage: Stage,
  answer: HttpAnswer,
  secrets: readonly string[] = [],
  now: number = Date.now(),
): ProvisioningError {
  const { status } = answer;
  const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], now);
  const oauth = parseOAuthError(answer.body);
  const detail = oauth
    ? `: ${serverText(oauth.error, secrets)}${oauth.description ? ` (${serverText(oauth.description, secrets)})` : ''}`
    : '';
  const message = redact(`${stage} endpoint answered HTTP ${status}${detail}`, secrets);
  const options = { status, retryAfterMs };

  if (status === 429 || (status === 503 && retryAfterMs !== undefined)) {
    return new ProvisioningError('rate_limited', message, options);
  }
  // The server gave up waiting for our request: it was not processed, so it is safe to send again.
  if (status === 408) return new ProvisioningError('timeout', message, options);
  // A gateway that forwarded the request and then lost or timed out the upstream answer: a POST or PUT
  // may have registered or changed a client behind it.
  if (GATEWAY_LOST_ANSWER.has(status) && changesState(stage)) {
    return new ProvisioningError('server_error', `${message}; the outcome is unknown`, {
      ...options,
      outcomeUnknown: true,
    });
  }
  if (status >= 500) return new ProvisioningError('server_error', message, options);
  if (stage === 'discovery') return new ProvisioningError('discovery_invalid', message, options);
  if (status === 401 || status === 403) return new ProvisioningError('unauthorized', message, options);
  if (
    stage === 'registration' &&
    status === 400 &&
    oauth &&
    RFC7591_ERRORS.has(oauth.error as Rfc7591Error)
  ) {
    return new ProvisioningError(oauth.error as Rfc7591Error, message, options);
  }
  return new ProvisioningError('rejected', message, options);
}

/** Replaces every occurrence of a secret value with a marker. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}

export function formatIssues(
  issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }>,
): string {
  return issues
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
