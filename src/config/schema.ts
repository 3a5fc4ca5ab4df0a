// The environment variables of DESIGN.md "Configuration", each with its default and its rule.
// Parsed once at start; every service reads the typed result, never process.env.

import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

const integer = (min: number, max: number, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .default(String(fallback))
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const boolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const url = (protocols: string[]) =>
  z.url({
    protocol: new RegExp(`^(${protocols.join('|')})$`),
    error: `must be an absolute ${protocols.join(' or ')} URL`,
  });

const hostList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(
    z.array(z.string().regex(/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/, 'must list host names separated by commas')),
  );

/** A positive number, decimals allowed (a rate such as 0.5 per second). */
const decimal = (min: number, max: number, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, `must be a number from ${min} to ${max}`)
    .default(String(fallback))
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const DURATION_UNITS_S = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Seconds in `7d`, `24h`, `30m`, `45s`, a bare number of seconds, or ISO 8601 (`P7D`, `PT12H`); NaN otherwise. */
function durationSeconds(value: string): number {
  const simple = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/.exec(value);
  if (simple)
    return Number(simple[1]) * DURATION_UNITS_S[(simple[2] || 's') as keyof typeof DURATION_UNITS_S];
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i.exec(value);
  if (!iso || value.toUpperCase() === 'P' || /T$/i.test(value)) return Number.NaN;
  const [days, hours, minutes, seconds] = iso.slice(1).map((part) => Number(part ?? 0));
  return (
    (days as number) * DURATION_UNITS_S.d +
    (hours as number) * DURATION_UNITS_S.h +
    (minutes as number) * DURATION_UNITS_S.m +
    (seconds as number)
  );
}

/** A duration read as seconds (see durationSeconds). */
const duration = (maxSeconds: number, fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((value, ctx) => {
      const seconds = durationSeconds(value);
      if (!(seconds >= 0 && seconds <= maxSeconds)) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration such as 7d, 24h, 30m, 45s or P7D (at most ${maxSeconds / 86_400} days)`,
        });
        return z.NEVER;
      }
      return seconds;
    });

/** A cron pattern as BullMQ's job schedulers read it (cron-parser, which BullMQ uses itself). */
const cronPattern = z
  .string()
  .trim()
  .default('0 * * * *')
  .superRefine((value, ctx) => {
    try {
      CronExpressionParser.parse(value);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a cron pattern such as "0 * * * *" (${err instanceof Error ? err.message : 'invalid'})`,
      });
    }
  });

/**
 * A SERVER_LIMITS or SERVER_HEADERS key as outbound requests see hosts: `URL.host` of an https URL
 * (lower case, default port dropped). Undefined for anything that is not a bare host with an optional port.
 */
