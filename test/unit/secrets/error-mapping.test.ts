// The SDK-error → failure-code table of the AWS adapter. Errors are built by hand with the `name`,
// `code` and `$fault` the SDK gives them, which is all the mapping may look at.

import { ResourceExistsException } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import type { FailureCode } from '../../../src/failures/index.js';
import { secretStoreErrorFromAws, sensitiveStrings } from '../../../src/secrets/aws-error.js';

const SECRET = 'dcr/tenant-1/ehr.example_fhir';
const VALUE = JSON.stringify({ client_id: 'client-123', client_secret: 's3cr3t-value-that-must-not-leak' });
const TOKEN = 'f'.repeat(64);

interface Shape {
  name: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  status?: number;
}

function sdkError({ name, message = `${name} happened`, code, $fault, status }: Shape): Error {
  return Object.assign(new Error(message), {
    name,
    ...(code === undefined ? {} : { code }),
    ...($fault === undefined ? {} : { $fault }),
    $metadata: { httpStatusCode: status, attempts: 1 },
  });
}

const write = { operation: 'PutSecretValue', secretName: SECRET, sensitive: sensitiveStrings(VALUE, TOKEN) };

describe('secrets/aws error mapping', () => {
  it.each<[string, Shape, FailureCode, boolean]>([
    [
      'throttling',
      { name: 'ThrottlingException', $fault: 'client', status: 400 },
      'secret_store_unavailable',
      false,
    ],
    [
      'the write quota',
      { name: 'LimitExceededException', $fault: 'client', status: 400 },
      'secret_store_unavailable',
      false,
    ],
    [
      '429',
      { name: 'TooManyRequestsException', $fault: 'client', status: 429 },
      'secret_store_unavailable',
      false,
    ],
    [
      'a service fault',
      { name: 'InternalServiceError', $fault: 'server', status: 500 },
      'secret_store_unavailable',
      true,
    ],
    ['503', { name: 'ServiceUnavailable', $fault: 'server', status: 503 }, 'secret_store_unavailable', true],
    ['an SDK timeout', { name: 'TimeoutError' }, 'secret_store_unavailable', true],
    ['a refused connection', { name: 'Error', code: 'ECONNREFUSED' }, 'secret_store_unavailable', false],
    ['a DNS failure', { name: 'Error', code: 'ENOTFOUND' }, 'secret_store_unavailable', false],
    ['a reset connection', { name: 'Error', code: 'ECONNRESET' }, 'secret_store_unavailable', true],
    [
      'an unmodelled server fault',
      { name: 'Unknown', $fault: 'server', status: 502 },
      'secret_store_unavailable',
      true,
    ],
    ['an unparsable answer', { name: 'SyntaxError', status: 500 }, 'secret_store_unavailable', true],
    [
      'expired credentials',
      { name: 'ExpiredTokenException', $fault: 'client' },
      'secret_store_unavailable',
      false,
    ],
    [
      'access denied',
      { name: 'AccessDeniedException', $fault: 'client', status: 400 },
      'secret_store_rejected',
      false,
    ],
    [
      'an invalid request',
      { name: 'InvalidRequestException', $fault: 'client' },
      'secret_store_rejected',
      false,
    ],
    [
      'an invalid parameter',
      { name: 'InvalidParameterException', $fault: 'client' },
      'secret_store_rejected',
      false,
    ],
    ['a reused token', { name: 'ResourceExistsException', $fault: 'client' }, 'secret_store_rejected', false],
    [
      'a KMS encryption failure',
      { name: 'EncryptionFailure', $fault: 'client' },
      'secret_store_rejected',
      false,
    ],
    [
      'a KMS decryption failure',
      { name: 'DecryptionFailure', $fault: 'client' },
      'secret_store_rejected',
      false,
    ],
    [
      'a bad page token',
      { name: 'InvalidNextTokenException', $fault: 'client' },
      'secret_store_rejected',
      false,
    ],
    ['missing credentials', { name: 'CredentialsProviderError' }, 'secret_store_rejected', false],
    [
      'unknown credentials',
      { name: 'UnrecognizedClientException', $fault: 'client' },
      'secret_store_rejected',
      false,
    ],
    ['a missing region', { name: 'Error', message: 'Region is missing' }, 'secret_store_rejected', false],
    [
      'an unmodelled client fault',
      { name: 'Unknown', $fault: 'client', status: 404 },
      'secret_store_rejected',
      false,
    ],
  ])('maps %s during a write to its code', (_, shape, code, outcomeUnknown) => {
    const mapped = secretStoreErrorFromAws(sdkError(shape), write);
    expect(mapped).toMatchObject({
      name: 'ProvisioningError',
      code,
      retryable: code === 'secret_store_unavailable',
    });
    expect(mapped.outcomeUnknown).toBe(outcomeUnknown);
    expect(mapped.message).toContain(SECRET);
  });

  it('decides by name, not by HTTP status', () => {
    const denied = secretStoreErrorFromAws(sdkError({ name: 'AccessDeniedException', status: 503 }), write);
    expect(denied.code).toBe('secret_store_rejected');
    const throttled = secretStoreErrorFromAws(sdkError({ name: 'ThrottlingException', status: 400 }), write);
    expect(throttled.code).toBe('secret_store_unavailable');
  });

  it('never marks a failed read as possibly applied', () => {
    const read = { operation: 'GetSecretValue', secretName: SECRET };
    expect(secretStoreErrorFromAws(sdkError({ name: 'TimeoutError' }), read).outcomeUnknown).toBe(false);
  });

  it('reads a missing secret as "not found" only where a write cannot have missed it', () => {
    const notFound = sdkError({ name: 'ResourceNotFoundException', $fault: 'client', status: 404 });
    const onCreate = secretStoreErrorFromAws(notFound, { ...write, operation: 'CreateSecret' });
    expect(onCreate.code).toBe('secret_store_rejected');
    expect(onCreate.message).toContain('SECRETS_KMS_KEY_ID');
    expect(secretStoreErrorFromAws(notFound, write).code).toBe('secret_store_unavailable');
  });

  it('names the IAM action to allow when access is denied', () => {
    const mapped = secretStoreErrorFromAws(sdkError({ name: 'AccessDeniedException' }), write);
    expect(mapped.message).toContain('secretsmanager:PutSecretValue');
  });

  it('tells how to restore a secret when the request is invalid in its current state', () => {
    const mapped = secretStoreErrorFromAws(sdkError({ name: 'InvalidRequestException' }), write);
    expect(mapped.message).toContain(`aws secretsmanager restore-secret --secret-id ${SECRET}`);
  });

  it('keeps the token and the value out of the message even when AWS echoes them', () => {
    const echoed = new ResourceExistsException({
      message: `You can't use ClientRequestToken ${TOKEN} because that value is already in use`,
      $metadata: {},
    });
    const denied = sdkError({
      name: 'InvalidParameterException',
      message: `bad SecretString ${VALUE} (client_secret s3cr3t-value-that-must-not-leak)`,
    });
    for (const err of [echoed, denied]) {
      const mapped = secretStoreErrorFromAws(err, write);
      for (const text of [mapped.message, JSON.stringify(mapped)]) {
        expect(text).not.toContain(TOKEN);
        expect(text).not.toContain('s3cr3t-value-that-must-not-leak');
        expect(text).not.toContain(VALUE);
      }
    }
  });

  it('keeps the SDK error as a cause that serialising skips', () => {
    const original = sdkError({ name: 'AccessDeniedException' });
    const mapped = secretStoreErrorFromAws(original, write);
    expect(mapped.cause).toBe(original);
    expect(Object.keys(mapped)).not.toContain('cause');
    expect(JSON.stringify(mapped)).not.toContain('$metadata');
  });

  it('passes a ProvisioningError through unchanged', () => {
    const first = secretStoreErrorFromAws(sdkError({ name: 'ThrottlingException' }), write);
    expect(secretStoreErrorFromAws(first, write)).toBe(first);
  });

  it('flattens and caps the SDK message it quotes', () => {
    const long = sdkError({
      name: 'InvalidParameterException',
      message: `line one\n\tline two ${'x'.repeat(1000)}`,
    });
    const mapped = secretStoreErrorFromAws(long, write);
    expect(mapped.message).not.toMatch(/[\n\t]/);
    expect(mapped.message.length).toBeLessThan(600);
  });
});
