// Judges a SMART discovery document (`/.well-known/smart-configuration`, SMART App Launch 2.2) and
// normalises it into the typed configuration the rest of the product uses. Tolerant where real
// servers bend the specification — no `issuer`, relative URLs, SMART 1.0 names — and strict about
// what registration and token requests cannot do without.

import { z } from 'zod';
import { formatIssues, ProvisioningError } from '../failures/index.js';

export interface SmartConfiguration {
  /** Where the endpoints came from: the well-known document or the SMART 1.0 CapabilityStatement. */
  source: 'well-known' | 'capability-statement';
  fhirBaseUrl: string;
  issuer?: string;
  tokenEndpoint: string;
  authorizationEndpoint?: string;
  registrationEndpoint?: string;
  managementEndpoint?: string;
  introspectionEndpoint?: string;
  revocationEndpoint?: string;
  jwksUri?: string;
  /** Empty when the server does not say (older documents). */
  grantTypesSupported: string[];
  /** Undefined when not advertised: nothing can be checked against it. */
  tokenEndpointAuthMethodsSupported?: string[];
  tokenEndpointAuthSigningAlgValuesSupported?: string[];
  scopesSupported?: string[];
  responseTypesSupported?: string[];
  capabilities: string[];
  codeChallengeMethodsSupported: string[];
  /** Deviations from SMART 2.2 that were tolerated; worth a log line, not a failure. */
  warnings: string[];
}

const stringList = z.array(z.string());

const documentSchema = z.looseObject({
  issuer: z.string().optional(),
  jwks_uri: z.string().optional(),
  authorization_endpoint: z.string().optional(),
  token_endpoint: z.string({ error: 'is required (the token endpoint URL)' }).min(1, 'must not be empty'),
  registration_endpoint: z.string().optional(),
  management_endpoint: z.string().optional(),
  introspection_endpoint: z.string().optional(),
  revocation_endpoint: z.string().optional(),
  grant_types_supported: stringList.optional(),
  token_endpoint_auth_methods_supported: stringList.optional(),
  token_endpoint_auth_methods: stringList.optional(), // SMART 1.0 name
  token_endpoint_auth_signing_alg_values_supported: stringList.optional(),
  scopes_supported: stringList.optional(),
  response_types_supported: stringList.optional(),
  capabilities: stringList.optional(),
  code_challenge_methods_supported: stringList.optional(),
});

/** `.well-known` is appended to the base even when the base has a path (SMART 2.2). */
export function smartConfigurationUrl(fhirBaseUrl: string): string {
  return `${fhirBaseUrl.replace(/\/+$/, '')}/.well-known/smart-configuration`;
}

/**
 * Resolves a possibly relative endpoint against the FHIR base, treating the base as a directory so
 * that `auth/token` under `https://ehr/fhir` becomes `https://ehr/fhir/auth/token`.
 */
export function resolveEndpoint(
  value: string,
  fhirBaseUrl: string,
  field: string,
  warnings: string[],
): string {
  let resolved: URL;
  try {
    resolved = new URL(value, `${fhirBaseUrl.replace(/\/+$/, '')}/`);
  } catch {
    throw new ProvisioningError('discovery_invalid', `discovery document field ${field} is not a URL`);
  }
  if (resolved.protocol !== 'https:' && resolved.protocol !== 'http:') {
    throw new ProvisioningError(
      'discovery_invalid',
      `discovery document field ${field} must be an http(s) URL`,
    );
  }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(value)) {
    warnings.push(`${field} was relative and was resolved against the FHIR base URL`);
  }
  return resolved.href;
}

export function parseJsonObject(body: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ProvisioningError('discovery_invalid', `${what} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProvisioningError('discovery_invalid', `${what} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Optional fields that are null or of the wrong type (servers built on Java or .NET serialisers send
 * `"registration_endpoint": null`) are dropped with a warning rather than failing the whole document:
 * a missing optional field is something we already handle.
 */
function dropUnusableOptionalFields(
  raw: Record<string, unknown>,
  warnings: string[],
): Record<string, unknown> {
  const cleaned = { ...raw };
  for (const [field, schema] of Object.entries(documentSchema.shape)) {
    if (field === 'token_endpoint' || !(field in cleaned)) continue;
    const value = cleaned[field];
    if (value === null || !schema.safeParse(value).success) {
      delete cleaned[field];
      warnings.push(`${field} is ${value === null ? 'null' : 'of the wrong type'} and was ignored`);
    }
  }
  return cleaned;
}

/** Validates and normalises the body of `/.well-known/smart-configuration`. */
export function parseSmartConfiguration(body: string, fhirBaseUrl: string): SmartConfiguration {
  const warnings: string[] = [];
  const raw = dropUnusableOptionalFields(parseJsonObject(body, 'the SMART configuration document'), warnings);
  const result = documentSchema.safeParse(raw);
  if (!result.success) {
    throw new ProvisioningError(
      'discovery_invalid',
      `the SMART configuration document is invalid: ${formatIssues(result.error.issues)}`,
    );
  }
  const doc = result.data;
  const endpoint = (value: string | undefined, field: string) =>
    value === undefined || value === '' ? undefined : resolveEndpoint(value, fhirBaseUrl, field, warnings);

  if (doc.issuer === undefined) warnings.push('issuer is missing');
  if (doc.grant_types_supported === undefined) warnings.push('grant_types_supported is missing');
  if (doc.capabilities === undefined) warnings.push('capabilities is missing');
  if (doc.code_challenge_methods_supported === undefined) {
    warnings.push('code_challenge_methods_supported is missing');
  } else if (doc.code_challenge_methods_supported.includes('plain')) {
    warnings.push('code_challenge_methods_supported offers plain, which SMART forbids');
  }
  const authMethods = doc.token_endpoint_auth_methods_supported ?? doc.token_endpoint_auth_methods;
  if (
    doc.token_endpoint_auth_methods_supported === undefined &&
    doc.token_endpoint_auth_methods !== undefined
  ) {
    warnings.push(
      'token_endpoint_auth_methods (SMART 1.0 name) used for token_endpoint_auth_methods_supported',
    );
  }

  return withoutUndefined({
    source: 'well-known' as const,
    fhirBaseUrl,
    issuer: doc.issuer,
    tokenEndpoint: resolveEndpoint(doc.token_endpoint, fhirBaseUrl, 'token_endpoint', warnings),
    authorizationEndpoint: endpoint(doc.authorization_endpoint, 'authorization_endpoint'),
    registrationEndpoint: endpoint(doc.registration_endpoint, 'registration_endpoint'),
    managementEndpoint: endpoint(doc.management_endpoint, 'management_endpoint'),
    introspectionEndpoint: endpoint(doc.introspection_endpoint, 'introspection_endpoint'),
    revocationEndpoint: endpoint(doc.revocation_endpoint, 'revocation_endpoint'),
    jwksUri: endpoint(doc.jwks_uri, 'jwks_uri'),
    grantTypesSupported: doc.grant_types_supported ?? [],
    tokenEndpointAuthMethodsSupported: authMethods,
    tokenEndpointAuthSigningAlgValuesSupported: doc.token_endpoint_auth_signing_alg_values_supported,
    scopesSupported: doc.scopes_supported,
    responseTypesSupported: doc.response_types_supported,
    capabilities: doc.capabilities ?? [],
    codeChallengeMethodsSupported: doc.code_challenge_methods_supported ?? [],
    warnings,
  });
}

/** Drops undefined members so the configuration serialises (cache, logs) the same way it compares. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
