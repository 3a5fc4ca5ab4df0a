// The index of managed registrations, one Redis hash per tenant and server, holding only non-secret
// facts: which job last worked on it, which client and secret version it produced, when the secret
// expires, the rotation period, whether RFC 7592 management is possible. Two sorted sets make the
// rotation sweep cheap: one scored by the secret's expiry, one by when the rotation period runs out,
// so the due registrations are read a page at a time, never all at once. Status queries and the sweep
// read it; the secret store stays the source of truth (`dcr-provisioner reindex` rebuilds it).

import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

export interface RegistrationRecord {
  tenantId: string;
  fhirBaseUrl: string;
  /** The job of the latest request for this tenant and server. */
  latestJobId?: string;
  clientId?: string;
  secretId?: string;
  secretVersionId?: string;
  /** Seconds since the epoch, 0 = never, 'unknown' when the server did not say. */
  clientSecretExpiresAt?: number | 'unknown';
  registeredAt?: string;
  /** When the credentials were last rotated. */
  rotatedAt?: string;
  /** Re-register this often, whatever the expiry (the request's `rotation.periodDays`). */
  rotationPeriodDays?: number;
  /** Whether the stored credentials allow RFC 7592 management (a registration access token and URI). */
  managed?: boolean;
  /**
   * Whether a token request with the stored credentials succeeded (request field `verify`); absent
   * when none was made. `verificationError` is the token endpoint's error code when it did not.
   */
  verified?: boolean;
  verifiedAt?: string;
  verificationError?: string;
  /** The kid of the key the service generated for the client (request field `keys`), when it did. */
  kid?: string;
  updatedAt: string;
}

/** What a stored registration records: the facts of the secret version just written. */
export type StoredFacts = Required<
  Pick<
    RegistrationRecord,
    'tenantId' | 'fhirBaseUrl' | 'clientId' | 'secretId' | 'secretVersionId' | 'registeredAt' | 'managed'
  >
> &
  Pick<
    RegistrationRecord,
    | 'clientSecretExpiresAt'
    | 'rotatedAt'
    | 'rotationPeriodDays'
    | 'verified'
    | 'verifiedAt'
    | 'verificationError'
    | 'kid'
  >;

/** A registration the sweep found due, and why. */
export interface DueRegistration {
  key: string;
  tenantId: string;
  fhirBaseUrl: string;
  due: 'expiry' | 'period';
}

export interface DueQuery {
  now: Date;
  /**
   * ROTATE_BEFORE_EXPIRY: secrets expiring within this many seconds are due — but never before half
   * their lifetime has passed, or a server issuing secrets shorter-lived than the window would have
   * each new client rotated again at the next sweep.
   */
  rotateBeforeExpirySeconds: number;
  /** Registrations read per round trip. @defaultValue 500 */
  pageSize?: number;
}

const DAY_MS = 86_400_000;

const DUE_FIELDS = [
  'tenantId',
  'fhirBaseUrl',
  'clientSecretExpiresAt',
  'rotatedAt',
  'registeredAt',
  'rotationRetryAt',
  'rotationPeriodDays',
] as const;

const ROTATION_RETRY_BASE_MS = 3_600_000;
const SNAPSHOT_TTL_S = 3600;
const ROTATION_RETRY_MAX_MS = 86_400_000;

/** Whether a rotation period has run out since the credentials were issued (or last rotated). */
function periodEnded(
  nowMs: number,
  periodDays: string | null | undefined,
  issuedAt: string | null | undefined,
): boolean {
  const endsAt = periodEndsAt(issuedAt, Number(periodDays));
  return Number.isNaN(endsAt) || nowMs >= endsAt;
}

/** When a rotation period that started at `issuedAt` (registered or last rotated) ends, in ms; NaN if unknown. */
function periodEndsAt(issuedAt: string | null | undefined, periodDays: number): number {
  return Date.parse(issuedAt ?? '') + periodDays * DAY_MS;
}

/** Whether half of a secret's lifetime (from when it was issued to when it expires) has passed. */
function pastHalfLife(
  nowSeconds: number,
  expiresAt: string | null | undefined,
  issuedAt: string | null | undefined,
): boolean {
  const issuedSeconds = issuedAt ? Date.parse(issuedAt) / 1000 : Number.NaN;
  const expiry = Number(expiresAt);
  if (!Number.isFinite(issuedSeconds) || !Number.isFinite(expiry)) return true;
  return nowSeconds >= issuedSeconds + (expiry - issuedSeconds) / 2;
}

export interface EnqueuedFacts {
  tenantId: string;
  fhirBaseUrl: string;
  jobId: string;
}

export interface RegistrationRegistryOptions {
  redis: Redis | Cluster;
  /** QUEUE_PREFIX, so the registry lives in the queue's Cluster slot. */
  prefix: string;
  now?: () => Date;
}

export class RegistrationRegistry {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #now: () => Date;

