// The client assertion of private_key_jwt (RFC 7523 §2.2, SMART Backend Services "Authenticating to
// the token endpoint"): a short-lived JWT the client signs with its private key and sends instead of a
// secret. Used for the token request that proves freshly stored credentials work.

import { randomUUID } from 'node:crypto';
import { importJWK, type JWK, SignJWT } from 'jose';

/** The `client_assertion_type` that goes with the assertion in the token request (RFC 7523 §2.2). */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** SMART Backend Services: `exp` no more than five minutes in the future. */
export const MAX_CLIENT_ASSERTION_LIFETIME_S = 300;

export interface ClientAssertionOptions {
  /** The registered client_id; both `iss` and `sub`. */
  clientId: string;
  /** The token endpoint's URL, as the `aud` the server checks. */
  tokenEndpoint: string;
  /** The client's private JWK, with `alg` (the signing algorithm) and `kid` (the header's key id). */
  privateJwk: JWK;
  /** Seconds from `iat` to `exp`; 300 at most. */
  lifetimeS?: number;
  /** The issue time; the current time when omitted. */
  now?: Date;
  /** The assertion's unique id; a random UUID when omitted, so a server's replay check never trips. */
  jti?: string;
}

const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

// Refuses what would only fail at the server, naming the field; never repeats key material.
function checkOptions(options: ClientAssertionOptions, lifetimeS: number): void {
  if (!nonEmptyString(options.clientId)) throw new TypeError('clientId must be a non-empty string');
  if (!nonEmptyString(options.tokenEndpoint) || !URL.canParse(options.tokenEndpoint)) {
    // Whether http is acceptable is the HTTP layer's policy (loopback in tests), not this module's.
    throw new TypeError('tokenEndpoint must be an absolute URL');
  }
  if (!Number.isInteger(lifetimeS) || lifetimeS <= 0 || lifetimeS > MAX_CLIENT_ASSERTION_LIFETIME_S) {
    throw new RangeError(
      `lifetimeS must be a whole number of seconds from 1 to ${MAX_CLIENT_ASSERTION_LIFETIME_S} (SMART Backend Services caps exp at five minutes); got ${String(lifetimeS)}`,
    );
  }
  if (options.now !== undefined && !(options.now instanceof Date && Number.isFinite(options.now.getTime()))) {
    throw new TypeError('now must be a valid Date');
  }
  if (options.jti !== undefined && !nonEmptyString(options.jti)) {
    throw new TypeError('jti must be a non-empty string');
  }
  const jwk: unknown = options.privateJwk;
  if (typeof jwk !== 'object' || jwk === null) throw new TypeError('privateJwk must be a JWK object');
  const { alg, kid, d } = jwk as Record<string, unknown>;
  if (!nonEmptyString(alg)) {
    throw new TypeError('privateJwk has no "alg": the assertion is signed with the algorithm the key names');
  }
  if (!nonEmptyString(kid)) {
    throw new TypeError(
      'privateJwk has no "kid": the server picks the verification key by the header\'s kid',
    );
  }
  if (!nonEmptyString(d)) {
    throw new TypeError(
      'privateJwk has no "d": it is a public key, and an assertion is signed with the private key',
    );
  }
}

/** A signed client assertion (compact JWS) for one token request at `tokenEndpoint`. */
export async function signClientAssertion(options: ClientAssertionOptions): Promise<string> {
  const lifetimeS = options.lifetimeS ?? MAX_CLIENT_ASSERTION_LIFETIME_S;
  checkOptions(options, lifetimeS);
  const { clientId, tokenEndpoint, privateJwk } = options;
  const alg = privateJwk.alg as string;
  const kid = privateJwk.kid as string;

  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(privateJwk, alg);
  } catch (error) {
    // jose's messages name the problem, not the key's members' values.
    throw new TypeError(`privateJwk cannot sign with "${alg}": ${(error as Error).message}`, {
      cause: error,
    });
  }

  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(tokenEndpoint)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetimeS)
    .setJti(options.jti ?? randomUUID())
    .sign(key);
}
