// What the logger censors, and where. pino's redaction matches explicit paths only and a `*` stands for
// exactly one level, so every sensitive key is listed at each depth a caller plausibly logs it:
// `{ clientSecret }`, `{ client: { clientSecret } }`, `{ err: { options: { headers: { authorization } } } }`.

/** Deepest level (1 = a top-level key) at which a sensitive key is censored. */
export const REDACTION_MAX_DEPTH = 4;

export const REDACTED = '[Redacted]';

/**
 * Keys whose value is a secret wherever they appear. Header names come in the casings HTTP libraries
 * and people write them; key matching is exact, so each casing is its own entry.
 */
export const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'AUTHORIZATION',
  'proxy-authorization',
  'Proxy-Authorization',
  'cookie',
  'Cookie',
  'set-cookie',
  'Set-Cookie',
  'client_secret',
  'clientSecret',
  'registration_access_token',
  'registrationAccessToken',
  'initial_access_token',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'password',
  'token',
  'apiToken',
  'API_TOKEN',
  // A generated client key's private half, and what it signs with it.
  'private_jwk',
  'privateJwk',
  'client_assertion',
  'clientAssertion',
  // Secrets Manager request and response shapes, should an SDK call's input or output be logged.
  'SecretString',
  'SecretBinary',
] as const;

/**
 * Keys whose object holds a secret in `value` next to harmless fields: a queued initial access token
 * `{ secretId } | { value }` keeps its `secretId`, a secret write keeps its `name`.
 */
export const SECRET_VALUE_HOLDERS = [
  'initialAccessToken',
  'write',
  'secretWrite',
  'secret',
  'storedSecret',
] as const;

/** The nested keys a holder's secret may sit under. */
const HELD_SECRET_KEYS = ['value', 'token'] as const;

/** `name`, `*.name`, `*.*.name`, ...; names that are not identifiers use pino's bracket syntax. */
function atDepths(name: string): string[] {
  const identifier = /^[A-Za-z_$][\w$]*$/.test(name);
  return Array.from({ length: REDACTION_MAX_DEPTH }, (_, level) => {
    const wildcards = Array<string>(level).fill('*').join('.');
    if (identifier) return wildcards ? `${wildcards}.${name}` : name;
    return `${wildcards}["${name}"]`;
  });
}

/** The pino `redact.paths`: every secret key and every value holder, at depths 1 to REDACTION_MAX_DEPTH. */
export const REDACT_PATHS: readonly string[] = [...SECRET_KEYS, ...SECRET_VALUE_HOLDERS].flatMap(atDepths);

/**
 * Paths for further secret keys known only at start: the names of SERVER_HEADERS, whose values may be
 * client ids or keys, as written and in lower case (the HTTP client and got key headers lower-cased).
 */
export function extraRedactPaths(names: Iterable<string>): string[] {
  const casings = new Set([...names].flatMap((name) => [name, name.toLowerCase()]));
  return [...casings].filter((name) => !REDACT_PATHS.includes(name)).flatMap(atDepths);
}

const holders: ReadonlySet<string> = new Set(SECRET_VALUE_HOLDERS);

/**
 * The pino `redact.censor`. A holder that is an object keeps its other fields with only the secret ones
 * censored, so `{ initialAccessToken: { secretId } }` still tells an operator which secret was meant;
 * a holder that is a plain string (a resolved token) is censored whole, like every other path.
 */
export function censor(value: unknown, path: readonly (string | symbol)[]): unknown {
  const last = path.at(-1);
  if (typeof last === 'string' && holders.has(last) && typeof value === 'object' && value !== null) {
    if (Array.isArray(value)) return REDACTED;
    const kept: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const name of HELD_SECRET_KEYS) if (name in kept) kept[name] = REDACTED;
    return kept;
  }
  return REDACTED;
}
