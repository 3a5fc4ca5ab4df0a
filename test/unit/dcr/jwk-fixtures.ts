// Real key pairs for the metadata tests: the private halves prove that messages never repeat key
// material, the public halves are what a client would actually register.

import { generateKeyPairSync } from 'node:crypto';

function keyPair(type: 'rsa' | 'ec', kid: string, alg: string) {
  const { publicKey, privateKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-384' });
  // node types kty as optional; exported keys always carry it, and Jwk requires it.
  const publicExport = publicKey.export({ format: 'jwk' });
  const privateExport = privateKey.export({ format: 'jwk' });
  const publicJwk = { ...publicExport, kty: String(publicExport.kty), kid, alg, use: 'sig' };
  const privateJwk = { ...privateExport, kty: String(privateExport.kty), kid, alg, use: 'sig' };
  return { publicJwk, privateJwk };
}

export const rsa = keyPair('rsa', 'rsa-1', 'RS384');
export const ec = keyPair('ec', 'ec-1', 'ES384');

/** A public JWK Set with one RSA and one EC key, as SMART Backend Services expects. */
export const publicJwks = () => ({ keys: [{ ...rsa.publicJwk }, { ...ec.publicJwk }] });
