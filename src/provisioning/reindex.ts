// Rebuilds the registry of managed registrations from the secret store alone (`dcr-provisioner
// reindex`): the store is the source of truth and every stored value carries what the registry records
// (secret-value.ts). The store is read a page of names at a time and each page is finished before the
// next is listed, so memory stays at one page whatever the number of secrets. Secret values are parsed
// and dropped: only non-secret facts reach the registry, the outcome and the skip reasons.
//
// A rotation finishing while reindex runs can be overwritten by the version read just before it; the
// next rotation or reindex corrects that, so reindex is best run while no rotations are in flight.

import { isProvisioningError } from '../failures/index.js';
import { publicJwkOf } from '../keys/index.js';
import { registrationKey } from '../queue/registration-key.js';
import { TENANT_ID_PATTERN } from '../queue/registration-request.js';
import type { PublishedKeys, RegistrationRegistry, StoredFacts } from '../registry/index.js';
import { INITIAL_ACCESS_TOKEN_SUFFIX, registrationSecretName, type SecretStore } from '../secrets/index.js';
import { isManageable, readStoredCredentials } from './secret-value.js';

export interface ReindexDeps {
  secretStore: Pick<SecretStore, 'list' | 'readCurrent'>;
  registry: Pick<RegistrationRegistry, 'recordStored'>;
  /** Where keys published by jwks_uri are served from: the current key of each such client is put back. */
  publishedKeys?: Pick<PublishedKeys, 'restoreCurrent'>;
  /** SECRET_NAME_PREFIX: every registration of this service is stored under it. */
  secretNamePrefix: string;
  /** Names listed per page (1–100). @defaultValue the store's default, 100 */
  pageSize?: number;
  now?: () => Date;
}

export interface SkippedSecret {
  secretId: string;
  /** Why it is not a registration of this service; never holds anything from the value. */
  reason: string;
}

export interface ReindexOutcome {
  /** Secrets looked at: indexed + skippedTotal. */
  scanned: number;
  indexed: number;
  /** The first 100 skipped secrets, with why. */
  skipped: SkippedSecret[];
  /** Every skipped secret, listed above or not. */
  skippedTotal: number;
}

export interface ReindexProgress {
  /** Names listed so far (a bar's total grows page by page: the store does not say how many there are). */
  listed: number;
  scanned: number;
  indexed: number;
  skipped: number;
}

/** A store shared with other software can hold any number of foreign secrets: report a few, count all. */
const MAX_REPORTED_SKIPS = 100;

/** Reads in flight at once: 100,000 secrets take minutes at Secrets Manager latency, far below its read quota. */
const READ_CONCURRENCY = 8;

type Verdict = { facts: StoredFacts; publishedKey?: object | undefined } | { reason: string };

