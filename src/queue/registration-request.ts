// The registration request of the contract (DESIGN.md "HTTP API") and the job payload derived from it.
// Both are validated with the same rules wherever they enter: the API, the CLI, the producer and the
// worker. Every issue names its JSON path so the caller can fix the field.

import { z } from 'zod';
import { checkClientMetadata } from '../dcr/index.js';
import { REGISTRATION_REASONS } from '../events/index.js';
import { checkOutboundUrl } from '../http/index.js';
import { CLIENT_KEY_ALGORITHMS } from '../keys/index.js';
import {
  initialAccessTokenSecretName,
  MAX_SECRET_VALUE_BYTES,
  registrationSecretName,
  secretNameProblem,
} from '../secrets/index.js';
import { registeredJwksUri } from './jwks-uri.js';

export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface RequestRules {
  /** ALLOW_INSECURE_LOCALHOST: http:// is accepted only to loopback, and only with this. */
  allowInsecureLocalhost: boolean;
  /** ALLOWED_PRIVATE_HOSTS: private addresses written as IP literals are accepted when listed. */
  allowedPrivateHosts?: readonly string[];
  /**
   * SECRET_NAME_PREFIX. When given, the secret names a request leads to are checked up front (a 400,
   * not a job that fails later), and an initial access token may be read only from under
   * `${prefix}${tenantId}/` — a caller must not be able to send another tenant's token anywhere.
   */
  secretNamePrefix?: string;
  /**
   * JWKS_PUBLIC_BASE_URL: where the server process's `/jwks/...` routes are reachable from outside.
   * Without it, a request cannot publish generated keys by `jwks_uri`.
   */
  jwksPublicBaseUrl?: string | undefined;
}

/** Why `value` may not be requested under the rules, or undefined when it may. */
function outboundUrlProblem(rules: RequestRules, value: string): string | undefined {
  try {
    checkOutboundUrl(value, {
      allowInsecureLocalhost: rules.allowInsecureLocalhost,
      allowedPrivateHosts: rules.allowedPrivateHosts ?? [],
    });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : 'is not allowed';
  }
}

const outboundUrl = (rules: RequestRules) =>
  z.string().superRefine((value, ctx) => {
    const problem = outboundUrlProblem(rules, value);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: `must be an absolute https URL (${problem})` });
    }
  });

export const fhirBaseUrl = (rules: RequestRules) =>
  outboundUrl(rules).refine((value) => {
    const url = URL.parse(value);
    return url !== null && url.search === '' && url.hash === '';
  }, 'must not have a query or fragment');

const secretReference = z.strictObject({
  secretId: z.string().min(1, 'must name a secret').max(512, 'must be at most 512 characters'),
});

/** Where a generated key's public half is registered: inline in `jwks` (the default) or by `jwks_uri`. */
export const KEY_PUBLICATIONS = ['jwks', 'jwks_uri'] as const;

// The service makes the client's key pair: its public half is registered as `publish` says and its
// private half kept only in the secret (DESIGN.md "What one registration does", step 4).
const generatedKeys = z
  .strictObject({
    generate: z.strictObject(
      {
        alg: z.enum(CLIENT_KEY_ALGORITHMS, {
          error: `must be one of ${CLIENT_KEY_ALGORITHMS.join(', ')}`,
        }),
      },
      { error: 'must be {"alg": "RS384" | "ES384" | "RS256" | "ES256"}' },
    ),
    publish: z
      .enum(KEY_PUBLICATIONS, { error: `must be one of ${KEY_PUBLICATIONS.join(', ')}` })
      .default('jwks'),
  })
  .optional();

export type GeneratedKeys = NonNullable<z.output<typeof generatedKeys>>;

export const tenantId = z
  .string({ error: 'is required' })
  .regex(TENANT_ID_PATTERN, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');

const common = (rules: RequestRules) => ({
  tenantId,
  fhirBaseUrl: fhirBaseUrl(rules),
  registrationEndpoint: outboundUrl(rules).optional(),
  // Checked with the request's other fields (see checkMetadataAndKeys): whether keys are generated
  // changes what the metadata must hold.
  clientMetadata: z.unknown(),
  keys: generatedKeys,
  reason: z.enum(REGISTRATION_REASONS).default('onboarding'),
  rotation: z
    .strictObject({
      periodDays: z
        .number({ error: 'must be a number of days' })
        .positive('must be more than 0')
        .max(3650, 'must be at most 3650 (ten years)'),
    })
    .optional(),
  /**
   * Request a token with the new credentials once they are stored. @defaultValue true when the
   * metadata's `grant_types` include `client_credentials`, false otherwise (see verificationWanted).
   */
  verify: z.boolean({ error: 'must be true or false' }).optional(),
});

interface SecretNameInputs {
  tenantId: string;
  fhirBaseUrl: string;
  initialAccessToken?: { secretId: string } | { value: string } | undefined;
}

function checkSecretNames(rules: RequestRules, request: SecretNameInputs, ctx: z.RefinementCtx): void {
  const prefix = rules.secretNamePrefix;
  if (prefix === undefined) return;
  try {
    registrationSecretName(prefix, request.tenantId, request.fhirBaseUrl);
    if (request.initialAccessToken && 'value' in request.initialAccessToken) {
      initialAccessTokenSecretName(prefix, request.tenantId, request.fhirBaseUrl);
    }
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      path: ['fhirBaseUrl'],
      message: `leads to a secret name Secrets Manager refuses (${err instanceof Error ? err.message : 'invalid'}); use a shorter base URL or tenant id`,
    });
  }
  const reference = request.initialAccessToken;
  if (reference && 'secretId' in reference) {
    const own = `${prefix}${request.tenantId}/`;
    const problem = secretNameProblem(reference.secretId);
    if (problem !== undefined || !reference.secretId.startsWith(own)) {
      ctx.addIssue({
        code: 'custom',
        path: ['initialAccessToken', 'secretId'],
        message: problem ? `is not a valid secret name: it ${problem}` : `must name a secret under ${own}`,
      });
    }
  }
}

