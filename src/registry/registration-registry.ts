// The index of managed registrations, one Redis hash per tenant and server, holding only non-secret
// facts: which job last worked on it, which client and secret version it produced, when the secret
// expires. Status queries and scheduled rotation read it; the secret store stays the source of truth.

import type { Redis } from 'ioredis';

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
  updatedAt: string;
}

export interface EnqueuedFacts {
  tenantId: string;
  fhirBaseUrl: string;
  jobId: string;
}

export interface RegistrationRegistryOptions {
  redis: Redis;
  /** QUEUE_PREFIX, so the registry lives in the queue's Cluster slot. */
  prefix: string;
  now?: () => Date;
}

export class RegistrationRegistry {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #now: () => Date;

  constructor(options: RegistrationRegistryOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#now = options.now ?? (() => new Date());
  }

  async recordEnqueued(key: string, facts: EnqueuedFacts): Promise<void> {
    await this.recordEnqueuedMany([{ key, ...facts }]);
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

  async recordStored(
    key: string,
    facts: Required<
      Pick<
        RegistrationRecord,
        'tenantId' | 'fhirBaseUrl' | 'clientId' | 'secretId' | 'secretVersionId' | 'registeredAt'
      >
    > &
      Pick<RegistrationRecord, 'clientSecretExpiresAt'>,
  ): Promise<void> {
    const fields: Record<string, string> = {
      tenantId: facts.tenantId,
      fhirBaseUrl: facts.fhirBaseUrl,
      clientId: facts.clientId,
      secretId: facts.secretId,
      secretVersionId: facts.secretVersionId,
      registeredAt: facts.registeredAt,
      updatedAt: this.#now().toISOString(),
    };
    const pipeline = this.#redis
      .multi()
      .hset(this.#recordKey(key), fields)
      .sadd(this.#tenantKey(facts.tenantId), key);
    if (facts.clientSecretExpiresAt === undefined)
      pipeline.hdel(this.#recordKey(key), 'clientSecretExpiresAt');
    else pipeline.hset(this.#recordKey(key), 'clientSecretExpiresAt', String(facts.clientSecretExpiresAt));
    await pipeline.exec();
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
      ...(expiry !== undefined
        ? { clientSecretExpiresAt: expiry === 'unknown' ? 'unknown' : Number(expiry) }
        : {}),
    };
  }

  /** The registration keys of one tenant (one per FHIR server). */
  async keysOfTenant(tenantId: string): Promise<string[]> {
    return (await this.#redis.smembers(this.#tenantKey(tenantId))).sort();
  }

  #recordKey(key: string): string {
    return `${this.#prefix}:registration:${key}`;
  }

  #tenantKey(tenantId: string): string {
    return `${this.#prefix}:tenant:${tenantId}`;
  }
}
