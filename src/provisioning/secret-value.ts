// The JSON stored as a secret version (DESIGN.md "Secrets"): the registration response as returned,
// plus what a client needs to use it (token endpoint, FHIR base), where and when it was registered, and
// the tenant's rotation period. The secret store is the source of truth: rotation and `reindex` read
// everything they need back from this value.

import { CREDENTIAL_FIELDS, type RegisteredClient } from '../dcr/index.js';
import { ProvisioningError } from '../failures/index.js';
import { type ClientKeyPair, isClientKeyAlgorithm } from '../keys/index.js';
import { normalizeFhirBaseUrl } from '../smart/index.js';

export interface SecretValueInput {
  client: RegisteredClient;
  fhirBaseUrl: string;
  /** Absent when the request named the registration endpoint and discovery was skipped. */
  tokenEndpoint?: string | undefined;
  issuer?: string | undefined;
  /** Where the client was registered: rotation registers its successor there (or rediscovers). */
  registrationEndpoint?: string | undefined;
  /** When this client was registered. */
  registeredAt: Date;
  /** When these credentials were rotated (an RFC 7592 update or a successor client). */
  rotatedAt?: Date | undefined;
  /** The request's `rotation.periodDays`: re-register this often, whatever the expiry. */
  rotationPeriodDays?: number | undefined;
  /**
   * The expiry rotation is scheduled by when the server did not say one (see expiryToSchedule); kept
   * apart from `client_secret_expires_at`, which stays what the server said.
   */
  assumedSecretExpiresAt?: number | undefined;
  /** The private half of the key the service generated for the client (request field `keys`). */
  privateJwk?: ClientKeyPair['privateJwk'] | undefined;
  /** How that key's public half is registered (`keys.publish`): kept, since a server may not echo `jwks_uri`. */
  keyPublication?: KeyPublication | undefined;
}

/** How a generated key's public half is registered: inline `jwks`, or served at the route by `jwks_uri`. */
export type KeyPublication = 'jwks' | 'jwks_uri';