function normalizeServerHost(key: string): string | undefined {
  const candidate = key.trim().toLowerCase();
  if (candidate === '' || /[/?#@\s\\]/.test(candidate)) return undefined;
  try {
    return new URL(`https://${candidate}`).host || undefined;
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How a host-keyed JSON variable reads one host's object; `problem` reports without stopping. */
interface HostEntryRules<T> {
  /** The expected shape of the whole value, shown when it is not a JSON object. */
  shape: string;
  /** What a host must map to, shown when its value is not an object. */
  entryShape: string;
  parseEntry(key: string, value: Record<string, unknown>, problem: (message: string) => void): T;
}

/**
 * A JSON object keyed by host (SERVER_LIMITS, SERVER_HEADERS), keys normalized as `URL.host`. Every
 * problem names the host (and the entry's rules name the field), so a long JSON value is fixed in one
 * pass. The raw value is never quoted: SERVER_HEADERS may hold client ids or keys.
 */
const hostKeyedJson = <T>(rules: HostEntryRules<T>) =>
  z
    .string()
    .trim()
    .optional()
    .transform((raw, ctx): Readonly<Record<string, Readonly<T>>> | undefined => {
      if (raw === undefined || raw === '') return undefined;
      const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        problem(`is not valid JSON; it ${rules.shape}`);
        return z.NEVER;
      }
      if (!isPlainObject(parsed)) {
        problem(rules.shape);
        return z.NEVER;
      }
      const entries: Record<string, Readonly<T>> = {};
      for (const [key, value] of Object.entries(parsed)) {
        const host = normalizeServerHost(key);
        if (host === undefined) {
          problem(`host "${key}" must be a host name or address with an optional port (no scheme or path)`);
          continue;
        }
        if (Object.hasOwn(entries, host)) {
          problem(`host "${key}" is listed twice (as "${host}")`);
          continue;
        }
        if (!isPlainObject(value)) {
          problem(`host "${key}" must map to ${rules.entryShape}`);
          continue;
        }
        entries[host] = Object.freeze(rules.parseEntry(key, value, problem));
      }
      return Object.freeze(entries);
    });

/** One host's politeness limits in SERVER_LIMITS; an absent field takes the fleet default. */
export interface ServerLimitOverride {
  concurrency?: number;
  ratePerSecond?: number;
}

const SERVER_LIMIT_FIELDS = {
  concurrency: { min: 1, max: 1000, whole: true, rule: 'a whole number from 1 to 1000' },
  ratePerSecond: { min: 0.01, max: 10_000, whole: false, rule: 'a number from 0.01 to 10000' },
} as const;

const serverLimits = hostKeyedJson<ServerLimitOverride>({
  shape:
    'must be a JSON object mapping hosts to limits, e.g. {"ehr.example": {"concurrency": 2, "ratePerSecond": 1}}',
  entryShape: 'an object with "concurrency" and/or "ratePerSecond"',
  parseEntry(key, value, problem) {
    const override: ServerLimitOverride = {};
    for (const [field, setting] of Object.entries(value)) {
      if (!Object.hasOwn(SERVER_LIMIT_FIELDS, field)) {
        problem(`host "${key}" has an unknown field "${field}"; use "concurrency" and/or "ratePerSecond"`);
        continue;
      }
      const { min, max, whole, rule } = SERVER_LIMIT_FIELDS[field as keyof ServerLimitOverride];
      if (
        typeof setting !== 'number' ||
        !Number.isFinite(setting) ||
        (whole && !Number.isInteger(setting)) ||
        setting < min ||
        setting > max
      ) {
        problem(`host "${key}" field "${field}" must be ${rule} (got ${JSON.stringify(setting)})`);
        continue;
      }
      override[field as keyof ServerLimitOverride] = setting;
    }
    return override;
  },
});

/** Extra request headers for one host in SERVER_HEADERS: header name (as written) to value. */
export type ServerHeaders = Readonly<Record<string, string>>;

/**
 * Names SERVER_HEADERS may not set (lower case): credentials and cookies, which the service sets itself
 * or must never send to a server it did not mean them for, and the framing and hop-by-hop headers the
 * HTTP client owns.
 */
export const REFUSED_SERVER_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
]);

/** An RFC 9110 field name: a token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// Problems name the host and the header name, never the value: it may be a client id or a key.
const serverHeaders = hostKeyedJson<ServerHeaders>({
  shape:
    'must be a JSON object mapping hosts to header names and values, e.g. {"fhir.epic.com": {"Epic-Client-ID": "<parent app client id>"}}',
  entryShape: 'an object of header names to string values',
  parseEntry(key, value, problem) {
    const headers: Record<string, string> = {};
    const seen = new Set<string>();
    for (const [name, setting] of Object.entries(value)) {
      const lower = name.toLowerCase();
      if (!HEADER_NAME.test(name)) {
        problem(`host "${key}" header ${JSON.stringify(name)} is not a valid HTTP header name`);
        continue;
      }
      if (REFUSED_SERVER_HEADERS.has(lower)) {
        problem(
          `host "${key}" header "${name}" may not be set here (credentials, cookies, Host, framing and hop-by-hop headers are refused)`,
        );
        continue;
      }
      if (seen.has(lower)) {
        problem(`host "${key}" header "${name}" is listed twice (header names ignore case)`);
        continue;
      }
      seen.add(lower);
      if (typeof setting !== 'string') {
        problem(`host "${key}" header "${name}" must have a string value`);
        continue;
      }
      if (/[\r\n\0]/.test(setting)) {
        problem(`host "${key}" header "${name}" value must not contain CR, LF or NUL`);
        continue;
      }
      headers[name] = setting;
    }
    return headers;
  },
});

export const configSchema = z
  .object({
    // Checked with REDIS_CLUSTER in checkRedisEndpoint: one URL standalone, a list of seeds on a cluster.
    REDIS_URL: z.string().trim().default('redis://127.0.0.1:6379'),
    REDIS_CLUSTER: boolean(false),
    QUEUE_PREFIX: z
      .string()
      .regex(
        /^(\{[A-Za-z0-9_.-]+\}|[A-Za-z0-9_.-]+)$/,
        'must be letters, digits, _ . - (hash-tagged as {name} on Redis Cluster)',
      )
      .default('dcr'),
    SECRETS_BACKEND: z.enum(['file', 'aws'], { error: 'must be file or aws' }).default('file'),
    SECRETS_FILE_DIR: z.string().min(1).default('./.data/secrets'),
    SECRET_NAME_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]{0,256}$/, 'must use only A-Za-z0-9/_+=.@- (Secrets Manager names)')
      .default('dcr/'),
    SECRETS_KMS_KEY_ID: optionalText,
    AWS_REGION: optionalText,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: url(['http', 'https']).optional(),
    HTTP_HOST: z.string().trim().min(1).default('127.0.0.1'),
    HTTP_PORT: integer(0, 65535, 3000),
    API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    BOARD_READ_ONLY: boolean(false),
    WORKER_CONCURRENCY: integer(1, 1000, 16),
    JOB_ATTEMPTS: integer(1, 100, 8),
    BACKOFF_BASE_MS: integer(1, 3_600_000, 2000),
    BACKOFF_MAX_MS: integer(1, 86_400_000, 900_000),
    HTTP_TIMEOUT_MS: integer(100, 300_000, 10_000),
    COMPLETED_JOBS_MAX_AGE_S: integer(0, 31_536_000, 604_800),
    COMPLETED_JOBS_MAX_COUNT: integer(0, 10_000_000, 10_000),
    FAILED_JOBS_MAX_AGE_S: integer(0, 31_536_000, 2_592_000),
    FAILED_JOBS_MAX_COUNT: integer(0, 10_000_000, 50_000),
    DISCOVERY_CACHE_TTL_S: integer(0, 604_800, 3600),
    ALLOW_INSECURE_LOCALHOST: boolean(false),
    ALLOWED_PRIVATE_HOSTS: hostList,
    // Where this service's /jwks/... routes are reachable from the authorization servers (a load
    // balancer's URL, say); registered as part of each jwks_uri, so no query or fragment.
    JWKS_PUBLIC_BASE_URL: url(['http', 'https'])
      .refine((value) => {
        const parsed = URL.parse(value);
        return parsed !== null && parsed.search === '' && parsed.hash === '';
      }, 'must not have a query or fragment')
      .optional(),
    // How long a server may cache a registration's JWKS (the route's Cache-Control max-age). A key
    // rotation publishes the new key this long, twice over, before the key signs anything.
    JWKS_MAX_AGE_S: integer(1, 86_400, 60),
    QUEUE_METRICS_NAMESPACE: z
      .string()
      .regex(/^[A-Za-z0-9._/#:-]{1,255}$/, 'must be a CloudWatch namespace (letters, digits, . _ / # : -)')
      .optional(),
    QUEUE_METRICS_INTERVAL_S: integer(10, 3600, 60),
    SERVER_MAX_IN_FLIGHT: integer(1, 1000, 4),
    SERVER_RATE_PER_S: decimal(0.01, 10_000, 5),
    SERVER_LIMITS: serverLimits,
    SERVER_HEADERS: serverHeaders,
    BREAKER_FAILURE_THRESHOLD: integer(1, 1000, 5),
    BREAKER_COOLDOWN_MS: integer(100, 86_400_000, 60_000),
    SECRET_WRITES_PER_S: decimal(0.1, 10_000, 40),
    ROTATE_BEFORE_EXPIRY: duration(365 * 86_400, '7d'),
    ROTATION_GRACE: duration(90 * 86_400, '24h'),
    ROTATION_SWEEP_CRON: cronPattern,
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  })
  .superRefine((c, ctx) => {
    checkRedisEndpoint(c, ctx);
    if (c.BACKOFF_MAX_MS < c.BACKOFF_BASE_MS) {
      ctx.addIssue({ code: 'custom', path: ['BACKOFF_MAX_MS'], message: 'must be at least BACKOFF_BASE_MS' });
    }
    if (!c.API_TOKEN && !isLoopbackHost(c.HTTP_HOST)) {
      ctx.addIssue({
        code: 'custom',
        path: ['API_TOKEN'],
        message: `is required when HTTP_HOST (${c.HTTP_HOST}) is not a loopback address`,
      });
    }
  });

export type Config = Readonly<z.output<typeof configSchema>>;

/**
 * A prefix inside one `{hash tag}`: on Redis Cluster every key of the queue, registry, limits, events
 * and discovery cache then hashes to one slot, which BullMQ's multi-key scripts require.
 */
export const HASH_TAGGED_PREFIX = /^\{[A-Za-z0-9_.-]+\}$/;

/** The URLs of REDIS_URL: one standalone server, or a cluster's seed nodes. */
export function redisUrls(config: Pick<Config, 'REDIS_URL'>): string[] {
  return config.REDIS_URL.split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

function isRedisUrl(value: string): boolean {
  try {
    const parsed = new URL(value);
    return (parsed.protocol === 'redis:' || parsed.protocol === 'rediss:') && parsed.hostname !== '';
  } catch {
    return false;
  }
}

function checkRedisEndpoint(
  c: { REDIS_URL: string; REDIS_CLUSTER: boolean; QUEUE_PREFIX: string },
  ctx: z.RefinementCtx,
): void {
  const urls = redisUrls(c);
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (!c.REDIS_CLUSTER) {
    if (urls.length > 1) {
      problem(
        'REDIS_URL',
        'lists several URLs: set REDIS_CLUSTER=true to use them as Redis Cluster seed nodes',
      );
    } else if (urls.length === 0 || !isRedisUrl(urls[0] as string)) {
      problem('REDIS_URL', 'must be an absolute redis or rediss URL');
    }
    return;
  }
  const bad = urls.findIndex((entry) => !isRedisUrl(entry));
  if (urls.length === 0 || bad >= 0) {
    problem(
      'REDIS_URL',
      `must be a comma-separated list of redis or rediss URLs${bad >= 0 ? ` (entry ${bad + 1} of the list)` : ''}`,
    );
  }
  if (!HASH_TAGGED_PREFIX.test(c.QUEUE_PREFIX)) {
    problem(
      'QUEUE_PREFIX',
      'must be a hash tag such as {name} when REDIS_CLUSTER=true, so that every key of the queue, registry, limits, events and discovery cache lives in one slot',
    );
  }
}

/** Variables whose values must never be echoed back in an error. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['API_TOKEN', 'SERVER_HEADERS']);

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