// A token given by value is stored as a secret of its own before the job is queued, so one the store
// cannot hold is bad input, refused here before anything is written. The message gives its size only.
const initialAccessTokenValue = z
  .string()
  .min(1, 'must not be empty')
  .superRefine((value, ctx) => {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_SECRET_VALUE_BYTES) {
      ctx.addIssue({
        code: 'custom',
        message: `is ${bytes} bytes of UTF-8, more than the ${MAX_SECRET_VALUE_BYTES} the secret store holds; send the token alone`,
      });
    }
  });

/** What a producer accepts: the initial access token may come as a value, which is stored first. */
const initialAccessTokenInput = z
  .union([secretReference, z.strictObject({ value: initialAccessTokenValue })], {
    error: 'must be {"secretId": "..."} or {"value": "..."}',
  })
  .optional();

/** The fields every request kind names, from which its request and job schemas are made. */
type SubjectShape = { tenantId: typeof tenantId; fhirBaseUrl: z.ZodType<string> } & z.ZodRawShape;

/** What a producer accepts: the initial access token may come as a value, which is stored first. */
export function requestSchemaOf<S extends SubjectShape>(rules: RequestRules, shape: S) {
  return z
    .strictObject({ ...shape, initialAccessToken: initialAccessTokenInput })
    .superRefine((request, ctx) => checkSecretNames(rules, request as SecretNameInputs, ctx));
}

/** What is queued: never a secret, only references to the secret store, and when it was asked for. */
export function jobSchemaOf<S extends SubjectShape>(rules: RequestRules, shape: S) {
  return z
    .strictObject({ ...shape, initialAccessToken: secretReference.optional(), requestedAt: z.iso.datetime() })
    .superRefine((job, ctx) => checkSecretNames(rules, job as SecretNameInputs, ctx));
}

// Runs whatever else failed, so one answer lists the metadata's problems beside the other fields' —
// but only on an object: a body that is an array or a string has its one issue at (root) already.
const always = { when: (payload: { value: unknown }) => isObject(payload.value) };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function registrationRequestSchema(rules: RequestRules) {
  return requestSchemaOf(rules, common(rules))
    .superRefine((request, ctx) => checkMetadataAndKeys(rules, request as KeyedRequest, ctx), always)
    .superRefine((request, ctx) => checkVerify(request, ctx));
}

export function registrationJobSchema(rules: RequestRules) {
  return jobSchemaOf(rules, common(rules))
    .superRefine((job, ctx) => checkMetadataAndKeys(rules, job as KeyedRequest, ctx), always)
    .superRefine((job, ctx) => checkVerify(job, ctx));
}

interface KeyedRequest {
  tenantId?: unknown;
  fhirBaseUrl?: unknown;
  clientMetadata?: unknown;
  keys?: unknown;
}

/**
 * The metadata's local rules, and what generated keys ask of the request: the metadata names
 * `private_key_jwt` and carries no keys of its own, and keys published by `jwks_uri` have a public
 * base URL to be published under that the worker may register.
 */
