import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_KEY_ALGORITHMS,
  type ClientKeyPair,
  generateClientKey,
  signClientAssertion,
} from '../../../src/keys/index.js';

const clientId = 'backend-client-1';
const tokenEndpoint = 'https://auth.example/oauth2/token';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const pairs = new Map<string, ClientKeyPair>();
beforeAll(async () => {
  for (const alg of CLIENT_KEY_ALGORITHMS) pairs.set(alg, await generateClientKey(alg));
});
const pair = (alg: string) => {
  const found = pairs.get(alg);
  if (found === undefined) throw new Error(`no key pair for ${alg}`);
  return found;
};

describe('keys/client-assertion', () => {
  describe.each(CLIENT_KEY_ALGORITHMS)('%s', (alg) => {
    it('carries the SMART Backend Services header and claims and verifies with the public key', async () => {
      const { privateJwk, publicJwk } = pair(alg);
      const now = new Date('2026-03-01T12:00:00.750Z');
      const jwt = await signClientAssertion({ clientId, tokenEndpoint, privateJwk, now, jti: 'fixed-jti' });

      expect(decodeProtectedHeader(jwt)).toEqual({ alg, kid: publicJwk.kid, typ: 'JWT' });
      const iat = Math.floor(now.getTime() / 1000);
      expect(decodeJwt(jwt)).toEqual({
        iss: clientId,
        sub: clientId,
        aud: tokenEndpoint,
        iat,
        exp: iat + 300,
        jti: 'fixed-jti',
      });
      const verified = await jwtVerify(jwt, await importJWK(publicJwk, alg), {
        algorithms: [alg],
        issuer: clientId,
        subject: clientId,
        audience: tokenEndpoint,
        currentDate: now,
      });
      expect(verified.payload.jti).toBe('fixed-jti');
    });

    it('does not verify with another key', async () => {
      const other = await generateClientKey(alg);
      const jwt = await signClientAssertion({ clientId, tokenEndpoint, privateJwk: pair(alg).privateJwk });
      await expect(jwtVerify(jwt, await importJWK(other.publicJwk, alg))).rejects.toThrow(/signature/i);
    });
  });

  it('signs at the current time by default, with a fresh UUID jti on every call', async () => {
    const { privateJwk } = pair('ES384');
    const before = Math.floor(Date.now() / 1000);
    const first = decodeJwt(await signClientAssertion({ clientId, tokenEndpoint, privateJwk }));
    const second = decodeJwt(await signClientAssertion({ clientId, tokenEndpoint, privateJwk }));
    const after = Math.floor(Date.now() / 1000);

    expect(first.jti).toMatch(UUID);
    expect(second.jti).toMatch(UUID);
    expect(second.jti).not.toBe(first.jti);
    expect(first.iat).toBeGreaterThanOrEqual(before);
    expect(first.iat).toBeLessThanOrEqual(after);
  });

  it('takes a shorter lifetime and up to 300 seconds, and refuses a longer, empty or fractional one with a RangeError', async () => {
    const { privateJwk } = pair('ES256');
    const short = decodeJwt(
      await signClientAssertion({ clientId, tokenEndpoint, privateJwk, lifetimeS: 60 }),
    );
    expect((short.exp ?? 0) - (short.iat ?? 0)).toBe(60);
    const longest = decodeJwt(
      await signClientAssertion({ clientId, tokenEndpoint, privateJwk, lifetimeS: 300 }),
    );
    expect((longest.exp ?? 0) - (longest.iat ?? 0)).toBe(300);

    for (const lifetimeS of [301, 3600, 0, -5, 1.5, Number.NaN]) {
      const refusal = await signClientAssertion({ clientId, tokenEndpoint, privateJwk, lifetimeS }).catch(
        (error: unknown) => error,
      );
      expect(refusal).toBeInstanceOf(RangeError);
      expect((refusal as Error).message).toMatch(
        /^lifetimeS must be a whole number of seconds from 1 to 300/,
      );
    }
  });

  it('refuses a public key as signer, naming privateJwk', async () => {
    const attempt = signClientAssertion({ clientId, tokenEndpoint, privateJwk: pair('RS384').publicJwk });
    await expect(attempt).rejects.toThrow(
      'privateJwk has no "d": it is a public key, and an assertion is signed with the private key',
    );
  });

  it('refuses a private key without alg or kid, naming the member', async () => {
    const { alg: _alg, ...withoutAlg } = pair('ES384').privateJwk;
    const { kid: _kid, ...withoutKid } = pair('ES384').privateJwk;
    await expect(signClientAssertion({ clientId, tokenEndpoint, privateJwk: withoutAlg })).rejects.toThrow(
      'privateJwk has no "alg"',
    );
    await expect(signClientAssertion({ clientId, tokenEndpoint, privateJwk: withoutKid })).rejects.toThrow(
      'privateJwk has no "kid"',
    );
  });

  it('refuses a key whose alg does not fit it, naming privateJwk and the alg', async () => {
    const mislabelled = { ...pair('ES384').privateJwk, alg: 'RS384' as const };
    await expect(signClientAssertion({ clientId, tokenEndpoint, privateJwk: mislabelled })).rejects.toThrow(
      /^privateJwk cannot sign with "RS384"/,
    );
  });

  it('refuses a missing clientId, a token endpoint that is no URL, an empty jti and an invalid now', async () => {
    const { privateJwk } = pair('ES256');
    await expect(signClientAssertion({ clientId: '', tokenEndpoint, privateJwk })).rejects.toThrow(
      'clientId must be a non-empty string',
    );
    await expect(signClientAssertion({ clientId, tokenEndpoint: '/token', privateJwk })).rejects.toThrow(
      'tokenEndpoint must be an absolute URL',
    );
    await expect(signClientAssertion({ clientId, tokenEndpoint, privateJwk, jti: '' })).rejects.toThrow(
      'jti must be a non-empty string',
    );
    await expect(
      signClientAssertion({ clientId, tokenEndpoint, privateJwk, now: new Date(Number.NaN) }),
    ).rejects.toThrow('now must be a valid Date');
  });
});
