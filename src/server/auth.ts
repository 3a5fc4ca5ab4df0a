// Who may use the producer API and the board: whoever presents API_TOKEN. The board also accepts it as
// the password of HTTP basic auth, because a browser can log in with basic auth but cannot send a bearer
// token. Without API_TOKEN everything is open; configuration allows that only on a loopback HTTP_HOST.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The realm browsers show in their login prompt for the board. */
export const AUTH_REALM = 'dcr-provisioner';

export interface AuthOptions {
  /** API_TOKEN; undefined leaves the routes open. */
  token: string | undefined;
  /** Also accept `Authorization: Basic` with any user name and the token as password (the board). */
  acceptBasic: boolean;
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Constant-time comparison. Both sides are hashed first: timingSafeEqual needs equal lengths, and
 * comparing digests leaks neither the token's length nor how many leading characters matched.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The credential of `Authorization: Bearer <token>`, or undefined for any other header. */
export function bearerCredential(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(.+)$/i.exec(header ?? '');
  const token = match?.[1]?.trim();
  return token ? token : undefined;
}

/** The password of `Authorization: Basic base64(user:password)`; the user name is ignored. */
export function basicPassword(header: string | undefined): string | undefined {
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** An onRequest hook answering 401 `{error: "unauthorized"}` with a challenge unless the token matches. */
export function requireToken(options: AuthOptions) {
  const { token, acceptBasic } = options;
  // A browser shows its login prompt only for a Basic challenge; API clients expect Bearer.
  const challenge = acceptBasic
    ? `Basic realm="${AUTH_REALM}", charset="UTF-8"`
    : `Bearer realm="${AUTH_REALM}"`;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (token === undefined) return undefined;
    const header = request.headers.authorization;
    const presented = bearerCredential(header) ?? (acceptBasic ? basicPassword(header) : undefined);
    if (presented !== undefined && tokenMatches(presented, token)) return undefined;
    return reply.code(401).header('www-authenticate', challenge).send({ error: 'unauthorized' });
  };
}