export async function reindexRegistry(
  deps: ReindexDeps,
  onProgress?: (progress: ReindexProgress) => void,
): Promise<ReindexOutcome> {
  const progress: ReindexProgress = { listed: 0, scanned: 0, indexed: 0, skipped: 0 };
  const skipped: SkippedSecret[] = [];
  let pageToken: string | undefined;
  do {
    const page = await deps.secretStore.list(deps.secretNamePrefix, {
      ...(deps.pageSize === undefined ? {} : { pageSize: deps.pageSize }),
      ...(pageToken === undefined ? {} : { pageToken }),
    });
    progress.listed += page.names.length;
    onProgress?.({ ...progress });
    await forEachLimited(page.names, READ_CONCURRENCY, async (name) => {
      const verdict = await examine(name, deps);
      if ('facts' in verdict) {
        const { tenantId, fhirBaseUrl } = verdict.facts;
        await deps.registry.recordStored(registrationKey(tenantId, fhirBaseUrl), verdict.facts);
        if (verdict.publishedKey)
          await deps.publishedKeys?.restoreCurrent(tenantId, fhirBaseUrl, verdict.publishedKey);
        progress.indexed += 1;
      } else {
        if (skipped.length < MAX_REPORTED_SKIPS) skipped.push({ secretId: name, reason: verdict.reason });
        progress.skipped += 1;
      }
      progress.scanned += 1;
      onProgress?.({ ...progress });
    });
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return { scanned: progress.scanned, indexed: progress.indexed, skipped, skippedTotal: progress.skipped };
}

/** What one secret contributes to the registry, or why it contributes nothing. */
async function examine(name: string, deps: ReindexDeps): Promise<Verdict> {
  // The operator's token for a tenant's first registration lives next to it; it is not read at all.
  if (name.endsWith(INITIAL_ACCESS_TOKEN_SUFFIX))
    return { reason: 'an initial access token, not a registration' };
  const rest = name.slice(deps.secretNamePrefix.length);
  const tenantId = rest.slice(0, Math.max(rest.indexOf('/'), 0));
  if (!TENANT_ID_PATTERN.test(tenantId)) {
    return { reason: 'the name does not continue the prefix with a tenant id and "/"' };
  }

  let current: Awaited<ReturnType<SecretStore['readCurrent']>>;
  try {
    current = await deps.secretStore.readCurrent(name);
  } catch (err) {
    // One unreadable secret (binary, access denied) must not block the rest; an outage must not
    // leave a half-built registry that looks complete, so it ends the run (which can be repeated).
    if (isProvisioningError(err) && !err.retryable)
      return { reason: `cannot be read: ${err.toFailedReason()}` };
    throw err;
  }
  if (current === undefined) return { reason: 'deleted while reindexing' };
  const credentials = readStoredCredentials(current.value);
  if (credentials === undefined) return { reason: 'not a registration: not a JSON object with a client_id' };
  const { fhirBaseUrl } = credentials;
  if (fhirBaseUrl === undefined) return { reason: 'holds no fhir_base_url, so its server is unknown' };

  let expectedName: string;
  try {
    expectedName = registrationSecretName(deps.secretNamePrefix, tenantId, fhirBaseUrl);
  } catch (err) {
    return { reason: `its fhir_base_url leads to no secret name: ${(err as Error).message}` };
  }
  // A copied or renamed secret would make the registry point a tenant at a name rotation never writes.
  if (expectedName !== name) {
    return { reason: `tenant ${tenantId} and its fhir_base_url ${fhirBaseUrl} belong at ${expectedName}` };
  }

  return {
    facts: {
      tenantId,
      fhirBaseUrl,
      clientId: credentials.clientId,
      secretId: name,
      secretVersionId: current.versionId,
      registeredAt:
        validTime(credentials.registeredAt) ??
        current.createdAt?.toISOString() ??
        // Without any time the rotation period counts from now rather than never.
        (deps.now?.() ?? new Date()).toISOString(),
      rotatedAt: validTime(credentials.rotatedAt),
      clientSecretExpiresAt: credentials.clientSecretExpiresAt,
      rotationPeriodDays: credentials.rotationPeriodDays,
      managed: isManageable(credentials),
      ...(credentials.privateJwk ? { kid: credentials.privateJwk.kid } : {}),
    },
    // Only the public half leaves this function (restoreCurrent copies the public members).
    publishedKey:
      credentials.privateJwk && credentials.keyPublication === 'jwks_uri'
        ? publicJwkOf(credentials.privateJwk)
        : undefined,
  };
}

/** A time the registry can compute a rotation period from, or undefined. */
function validTime(value: string | undefined): string | undefined {
  return value !== undefined && Number.isFinite(Date.parse(value)) ? value : undefined;
}

/**
 * Runs `work` over `items` with at most `limit` at once. The first failure stops taking new items and
 * is thrown once the items already started have settled, so nothing writes after the run has ended.
 */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      await work(item).catch((err: unknown) => {
        failed = true;
        throw err;
      });
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, lane));
  const failure = lanes.find((lane) => lane.status === 'rejected');
  if (failure) throw failure.reason;
}
