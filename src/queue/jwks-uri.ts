// Where a registration's public keys are published when its request says `keys.publish: "jwks_uri"`
// (DESIGN.md "What one registration does", step 7): the server process's `/jwks/{tenantId}/{serverSlug}.json`
// under JWKS_PUBLIC_BASE_URL. The worker registers exactly this URL and the route answers at its path,
// so both take it from here.

import { serverSlug } from '../secrets/index.js';

/** The route's path for one registration, as the server process mounts it. */
export function jwksPath(tenantId: string, fhirBaseUrl: string): string {
  // The tenant id pattern and the slug's alphabet are URL-safe: nothing to escape.
  return `/jwks/${tenantId}/${serverSlug(fhirBaseUrl)}.json`;
}

/** The registered `jwks_uri`: the path under the public base URL (a trailing `/` of the base is dropped). */
export function registeredJwksUri(publicBaseUrl: string, tenantId: string, fhirBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${jwksPath(tenantId, fhirBaseUrl)}`;
}
