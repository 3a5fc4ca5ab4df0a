// The JSON stored as a secret version (DESIGN.md "Secrets"): the registration response as returned,
// plus what a client needs to use it (token endpoint, FHIR base) and when it was registered.

import type { RegisteredClient } from '../dcr/index.js';
import type { SmartConfiguration } from '../smart/index.js';

export interface SecretValueInput {
  client: RegisteredClient;
  fhirBaseUrl: string;
  /** Absent when the request named the registration endpoint and discovery was skipped. */
  configuration?: SmartConfiguration;
  registeredAt: Date;
}

export function secretValue({
  client,
  fhirBaseUrl,
  configuration,
  registeredAt,
}: SecretValueInput): Record<string, unknown> {
  const value: Record<string, unknown> = {
    ...client.metadata,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    client_secret_expires_at:
      typeof client.clientSecretExpiresAt === 'number' ? client.clientSecretExpiresAt : undefined,
    client_id_issued_at: client.clientIdIssuedAt,
    registration_access_token: client.registrationAccessToken,
    registration_client_uri: client.registrationClientUri,
    token_endpoint: configuration?.tokenEndpoint,
    issuer: configuration?.issuer,
    fhir_base_url: fhirBaseUrl,
    registered_at: registeredAt.toISOString(),
  };
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** The non-secret facts of a stored value, for resuming a job whose checkpoint was lost in a crash. */
export function storedFacts(
  value: string,
): { clientId: string; clientSecretExpiresAt?: number | 'unknown'; registeredAt?: string } | undefined {
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    if (typeof parsed.client_id !== 'string') return undefined;
    const expiresAt =
      typeof parsed.client_secret_expires_at === 'number'
        ? parsed.client_secret_expires_at
        : typeof parsed.client_secret === 'string'
          ? ('unknown' as const)
          : undefined;
    return {
      clientId: parsed.client_id,
      ...(expiresAt !== undefined ? { clientSecretExpiresAt: expiresAt } : {}),
      ...(typeof parsed.registered_at === 'string' ? { registeredAt: parsed.registered_at } : {}),
    };
  } catch {
    return undefined;
  }
}