  constructor(options: RegistrationRegistryOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#now = options.now ?? (() => new Date());
  }

  /** A job starts working on the registration: status follows it, even if its producer could not record it. */
  async recordWorking(key: string, facts: EnqueuedFacts): Promise<void> {
    await this.#redis
      .multi()
      .hset(this.#recordKey(key), {
        tenantId: facts.tenantId,
        fhirBaseUrl: facts.fhirBaseUrl,
        latestJobId: facts.jobId,
        updatedAt: this.#now().toISOString(),
      })
      .sadd(this.#tenantKey(facts.tenantId), key)
      .exec();
  }

  /** One transaction for a whole batch: a bulk enqueue must not pay a round trip per item. */
  async recordEnqueuedMany(entries: ReadonlyArray<EnqueuedFacts & { key: string }>): Promise<void> {
    if (entries.length === 0) return;
    const updatedAt = this.#now().toISOString();
    const transaction = this.#redis.multi();
    for (const { key, tenantId, fhirBaseUrl, jobId } of entries) {
      transaction
        .hset(this.#recordKey(key), { tenantId, fhirBaseUrl, latestJobId: jobId, updatedAt })
        .sadd(this.#tenantKey(tenantId), key);
    }
    await transaction.exec();
  }

  async recordStored(key: string, facts: StoredFacts): Promise<void> {
    const recordKey = this.#recordKey(key);
    const fields: Record<string, string> = {
      tenantId: facts.tenantId,
      fhirBaseUrl: facts.fhirBaseUrl,
      clientId: facts.clientId,
      secretId: facts.secretId,
      secretVersionId: facts.secretVersionId,
      registeredAt: facts.registeredAt,
      managed: facts.managed ? 'true' : 'false',
      updatedAt: this.#now().toISOString(),
    };
    const optional = {
      clientSecretExpiresAt: facts.clientSecretExpiresAt,
      rotatedAt: facts.rotatedAt,
      rotationPeriodDays: facts.rotationPeriodDays,
      // New credentials drop the verification of the previous ones.
      verified: facts.verified,
      verifiedAt: facts.verifiedAt,
      verificationError: facts.verificationError,
      kid: facts.kid,
    };
    // A stored registration ends any run of failed rotations.
    const absent: string[] = ['rotationFailures', 'rotationRetryAt'];
    for (const [field, value] of Object.entries(optional)) {
      if (value === undefined) absent.push(field);
      else fields[field] = String(value);
    }
    // One command per concern: every job pays for this transaction.
    const transaction = this.#redis
      .multi()
      .hset(recordKey, fields)
      .sadd(this.#tenantKey(facts.tenantId), key);
    if (absent.length > 0) transaction.hdel(recordKey, ...absent);
    const expiresAt = facts.clientSecretExpiresAt;
    if (typeof expiresAt === 'number' && expiresAt > 0) transaction.zadd(this.#expiryKey(), expiresAt, key);
    else transaction.zrem(this.#expiryKey(), key);
    const periodEnd =
      facts.rotationPeriodDays === undefined
        ? Number.NaN
        : periodEndsAt(facts.rotatedAt ?? facts.registeredAt, facts.rotationPeriodDays);
    if (Number.isFinite(periodEnd)) transaction.zadd(this.#periodKey(), periodEnd, key);
    else transaction.zrem(this.#periodKey(), key);
    await transaction.exec();
  }

  /**
   * The registrations due for rotation, a page at a time: expiring ones first, then those whose
   * period ran out (a registration due for both may appear twice; enqueueing deduplicates). Memory
   * stays at one page whatever the registry's size. Members whose record is gone are dropped; those
   * backing off after failed rotations are left out.
   */
  async *due(query: DueQuery): AsyncGenerator<DueRegistration[]> {
    const pageSize = query.pageSize ?? 500;
    const nowSeconds = Math.floor(query.now.getTime() / 1000);
    const sources = [
      { zset: this.#expiryKey(), max: nowSeconds + query.rotateBeforeExpirySeconds, due: 'expiry' as const },
      { zset: this.#periodKey(), max: query.now.getTime(), due: 'period' as const },
    ];
    for (const { zset, max, due } of sources) {
      // A snapshot of the due members, paged by index: rotations finishing meanwhile move members of the
      // live set, which would make offset or score paging skip some. It lives in Redis (same hash slot),
      // never in this process, and expires by itself should the sweep die.
      const snapshot = `${this.#prefix}:rotation:snapshot:${randomUUID()}`;
      // Made and given its expiry in one transaction: a sweep dying in between would leave it forever.
      const [[, stored] = []] =
        (await this.#redis
          .multi()
          .zrangestore(snapshot, zset, '-inf', max, 'BYSCORE')
          .expire(snapshot, SNAPSHOT_TTL_S)
          .exec()) ?? [];
      const count = Number(stored ?? 0);
      if (count === 0) continue;
      try {
        for (let offset = 0; offset < count; offset += pageSize) {
          const keys = await this.#redis.zrange(snapshot, offset, offset + pageSize - 1);
          const reads = this.#redis.pipeline();
          for (const key of keys) reads.hmget(this.#recordKey(key), ...DUE_FIELDS);
          const results = (await reads.exec()) ?? [];
          const page: DueRegistration[] = [];
          const stale: string[] = [];
          keys.forEach((key, i) => {
            const [tenantId, fhirBaseUrl, expiresAt, rotatedAt, registeredAt, retryAt, periodDays] =
              (results[i]?.[1] as Array<string | null> | undefined) ?? [];
            const issuedAt = rotatedAt ?? registeredAt;
            if (!tenantId || !fhirBaseUrl) stale.push(key);
            else if (retryAt && Number(retryAt) > query.now.getTime()) return;
            // Judged again from the record: a rotation may have finished since the snapshot was taken.
            else if (
              due === 'period'
                ? periodEnded(query.now.getTime(), periodDays, issuedAt)
                : pastHalfLife(nowSeconds, expiresAt, issuedAt)
            )
              page.push({ key, tenantId, fhirBaseUrl, due });
          });
          if (stale.length > 0) await this.#redis.zrem(zset, ...stale);
          if (page.length > 0) yield page;
        }
      } finally {
        await this.#redis.del(snapshot);
      }
    }
  }

  /**
   * A rotation failed for good: the sweep leaves the registration alone for 1 h, then 2 h, 4 h... at
   * most 24 h, instead of failing it again every hour (a server that needs an initial access token, a
   * refused metadata document). The next stored registration clears it.
   */
  async recordRotationFailure(key: string): Promise<{ failures: number; retryAt: Date }> {
    const recordKey = this.#recordKey(key);
    const failures = await this.#redis.hincrby(recordKey, 'rotationFailures', 1);
    const delayMs = Math.min(ROTATION_RETRY_BASE_MS * 2 ** (failures - 1), ROTATION_RETRY_MAX_MS);
    const retryAt = new Date(this.#now().getTime() + delayMs);
    await this.#redis.hset(recordKey, 'rotationRetryAt', String(retryAt.getTime()));
    return { failures, retryAt };
  }

  async get(key: string): Promise<RegistrationRecord | undefined> {
    const fields = await this.#redis.hgetall(this.#recordKey(key));
    if (!fields.tenantId || !fields.fhirBaseUrl || !fields.updatedAt) return undefined;
    const expiry = fields.clientSecretExpiresAt;
    return {
      tenantId: fields.tenantId,
      fhirBaseUrl: fields.fhirBaseUrl,
      updatedAt: fields.updatedAt,
      ...(fields.latestJobId ? { latestJobId: fields.latestJobId } : {}),
      ...(fields.clientId ? { clientId: fields.clientId } : {}),
      ...(fields.secretId ? { secretId: fields.secretId } : {}),
      ...(fields.secretVersionId ? { secretVersionId: fields.secretVersionId } : {}),
      ...(fields.registeredAt ? { registeredAt: fields.registeredAt } : {}),
      ...(fields.rotatedAt ? { rotatedAt: fields.rotatedAt } : {}),
      ...(fields.rotationPeriodDays ? { rotationPeriodDays: Number(fields.rotationPeriodDays) } : {}),
      ...(fields.managed ? { managed: fields.managed === 'true' } : {}),
      ...(fields.verified ? { verified: fields.verified === 'true' } : {}),
      ...(fields.verifiedAt ? { verifiedAt: fields.verifiedAt } : {}),
      ...(fields.verificationError ? { verificationError: fields.verificationError } : {}),
      ...(fields.kid ? { kid: fields.kid } : {}),
      ...(expiry !== undefined
        ? { clientSecretExpiresAt: expiry === 'unknown' ? 'unknown' : Number(expiry) }
        : {}),
    };
  }

  /** The stored client id of each registration (undefined where none is stored), in one round trip. */
  async clientIdsOf(keys: readonly string[]): Promise<Array<string | undefined>> {
    if (keys.length === 0) return [];
    const reads = this.#redis.pipeline();
    for (const key of keys) reads.hget(this.#recordKey(key), 'clientId');
    const results = (await reads.exec()) ?? [];
    return keys.map((_, i) => (results[i]?.[1] as string | null | undefined) ?? undefined);
  }

  /** The registration keys of one tenant (one per FHIR server). */
  async keysOfTenant(tenantId: string): Promise<string[]> {
    return (await this.#redis.smembers(this.#tenantKey(tenantId))).sort();
  }

  #recordKey(key: string): string {
    return `${this.#prefix}:registration:${key}`;
  }

  #expiryKey(): string {
    return `${this.#prefix}:rotation:expiry`;
  }

  #periodKey(): string {
    return `${this.#prefix}:rotation:period`;
  }

  #tenantKey(tenantId: string): string {
    return `${this.#prefix}:tenant:${tenantId}`;
  }
}
