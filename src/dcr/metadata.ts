// RFC 7591 client metadata: the shape of what we send to a registration endpoint, and its vocabulary.
// The schema checks types only; the judgement (consistency, URI safety, public keys only) lives in
// metadata-rules.ts, which reads the raw input so that every problem is reported at once even when
// some fields have the wrong type.

import { z } from 'zod';

/**
 * The IANA "OAuth Token Endpoint Authentication Methods" registry: RFC 7591 §2, OpenID Connect Core §9
 * (the two JWT methods, RFC 7523 assertions) and RFC 8705 §2 (mutual TLS). The SMART profiles use
 * none, client_secret_basic and private_key_jwt.
 */
export const AuthMethod = {
  None: 'none',
  ClientSecretBasic: 'client_secret_basic',
  ClientSecretPost: 'client_secret_post',
  ClientSecretJwt: 'client_secret_jwt',
  PrivateKeyJwt: 'private_key_jwt',
  TlsClientAuth: 'tls_client_auth',
  SelfSignedTlsClientAuth: 'self_signed_tls_client_auth',
} as const;
export type AuthMethod = (typeof AuthMethod)[keyof typeof AuthMethod];

/**
 * Grant types named by RFC 7591 §2. Extensions are absolute URIs (RFC 7591 §2), such as those of
 * RFC 8628 (device code), RFC 8693 (token exchange) and OpenID CIBA, which the rules accept as URIs;
 * the schema accepts any string and metadata-rules.ts refuses what is neither.
 */
export const GrantType = {
  AuthorizationCode: 'authorization_code',
  Implicit: 'implicit',
  Password: 'password',
  ClientCredentials: 'client_credentials',
  RefreshToken: 'refresh_token',
  JwtBearer: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
  Saml2Bearer: 'urn:ietf:params:oauth:grant-type:saml2-bearer',
} as const;
export type GrantType = (typeof GrantType)[keyof typeof GrantType];

export const ResponseType = {
  Code: 'code',
  Token: 'token',
} as const;
export type ResponseType = (typeof ResponseType)[keyof typeof ResponseType];

/**
 * What RFC 7591 §2 assumes when a field is omitted. The rules reason with these; they are never written
 * into outgoing metadata, because each server applies its own defaults (oidc-provider's differ).
 */
export const RFC7591_DEFAULTS = {
  token_endpoint_auth_method: AuthMethod.ClientSecretBasic,
  grant_types: [GrantType.AuthorizationCode],
  response_types: [ResponseType.Code],
} as const;

/** A string member that must be present; the message says why when it is missing. */
const requiredString = (whyNeeded: string, shape: string) =>
  z.string({
    error: (issue) => (issue.input === undefined ? `is missing: ${whyNeeded}` : `must be ${shape}`),
  });

const optionalString = (shape = 'a string') => z.string({ error: `must be ${shape}` }).optional();

const stringList = (element: z.ZodString = z.string({ error: 'must be a string' })) =>
  z.array(element, { error: 'must be an array of strings' });

/**
 * A JSON Web Key (RFC 7517) as registered for private_key_jwt. Only public members are typed; private
 * members are left to metadata-rules.ts, which refuses them without repeating their values.
 */
export const jwkSchema = z.looseObject(
  {
    kty: requiredString('every key needs kty ("RSA" or "EC")', 'a key type such as "RSA" or "EC"'),
    // RFC 7517 makes kid optional; SMART Backend Services requires it so the server can pick the key.
    kid: requiredString(
      'every key needs a kid, so the server can pick the key that signed a client assertion',
      'a string key id',
    ),
    use: optionalString('a string such as "sig"'),
    alg: optionalString('an algorithm name such as "RS384" or "ES384"'),
    key_ops: stringList().optional(),
    n: optionalString('the base64url RSA modulus'),
    e: optionalString('the base64url RSA exponent'),
    crv: optionalString('a curve name such as "P-384"'),
    x: optionalString('a base64url coordinate'),
    y: optionalString('a base64url coordinate'),
    x5u: optionalString(),
    x5c: stringList().optional(),
    x5t: optionalString(),
    'x5t#S256': optionalString(),
  },
  { error: 'must be a JSON Web Key object' },
);
export type Jwk = z.infer<typeof jwkSchema>;

export const jwksSchema = z.looseObject(
  {
    keys: z.array(jwkSchema, {
      error: (issue) =>
        issue.input === undefined
          ? 'is missing: a JWK Set holds its keys in "keys"'
          : 'must be an array of JWKs',
    }),
  },
  { error: 'must be a JWK Set object: {"keys": [...]}' },
);
export type Jwks = z.infer<typeof jwksSchema>;

// Compact JWS: three base64url segments. RFC 7591 §2.3 requires the statement to be signed or MACed,
// so the signature segment may not be empty (an unsecured JWT is refused).
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * RFC 7591 §2 client metadata. Every field is optional and no default is filled in; unknown extension
 * fields (e.g. `client_name#ja`, vendor fields) pass through unchanged, as the RFC tells servers to
 * ignore what they do not understand.
 */
export const clientMetadataSchema = z.looseObject(
  {
    redirect_uris: stringList().optional(),
    token_endpoint_auth_method: z
      .string({ error: 'must be a string such as "private_key_jwt"' })
      .min(1, 'must not be empty; omit it for the default client_secret_basic')
      .optional(),
    grant_types: stringList().optional(),
    response_types: stringList().optional(),
    client_name: optionalString(),
    client_uri: optionalString('an https URL string'),
    logo_uri: optionalString('an https URL string'),
    scope: optionalString('a string of space-separated scopes'),
    contacts: stringList(z.string({ error: 'must be a string' }).min(1, 'must not be empty')).optional(),
    tos_uri: optionalString('an https URL string'),
    policy_uri: optionalString('an https URL string'),
    jwks_uri: optionalString('an https URL string'),
    jwks: jwksSchema.optional(),
    software_id: optionalString(),
    software_version: optionalString(),
    software_statement: z
      .string({ error: 'must be a string holding a signed JWT' })
      .regex(
        COMPACT_JWS,
        'must be a signed JWT in compact form (three base64url parts: header.payload.signature)',
      )
      .optional(),
  },
  { error: 'must be a JSON object of RFC 7591 client metadata' },
);
export type ClientMetadata = z.infer<typeof clientMetadataSchema>;
