// Checks client metadata against what a server says its token endpoint accepts, so a client that could
// never authenticate is refused before registration rather than discovered at its first token request.
// Pure: it takes the two advertised lists, whatever document they came from.

import { type ClientMetadata, type Jwk, RFC7591_DEFAULTS } from './metadata.js';
import type { MetadataIssue } from './metadata-rules.js';

/** The advertised lists; a missing list means the server did not say, so nothing is checked. */
export interface TokenEndpointAuthSupport {
  readonly token_endpoint_auth_methods_supported?: readonly string[] | undefined;
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[] | undefined;
}

/** The method the server will apply: the requested one, or RFC 7591's default when omitted. */
export function effectiveAuthMethod(metadata: Pick<ClientMetadata, 'token_endpoint_auth_method'>): string {
  return metadata.token_endpoint_auth_method ?? RFC7591_DEFAULTS.token_endpoint_auth_method;
}

const listed = (values: readonly string[]) => (values.length > 0 ? values.join(', ') : 'nothing');

/** Checks the (effective) auth method against `token_endpoint_auth_methods_supported`. */
export function checkAuthMethodSupported(
  metadata: Pick<ClientMetadata, 'token_endpoint_auth_method'>,
  methodsSupported: readonly string[] | undefined,
): MetadataIssue[] {
  if (methodsSupported === undefined) return [];
  const method = effectiveAuthMethod(metadata);
  if (methodsSupported.includes(method)) return [];
  const subject =
    metadata.token_endpoint_auth_method === undefined
      ? `is omitted and defaults to "${method}", which the server does not support`
      : `"${method}" is not supported by the server`;
  return [
    {
      path: ['token_endpoint_auth_method'],
      message: `${subject}; its token_endpoint_auth_methods_supported lists ${listed(methodsSupported)}; choose one of those`,
    },
  ];
}

// JWA algorithms a key can sign with when it names none (RFC 7518 §3, RFC 8037, RFC 8812).
const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const CURVE_ALGS: Readonly<Record<string, readonly string[]>> = {
  'P-256': ['ES256'],
  'P-384': ['ES384'],
  'P-521': ['ES512'],
  secp256k1: ['ES256K'],
  Ed25519: ['EdDSA', 'Ed25519'],
  Ed448: ['EdDSA', 'Ed448'],
};

function signingAlgs(key: Jwk): readonly string[] {
  if (key.alg !== undefined) return [key.alg];
  if (key.kty === 'RSA') return RSA_ALGS;
  return (key.crv !== undefined && CURVE_ALGS[key.crv]) || [];
}

/**
 * For private_key_jwt, checks the algorithms the client can sign assertions with against
 * `token_endpoint_auth_signing_alg_values_supported`: a key's `alg` when it names one, otherwise what
 * its type and curve allow. Keys behind jwks_uri cannot be checked without fetching them.
 */
export function checkSigningAlgsSupported(
  metadata: ClientMetadata,
  algsSupported: readonly string[] | undefined,
): MetadataIssue[] {
  if (algsSupported === undefined || effectiveAuthMethod(metadata) !== 'private_key_jwt') return [];
  const issues: MetadataIssue[] = [];
  const advertised = `the server's token_endpoint_auth_signing_alg_values_supported lists ${listed(algsSupported)}`;

  // A client naming its assertion algorithm (OpenID Connect Registration) must name one the server takes.
  const requestedAlg = metadata.token_endpoint_auth_signing_alg;
  if (typeof requestedAlg === 'string' && !algsSupported.includes(requestedAlg)) {
    issues.push({
      path: ['token_endpoint_auth_signing_alg'],
      message: `"${requestedAlg}" is not accepted for client assertions; ${advertised}; choose one of those`,
    });
  }

  const keys = metadata.jwks?.keys ?? [];
  // Encryption keys never sign an assertion, so they neither help nor hurt.
  const signingKeys = keys.map((key, index) => ({ key, index })).filter(({ key }) => key.use !== 'enc');
  let usable = 0;
  for (const { key, index } of signingKeys) {
    if (signingAlgs(key).some((alg) => algsSupported.includes(alg))) {
      usable += 1;
    } else if (key.alg !== undefined) {
      issues.push({
        path: ['jwks', 'keys', index, 'alg'],
        message: `"${key.alg}" is not accepted for client assertions; ${advertised}; use a key for one of those or remove this one`,
      });
    }
  }
  // Keys without `alg` that fit nothing are only a problem when no key at all can be used.
  if (signingKeys.length > 0 && usable === 0 && issues.every((i) => i.path[0] !== 'jwks')) {
    issues.push({
      path: ['jwks', 'keys'],
      message: `holds no key that can sign with an algorithm the server accepts; ${advertised}; add a key for one of those (e.g. RSA for RS384, EC P-384 for ES384)`,
    });
  }
  return issues;
}

/** Both checks against one server's advertised token endpoint support. */
export function checkTokenEndpointAuthSupport(
  metadata: ClientMetadata,
  server: TokenEndpointAuthSupport,
): MetadataIssue[] {
  return [
    ...checkAuthMethodSupported(metadata, server.token_endpoint_auth_methods_supported),
    ...checkSigningAlgsSupported(metadata, server.token_endpoint_auth_signing_alg_values_supported),
  ];
}