export function secretValue(input: SecretValueInput): Record<string, unknown> {
  const { client } = input;
  const value: Record<string, unknown> = {
    ...client.metadata,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    client_secret_expires_at:
      typeof client.clientSecretExpiresAt === 'number' ? client.clientSecretExpiresAt : undefined,
    client_id_issued_at: client.clientIdIssuedAt,
    registration_access_token: client.registrationAccessToken,
    registration_client_uri: client.registrationClientUri,
    token_endpoint: input.tokenEndpoint,
    issuer: input.issuer,
    registration_endpoint: input.registrationEndpoint,
    fhir_base_url: input.fhirBaseUrl,
    registered_at: input.registeredAt.toISOString(),
    rotated_at: input.rotatedAt?.toISOString(),
    rotation_period_days: input.rotationPeriodDays,
    assumed_secret_expires_at:
      client.clientSecretExpiresAt === 'unknown' ? input.assumedSecretExpiresAt : undefined,
    private_jwk: input.privateJwk,
    key_publication: input.privateJwk ? input.keyPublication : undefined,
  };
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** The credentials and the fields this service adds; everything else in the value is registered metadata. */
const SERVICE_FIELDS = [
  ...CREDENTIAL_FIELDS,
  'token_endpoint',
  'issuer',
  'registration_endpoint',
  'fhir_base_url',
  'registered_at',
  'rotated_at',
  'rotation_period_days',
  'assumed_secret_expires_at',
  'private_jwk',
  'key_publication',
] as const;

/** A stored value read back. Holds secrets: never log, queue or return it. */
export interface StoredCredentials {
  clientId: string;
  clientSecret?: string;
  /** Seconds since the epoch, 0 = never, 'unknown' when a secret came without one. */
  clientSecretExpiresAt?: number | 'unknown';
  registrationAccessToken?: string;
  registrationClientUri?: string;
  tokenEndpoint?: string;
  issuer?: string;
  registrationEndpoint?: string;
  fhirBaseUrl?: string;
  registeredAt?: string;
  rotatedAt?: string;
  rotationPeriodDays?: number;
  /** The private JWK of a generated key (with `kid` and `alg`), when the service made the client's key. */
  privateJwk?: ClientKeyPair['privateJwk'];
  /** How the generated key is registered; from the metadata (`jwks_uri` or not) for values without it. */
  keyPublication?: KeyPublication;
  /** The registered metadata as the server returned it, without the fields above. */
  metadata: Record<string, unknown>;
}

/** Parses a stored value; undefined when it is not one of ours (no JSON object with a `client_id`). */
export function readStoredCredentials(value: string): StoredCredentials | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (typeof fields.client_id !== 'string' || fields.client_id === '') return undefined;
  const text = (name: string) => {
    const field = fields[name];
    return typeof field === 'string' && field !== '' ? field : undefined;
  };
  const clientSecret = text('client_secret');
  // What the server said, else what a rotation assumed when it stopped saying (so the assumption
  // survives the next rotation, a resumed job and reindex), else unknown.
  const expiresAt =
    typeof fields.client_secret_expires_at === 'number'
      ? fields.client_secret_expires_at
      : clientSecret === undefined
        ? undefined
        : typeof fields.assumed_secret_expires_at === 'number'
          ? fields.assumed_secret_expires_at
          : ('unknown' as const);
  const period = fields.rotation_period_days;
  const metadata = { ...fields };
  for (const name of SERVICE_FIELDS) delete metadata[name];
  const optional = {
    clientSecret,
    clientSecretExpiresAt: expiresAt,
    registrationAccessToken: text('registration_access_token'),
    registrationClientUri: text('registration_client_uri'),
    tokenEndpoint: text('token_endpoint'),
    issuer: text('issuer'),
    registrationEndpoint: text('registration_endpoint'),
    fhirBaseUrl: text('fhir_base_url'),
    registeredAt: text('registered_at'),
    rotatedAt: text('rotated_at'),
    rotationPeriodDays: typeof period === 'number' && period > 0 ? period : undefined,
    privateJwk: generatedPrivateJwk(fields.private_jwk),
    keyPublication:
      fields.private_jwk === undefined
        ? undefined
        : fields.key_publication === 'jwks' || fields.key_publication === 'jwks_uri'
          ? fields.key_publication
          : typeof fields.jwks_uri === 'string'
            ? 'jwks_uri'
            : 'jwks',
  };
  return {
    clientId: fields.client_id,
    metadata,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}

/**
 * The secret value after an RFC 7592 update of stored credentials: the answer, with what it leaves out
 * kept as stored (a server may omit the secret or the URI on update). `rotated`: the update rotated
 * the credentials (a new secret or key), so they carry its time.
 */
export function updatedCredentials(
  credentials: StoredCredentials,
  updated: RegisteredClient,
  change: { fhirBaseUrl: string; at: Date; rotated: boolean; privateJwk: SecretValueInput['privateJwk'] },
): { value: string; expiresAt: number | 'unknown' | undefined; registeredAt: string } {
  const client = {
    ...updated,
    clientId: credentials.clientId,
    clientSecret: updated.clientSecret ?? credentials.clientSecret,
    clientSecretExpiresAt: updated.clientSecretExpiresAt ?? credentials.clientSecretExpiresAt,
    // Not enumerable on a kept token (see keepToken in src/dcr), so not carried by the spread.
    registrationAccessToken: updated.registrationAccessToken,
    registrationClientUri: updated.registrationClientUri ?? credentials.registrationClientUri,
  };
  const registeredAt = credentials.registeredAt ?? change.at.toISOString();
  const rotatedAt = change.rotated ? change.at.toISOString() : credentials.rotatedAt;
  const expiresAt = expiryToSchedule(
    client.clientSecretExpiresAt,
    secretLifetimeSeconds(credentials),
    change.at,
  );
  const value = JSON.stringify(
    secretValue({
      client,
      fhirBaseUrl: change.fhirBaseUrl,
      tokenEndpoint: credentials.tokenEndpoint,
      issuer: credentials.issuer,
      registrationEndpoint: credentials.registrationEndpoint,
      registeredAt: new Date(registeredAt),
      rotatedAt: rotatedAt ? new Date(rotatedAt) : undefined,
      rotationPeriodDays: credentials.rotationPeriodDays,
      assumedSecretExpiresAt: typeof expiresAt === 'number' ? expiresAt : undefined,
      privateJwk: change.privateJwk,
      keyPublication: credentials.keyPublication,
    }),
  );
  return { value, expiresAt, registeredAt };
}

/** A stored `private_jwk`, when it is one the service could have made (else it is ignored). */
function generatedPrivateJwk(value: unknown): ClientKeyPair['privateJwk'] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const jwk = value as Record<string, unknown>;
  const text = (name: string) => typeof jwk[name] === 'string' && jwk[name] !== '';
  if (!text('kty') || !text('kid') || !text('alg') || !text('d') || jwk.use !== 'sig') return undefined;
  if (!isClientKeyAlgorithm(jwk.alg)) return undefined;
  return jwk as ClientKeyPair['privateJwk'];
}

