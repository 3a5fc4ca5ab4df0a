// The product's /jwks/... route on a port of its own, for pipeline tests whose clients publish their
// generated keys by jwks_uri: its URL is the JWKS_PUBLIC_BASE_URL the producer and worker are given,
// so it starts before them and finds the published keys through a store handed over later.

import Fastify, { type FastifyInstance } from 'fastify';
import { CLIENT_ASSERTION_TYPE, signClientAssertion } from '../../src/keys/index.js';
import type { PublishedKeys } from '../../src/registry/index.js';
import { jwksRoutes } from '../../src/server/jwks-routes.js';

export interface JwksRoute {
  url: string;
  app: FastifyInstance;
  /** Each request's outcome, in order. */
  outcomes: string[];
  /** The store the route serves from; set it once the pipeline is up. */
  serveFrom(store: PublishedKeys): void;
  close(): Promise<void>;
}

export async function startJwksRoute(maxAgeSeconds = 60): Promise<JwksRoute> {
  let store: PublishedKeys | undefined;
  const outcomes: string[] = [];
  const app = Fastify();
  await app.register(jwksRoutes, {
    publishedKeys: {
      served: (tenantId, slug) => {
        if (!store) throw new Error('no published keys store yet');
        return store.served(tenantId, slug);
      },
    },
    maxAgeSeconds,
    onRequest: (outcome) => outcomes.push(outcome),
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    app,
    outcomes,
    serveFrom(next) {
      store = next;
    },
    close: () => app.close(),
  };
}

/** A client_credentials token request signed with `privateJwk`, made by the test itself; answers the HTTP status. */
export async function tokenStatusWithKey(
  tokenEndpoint: string,
  clientId: string,
  privateJwk: Record<string, unknown>,
): Promise<number> {
  const assertion = await signClientAssertion({ clientId, tokenEndpoint, privateJwk });
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
    }),
  });
  return response.status;
}
