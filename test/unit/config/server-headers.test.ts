// SERVER_HEADERS: extra headers per host (Epic's Epic-Client-ID), keyed like SERVER_LIMITS, checked at
// start. Every problem names the variable, the host and the header name — never the header's value,
// which may be a client id or a key.

import { describe, expect, it } from 'vitest';
import { loadConfig, REFUSED_SERVER_HEADERS } from '../../../src/config/index.js';
import { httpClientOptionsFromConfig } from '../../../src/http/index.js';
import { configProblems as problemsOf } from '../../support/config-problems.js';

const VALUE = 'parent-app-client-id-6d1f0c';

const headersEnv = (value: unknown) => ({ SERVER_HEADERS: JSON.stringify(value) });

describe('SERVER_HEADERS', () => {
  it('is unset by default', () => {
    expect(loadConfig({}).SERVER_HEADERS).toBeUndefined();
  });

  it('parses headers by host, keyed as a URL names the host, and freezes the result', () => {
    const config = loadConfig(
      headersEnv({
        'FHIR.Epic.com': { 'Epic-Client-ID': VALUE },
        'ehr.example:443': { 'X-Tenant': 'a', 'X-Empty': '' },
        'ehr.other.example:8443': { 'X-Other': 'b' },
      }),
    );
    expect(config.SERVER_HEADERS).toEqual({
      'fhir.epic.com': { 'Epic-Client-ID': VALUE },
      'ehr.example': { 'X-Tenant': 'a', 'X-Empty': '' },
      'ehr.other.example:8443': { 'X-Other': 'b' },
    });
    expect(new URL('https://FHIR.EPIC.COM:443/api/FHIR/R4').host in (config.SERVER_HEADERS ?? {})).toBe(true);
    expect(Object.isFrozen(config.SERVER_HEADERS)).toBe(true);
    expect(Object.isFrozen(config.SERVER_HEADERS?.['fhir.epic.com'])).toBe(true);
  });

  it('reaches the HTTP client of every process through httpClientOptionsFromConfig', () => {
    const config = loadConfig(headersEnv({ 'fhir.epic.com': { 'Epic-Client-ID': VALUE } }));
    expect(httpClientOptionsFromConfig(config).serverHeaders).toBe(config.SERVER_HEADERS);
    expect(httpClientOptionsFromConfig(loadConfig({})).serverHeaders).toEqual({});
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ SERVER_HEADERS: '  ' }).SERVER_HEADERS).toBeUndefined();
  });

  it.each(
    [...REFUSED_SERVER_HEADERS].flatMap((lower) => [
      lower,
      lower.toUpperCase(),
      lower.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase()),
    ]),
  )('refuses the header %s, naming host and header but not the value', (name) => {
    const message = problemsOf(headersEnv({ 'fhir.epic.com': { [name]: VALUE } }));
    expect(message).toContain(`SERVER_HEADERS host "fhir.epic.com" header "${name}" may not be set here`);
    expect(message).not.toContain(VALUE);
  });

  it('refuses exactly the credential, cookie, Host, framing and hop-by-hop headers', () => {
    expect([...REFUSED_SERVER_HEADERS].sort()).toEqual(
      [
        'authorization',
        'connection',
        'content-length',
        'content-type',
        'cookie',
        'host',
        'keep-alive',
        'proxy-authorization',
        'proxy-connection',
        'set-cookie',
        'te',
        'trailer',
        'transfer-encoding',
        'upgrade',
      ].sort(),
    );
  });

  it('refuses header names that are not HTTP tokens', () => {
    for (const name of ['Epic Client', 'X:Y', 'Épic', '', 'X-Id\r\n']) {
      const message = problemsOf(headersEnv({ 'fhir.epic.com': { [name]: VALUE } }));
      expect(message).toContain(
        `SERVER_HEADERS host "fhir.epic.com" header ${JSON.stringify(name)} is not a valid HTTP header name`,
      );
      expect(message).not.toContain(VALUE);
    }
  });

  it('refuses bad JSON and values that are not an object of objects, without echoing the value', () => {
    const badJson = problemsOf({ SERVER_HEADERS: `{"fhir.epic.com": {"Epic-Client-ID": "${VALUE}"` });
    expect(badJson).toContain('SERVER_HEADERS is not valid JSON; it must be a JSON object mapping hosts');
    expect(badJson).not.toContain(VALUE);

    const array = problemsOf(headersEnv([VALUE]));
    expect(array).toContain('SERVER_HEADERS must be a JSON object mapping hosts to header names and values');
    expect(array).not.toContain(VALUE);

    const notObject = problemsOf(headersEnv({ 'fhir.epic.com': VALUE }));
    expect(notObject).toContain(
      'SERVER_HEADERS host "fhir.epic.com" must map to an object of header names to string values',
    );
    expect(notObject).not.toContain(VALUE);
  });

  it('refuses a host key that is not a bare host, like SERVER_LIMITS', () => {
    expect(problemsOf(headersEnv({ 'https://fhir.epic.com/': { 'Epic-Client-ID': VALUE } }))).toContain(
      'SERVER_HEADERS host "https://fhir.epic.com/" must be a host name or address with an optional port',
    );
    expect(
      problemsOf(headersEnv({ 'fhir.epic.com': { A: 'x' }, 'FHIR.epic.com:443': { B: 'y' } })),
    ).toContain('SERVER_HEADERS host "FHIR.epic.com:443" is listed twice (as "fhir.epic.com")');
  });

  it('refuses a non-string value, naming the header but not the value', () => {
    for (const bad of [12345678, true, null, [VALUE], { id: VALUE }]) {
      const message = problemsOf(headersEnv({ 'fhir.epic.com': { 'Epic-Client-ID': bad } }));
      expect(message).toContain(
        'SERVER_HEADERS host "fhir.epic.com" header "Epic-Client-ID" must have a string value',
      );
      expect(message).not.toContain(VALUE);
      expect(message).not.toContain('12345678');
    }
  });

  it('refuses CR, LF or NUL in a value, naming the header but not the value', () => {
    for (const bad of [`${VALUE}\r\nX-Injected: 1`, `${VALUE}\n`, `\r${VALUE}`, `${VALUE}\u0000`]) {
      const message = problemsOf(headersEnv({ 'fhir.epic.com': { 'Epic-Client-ID': bad } }));
      expect(message).toContain(
        'SERVER_HEADERS host "fhir.epic.com" header "Epic-Client-ID" value must not contain CR, LF or NUL',
      );
      expect(message).not.toContain(VALUE);
      expect(message).not.toContain('X-Injected');
    }
  });

  it('refuses the same header twice in different case', () => {
    expect(
      problemsOf(headersEnv({ 'fhir.epic.com': { 'Epic-Client-ID': 'a', 'epic-client-id': 'b' } })),
    ).toContain('SERVER_HEADERS host "fhir.epic.com" header "epic-client-id" is listed twice');
  });

  it('reports every bad entry at once and never echoes the raw variable', () => {
    const message = problemsOf(
      headersEnv({
        'fhir.epic.com': { Authorization: `Bearer ${VALUE}`, 'Epic-Client-ID': 7 },
        'ehr.example': { Cookie: VALUE },
      }),
    );
    expect(message).toContain('header "Authorization" may not be set here');
    expect(message).toContain('header "Epic-Client-ID" must have a string value');
    expect(message).toContain('host "ehr.example" header "Cookie" may not be set here');
    expect(message).not.toContain(VALUE);
    expect(message).not.toContain('(got');
  });
});
