// SMART 1.0 servers announce their OAuth endpoints in the FHIR CapabilityStatement (`{base}/metadata`)
// through the `oauth-uris` extension instead of a well-known document. This reads them.

import { ProvisioningError } from '../failures/index.js';
import {
  parseJsonObject,
  resolveEndpoint,
  type SmartConfiguration,
  withoutUndefined,
} from './smart-configuration.js';

export const OAUTH_URIS_EXTENSION = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

interface Extension {
  url?: unknown;
  valueUri?: unknown;
  extension?: unknown;
}

function extensionsOf(value: unknown): Extension[] {
  return Array.isArray(value) ? value.filter((e): e is Extension => typeof e === 'object' && e !== null) : [];
}

/** Finds the oauth-uris extension in any `rest[].security` of the CapabilityStatement. */
function findOauthUris(statement: Record<string, unknown>): Map<string, string> | undefined {
  const rests = Array.isArray(statement.rest) ? statement.rest : [];
  for (const rest of rests) {
    const security = (rest as { security?: { extension?: unknown } } | null)?.security;
    const oauth = extensionsOf(security?.extension).find((e) => e.url === OAUTH_URIS_EXTENSION);
    if (oauth) {
      const uris = new Map<string, string>();
      for (const sub of extensionsOf(oauth.extension)) {
        if (typeof sub.url === 'string' && typeof sub.valueUri === 'string') uris.set(sub.url, sub.valueUri);
      }
      return uris;
    }
  }
  return undefined;
}

export function parseCapabilityStatement(body: string, fhirBaseUrl: string): SmartConfiguration {
  const statement = parseJsonObject(body, 'the CapabilityStatement');
  if (statement.resourceType !== 'CapabilityStatement' && statement.resourceType !== 'Conformance') {
    throw new ProvisioningError(
      'discovery_invalid',
      'the metadata endpoint did not return a CapabilityStatement',
    );
  }
  const uris = findOauthUris(statement);
  if (!uris) {
    throw new ProvisioningError(
      'discovery_invalid',
      'no /.well-known/smart-configuration and the CapabilityStatement has no oauth-uris extension',
    );
  }
  const token = uris.get('token');
  if (!token) {
    throw new ProvisioningError(
      'discovery_invalid',
      'the CapabilityStatement oauth-uris extension has no token URI',
    );
  }
  const warnings = [
    'no /.well-known/smart-configuration; endpoints read from the CapabilityStatement (SMART 1.0)',
  ];
  const endpoint = (name: string, field: string) => {
    const value = uris.get(name);
    return value ? resolveEndpoint(value, fhirBaseUrl, field, warnings) : undefined;
  };
  return withoutUndefined({
    source: 'capability-statement' as const,
    fhirBaseUrl,
    tokenEndpoint: resolveEndpoint(token, fhirBaseUrl, 'token', warnings),
    authorizationEndpoint: endpoint('authorize', 'authorize'),
    registrationEndpoint: endpoint('register', 'register'),
    managementEndpoint: endpoint('manage', 'manage'),
    introspectionEndpoint: endpoint('introspect', 'introspect'),
    revocationEndpoint: endpoint('revoke', 'revoke'),
    grantTypesSupported: [],
    capabilities: [],
    codeChallengeMethodsSupported: [],
    warnings,
  });
}
