// Proof that stored credentials work (DESIGN.md "What one registration does", step 7): once the
// credentials are stored — never before, and never as a second secret version — a client_credentials
// token request with the registered scope, authenticated as the registered token_endpoint_auth_method
// says. A refusal is retried through the queue (`verification_failed`, retryable) a few times, since a
// fresh registration may take a while to reach the token endpoint (Epic answers `invalid_grant`
// meanwhile); the checkpoint says the credentials are stored, so a retried attempt goes straight here.
// When the tries are spent the job still completes: the credentials exist and stay stored, the outcome
// says `verified: false` with the server's error code. The access token is read only to see that one
// came back: it is never kept, logged, returned or put in an error.

import { classify, ProvisioningError, parseOAuthError } from '../failures/index.js';
import type { HttpClient } from '../http/index.js';
import { CLIENT_ASSERTION_TYPE, signClientAssertion } from '../keys/index.js';
import { findServerBusy } from '../limits/index.js';
import type { Checkpoint, StoredRegistration } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { serverHttp } from './register-and-store.js';
import { readStoredCredentials, type StoredCredentials } from './secret-value.js';

/** Token requests per set of credentials before it is called unverified: the first and three retries. */
export const DEFAULT_VERIFICATION_TRIES = 4;

/** What a verification ended with, as the checkpoint, the registry, the status and the event carry it. */
export type VerificationOutcome = {
  verified: boolean;
  verifiedAt: string;
  /** The token endpoint's error code (or a failure code for a request that got no answer) when unverified. */
  verificationError?: string;
};

/** One token request's answer, reduced to what may be shown: never the token. */
export type TokenAnswer =
  | { ok: true }
  /** `final`: no token request could be made (nothing to retry). */
  | { ok: false; error: string; status?: number; final?: boolean };

/** An OAuth error code, as far as it may be shown: short and plain (it reaches logs, events and status). */
function errorCode(text: string | undefined): string | undefined {
  return text !== undefined && /^[\x20-\x7e]{1,100}$/.test(text) && !/\s/.test(text) ? text : undefined;
}

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1 applies it before Basic). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** How the token request authenticates the client: with its secret, or a signed client assertion. */
export type ClientAuthentication =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientSecret: string }
  | { method: 'private_key_jwt'; clientAssertion: string };

