// The logger censors every secret field at every depth a caller plausibly logs it, keeps everything
// else, and the demo's pretty output is the same redacted record in readable form.

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { createLogger, REDACTED, secretKeysFromConfig } from '../../../src/observability/index.js';
import { formatLine } from '../../../src/observability/pretty-stream.js';

function capture(options: { pretty?: boolean } = {}) {
  const chunks: string[] = [];
  const logger = createLogger({
    level: 'debug',
    ...options,
    destination: { write: (chunk: string) => chunks.push(chunk) },
  });
  return { logger, text: () => chunks.join(''), records: () => chunks.map((c) => JSON.parse(c)) };
}

/** Wraps `leaf` in `depth - 1` parent objects: depth 1 is the top level of the logged object. */
function nest(depth: number, leaf: Record<string, unknown>): Record<string, unknown> {
  let value = leaf;
  for (let level = depth - 1; level >= 1; level--) value = { [`level${level}`]: value };
  return value;
}

/** One object holding every secret field the contract names, with values unique to the depth. */
function secretsAt(depth: number) {
  const v = (name: string) => `secret-${name}-at-${depth}`;
  const secretFields = {
    authorization: v('authorization'),
    Authorization: v('Authorization'),
    AUTHORIZATION: v('AUTHORIZATION'),
    client_secret: v('client_secret'),
    clientSecret: v('clientSecret'),
    registration_access_token: v('registration_access_token'),
    registrationAccessToken: v('registrationAccessToken'),
    initial_access_token: v('initial_access_token'),
    password: v('password'),
    token: v('token'),
    initialAccessToken: { value: v('iat-value') },
    write: {
      name: `dcr/tenant/server-${depth}`,
      value: v('write-value'),
      clientRequestToken: `crt-${depth}`,
    },
  };
  const kept = { tenantId: `tenant-${depth}`, serverHost: `fhir-${depth}.example`, attempt: depth };
  return {
    object: nest(depth, { ...secretFields, ...kept }),
    values: [
      ...Object.values(secretFields).filter((x): x is string => typeof x === 'string'),
      v('iat-value'),
      v('write-value'),
    ],
    kept,
  };
}

describe('observability/logger', () => {
  // Fixed depths, not derived from REDACTION_MAX_DEPTH, so lowering the constant fails here.
  it.each([1, 2, 3, 4])('censors every secret field at depth %i and keeps the other fields', (depth) => {
    const { logger, text, records } = capture();
    const { object, values, kept } = secretsAt(depth);
    logger.info(object, 'registration');
    for (const value of values) expect(text(), value).not.toContain(value);

    let record = records()[0];
    for (let level = 1; level < depth; level++) record = record[`level${level}`];
    expect(record).toMatchObject({ ...kept, client_secret: REDACTED, Authorization: REDACTED });
    // A secret write keeps its name and request token; only the value is the secret.
    expect(record.write).toEqual({
      name: `dcr/tenant/server-${depth}`,
      value: REDACTED,
      clientRequestToken: `crt-${depth}`,
    });
    expect(record.initialAccessToken).toEqual({ value: REDACTED });
  });

  it('censors an Authorization header in a request, an error and a response, in any common casing', () => {
    const { logger, text } = capture();
    logger.warn(
      {
        req: {
          method: 'POST',
          headers: { Authorization: 'Bearer header-1', 'content-type': 'application/json' },
        },
        err: { options: { headers: { authorization: 'Bearer header-2' } } },
        res: { request: { headers: { AUTHORIZATION: 'Bearer header-3', 'set-cookie': 'sid=header-4' } } },
      },
      'request failed',
    );
    for (const n of [1, 2, 3, 4]) expect(text()).not.toContain(`header-${n}`);
    expect(text()).toContain('application/json');
  });

  it('keeps the secretId of a queued initial access token and censors a resolved one', () => {
    const { logger, records } = capture();
    logger.info({ job: { initialAccessToken: { secretId: 'dcr/iat/tenant-1' } } }, 'queued');
    logger.info({ options: { initialAccessToken: 'resolved-iat-value' } }, 'resolved');
    const [queued, resolved] = records();
    expect(queued.job.initialAccessToken).toEqual({ secretId: 'dcr/iat/tenant-1' });
    expect(resolved.options.initialAccessToken).toBe(REDACTED);
  });

  it('leaves the logged object itself untouched', () => {
    const { logger } = capture();
    const object = { client: { clientSecret: 'still-here' } };
    logger.info(object, 'logged');
    expect(object.client.clientSecret).toBe('still-here');
  });

  it('honours the level: debug lines are dropped at info, everything at silent', () => {
    const chunks: string[] = [];
    const destination = { write: (chunk: string) => chunks.push(chunk) };
    createLogger({ level: 'info', destination }).debug({ a: 1 }, 'hidden');
    createLogger({ level: 'silent', destination }).error({ a: 1 }, 'hidden');
    createLogger({ level: 'info', destination }).info({ a: 1 }, 'shown');
    expect(chunks).toHaveLength(1);
    expect(JSON.parse(chunks[0] ?? '{}')).toMatchObject({
      level: 30,
      msg: 'shown',
      a: 1,
      time: expect.any(String),
    });
  });

  it('writes one readable, still redacted, line per entry when pretty', () => {
    const { logger, text } = capture({ pretty: true });
    logger.warn(
      { tenantId: 't-1', reason: 'two words', clientSecret: 'pretty-secret' },
      'registration job failed',
    );
    const line = text();
    expect(line).toMatch(
      /^\d{2}:\d{2}:\d{2}\.\d{3} WARN {2}registration job failed tenantId=t-1 reason="two words"/,
    );
    expect(line).toContain(`clientSecret=${REDACTED}`);
    expect(line).not.toContain('pretty-secret');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.split('\n')).toHaveLength(2);
  });

  it('passes a line that is not JSON through the pretty formatter unchanged', () => {
    expect(formatLine('plain text')).toBe('plain text');
  });

  it('censors the header names of SERVER_HEADERS at every depth, as written and lower-cased', () => {
    const config = loadConfig({
      SERVER_HEADERS: JSON.stringify({ 'fhir.epic.com': { 'Epic-Client-ID': 'parent-id' } }),
    });
    const chunks: string[] = [];
    const logger = createLogger({
      level: 'debug',
      secretKeys: secretKeysFromConfig(config),
      destination: { write: (chunk: string) => chunks.push(chunk) },
    });
    for (let depth = 1; depth <= 4; depth++) {
      logger.debug(
        nest(depth, { 'Epic-Client-ID': `parent-id-${depth}`, 'epic-client-id': `parent-id-${depth}` }),
        'x',
      );
    }
    logger.debug({ err: { options: { headers: { 'epic-client-id': 'parent-id-got' } } } }, 'x');
    const text = chunks.join('');
    expect(text).not.toContain('parent-id');
    expect(text.match(/\[Redacted\]/g)?.length).toBe(9);
  });
});
