// Redaction for what the board shows. Job data and return values hold no secret by design (secrets go
// to the secret store, jobs carry references); this is the second line of defence, so it errs towards
// hiding: any key that sounds secret is hidden unless it is a known non-secret field, and everything
// beneath a secret-sounding key is hidden except those known fields (`initialAccessToken.secretId` is
// a reference worth seeing, `initialAccessToken.value` never is).

export const REDACTED = '[redacted]';

const SECRET_KEY =
  /secret|token|password|passphrase|authorization|credential|cookie|api[-_]?key|private[-_]?key/i;

/**
 * Fields whose names sound secret but which hold references, times or endpoints. Listing them keeps
 * the board useful; a new secret-sounding field stays hidden until someone decides it is safe.
 */
const NON_SECRET_KEYS: ReadonlySet<string> = new Set([
  'secretId',
  'secretVersionId',
  'secretName',
  'clientSecretExpiresAt',
  'client_secret_expires_at',
  'tokenEndpoint',
  'token_endpoint',
  'tokenEndpointAuthMethod',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
]);

/** A deep copy with secret-sounding values replaced by `[redacted]`; the input is not modified. */
export function redactSecrets(value: unknown): unknown {
  return redact(value, false, new WeakSet());
}

function redact(value: unknown, insideSecret: boolean, ancestors: WeakSet<object>): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value !== 'object') return insideSecret ? REDACTED : value;
  if (ancestors.has(value)) return '[circular]';
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => redact(item, insideSecret, ancestors));
    // Dates and other toJSON-able objects are judged by what they would serialise to.
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      return redact((value as { toJSON(): unknown }).toJSON(), insideSecret, ancestors);
    }
    const copy: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const known = NON_SECRET_KEYS.has(key);
      const primitive = child === null || typeof child !== 'object';
      copy[key] =
        known && primitive
          ? child
          : redact(child, insideSecret || (!known && SECRET_KEY.test(key)), ancestors);
    }
    return copy;
  } finally {
    ancestors.delete(value);
  }
}
