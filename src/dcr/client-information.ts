// Judges a client information response (RFC 7591 §3.2.1, RFC 7592 §3): the answer to a registration,
// read or update. Checked field by field; relaxed only where real servers are known to differ
// (200 instead of 201, no client_secret_expires_at).

import { classifyResponse, ProvisioningError, type Stage } from '../failures/index.js';
import type { HttpResponse } from '../http/types.js';

/** The credentials and registration a server issued. Holds secrets: never log or queue it. */
export interface RegisteredClient {
  clientId: string;
  clientSecret?: string;
  /**
   * Seconds since the epoch, `0` for never; `'unknown'` when a secret was issued without the field
   * (RFC 7591 requires it, several servers omit it); absent when no secret was issued.
   */
  clientSecretExpiresAt?: number | 'unknown';
  clientIdIssuedAt?: number;
  registrationAccessToken?: string;
  registrationClientUri?: string;
  /** The registered metadata as the server returned it, without the credential fields above. */
  metadata: Record<string, unknown>;
  /** The HTTP status that carried it (201 for a new registration; 200 for UDAP-style re-registration and RFC 7592). */
  status: number;
  /** Tolerated deviations from the RFCs, worth a log line. */
  warnings: string[];
}

/** The fields of a client information response that are not registered metadata. */
export const CREDENTIAL_FIELDS = [
  'client_id',
  'client_secret',
  'client_secret_expires_at',
  'client_id_issued_at',
  'registration_access_token',
  'registration_client_uri',
] as const;

/**
 * A 2xx we cannot use. The server accepted the request, so a client may exist there that we cannot
 * read: the outcome is unknown, and the caller reports a possible orphan.
 */
function invalid(stage: Stage, problem: string, status: number): ProvisioningError {
  return new ProvisioningError('invalid_response', `${stage} response ${problem}`, {
    status,
    outcomeUnknown: stage !== 'discovery',
  });
}

/** Seconds since the epoch; servers also send numeric strings and ISO dates. Anything else is unknown. */
function epochSeconds(value: unknown, field: string, warnings: string[]): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    warnings.push(`${field} was a string; read as a number`);
    return Number(value);
  }
  const date = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isNaN(date)) {
    warnings.push(`${field} was a date string; read as seconds since the epoch`);
    return Math.floor(date / 1000);
  }
  warnings.push(`${field} is not a time in seconds; recorded as unknown`);
  return undefined;
}

/** A blank string is read as absent (a server's way of saying "none"); another type is unusable. */
function optionalString(
  value: unknown,
  field: string,
  stage: Stage,
  status: number,
  warnings: string[],
): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(stage, `has a ${field} that is not a string`, status);
  if (value.trim() === '') {
    warnings.push(`${field} was blank; read as absent`);
    return undefined;
  }
  return value;
}

/**
 * Turns the server's answer into a RegisteredClient or a classified failure. `secrets` are values that
 * must not appear in an error message even if the server echoes them (initial or registration access token).
 */
export function processClientInformationResponse(
  response: HttpResponse,
  stage: Stage,
  secrets: readonly string[] = [],
): RegisteredClient {
  const { status } = response;
  if (status !== 200 && status !== 201) {
    if (status >= 200 && status < 300)
      throw invalid(stage, `has status ${status}; expected 201 or 200`, status);
    throw classifyResponse(stage, response, secrets);
  }

  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    throw invalid(stage, 'is not JSON', status);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid(stage, 'is not a JSON object', status);
  const fields = body as Record<string, unknown>;

  const warnings: string[] = [];
  let clientId = fields.client_id;
  if (typeof clientId === 'number' && Number.isSafeInteger(clientId)) {
    warnings.push('client_id was a number; read as a string');
    clientId = String(clientId);
  }
  if (typeof clientId !== 'string' || clientId.trim() === '') {
    throw invalid(stage, 'has no client_id (a non-blank string is required)', status);
  }

  const clientSecret = optionalString(fields.client_secret, 'client_secret', stage, status, warnings);
  let clientSecretExpiresAt: number | 'unknown' | undefined = epochSeconds(
    fields.client_secret_expires_at,
    'client_secret_expires_at',
    warnings,
  );
  if (clientSecret !== undefined && clientSecretExpiresAt === undefined) {
    clientSecretExpiresAt = 'unknown';
    if (fields.client_secret_expires_at === undefined || fields.client_secret_expires_at === null) {
      warnings.push(
        'client_secret_expires_at is missing although a client_secret was issued; expiry recorded as unknown',
      );
    }
  }
  const registrationClientUri = optionalString(
    fields.registration_client_uri,
    'registration_client_uri',
    stage,
    status,
    warnings,
  );
  if (registrationClientUri !== undefined && !URL.canParse(registrationClientUri, response.url)) {
    throw invalid(stage, 'has a registration_client_uri that is not a URL', status);
  }

  const metadata = Object.fromEntries(
    Object.entries(fields).filter(([key]) => !(CREDENTIAL_FIELDS as readonly string[]).includes(key)),
  );
  const client: RegisteredClient = { clientId, metadata, status, warnings };
  if (clientSecret !== undefined) client.clientSecret = clientSecret;
  if (clientSecretExpiresAt !== undefined) client.clientSecretExpiresAt = clientSecretExpiresAt;
  const issuedAt = epochSeconds(fields.client_id_issued_at, 'client_id_issued_at', warnings);
  if (issuedAt !== undefined) client.clientIdIssuedAt = issuedAt;
  const token = optionalString(
    fields.registration_access_token,
    'registration_access_token',
    stage,
    status,
    warnings,
  );
  if (token !== undefined) client.registrationAccessToken = token;
  if (registrationClientUri !== undefined) {
    client.registrationClientUri = new URL(registrationClientUri, response.url).href;
  }
  // Make the secrets invisible to JSON.stringify and console.log by accident.
  for (const key of ['clientSecret', 'registrationAccessToken'] as const) {
    if (client[key] !== undefined) Object.defineProperty(client, key, { enumerable: false });
  }
  return client;
}
