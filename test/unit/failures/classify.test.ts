import { describe, expect, it } from 'vitest';
import {
  classify,
  classifyResponse,
  isRetryable,
  ProvisioningError,
  parseRetryAfter,
} from '../../../src/failures/index.js';

const answer = (status: number, body: unknown = '', headers: Record<string, string> = {}) => ({
  status,
  headers,
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('failures/classifyResponse', () => {
  it('maps each RFC 7591 error of a 400 from the registration endpoint to its own code', () => {
    for (const error of [
      'invalid_redirect_uri',
      'invalid_client_metadata',
      'invalid_software_statement',
      'unapproved_software_statement',
    ] as const) {
      const failure = classifyResponse('registration', answer(400, { error, error_description: 'nope' }));
      expect(failure.code).toBe(error);
      expect(failure.retryable).toBe(false);
      expect(failure.message).toContain('nope');
    }
  });

  it('treats an unknown 4xx error as rejected and 401/403 as unauthorized', () => {
    expect(classifyResponse('registration', answer(400, { error: 'invalid_request' })).code).toBe('rejected');
    expect(classifyResponse('registration', answer(404)).code).toBe('rejected');
    expect(classifyResponse('registration', answer(401, { error: 'invalid_token' })).code).toBe(
      'unauthorized',
    );
    expect(classifyResponse('management', answer(403)).code).toBe('unauthorized');
  });

  it('retries 429 and 503-with-Retry-After as rate_limited, carrying the delay', () => {
    const limited = classifyResponse('registration', answer(429, '', { 'retry-after': '7' }));
    expect(limited).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 7000, status: 429 });
    const busy = classifyResponse('registration', answer(503, '', { 'retry-after': '2' }));
    expect(busy).toMatchObject({ code: 'rate_limited', retryAfterMs: 2000 });
  });

  it('retries any other 5xx as server_error', () => {
    expect(classifyResponse('registration', answer(503))).toMatchObject({
      code: 'server_error',
      retryable: true,
    });
    expect(classifyResponse('discovery', answer(500))).toMatchObject({
      code: 'server_error',
      retryable: true,
    });
  });

  it('marks a 502 or 504 to a registration or management request as an unknown outcome, but not a 500 or 503', () => {
    for (const status of [502, 504]) {
      for (const stage of ['registration', 'management'] as const) {
        expect(classifyResponse(stage, answer(status))).toMatchObject({
          code: 'server_error',
          retryable: true,
          outcomeUnknown: true,
        });
      }
      // A discovery GET changes nothing at the server, whatever the gateway lost.
      expect(classifyResponse('discovery', answer(status)).outcomeUnknown).toBe(false);
    }
    expect(classifyResponse('registration', answer(500)).outcomeUnknown).toBe(false);
    expect(classifyResponse('registration', answer(503)).outcomeUnknown).toBe(false);
  });

  it('retries a 408 as timeout with a known outcome: the server did not process the request', () => {
    expect(classifyResponse('registration', answer(408))).toMatchObject({
      code: 'timeout',
      retryable: true,
      outcomeUnknown: false,
    });
  });

  it('calls a discovery 4xx discovery_invalid', () => {
    expect(classifyResponse('discovery', answer(403)).code).toBe('discovery_invalid');
  });

  it('never repeats a token the server echoes back in its error description', () => {
    const token = 'iat-very-secret-value';
    const failure = classifyResponse(
      'registration',
      answer(401, { error: 'invalid_token', error_description: `token ${token} expired` }),
      [token],
    );
    expect(failure.message).not.toContain(token);
    expect(failure.message).toContain('[REDACTED]');
  });

  it('keeps server text short and free of control characters', () => {
    const failure = classifyResponse(
      'registration',
      answer(400, { error: 'invalid_client_metadata', error_description: `a\nb${'x'.repeat(1000)}` }),
    );
    expect(failure.message).not.toContain('\n');
    expect(failure.message.length).toBeLessThan(400);
  });
});

describe('failures/classify', () => {
  it('reports a timeout after the request was sent as timeout with an unknown outcome', () => {
    const err = Object.assign(new Error('Timeout awaiting response'), {
      name: 'TimeoutError',
      event: 'response',
      timings: { upload: 123 },
    });
    expect(classify(err, 'registration')).toMatchObject({
      code: 'timeout',
      outcomeUnknown: true,
      retryable: true,
    });
  });

  it('reports a connect timeout as timeout with a known outcome', () => {
    const err = Object.assign(new Error('Timeout'), { name: 'TimeoutError', event: 'connect', timings: {} });
    expect(classify(err, 'registration')).toMatchObject({ code: 'timeout', outcomeUnknown: false });
  });

  it('maps connection errors to network_error and TLS failures to insecure_endpoint', () => {
    const reset = Object.assign(new Error('socket hang up'), { name: 'RequestError', code: 'ECONNRESET' });
    expect(classify(reset, 'discovery').code).toBe('network_error');
    const tls = Object.assign(new Error('cert'), { name: 'RequestError', code: 'CERT_HAS_EXPIRED' });
    expect(classify(tls, 'discovery')).toMatchObject({ code: 'insecure_endpoint', retryable: false });
  });

  it('maps blocked addresses and oversized bodies by stage', () => {
    const blocked = Object.assign(new Error('refused'), { name: 'OutboundBlockedError' });
    expect(classify(blocked, 'registration').code).toBe('insecure_endpoint');
    const large = Object.assign(new Error('too large'), { name: 'ResponseTooLargeError' });
    expect(classify(large, 'discovery').code).toBe('discovery_invalid');
    expect(classify(large, 'registration').code).toBe('invalid_response');
  });

  it('passes a ProvisioningError through unchanged', () => {
    const original = new ProvisioningError('secret_store_rejected', 'denied');
    expect(classify(original, 'registration')).toBe(original);
  });

  it('serialises without its cause, so a response never reaches a log through it', () => {
    const failure = new ProvisioningError('rejected', 'no', { cause: { body: 'client_secret=abc' } });
    expect(JSON.stringify(failure)).not.toContain('client_secret');
    expect(failure.toFailedReason()).toBe('rejected: no');
  });
});

describe('failures/parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
  });

  it('caps long delays and ignores garbage', () => {
    expect(parseRetryAfter('86400', now, 60_000)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
  });
});

describe('failures/codes', () => {
  it('retries exactly the transient codes', () => {
    const retried = ['rate_limited', 'server_error', 'network_error', 'timeout', 'secret_store_unavailable'];
    for (const code of retried) expect(isRetryable(code as never)).toBe(true);
    expect(isRetryable('invalid_job')).toBe(false);
  });
});

describe('failures/classifyResponse and long server text', () => {
  it('leaves no part of an echoed token when the description is cut to length', () => {
    const token = 'IAT-SECRET-0123456789abcdef';
    const failure = classifyResponse(
      'registration',
      answer(400, {
        error: 'invalid_client_metadata',
        error_description: `${'x'.repeat(285)} token ${token}`,
      }),
      [token],
    );
    expect(failure.message).not.toContain('IAT-SECRET');
  });
});
