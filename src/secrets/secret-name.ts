// Secret names of DESIGN.md "Secrets" and the client request tokens that make writes idempotent.
// serverSlug rule: parse the URL (WHATWG), take `host` (lower-cased, punycoded, default port dropped,
// other ports kept as `:port`) followed by `pathname` without trailing slashes (dot segments resolved;
// query, fragment, user info and scheme dropped), lower-case the whole, then replace every character
// outside [a-z0-9.-] with `_`. So the slash between host and path becomes `_`, `/fhir/` and `/fhir` give
// the same slug, and `https://EHR.example:8443/fhir/R4/` gives `ehr.example_8443_fhir_r4`.

import { createHash } from 'node:crypto';
import { ProvisioningError } from '../failures/index.js';

/** Secrets Manager's name limit. */
export const MAX_SECRET_NAME_LENGTH = 512;

const SECRET_NAME_CHARACTERS = /^[A-Za-z0-9/_+=.@-]+$/;
// AWS appends `-` and six random characters to a secret's ARN; a name ending like that can be taken for
// a partial ARN and resolve to another secret.
const ARN_SUFFIX_LOOKALIKE = /-.{6}$/;

export const INITIAL_ACCESS_TOKEN_SUFFIX = '/initial-access-token';

export function serverSlug(fhirBaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(fhirBaseUrl);
  } catch (cause) {
    // The base URL comes from the job; a value that does not parse is the job's fault.
    throw new ProvisioningError(
      'invalid_job',
      'fhirBaseUrl is not an absolute URL, so no secret name can be derived',
      {
        cause,
      },
    );
  }
  const hostAndPath = `${url.host}${url.pathname.replace(/\/+$/, '')}`;
  return hostAndPath.toLowerCase().replace(/[^a-z0-9.-]/g, '_');
}

/**
 * A name that would end like an ARN's random suffix (`-` and six characters, e.g. a base URL ending in
 * `/fhir-prod01`) gets a trailing `_`, so every valid tenant and server has a usable name instead of a
 * registration that is accepted and then fails for good at the secret store.
 */
function clearOfArnSuffix(name: string): string {
  return ARN_SUFFIX_LOOKALIKE.test(name) ? `${name}_` : name;
}

/** `${prefix}${tenantId}/${serverSlug}` (plus `_` when needed, see above), checked against the name rules. */
export function registrationSecretName(prefix: string, tenantId: string, fhirBaseUrl: string): string {
  const name = clearOfArnSuffix(`${prefix}${tenantId}/${serverSlug(fhirBaseUrl)}`);
  assertValidSecretName(name);
  return name;
}

/** Where an operator puts the initial access token for a tenant and server. */
export function initialAccessTokenSecretName(prefix: string, tenantId: string, fhirBaseUrl: string): string {
  const name = clearOfArnSuffix(
    `${prefix}${tenantId}/${serverSlug(fhirBaseUrl)}${INITIAL_ACCESS_TOKEN_SUFFIX}`,
  );
  assertValidSecretName(name);
  return name;
}

/** The reason a name breaks the Secrets Manager rules, or undefined when it is valid. */
export function secretNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_SECRET_NAME_LENGTH) {
    return `is ${name.length} characters long; Secrets Manager allows at most ${MAX_SECRET_NAME_LENGTH}`;
  }
  if (!SECRET_NAME_CHARACTERS.test(name)) return 'may only contain the characters A-Za-z0-9/_+=.@-';
  if (ARN_SUFFIX_LOOKALIKE.test(name)) {
    return 'ends with "-" and six characters, which Secrets Manager can mistake for the random suffix of an ARN';
  }
  return undefined;
}

export function assertValidSecretName(name: string): void {
  const problem = secretNameProblem(name);
  if (problem !== undefined) {
    // Cut a very long name so the message stays readable; names are not secret.
    const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
    throw new ProvisioningError('secret_store_rejected', `secret name ${JSON.stringify(shown)} ${problem}`);
  }
}

/**
 * A deterministic 64-hex-character ClientRequestToken from the parts that identify one write (e.g. job
 * id and attempt of the registration), so a retried write of the same answer is a no-op.
 */
export function clientRequestToken(...parts: [string, ...string[]]): string {
  // JSON keeps ['a:b', 'c'] and ['a', 'b:c'] apart, where a plain join would not.
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
