// Translates what the AWS SDK throws into the two secret-store failure codes. Branches on `err.name`
// (and the SDK's own `$fault` for unmodelled errors), never on HTTP status: moto and AWS differ there.

import { AFTER_SEND_CODES, NOT_SENT_CODES, ProvisioningError, redact } from '../failures/index.js';
import { TOKEN_REUSED_PROBLEM } from './validate-secret-write.js';

export interface AwsCallContext {
  /** The Secrets Manager operation, e.g. `PutSecretValue`; named in access-denied hints. */
  operation: string;
  /** The secret, or for ListSecrets the prefix, named in the message. */
  secretName: string;
  /** Strings that must not reach the message even if AWS echoes them (the value, the token). */
  sensitive?: readonly string[];
  /** The call is a step of a write (DescribeSecret before PutSecretValue). @defaultValue by operation */
  writing?: boolean;
}

interface AwsErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

// The SDK's own throttling list (it retries these itself before we see them); in Secrets Manager
// LimitExceededException is the write quota of 50 requests/s.
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'LimitExceededException',
  'SlowDown',
]);
const SERVICE_FAULTS = new Set([
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);
const TIMEOUTS = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
// Refreshable credentials (instance roles, IRSA) recover from these by themselves, so they are retried.
const EXPIRED_CREDENTIALS = new Set(['ExpiredTokenException', 'ExpiredToken', 'RequestExpired']);
const BAD_CREDENTIALS = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'AuthFailure',
]);
const WRITE_OPERATIONS = new Set(['CreateSecret', 'PutSecretValue', 'UpdateSecretVersionStage']);

const MAX_DETAIL = 300;

export function restoreHint(secretName: string): string {
  return `restore it with \`aws secretsmanager restore-secret --secret-id ${secretName}\``;
}

/** The SDK's message, one line, capped, with every sensitive string replaced. */
function detail(err: AwsErrorShape, sensitive: readonly string[]): string {
  const text = typeof err.message === 'string' ? err.message : '';
  const redacted = redact(text, sensitive);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const flat = redacted.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
  return flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL)}…` : flat;
}

function subject(context: AwsCallContext): string {
  if (context.operation === 'ListSecrets') return `cannot list secrets under ${context.secretName}`;
  if (context.writing ?? WRITE_OPERATIONS.has(context.operation))
    return `cannot write secret ${context.secretName}`;
  return `cannot read secret ${context.secretName}`;
}

export function secretStoreErrorFromAws(err: unknown, context: AwsCallContext): ProvisioningError {
  if (err instanceof ProvisioningError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const sensitive = context.sensitive ?? [];
  const what = subject(context);
  const isWrite = WRITE_OPERATIONS.has(context.operation);
  const status = e.$metadata?.httpStatusCode;
  const why = (text: string) => {
    const d = detail(e, sensitive);
    return d ? `${name}: ${d}${text}` : `${name}${text}`;
  };
  const rejected = (problem: string) =>
    new ProvisioningError('secret_store_rejected', `${what}: ${problem}`, { status, cause: err });
  const unavailable = (problem: string, outcomeUnknown = false) =>
    new ProvisioningError('secret_store_unavailable', `${what}: ${problem}`, {
      status,
      outcomeUnknown: isWrite && outcomeUnknown,
      cause: err,
    });

  switch (name) {
    case 'AccessDeniedException':
      return rejected(
        `access denied (${why('')}); allow secretsmanager:${context.operation} on it for this process's role`,
      );
    case 'InvalidRequestException':
      return rejected(
        `Secrets Manager refused the request in the secret's current state (${why('')}); if it is scheduled for deletion, ${restoreHint(context.secretName)}`,
      );
    case 'InvalidParameterException':
      return rejected(`Secrets Manager refused a parameter (${why('')})`);
    case 'ResourceExistsException':
      return rejected(`${TOKEN_REUSED_PROBLEM} (${name})`);
    case 'EncryptionFailure':
    case 'DecryptionFailure':
      return rejected(
        `KMS could not ${name === 'EncryptionFailure' ? 'encrypt' : 'decrypt'} the value (${why('')}); check that the KMS key (SECRETS_KMS_KEY_ID) is enabled and this role may use it`,
      );
    case 'InvalidNextTokenException':
      return rejected(`the page token is invalid or expired (${name}); list again from the first page`);
    case 'ResourceNotFoundException':
      // CreateSecret cannot miss the secret it creates: what is missing is the KMS key.
      if (context.operation === 'CreateSecret') {
        return rejected(`a resource it needs was not found (${why('')}); check SECRETS_KMS_KEY_ID`);
      }
      return unavailable(`the secret disappeared during the operation (${name}); a retry writes it afresh`);
  }

  if (BAD_CREDENTIALS.has(name)) {
    return rejected(
      `AWS credentials are missing or were refused (${why('')}); configure this process's credentials`,
    );
  }
  if (name === 'Error' && e.message === 'Region is missing') {
    return rejected('no AWS region is configured; set AWS_REGION');
  }
  if (EXPIRED_CREDENTIALS.has(name)) {
    return unavailable(`the AWS credentials have expired (${name}); retrying with refreshed credentials`);
  }
  if (THROTTLING.has(name)) {
    return unavailable(`Secrets Manager is throttling requests (${name}); retry later`);
  }
  if (SERVICE_FAULTS.has(name)) return unavailable(`Secrets Manager failed (${name})`, true);
  if (TIMEOUTS.has(name)) return unavailable(`the request to Secrets Manager timed out (${name})`, true);
  if (name === 'AbortError') return unavailable('the request to Secrets Manager was aborted', true);
  if (e.code !== undefined && NOT_SENT_CODES.has(e.code)) {
    return unavailable(`cannot reach Secrets Manager (${e.code})`);
  }
  if (e.code !== undefined && AFTER_SEND_CODES.has(e.code)) {
    return unavailable(`the connection to Secrets Manager failed (${e.code})`, true);
  }
  if (e.$fault === 'client' && e.$retryable === undefined) {
    return rejected(`Secrets Manager refused the request (${why('')})`);
  }
  // Server faults, retryable traits and anything unforeseen (e.g. an unparsable answer): retrying is
  // the safe default, and the job's attempt budget bounds it.
  return unavailable(
    `unexpected failure talking to Secrets Manager (${name}${e.code ? ` ${e.code}` : ''})`,
    true,
  );
}

/** The value, the token and every longer string inside the value: whatever AWS might echo back. */
export function sensitiveStrings(value: string, clientRequestToken: string): string[] {
  const out = [value, clientRequestToken];
  const walk = (node: unknown): void => {
    if (typeof node === 'string') {
      if (node.length >= 8) out.push(node);
    } else if (Array.isArray(node)) {
      node.forEach(walk);
    } else if (typeof node === 'object' && node !== null) {
      Object.values(node).forEach(walk);
    }
  };
  try {
    walk(JSON.parse(value));
  } catch {
    // Not JSON: the whole value is already in the list.
  }
  // Longest first, so a string is not half-replaced by one of its own substrings.
  return out.sort((a, b) => b.length - a.length);
}
