import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { hasPrivateMembers, publicJwkOf, publicJwkSet } from '../../../src/keys/index.js';
import { ec, rsa } from '../dcr/jwk-fixtures.js';

// Listed here, not imported from the module, so a member dropped from its list fails a test.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

const rsaPublic: JWK = { ...rsa.publicJwk };
const ecPublic: JWK = { ...ec.publicJwk };

describe('keys/jwks', () => {
  describe('hasPrivateMembers', () => {
    it('is true for a private RSA or EC key and false for their public halves', () => {
      expect(hasPrivateMembers(rsa.privateJwk)).toBe(true);
      expect(hasPrivateMembers(ec.privateJwk)).toBe(true);
      expect(hasPrivateMembers(rsaPublic)).toBe(false);
      expect(hasPrivateMembers(ecPublic)).toBe(false);
    });

    it.each(PRIVATE_MEMBERS)('is true for a key carrying "%s"', (member) => {
      expect(hasPrivateMembers({ ...ecPublic, [member]: 'c2VjcmV0' })).toBe(true);
    });
  });

  describe('publicJwkSet', () => {
    it.each(PRIVATE_MEMBERS)('refuses a key carrying "%s", naming the member and the key', (member) => {
      const secretValue = 'c2VjcmV0LXZhbHVl';
      const leaky = { ...rsaPublic, kid: 'leaky', [member]: secretValue };
      const attempt = () => publicJwkSet([ecPublic, leaky]);
      expect(attempt).toThrow(TypeError);
      expect(attempt).toThrow(`keys[1] (kid "leaky") has the private member(s) "${member}"`);
      // The message is for logs and users: it names the member, never its value.
      const message = (() => {
        try {
          publicJwkSet([leaky]);
        } catch (error) {
          return (error as Error).message;
        }
        return 'did not throw';
      })();
      expect(message).toContain(`"${member}"`);
      expect(message).not.toContain(secretValue);
    });

    it('refuses a whole private key rather than stripping it', () => {
      expect(() => publicJwkSet([rsa.privateJwk])).toThrow(/"d", "p", "q", "dp", "dq", "qi"/);
      expect(() => publicJwkSet([ec.privateJwk])).toThrow(/private member\(s\) "d";/);
    });

    it('keeps only the public key members and kid, use and alg', () => {
      const decorated = {
        ...rsaPublic,
        key_ops: ['sign'],
        ext: true,
        x5u: 'https://keys.example/cert.pem',
        custom: 'anything',
      };
      const { keys } = publicJwkSet([decorated, { ...ecPublic }]);
      expect(keys).toEqual([
        { kty: 'RSA', n: rsaPublic.n, e: rsaPublic.e, kid: 'rsa-1', use: 'sig', alg: 'RS384' },
        { kty: 'EC', crv: 'P-384', x: ecPublic.x, y: ecPublic.y, kid: 'ec-1', use: 'sig', alg: 'ES384' },
      ]);
    });

    it('copies rather than shares, so a later change to the input never alters what was published', () => {
      const input = { ...ecPublic };
      const { keys } = publicJwkSet([input]);
      input.x = 'changed';
      expect(keys[0]?.x).toBe(ecPublic.x);
    });

    it('leaves out descriptive members the key does not have', () => {
      const { kid: _kid, use: _use, alg: _alg, ...bare } = ecPublic;
      expect(publicJwkSet([bare]).keys).toEqual([{ kty: 'EC', crv: 'P-384', x: ecPublic.x, y: ecPublic.y }]);
    });

    it('returns an empty set for no keys', () => {
      expect(publicJwkSet([])).toEqual({ keys: [] });
    });

    it('refuses key types without a public part and keys missing a public member', () => {
      expect(() => publicJwkSet([{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }])).toThrow(
        'keys[0] has kty "OKP"; only RSA and EC keys have a public part to publish',
      );
      const { n: _n, ...withoutModulus } = rsaPublic;
      expect(() => publicJwkSet([withoutModulus])).toThrow('keys[0] (kid "rsa-1") lacks "n"');
    });
  });

  describe('publicJwkOf', () => {
    it('derives exactly the public JWK from a private RSA or EC JWK', () => {
      expect(publicJwkOf(rsa.privateJwk)).toEqual(rsaPublic);
      expect(publicJwkOf(ec.privateJwk)).toEqual(ecPublic);
      expect(hasPrivateMembers(publicJwkOf(rsa.privateJwk))).toBe(false);
    });

    it('returns an equal copy of a public JWK', () => {
      const derived = publicJwkOf(ecPublic);
      expect(derived).toEqual(ecPublic);
      expect(derived).not.toBe(ecPublic);
    });

    it('refuses a symmetric key, which has no public part', () => {
      expect(() => publicJwkOf({ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' })).toThrow(
        'privateJwk (kid "hmac") has kty "oct"',
      );
    });
  });
});
