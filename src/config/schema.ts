// The environment variables of DESIGN.md "Configuration", each with its default and its rule.
// Parsed once at start; every service reads the typed result, never process.env.

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

export const configSchema = z
  .object({
    REDIS_URL: url(['redis', 'rediss']).default('redis://127.0.0.1:6379'),
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
    QUEUE_METRICS_NAMESPACE: z
      .string()
      .regex(/^[A-Za-z0-9._/#:-]{1,255}$/, 'must be a CloudWatch namespace (letters, digits, . _ / # : -)')
      .optional(),
    QUEUE_METRICS_INTERVAL_S: integer(10, 3600, 60),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  })
  .superRefine((c, ctx) => {
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

/** Variables whose values must never be echoed back in an error. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['API_TOKEN']);

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
