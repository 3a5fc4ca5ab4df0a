// Secret names of DESIGN.md "Secrets" and the client request tokens that make writes idempotent.
// A registration is kept at `${prefix}${tenantId}/${serverSlug}`. serverSlug is a readable part, then
// `-` and the first 8 hex characters of the SHA-256 of the normalized base URL (normalizeFhirBaseUrl:
// scheme and host lower-cased, default port, query, fragment and trailing slashes dropped, path case
// kept). The readable part is the URL's `host` (punycoded, non-default port kept as `:port`) and
// `pathname` without trailing slashes, lower-cased, every character outside [a-z0-9.-] replaced by `_`,
// and cut so the whole name fits 512 characters. So `https://EHR.example:8443/fhir/R4/` gives
// `ehr.example_8443_fhir_r4-bfaa1c34`. The hash keeps apart base URLs that differ only in case or
// punctuation (`/fhir/R4`, `/fhir/r4`, `/fhir_r4`), which would otherwise share one secret. No derived
// name ends like an ARN's random suffix (`-` and six characters): they end in `-` and 8 hex characters,
// or in `/initial-access-token`.

import { createHash } from 'node:crypto';
import { ProvisioningError } from '../failures/index.js';
import { normalizeFhirBaseUrl } from '../smart/index.js';

/** Secrets Manager's name limit. */
export const MAX_SECRET_NAME_LENGTH = 512;

const SECRET_NAME_CHARACTERS = /^[A-Za-z0-9/_+=.@-]+$/;
// AWS appends `-` and six random characters to a secret's ARN; a name ending like that can be taken for
// a partial ARN and resolve to another secret. Derived names cannot end so; names callers give can.
const ARN_SUFFIX_LOOKALIKE = /-.{6}$/;

export const INITIAL_ACCESS_TOKEN_SUFFIX = '/initial-access-token';

/** Hex characters of the base URL's hash in a slug. */
const HASH_LENGTH = 8;

interface SlugParts {
  readable: string;
  hash: string;
}

function slugParts(fhirBaseUrl: string): SlugParts {
  let normalized: string;
  try {
    normalized = normalizeFhirBaseUrl(fhirBaseUrl);
  } catch (cause) {
    // The base URL comes from the job; a value that does not parse is the job's fault.
    throw new ProvisioningError(
      'invalid_job',
      'fhirBaseUrl is not an absolute URL, so no secret name can be derived',
      { cause },
    );
  }
  const url = new URL(normalized);
  const hostAndPath = `${url.host}${url.pathname.replace(/\/+$/, '')}`;
  return {
    readable: hostAndPath.toLowerCase().replace(/[^a-z0-9.-]/g, '_'),
    hash: createHash('sha256').update(normalized).digest('hex').slice(0, HASH_LENGTH),
  };
}

/** The slug of a base URL with its readable part whole (a secret name may cut it, see above). */
export function serverSlug(fhirBaseUrl: string): string {
  const { readable, hash } = slugParts(fhirBaseUrl);
  return `${readable}-${hash}`;
}

/**
 * `${prefix}${tenantId}/${serverSlug}`, the readable part cut so the name fits 512 characters (the hash
 * is never cut), checked against the name rules: a prefix and tenant id too long even for an empty
 * readable part are refused as secret_store_rejected.
 */
export function registrationSecretName(prefix: string, tenantId: string, fhirBaseUrl: string): string {
  const { readable, hash } = slugParts(fhirBaseUrl);
  const head = `${prefix}${tenantId}/`;
  const room = Math.max(MAX_SECRET_NAME_LENGTH - head.length - `-${hash}`.length, 0);
  const name = `${head}${readable.slice(0, room)}-${hash}`;
  assertValidSecretName(name);
  return name;
}

/** Where an initial access token given by value is kept: beside the registration it is for. */
export function initialAccessTokenSecretName(prefix: string, tenantId: string, fhirBaseUrl: string): string {
  const name = `${registrationSecretName(prefix, tenantId, fhirBaseUrl)}${INITIAL_ACCESS_TOKEN_SUFFIX}`;
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
