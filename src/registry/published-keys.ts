// The public keys the `/jwks/{tenantId}/{serverSlug}.json` route serves for registrations whose
// generated keys are published by `jwks_uri` (DESIGN.md "HTTP API"). Public material only, so it lives
// in Redis beside the registry and the route costs no Secrets Manager read. One JSON value per
// registration, under the same tenant id and slug as the route's path, written only by the one job
// working on that registration (the queue deduplicates per tenant and server).
//
// A key goes through three states. `pending`: published just before the request that registers it (a
// server may fetch the set while registering) or, for a key rotation, before the key signs anything;
// a pending key whose credentials were never stored is dropped when the next one is published.
// Current: its private half is the stored one. Retiring: replaced, served until `retireAt` (the end of
// ROTATION_GRACE) and not after — the route filters by time, so no job has to run at that moment.

import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { type PublicJwkSet, publicJwkOf, publicJwkSet } from '../keys/index.js';
import { serverSlug } from '../secrets/index.js';

const publishedKeySchema = z.object({
  jwk: z.looseObject({ kty: z.string(), kid: z.string().min(1) }),
  pending: z.literal(true).optional(),
  retireAt: z.iso.datetime().optional(),
});
const publishedSetSchema = z.object({ keys: z.array(publishedKeySchema) });

type PublishedKey = z.infer<typeof publishedKeySchema>;

export interface PublishedKeysOptions {
  redis: Redis | Cluster;
  /** QUEUE_PREFIX, so the keys live in the queue's Cluster slot. */
  prefix: string;
  now?: () => Date;
}

export class PublishedKeys {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #now: () => Date;

  constructor(options: PublishedKeysOptions) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * The JWK Set the route serves for `tenantId` and `slug` (the route's path parts), or undefined when
   * nothing is published there. Retired keys are left out; every key passes `publicJwkSet`, which
   * refuses a private member, whatever was found in Redis.
   */
  async served(tenantId: string, slug: string): Promise<PublicJwkSet | undefined> {
    const keys = live(await this.#read(this.#key(tenantId, slug)), this.#now());
    if (keys.length === 0) return undefined;
    return publicJwkSet(keys.map((key) => key.jwk));
  }

  /**
   * Publishes a key before anything signs with it or registers it: it joins the live keys as pending,
   * and a pending key of an earlier attempt (never stored) is dropped. `current`, the key stored now
   * (a rotation's old key), is kept served as current whatever an earlier crash left. Accepts either
   * half of each key; only the public one is kept.
   */
  async publishPending(tenantId: string, fhirBaseUrl: string, jwk: object, current?: object): Promise<void> {
    const key = this.#key(tenantId, serverSlug(fhirBaseUrl));
    const publicJwk = publicJwkOf(jwk) as PublishedKey['jwk'];
    const kept = current ? [{ jwk: publicJwkOf(current) as PublishedKey['jwk'] }] : [];
    const others = live(await this.#read(key), this.#now()).filter(
      (entry) =>
        !entry.pending && entry.jwk.kid !== publicJwk.kid && !kept.some((k) => k.jwk.kid === entry.jwk.kid),
    );
    await this.#write(key, [{ jwk: publicJwk, pending: true }, ...kept, ...others]);
  }

  /**
   * `currentJwk` is the stored key: it is served as current from now on (added if an earlier crash or
   * a lost Redis left it out), and every other live key retires at `retireAt` (one already retiring
   * keeps the earlier time). Keys of never-stored attempts go. Idempotent.
   */
  async settle(tenantId: string, fhirBaseUrl: string, currentJwk: object, retireAt: Date): Promise<void> {
    const key = this.#key(tenantId, serverSlug(fhirBaseUrl));
    const current = { jwk: publicJwkOf(currentJwk) as PublishedKey['jwk'] };
    const currentKid = current.jwk.kid;
    const keys = live(await this.#read(key), this.#now());
    const retiring = keys
      .filter((entry) => entry.jwk.kid !== currentKid && !entry.pending)
      .map((entry) => ({
        jwk: entry.jwk,
        retireAt:
          entry.retireAt && Date.parse(entry.retireAt) < retireAt.getTime()
            ? entry.retireAt
            : retireAt.toISOString(),
      }));
    await this.#write(key, [current, ...retiring]);
  }

  /**
   * Serves `jwk` as the current key, keeping whatever else is live (`reindex`: a Redis that lost the
   * published keys would otherwise leave servers unable to check the client's assertions).
   */
  async restoreCurrent(tenantId: string, fhirBaseUrl: string, jwk: object): Promise<void> {
    const key = this.#key(tenantId, serverSlug(fhirBaseUrl));
    const publicJwk = publicJwkOf(jwk) as PublishedKey['jwk'];
    const others = live(await this.#read(key), this.#now()).filter(
      (entry) => entry.jwk.kid !== publicJwk.kid,
    );
    await this.#write(key, [{ jwk: publicJwk }, ...others]);
  }

  /** Stops serving a registration's keys (its client is gone). */
  async remove(tenantId: string, fhirBaseUrl: string): Promise<void> {
    await this.#redis.del(this.#key(tenantId, serverSlug(fhirBaseUrl)));
  }

  async #read(key: string): Promise<PublishedKey[]> {
    const raw = await this.#redis.get(key);
    if (raw === null) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return [];
    }
    // A value someone else wrote there is not ours to serve.
    const result = publishedSetSchema.safeParse(parsed);
    return result.success ? result.data.keys : [];
  }

  async #write(key: string, keys: PublishedKey[]): Promise<void> {
    if (keys.length === 0) await this.#redis.del(key);
    else await this.#redis.set(key, JSON.stringify({ keys }));
  }

  #key(tenantId: string, slug: string): string {
    return `${this.#prefix}:jwks:${tenantId}/${slug}`;
  }
}

function live(keys: PublishedKey[], now: Date): PublishedKey[] {
  return keys.filter((entry) => entry.retireAt === undefined || Date.parse(entry.retireAt) > now.getTime());
}
