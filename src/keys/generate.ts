// Makes a client's signing key pair for private_key_jwt (SMART Backend Services and the asymmetric
// confidential profile). The private JWK goes only into the stored secret; the public JWK is what gets
// registered and published, so both carry the same kid for a server to pick the key by.

import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { publicJwkOf } from './jwks.js';

/**
 * The algorithms a generated key can sign client assertions with. RS384 and ES384 are the ones SMART
 * App Launch requires servers to support; RS256 and ES256 are for servers that take only those.
 */
export const CLIENT_KEY_ALGORITHMS = ['RS384', 'ES384', 'RS256', 'ES256'] as const;
export type ClientKeyAlgorithm = (typeof CLIENT_KEY_ALGORITHMS)[number];

// 2048 bits is the floor NIST SP 800-57 and the SMART IG's examples set; larger moduli cost each
// tenant's registration noticeably more generation time for no requirement anyone states.
const RSA_MODULUS_BITS = 2048;

/** A generated JWK: always with kid (its RFC 7638 thumbprint), `use: 'sig'` and the algorithm. */
export type ClientJwk = JWK & { kty: string; kid: string; use: 'sig'; alg: ClientKeyAlgorithm };

/** Both halves of a generated key. `privateJwk` is secret: store it only in the secret, never log or queue it. */
export interface ClientKeyPair {
  privateJwk: ClientJwk & { d: string };
  publicJwk: ClientJwk;
}

export function isClientKeyAlgorithm(value: unknown): value is ClientKeyAlgorithm {
  return (CLIENT_KEY_ALGORITHMS as readonly unknown[]).includes(value);
}

/**
 * A new key pair for `alg` (RSA 2048 bits for RS*, EC P-256/P-384 for ES256/ES384). The kid is the
 * SHA-256 JWK thumbprint of the public key (RFC 7638): derived from the key itself, so a retried job
 * that still holds the key computes the same kid, and two keys never share one.
 */
export async function generateClientKey(alg: ClientKeyAlgorithm): Promise<ClientKeyPair> {
  // The type says as much, but the algorithm arrives from requests and JSON at run time.
  if (!isClientKeyAlgorithm(alg)) {
    throw new TypeError(`alg ${JSON.stringify(alg)} is not one of ${CLIENT_KEY_ALGORITHMS.join(', ')}`);
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    modulusLength: RSA_MODULUS_BITS,
  });
  const exportedPrivate = await exportJWK(privateKey);
  if (typeof exportedPrivate.d !== 'string')
    throw new Error(`the generated ${alg} private key exported without "d"`);
  // The public half comes from the public key, not from copying the private JWK, so a member the
  // private export might add can never reach it.
  const exportedPublic = publicJwkOf(await exportJWK(publicKey));
  const kid = await calculateJwkThumbprint(exportedPublic, 'sha256');
  const described = { kid, use: 'sig', alg } as const;
  return {
    privateJwk: { ...exportedPrivate, kty: String(exportedPrivate.kty), d: exportedPrivate.d, ...described },
    publicJwk: { ...exportedPublic, kty: String(exportedPublic.kty), ...described },
  };
}
