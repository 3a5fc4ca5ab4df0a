// GET /jwks/{tenantId}/{serverSlug}.json (DESIGN.md "HTTP API"): the public keys of a registration whose
// generated keys are published by `jwks_uri`, fetched by authorization servers without credentials.
// Served from Redis (PublishedKeys), never from the secret store, so a server's fetches cost no
// Secrets Manager read and no write budget. Every key served passes publicJwkSet, which refuses a
// private member.

import type { FastifyInstance } from 'fastify';
import type { JwksRequestOutcome } from '../observability/index.js';
import { TENANT_ID_PATTERN } from '../queue/registration-request.js';
import type { PublishedKeys } from '../registry/index.js';

export interface JwksRouteOptions {
  publishedKeys: Pick<PublishedKeys, 'served'>;
  /** JWKS_MAX_AGE_S: the Cache-Control max-age servers may cache a set for. */
  maxAgeSeconds: number;
  /** Counts each request by outcome (dcr_jwks_requests_total). */
  onRequest?: (outcome: JwksRequestOutcome) => void;
}

// The slug's alphabet (see serverSlug): lower-case letters, digits, ".", "-" and "_".
const SLUG_FILE = /^([a-z0-9._-]{1,600})\.json$/;

export async function jwksRoutes(app: FastifyInstance, options: JwksRouteOptions): Promise<void> {
  app.get<{ Params: { tenantId: string; file: string } }>(
    '/jwks/:tenantId/:file',
    // Servers fetch these on their own schedule; one line each would drown the request log.
    { logLevel: 'warn' },
    async (request, reply) => {
      const { tenantId, file } = request.params;
      const slug = SLUG_FILE.exec(file)?.[1];
      const notFound = () => {
        options.onRequest?.('not_found');
        return reply.code(404).header('cache-control', 'no-store').send({ error: 'not_found' });
      };
      if (!TENANT_ID_PATTERN.test(tenantId) || slug === undefined) return notFound();
      let keys: Awaited<ReturnType<PublishedKeys['served']>>;
      try {
        keys = await options.publishedKeys.served(tenantId, slug);
      } catch (err) {
        request.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'could not read published keys',
        );
        options.onRequest?.('unavailable');
        return reply.code(503).header('cache-control', 'no-store').send({ error: 'unavailable' });
      }
      if (!keys) return notFound();
      options.onRequest?.('served');
      return reply
        .header('cache-control', `public, max-age=${options.maxAgeSeconds}`)
        .type('application/json')
        .send(keys);
    },
  );
}
