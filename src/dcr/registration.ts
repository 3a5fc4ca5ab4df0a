// The RFC 7591 registration request and the RFC 7592 management calls. Each function sends one request
// and hands the answer to processClientInformationResponse; none retries, caches or stores anything —
// that is the caller's policy. Usable as a plain library: no queue, no AWS.

import { classify, classifyResponse, type Stage } from '../failures/index.js';
import type { HttpClient, HttpMethod, HttpResponse } from '../http/types.js';
import { processClientInformationResponse, type RegisteredClient } from './client-information.js';

interface CallOptions {
  http: HttpClient;
  /** Aborts the request, e.g. the job's signal. */
  signal?: AbortSignal;
}

export interface RegisterOptions extends CallOptions {
  /** Where to POST: the discovered `registration_endpoint` or an explicit override. */
  registrationEndpoint: string;
  /** RFC 7591 client metadata, already checked locally (see checkClientMetadata). */
  metadata: Record<string, unknown>;
  /** Sent as `Authorization: Bearer`; some servers require one, Epic's are one-shot. */
  initialAccessToken?: string;
}

export interface ManagementOptions extends CallOptions {
  /** From the registration response. */
  registrationClientUri: string;
  /** From the latest response: servers rotate it on each call (RFC 7592 §3). */
  registrationAccessToken: string;
}

export interface UpdateOptions extends ManagementOptions {
  clientId: string;
  /** The complete desired metadata; RFC 7592 PUT replaces the registration. */
  metadata: Record<string, unknown>;
}

/** A read or update result. `registrationAccessToken` is the one to use next time — persist it. */
export type ManagedClient = RegisteredClient & { registrationAccessToken: string };

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' } as const;

async function send(
  http: HttpClient,
  stage: Stage,
  method: HttpMethod,
  url: string,
  headers: Record<string, string>,
  json: unknown,
  signal: AbortSignal | undefined,
): Promise<HttpResponse> {
  try {
    return await http.request({
      method,
      url,
      headers,
      ...(json !== undefined ? { json } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    throw classify(err, stage);
  }
}

function bearer(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** POSTs the metadata to the registration endpoint (RFC 7591 §3.1). Accepts 201 and 200. */
export async function register(options: RegisterOptions): Promise<RegisteredClient> {
  const { http, registrationEndpoint, metadata, initialAccessToken, signal } = options;
  const response = await send(
    http,
    'registration',
    'POST',
    registrationEndpoint,
    { ...JSON_HEADERS, ...bearer(initialAccessToken) },
    metadata,
    signal,
  );
  return processClientInformationResponse(
    response,
    'registration',
    initialAccessToken ? [initialAccessToken] : [],
  );
}

function keepToken(client: RegisteredClient, previous: string): ManagedClient {
  if (client.registrationAccessToken === undefined) {
    Object.defineProperty(client, 'registrationAccessToken', {
      value: previous,
      enumerable: false,
      writable: true,
    });
  }
  return client as ManagedClient;
}

/** Reads the current registration (RFC 7592 §2.1). */
export async function readClient(options: ManagementOptions): Promise<ManagedClient> {
  const { http, registrationClientUri, registrationAccessToken, signal } = options;
  const response = await send(
    http,
    'management',
    'GET',
    registrationClientUri,
    { accept: 'application/json', ...bearer(registrationAccessToken) },
    undefined,
    signal,
  );
  const client = processClientInformationResponse(response, 'management', [registrationAccessToken]);
  return keepToken(client, registrationAccessToken);
}

// RFC 7592 §2.2: the update request MUST NOT include these; the server issues them.
const SERVER_ISSUED_FIELDS = [
  'registration_access_token',
  'registration_client_uri',
  'client_secret_expires_at',
  'client_id_issued_at',
] as const;

/** The PUT body of RFC 7592 §2.2: the full metadata with client_id, without server-issued fields. */
export function updateRequestBody(
  clientId: string,
  metadata: Record<string, unknown>,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...metadata, client_id: clientId };
  for (const field of SERVER_ISSUED_FIELDS) delete body[field];
  return body;
}

/** Replaces the registration (RFC 7592 §2.2); a new secret or token in the answer replaces the old. */
export async function updateClient(options: UpdateOptions): Promise<ManagedClient> {
  const { http, registrationClientUri, registrationAccessToken, clientId, metadata, signal } = options;
  const response = await send(
    http,
    'management',
    'PUT',
    registrationClientUri,
    { ...JSON_HEADERS, ...bearer(registrationAccessToken) },
    updateRequestBody(clientId, metadata),
    signal,
  );
  const client = processClientInformationResponse(response, 'management', [registrationAccessToken]);
  return keepToken(client, registrationAccessToken);
}

/** Deletes the registration (RFC 7592 §2.3). 204 (or 200) is success; an already deleted client answers 401. */
export async function deleteClient(options: ManagementOptions): Promise<void> {
  const { http, registrationClientUri, registrationAccessToken, signal } = options;
  const response = await send(
    http,
    'management',
    'DELETE',
    registrationClientUri,
    bearer(registrationAccessToken),
    undefined,
    signal,
  );
  if (response.status === 204 || response.status === 200) return;
  throw classifyResponse('management', response, [registrationAccessToken]);
}
