// The failure codes of the contract (DESIGN.md "Failure codes"). A job's failedReason, its metrics and
// its events carry exactly these strings; retired codes are never reused.

export const FAILURE_CODES = {
  invalid_job: {
    retryable: false,
    cause:
      'payload fails its schema, or local metadata rules (jwks with jwks_uri, private key material, grant/response type mismatch, missing redirect_uris for authorization_code, a grant type or auth method that is neither registered nor an extension URI, client_credentials for a public client, ...)',
  },
  insecure_endpoint: { retryable: false, cause: 'non-https URL, blocked address, redirect to http' },
  discovery_invalid: {
    retryable: false,
    cause: 'discovery document missing, not JSON, or lacks required fields',
  },
  no_registration_endpoint: {
    retryable: false,
    cause: 'server advertises no registration endpoint and none was given',
  },
  unauthorized: {
    retryable: false,
    cause: '401/403 from the registration endpoint (missing, expired or used initial access token)',
  },
  invalid_redirect_uri: { retryable: false, cause: "the server's RFC 7591 error" },
  invalid_client_metadata: { retryable: false, cause: "the server's RFC 7591 error" },
  invalid_software_statement: { retryable: false, cause: "the server's RFC 7591 error" },
  unapproved_software_statement: { retryable: false, cause: "the server's RFC 7591 error" },
  rejected: { retryable: false, cause: 'any other 4xx' },
  invalid_response: { retryable: false, cause: '2xx without a usable client_id' },
  rate_limited: { retryable: true, cause: '429 (and 503 with Retry-After)' },
  server_error: { retryable: true, cause: '5xx (502/504 to a POST or PUT also mark the outcome unknown)' },
  network_error: { retryable: true, cause: 'connection failures' },
  timeout: {
    retryable: true,
    cause: 'no answer in time, or 408; a timeout after the request was sent marks the outcome unknown',
  },
  secret_store_unavailable: {
    retryable: true,
    cause: 'throttling, 5xx, network to the secret store',
  },
  secret_store_rejected: {
    retryable: false,
    cause: 'access denied, secret scheduled for deletion, invalid name, value too large',
  },
  verification_failed: {
    retryable: true,
    cause:
      'the token endpoint refused the new credentials (retried a few times: registrations propagate; then the job completes with verified: false)',
  },
  job_stalled: {
    retryable: false,
    cause: "the job's worker died or stalled too often (BullMQ stalled limit)",
  },
} as const satisfies Record<string, { retryable: boolean; cause: string }>;

export type FailureCode = keyof typeof FAILURE_CODES;

export const failureCodes = Object.keys(FAILURE_CODES) as FailureCode[];

export function isFailureCode(value: unknown): value is FailureCode {
  return typeof value === 'string' && Object.hasOwn(FAILURE_CODES, value);
}

export function isRetryable(code: FailureCode): boolean {
  return FAILURE_CODES[code].retryable;
}
