// Public JWKs and JWK Sets: what may leave the process. Everything published (inline `jwks` in the
// metadata, the `/jwks/...` route, the registry) passes through here, so a private member is refused
// in one place rather than trusted to every caller. Copies are made member by member from an allow
// list: a member nobody thought of is dropped, never published.

import type { JWK } from 'jose';

/** Members that carry private or secret key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

// The members that make up the public key itself, by key type (RFC 7518 §6.2.1, §6.3.1). Other key
// types are refused rather than guessed at: this product only makes RSA and EC keys.
const PUBLIC_KEY_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
};

// Members that describe the key and are as public as the key. `key_ops` and `ext` are left out on
// purpose: on a key exported from a private one they say "sign", which is wrong for its public half.
const DESCRIPTIVE_MEMBERS = ['kid', 'use', 'alg'] as const;

/** A JWK Set (RFC 7517 §5) holding public keys only. */
export interface PublicJwkSet {
  keys: JWK[];
}

/** The private members a JWK carries, by name; a member that is present counts, whatever its value. */
export function privateMembersOf(jwk: JWK): string[] {
  return PRIVATE_JWK_MEMBERS.filter((member) => Object.hasOwn(jwk, member));
}

/** Whether the JWK carries any private or secret key material. */
export function hasPrivateMembers(jwk: JWK): boolean {
  return privateMembersOf(jwk).length > 0;
}

// Names the key by its kid (public) and never by its members' values, which may be private.
const described = (jwk: JWK, where: string) =>
  typeof jwk.kid === 'string' ? `${where} (kid "${jwk.kid}")` : where;

function copyPublicMembers(jwk: JWK, where: string): JWK {
  if (typeof jwk !== 'object' || jwk === null) throw new TypeError(`${where} is not a JWK object`);
  const keyMembers = typeof jwk.kty === 'string' ? PUBLIC_KEY_MEMBERS[jwk.kty] : undefined;
  if (keyMembers === undefined) {
    const kty = typeof jwk.kty === 'string' ? `"${jwk.kty}"` : 'missing';
    throw new TypeError(
      `${described(jwk, where)} has kty ${kty}; only RSA and EC keys have a public part to publish`,
    );
  }
  const source = jwk as Readonly<Record<string, unknown>>;
  const copy: Record<string, unknown> = {};
  for (const member of keyMembers) {
    if (typeof source[member] !== 'string' || source[member] === '') {
      throw new TypeError(`${described(jwk, where)} lacks "${member}", which a ${jwk.kty} public key needs`);
    }
    copy[member] = source[member];
  }
  for (const member of DESCRIPTIVE_MEMBERS) {
    if (source[member] !== undefined) copy[member] = source[member];
  }
  return copy as JWK;
}

/**
 * The public JWK of a private one: the public key members and kid, use and alg, nothing else. Given a
 * public JWK it returns an equal copy, so callers need not know which half they hold.
 */
export function publicJwkOf(privateJwk: JWK): JWK {
  return copyPublicMembers(privateJwk, 'privateJwk');
}

/**
 * A JWK Set to publish. Refuses (throws) a key with any private member instead of stripping it: a
 * caller handing a private key to be published has mixed up its halves, and silently fixing that
 * would hide the bug that one day publishes one. Derive public keys first with `publicJwkOf`.
 */
export function publicJwkSet(keys: readonly JWK[]): PublicJwkSet {
  const copies = keys.map((jwk, index) => {
    const where = `keys[${index}]`;
    if (typeof jwk !== 'object' || jwk === null) throw new TypeError(`${where} is not a JWK object`);
    const privateMembers = privateMembersOf(jwk);
    if (privateMembers.length > 0) {
      throw new TypeError(
        `${described(jwk, where)} has the private member(s) ${privateMembers.map((m) => `"${m}"`).join(', ')}; a published JWK Set holds public keys only (derive them with publicJwkOf)`,
      );
    }
    return copyPublicMembers(jwk, where);
  });
  return { keys: copies };
}