function checkMetadataAndKeys(rules: RequestRules, request: KeyedRequest, ctx: z.RefinementCtx): void {
  // This runs even when `keys` itself failed its schema (see `always`), so it may be anything here: only
  // an object says the caller wants generated keys; `null` or a string has its own issue already.
  const keys = isObject(request.keys) ? request.keys : undefined;
  const result = checkClientMetadata(request.clientMetadata, {
    keysAddedLater: keys !== undefined,
    allowInsecureLocalhost: rules.allowInsecureLocalhost,
  });
  if (!result.ok) {
    for (const issue of result.issues) {
      ctx.addIssue({ code: 'custom', path: ['clientMetadata', ...issue.path], message: issue.message });
    }
  }
  if (keys === undefined) return;
  const metadata = isObject(request.clientMetadata) ? request.clientMetadata : {};
  const own = ['jwks', 'jwks_uri'].filter((field) => metadata[field] !== undefined);
  if (own.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['keys'],
      message: `must not be sent with clientMetadata.${own.join(' and clientMetadata.')}: the service makes the key pair and registers its public key itself; drop one or the other`,
    });
  }
  if (metadata.token_endpoint_auth_method !== 'private_key_jwt') {
    ctx.addIssue({
      code: 'custom',
      path: ['keys'],
      message: `needs clientMetadata.token_endpoint_auth_method "private_key_jwt" (a generated key signs client assertions); it is ${JSON.stringify(metadata.token_endpoint_auth_method ?? 'client_secret_basic (the RFC 7591 default)')}`,
    });
  }
  if (keys.publish !== 'jwks_uri') return;
  if (!rules.jwksPublicBaseUrl) {
    ctx.addIssue({
      code: 'custom',
      path: ['keys', 'publish'],
      message:
        '"jwks_uri" needs JWKS_PUBLIC_BASE_URL, the public URL under which this service\'s /jwks/... routes are reachable; set it or publish by "jwks"',
    });
    return;
  }
  if (typeof request.tenantId !== 'string' || typeof request.fhirBaseUrl !== 'string') return;
  if (!TENANT_ID_PATTERN.test(request.tenantId) || !URL.canParse(request.fhirBaseUrl)) return;
  const uri = registeredJwksUri(rules.jwksPublicBaseUrl, request.tenantId, request.fhirBaseUrl);
  const problem = outboundUrlProblem(rules, uri);
  if (problem !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['keys', 'publish'],
      message: `"jwks_uri" would register ${uri}, which a server may not be sent to (${problem}); set JWKS_PUBLIC_BASE_URL to an https URL`,
    });
  }
}

/** Auth methods whose credentials a verification can use: the client secret's. */
export const VERIFIABLE_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;

function metadataFields(metadata: unknown): { grantTypes: unknown[]; authMethod: unknown } {
  const fields = (typeof metadata === 'object' && metadata !== null ? metadata : {}) as Record<
    string,
    unknown
  >;
  return {
    // RFC 7591 defaults: authorization_code, client_secret_basic.
    grantTypes: Array.isArray(fields.grant_types) ? fields.grant_types : ['authorization_code'],
    authMethod: fields.token_endpoint_auth_method ?? 'client_secret_basic',
  };
}

/**
 * Whether a request's credentials are checked with a token request: `verify` when given, else for
 * clients with the `client_credentials` grant — and only for auth methods a check can use, so the
 * default never asks for one that cannot be made.
 */
export function verificationWanted(request: VerifiableRequest): boolean {
  const { grantTypes } = metadataFields(request.clientMetadata);
  if (request.verify === false) return false;
  return canSignIn(request) && grantTypes.includes('client_credentials');
}

interface VerifiableRequest {
  verify?: boolean | undefined;
  clientMetadata: unknown;
  keys?: unknown;
}

/**
 * Whether the service will hold what the client authenticates with: the client secret the server
 * issues, or the private key of a key pair it generates. A client that brings its own keys signs with
 * a private key the service never sees.
 */
function canSignIn(request: VerifiableRequest): boolean {
  const { authMethod } = metadataFields(request.clientMetadata);
  if ((VERIFIABLE_AUTH_METHODS as readonly unknown[]).includes(authMethod)) return true;
  return authMethod === 'private_key_jwt' && request.keys !== undefined;
}

/** `verify: true` asks for a check that can be made: a client_credentials client with a client secret. */
function checkVerify(request: VerifiableRequest, ctx: z.RefinementCtx): void {
  if (request.verify !== true) return;
  const { grantTypes, authMethod } = metadataFields(request.clientMetadata);
  if (!grantTypes.includes('client_credentials')) {
    ctx.addIssue({
      code: 'custom',
      path: ['verify'],
      message:
        'needs "client_credentials" in clientMetadata.grant_types: the check is a client_credentials token request',
    });
  } else if (!canSignIn(request)) {
    ctx.addIssue({
      code: 'custom',
      path: ['verify'],
      message:
        authMethod === 'private_key_jwt'
          ? 'needs keys.generate for a private_key_jwt client: the service can sign a client assertion only with a key it made (send verify: false or let the service make the key)'
          : `is available for client_secret_basic, client_secret_post and generated private_key_jwt clients; ${String(authMethod)} is not (send verify: false or leave it out)`,
    });
  }
}

export type RegistrationRequest = z.input<ReturnType<typeof registrationRequestSchema>>;
export type ValidRegistrationRequest = z.output<ReturnType<typeof registrationRequestSchema>>;
export type RegistrationJob = z.output<ReturnType<typeof registrationJobSchema>>;

export interface RequestIssue {
  path: string;
  message: string;
}

/** zod issues as the API reports them: a dotted JSON path and a message; an unknown field by its own path. */
export function requestIssues(error: z.ZodError): RequestIssue[] {
  const dotted = (path: readonly PropertyKey[]) => path.map(String).join('.') || '(root)';
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: dotted([...issue.path, key]), message: 'is not a known field' }))
      : [{ path: dotted(issue.path), message: issue.message }],
  );
}
