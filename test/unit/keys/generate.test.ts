import { createHash, createPublicKey } from 'node:crypto';
import { importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_KEY_ALGORITHMS,
  type ClientKeyAlgorithm,
  generateClientKey,
} from '../../../src/keys/index.js';

// RFC 7638 §3 computed by hand, not by the library under test: the required members in lexicographic
// order, no whitespace, SHA-256, base64url.
function rfc7638Thumbprint(jwk: JWK): string {
  const required =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const EXPECTED_CURVE: Record<string, string> = { ES256: 'P-256', ES384: 'P-384' };

async function signWith(jwk: JWK, alg: string): Promise<string> {
  return new SignJWT({ probe: true }).setProtectedHeader({ alg }).sign(await importJWK(jwk, alg));
}

describe('keys/generate', () => {
  it('offers exactly the four SMART signing algorithms', () => {
    expect([...CLIENT_KEY_ALGORITHMS].sort()).toEqual(['ES256', 'ES384', 'RS256', 'RS384']);
  });

  describe.each(CLIENT_KEY_ALGORITHMS)('%s', (alg: ClientKeyAlgorithm) => {
    it('makes a pair whose public half verifies what the private half signs, and no other key does', async () => {
      const { privateJwk, publicJwk } = await generateClientKey(alg);
      const other = await generateClientKey(alg);
      const jwt = await signWith(privateJwk, alg);

      const { payload, protectedHeader } = await jwtVerify(jwt, await importJWK(publicJwk, alg));
      expect(payload).toEqual({ probe: true });
      expect(protectedHeader.alg).toBe(alg);
      await expect(jwtVerify(jwt, await importJWK(other.publicJwk, alg))).rejects.toThrow(/signature/i);
    });

    it('gives both halves kid = the RFC 7638 SHA-256 thumbprint, use sig and the algorithm', async () => {
      const { privateJwk, publicJwk } = await generateClientKey(alg);
      expect(publicJwk.kid).toBe(rfc7638Thumbprint(publicJwk));
      expect(privateJwk.kid).toBe(publicJwk.kid);
      for (const jwk of [privateJwk, publicJwk]) {
        expect(jwk).toMatchObject({ use: 'sig', alg });
      }
    });

    it('gives every new pair a new kid', async () => {
      const first = await generateClientKey(alg);
      const second = await generateClientKey(alg);
      expect(second.publicJwk.kid).not.toBe(first.publicJwk.kid);
    });

    it('keeps every private member out of the public half and puts d in the private half', async () => {
      const { privateJwk, publicJwk } = await generateClientKey(alg);
      expect(Object.keys(publicJwk).filter((m) => PRIVATE_MEMBERS.includes(m))).toEqual([]);
      expect(typeof privateJwk.d).toBe('string');
      const publicMembers = alg.startsWith('RS')
        ? ['alg', 'e', 'kid', 'kty', 'n', 'use']
        : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'];
      expect(Object.keys(publicJwk).sort()).toEqual(publicMembers);
    });

    it('uses a key of the strength the algorithm calls for', async () => {
      const { publicJwk } = await generateClientKey(alg);
      const details = createPublicKey({ key: publicJwk, format: 'jwk' }).asymmetricKeyDetails;
      if (alg.startsWith('RS')) {
        expect(publicJwk.kty).toBe('RSA');
        expect(details?.modulusLength).toBeGreaterThanOrEqual(2048);
      } else {
        expect(publicJwk.kty).toBe('EC');
        expect(publicJwk.crv).toBe(EXPECTED_CURVE[alg]);
      }
    });
  });

  it('refuses an algorithm it does not make keys for, naming alg', async () => {
    await expect(generateClientKey('PS256' as ClientKeyAlgorithm)).rejects.toThrow(
      'alg "PS256" is not one of RS384, ES384, RS256, ES256',
    );
  });
});