export interface TokenRequest {
  tokenEndpoint: string;
  clientId: string;
  authentication: ClientAuthentication;
  scope?: string | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * A client_credentials token request. Resolves with whether a token came back; a transport failure is
 * an unverified answer with its failure code. A server with no room for the request rethrows its
 * ServerBusyError, so the job waits without spending a try.
 */
export async function requestClientCredentialsToken(
  http: HttpClient,
  req: TokenRequest,
): Promise<TokenAnswer> {
  const form: Record<string, string> = { grant_type: 'client_credentials' };
  if (req.scope) form.scope = req.scope;
  const headers: Record<string, string> = { accept: 'application/json' };
  const auth = req.authentication;
  if (auth.method === 'client_secret_basic') {
    const pair = `${formEncode(req.clientId)}:${formEncode(auth.clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
  } else if (auth.method === 'client_secret_post') {
    form.client_id = req.clientId;
    form.client_secret = auth.clientSecret;
  } else if (auth.method === 'private_key_jwt') {
    // SMART Backend Services: the assertion alone identifies the client (its iss and sub).
    form.client_assertion_type = CLIENT_ASSERTION_TYPE;
    form.client_assertion = auth.clientAssertion;
  }
  let answer: Awaited<ReturnType<HttpClient['request']>>;
  try {
    answer = await http.request({
      method: 'POST',
      url: req.tokenEndpoint,
      headers,
      form,
      ...(req.signal ? { signal: req.signal } : {}),
    });
  } catch (err) {
    const busy = findServerBusy(err);
    if (busy) throw busy;
    // Judged as a GET would be: a token request changes nothing at the server.
    return { ok: false, error: classify(err, 'discovery').code };
  }
  if (answer.status === 200 && hasAccessToken(answer.body)) return { ok: true };
  const error =
    errorCode(parseOAuthError(answer.body)?.error) ??
    (answer.status === 200 ? 'invalid_response' : `http_${answer.status}`);
  return { ok: false, error, status: answer.status };
}

function hasAccessToken(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    const token = (parsed as { access_token?: unknown } | null)?.access_token;
    return typeof token === 'string' && token.length > 0;
  } catch {
    return false;
  }
}

/**
 * Verifies the stored credentials of `state.stored`, unless this job already has an outcome. `fresh`
 * are the credentials this attempt just wrote (no read needed); a resumed attempt reads its version back.
 * Throws `verification_failed` (retryable) while tries remain; answers the checkpoint with the outcome.
 */
export async function verifyStoredCredentials(
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  fresh?: StoredCredentials,
): Promise<Checkpoint> {
  if (state.verification?.outcome) return state;
  const stored = state.stored as StoredRegistration;
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  const credentials = fresh ?? (await readStoredVersion(stored, deps));
  const answer = await tokenAnswer(credentials, context, deps);
  if (answer.ok) return settle(state, context, { verified: true, verifiedAt: now() });

  const tries = (state.verification?.tries ?? 0) + 1;
  const maxTries = deps.verificationTries ?? DEFAULT_VERIFICATION_TRIES;
  const refusal = `the token endpoint refused the new credentials of client ${stored.clientId} (${answer.error}${answer.status ? `, HTTP ${answer.status}` : ''})`;
  if (!answer.final && tries < maxTries && context.attempt < context.maxAttempts) {
    await context.checkpoint.save({ ...state, verification: { tries } });
    throw new ProvisioningError(
      'verification_failed',
      `${refusal}; try ${tries} of ${maxTries}, retried because a new registration can take a while to reach the token endpoint; the credentials stay stored`,
      answer.status !== undefined ? { status: answer.status } : {},
    );
  }
  deps.log?.warn(
    { jobId: context.jobId, clientId: stored.clientId, verificationError: answer.error, tries },
    `${refusal} after ${tries} tries: the registration completes unverified (verified: false); the credentials stay stored — check the client at the server`,
  );
  return settle(state, context, { verified: false, verifiedAt: now(), verificationError: answer.error });
}

async function settle(
  state: Checkpoint,
  context: JobContext,
  outcome: VerificationOutcome,
): Promise<Checkpoint> {
  const next: Checkpoint = { ...state, verification: { tries: state.verification?.tries ?? 0, outcome } };
  await context.checkpoint.save(next);
  return next;
}

/** The credentials of the version the checkpoint says were stored; undefined when it is gone. */
export async function readStoredVersion(
  stored: Pick<StoredRegistration, 'secretId' | 'secretVersionId'>,
  deps: Pick<RegistrationDeps, 'secretStore'>,
): Promise<StoredCredentials | undefined> {
  const version = await deps.secretStore.readVersion(stored.secretId, stored.secretVersionId);
  return version ? readStoredCredentials(version.value) : undefined;
}

async function tokenAnswer(
  credentials: StoredCredentials | undefined,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<TokenAnswer> {
  if (!credentials) return { ok: false, error: 'credentials_not_found', final: true };
  // A request that named its registration endpoint skipped discovery: no token endpoint is known.
  if (!credentials.tokenEndpoint) return { ok: false, error: 'no_token_endpoint', final: true };
  const authentication = await authenticationOf(credentials, credentials.tokenEndpoint);
  if ('error' in authentication) return { ok: false, error: authentication.error, final: true };
  const scope = credentials.metadata.scope;
  return requestClientCredentialsToken(serverHttp(deps.http, context, deps), {
    tokenEndpoint: credentials.tokenEndpoint,
    clientId: credentials.clientId,
    authentication,
    scope: typeof scope === 'string' ? scope : undefined,
    signal: context.signal,
  });
}

/**
 * The client authentication the registered token_endpoint_auth_method asks for, made from the stored
 * credentials: the secret, or a fresh assertion signed with the generated private key (a new `jti`
 * for every request, so a retry never trips a server's replay check).
 */
async function authenticationOf(
  credentials: StoredCredentials,
  tokenEndpoint: string,
): Promise<ClientAuthentication | { error: string }> {
  const method = credentials.metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  if (method === 'client_secret_basic' || method === 'client_secret_post') {
    return credentials.clientSecret
      ? { method, clientSecret: credentials.clientSecret }
      : { error: 'no_client_secret' };
  }
  if (method !== 'private_key_jwt') return { error: 'unsupported_auth_method' };
  if (!credentials.privateJwk) return { error: 'no_private_key' };
  const clientAssertion = await signClientAssertion({
    clientId: credentials.clientId,
    tokenEndpoint,
    privateJwk: credentials.privateJwk,
  });
  return { method, clientAssertion };
}
