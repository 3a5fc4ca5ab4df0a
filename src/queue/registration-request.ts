// The registration request of the contract (DESIGN.md "HTTP API") and the job payload derived from it.
// Both are validated with the same rules wherever they enter: the API, the CLI, the producer and the
// worker. Every issue names its JSON path so the caller can fix the field.

import { z } from 'zod';
import { checkClientMetadata } from '../dcr/index.js';
import { REGISTRATION_REASONS } from '../events/index.js';
import { checkOutboundUrl } from '../http/index.js';
import {
  initialAccessTokenSecretName,
  MAX_SECRET_VALUE_BYTES,
  registrationSecretName,
  secretNameProblem,
} from '../secrets/index.js';

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
}

const outboundUrl = (rules: RequestRules) =>
  z.string().superRefine((value, ctx) => {
    try {
      checkOutboundUrl(value, {
        allowInsecureLocalhost: rules.allowInsecureLocalhost,
        allowedPrivateHosts: rules.allowedPrivateHosts ?? [],
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : 'is not allowed';
      ctx.addIssue({ code: 'custom', message: `must be an absolute https URL (${reason})` });
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

const clientMetadata = z.unknown().superRefine((value, ctx) => {
  const result = checkClientMetadata(value);
  if (!result.ok) {
    for (const issue of result.issues)
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  }
});

export const tenantId = z
  .string({ error: 'is required' })
  .regex(TENANT_ID_PATTERN, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');

const common = (rules: RequestRules) => ({
  tenantId,
  fhirBaseUrl: fhirBaseUrl(rules),
  registrationEndpoint: outboundUrl(rules).optional(),
  clientMetadata,
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

export function registrationRequestSchema(rules: RequestRules) {
  return requestSchemaOf(rules, common(rules)).superRefine((request, ctx) => checkVerify(request, ctx));
}

export function registrationJobSchema(rules: RequestRules) {
  return jobSchemaOf(rules, common(rules)).superRefine((job, ctx) => checkVerify(job, ctx));
}

/** Auth methods whose credentials a verification can use today (a client assertion comes later). */
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
export function verificationWanted(request: {
  verify?: boolean | undefined;
  clientMetadata: unknown;
}): boolean {
  const { grantTypes, authMethod } = metadataFields(request.clientMetadata);
  if (request.verify === false) return false;
  const verifiable = (VERIFIABLE_AUTH_METHODS as readonly unknown[]).includes(authMethod);
  return verifiable && grantTypes.includes('client_credentials');
}

/** `verify: true` asks for a check that can be made: a client_credentials client with a client secret. */
function checkVerify(
  request: { verify?: boolean | undefined; clientMetadata: unknown },
  ctx: z.RefinementCtx,
): void {
  if (request.verify !== true) return;
  const { grantTypes, authMethod } = metadataFields(request.clientMetadata);
  if (!grantTypes.includes('client_credentials')) {
    ctx.addIssue({
      code: 'custom',
      path: ['verify'],
      message:
        'needs "client_credentials" in clientMetadata.grant_types: the check is a client_credentials token request',
    });
  } else if (!(VERIFIABLE_AUTH_METHODS as readonly unknown[]).includes(authMethod)) {
    ctx.addIssue({
      code: 'custom',
      path: ['verify'],
      message: `is available for client_secret_basic and client_secret_post clients; ${String(authMethod)} is not verified yet (send verify: false or leave it out)`,
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
