// Builders for the four SMART App Launch client profiles, so callers state what the client is
// (redirect URIs, keys, scope) and the profile decides how it registers. Every output passes
// checkClientMetadata (with keysAddedLater when the caller's keys are generated at registration); bad
// inputs throw the same invalid_job error as assertClientMetadata.

import { AuthMethod, type ClientMetadata, GrantType, type Jwks, ResponseType } from './metadata.js';
import { checkClientMetadata, invalidMetadataError, type MetadataIssue } from './metadata-rules.js';

export const ClientProfile = {
  PublicApp: 'public-app',
  ConfidentialSymmetric: 'confidential-symmetric',
  ConfidentialAsymmetric: 'confidential-asymmetric',
  BackendServices: 'backend-services',
} as const;
export type ClientProfile = (typeof ClientProfile)[keyof typeof ClientProfile];

export interface ProfileOptions {
  /** `client_name`, shown to users on the server's consent and admin screens. */
  clientName?: string;
  /** `scope`: space-separated SMART scopes the client will request. */
  scope?: string;
  /**
   * Further RFC 7591 or server-specific fields (`client_uri`, `contacts`, `software_id`, ...). A field
   * the profile decides (auth method, grant and response types, redirect URIs, keys) is refused here
   * when its value differs, rather than silently overwritten.
   */
  extra?: Readonly<Record<string, unknown>>;
}

export interface RedirectProfileOptions extends ProfileOptions {
  /** Where the server sends the user back after authorization; at least one. */
  redirectUris: readonly string[];
  /** Adds the `refresh_token` grant, for apps that request `offline_access` or `online_access`. */
  refreshToken?: boolean;
}

/**
 * The client's public keys: by URL (preferred by SMART, rotates without re-registering) or inline — or
 * `keysAddedLater: true` when whoever registers the client adds them: a registration request with
 * `keys: {generate: {alg}}`, for which this service makes the key pair and registers its public half
 * itself. The metadata then carries neither `jwks` nor `jwks_uri` and is checked as
 * `checkClientMetadata(metadata, {keysAddedLater: true})` does; it is not registrable as it stands.
 */
export type PublicKeys =
  | { jwksUri: string; jwks?: undefined; keysAddedLater?: undefined }
  | { jwks: Jwks; jwksUri?: undefined; keysAddedLater?: undefined }
  | { keysAddedLater: true; jwks?: undefined; jwksUri?: undefined };

export type PublicAppOptions = RedirectProfileOptions;
export type ConfidentialSymmetricOptions = RedirectProfileOptions;
export type ConfidentialAsymmetricOptions = RedirectProfileOptions & PublicKeys;
export type BackendServicesOptions = ProfileOptions &
  PublicKeys & {
    /** System scopes, e.g. `system/*.rs` or `system/Patient.rs system/Observation.rs`. */
    scope: string;
  };

/** A public (browser or native) app: no client secret, authorization code with PKCE. */
export function publicAppMetadata(options: PublicAppOptions): ClientMetadata {
  return build(
    ClientProfile.PublicApp,
    { ...redirectFields(options), token_endpoint_auth_method: AuthMethod.None },
    options,
  );
}

/** A confidential app that authenticates with a client secret the server issues. */
export function confidentialSymmetricMetadata(options: ConfidentialSymmetricOptions): ClientMetadata {
  return build(
    ClientProfile.ConfidentialSymmetric,
    { ...redirectFields(options), token_endpoint_auth_method: AuthMethod.ClientSecretBasic },
    options,
  );
}

/** A confidential app that authenticates with a JWT signed by its private key (private_key_jwt). */
export function confidentialAsymmetricMetadata(options: ConfidentialAsymmetricOptions): ClientMetadata {
  return build(
    ClientProfile.ConfidentialAsymmetric,
    {
      ...redirectFields(options),
      token_endpoint_auth_method: AuthMethod.PrivateKeyJwt,
      ...keyFields(options),
    },
    options,
    options,
  );
}

/** A backend service (SMART Backend Services): client_credentials with private_key_jwt, no user, no redirect. */
export function backendServicesMetadata(options: BackendServicesOptions): ClientMetadata {
  return build(
    ClientProfile.BackendServices,
    {
      token_endpoint_auth_method: AuthMethod.PrivateKeyJwt,
      grant_types: [GrantType.ClientCredentials],
      // Explicit: some servers (oidc-provider) default an omitted list to ["code"] and then demand redirect URIs.
      response_types: [],
      redirect_uris: undefined,
      ...keyFields(options),
    },
    options,
    options,
  );
}

function redirectFields(options: RedirectProfileOptions): Record<string, unknown> {
  return {
    redirect_uris: [...options.redirectUris],
    grant_types: options.refreshToken
      ? [GrantType.AuthorizationCode, GrantType.RefreshToken]
      : [GrantType.AuthorizationCode],
    response_types: [ResponseType.Code],
  };
}

// Both keys are always decided by the profile: passing one in `extra` as well would be a conflict.
function keyFields(keys: PublicKeys): Record<string, unknown> {
  return { jwks_uri: keys.jwksUri, jwks: keys.jwks };
}

/**
 * Merges the profile's fields over the caller's extras and checks the result. `decided` maps each field
 * the profile controls to its value; `undefined` means the profile requires the field to be absent.
 * `keys` is given by the private_key_jwt profiles.
 */
function build(
  profile: ClientProfile,
  decided: Record<string, unknown>,
  options: ProfileOptions,
  keys?: PublicKeys,
): ClientMetadata {
  const extra = options.extra ?? {};
  const fields: Record<string, unknown> = { ...decided };
  if (options.clientName !== undefined) fields.client_name = options.clientName;
  if (options.scope !== undefined) fields.scope = options.scope;

  const conflicts: MetadataIssue[] = Object.keys(extra)
    .filter((key) => key in fields && JSON.stringify(extra[key]) !== JSON.stringify(fields[key]))
    .map((key) => ({
      path: [key],
      message: `is decided by the ${profile} profile${fields[key] === undefined ? ' (it must be absent)' : ''}; remove it from the extra fields or use the builder's option instead`,
    }));
  // A JavaScript caller can pass keys and keysAddedLater both; the types cannot stop it.
  const keysAddedLater = keys?.keysAddedLater === true;
  if (keysAddedLater) {
    for (const field of ['jwks', 'jwks_uri'] as const) {
      if (fields[field] !== undefined) {
        conflicts.push({
          path: [field],
          message: `must be absent with keysAddedLater: true (the keys are added when the client is registered); pass ${field === 'jwks' ? 'jwks' : 'jwksUri'} or keysAddedLater, not both`,
        });
      }
    }
  }

  const metadata: Record<string, unknown> = { ...extra };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete metadata[key];
    else metadata[key] = value;
  }

  const result = checkClientMetadata(metadata, { keysAddedLater });
  const issues = [...conflicts, ...(result.ok ? [] : result.issues)];
  if (issues.length > 0 || !result.ok) throw invalidMetadataError(issues);
  return result.metadata;
}