/** How long the stored secret was issued for (seconds), when its expiry and issue time are known. */
export function secretLifetimeSeconds(credentials: StoredCredentials): number | undefined {
  const expiresAt = credentials.clientSecretExpiresAt;
  const issuedAt = Date.parse(credentials.rotatedAt ?? credentials.registeredAt ?? '');
  if (typeof expiresAt !== 'number' || expiresAt <= 0 || Number.isNaN(issuedAt)) return undefined;
  const lifetime = expiresAt - Math.floor(issuedAt / 1000);
  return lifetime > 0 ? lifetime : undefined;
}

/**
 * The expiry to schedule the next rotation by. A server that stopped saying when its secrets expire
 * (RFC 7591 requires it; several omit it) would otherwise drop the registration out of the sweep until
 * the secret dies: assume the new secret lives as long as the one it replaces.
 */
export function expiryToSchedule(
  reported: number | 'unknown' | undefined,
  previousLifetimeSeconds: number | undefined,
  now: Date,
): number | 'unknown' | undefined {
  if (reported !== 'unknown' || previousLifetimeSeconds === undefined) return reported;
  return Math.floor(now.getTime() / 1000) + previousLifetimeSeconds;
}

/** Whether RFC 7592 management is possible with these credentials. */
export function isManageable(
  credentials: Pick<StoredCredentials, 'registrationAccessToken' | 'registrationClientUri'>,
): boolean {
  return credentials.registrationAccessToken !== undefined && credentials.registrationClientUri !== undefined;
}

/**
 * Refuses to touch credentials stored for another FHIR base URL (DESIGN.md "One secret per (tenant,
 * server)"): a secret placed by hand, copied, or written under an older naming rule must not have its
 * client replaced, rotated or deleted on behalf of a server it does not belong to. A value without a
 * `fhir_base_url` is taken to be this server's.
 */
export function assertCredentialsOf(
  fhirBaseUrl: string,
  credentials: Pick<StoredCredentials, 'fhirBaseUrl'>,
  secretId: string,
): void {
  if (credentials.fhirBaseUrl === undefined) return;
  if (sameServer(credentials.fhirBaseUrl, fhirBaseUrl)) return;
  throw new ProvisioningError(
    'secret_store_rejected',
    `secret ${secretId} holds the credentials of another FHIR base URL (${credentials.fhirBaseUrl}); they are not replaced. Move that secret to the name its fhir_base_url leads to, then run dcr-provisioner reindex`,
  );
}

function sameServer(a: string, b: string): boolean {
  try {
    return normalizeFhirBaseUrl(a) === normalizeFhirBaseUrl(b);
  } catch {
    return false;
  }
}
