// The politeness variables: documented defaults, per-host overrides keyed as the limiter sees hosts, and
// errors that name the host and the field.

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { serverLimiterSettingsFromConfig } from '../../../src/limits/index.js';
import { configProblems as problemsOf } from '../../support/config-problems.js';

describe('limits configuration', () => {
  it('defaults to 4 in flight and 5 requests/s per server, a breaker at 5 failures for 60 s, 40 writes/s', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      SERVER_MAX_IN_FLIGHT: 4,
      SERVER_RATE_PER_S: 5,
      BREAKER_FAILURE_THRESHOLD: 5,
      BREAKER_COOLDOWN_MS: 60_000,
      SECRET_WRITES_PER_S: 40,
    });
    expect(config.SERVER_LIMITS).toBeUndefined();
    expect(serverLimiterSettingsFromConfig(config)).toEqual({
      defaults: { concurrency: 4, ratePerSecond: 5 },
      overrides: {},
      breaker: { failureThreshold: 5, cooldownMs: 60_000 },
      leaseTtlMs: 30_000,
    });
  });

  it('accepts decimal rates, such as one request every two seconds', () => {
    expect(loadConfig({ SERVER_RATE_PER_S: '0.5', SECRET_WRITES_PER_S: '12.5' })).toMatchObject({
      SERVER_RATE_PER_S: 0.5,
      SECRET_WRITES_PER_S: 12.5,
    });
  });

  it('keys SERVER_LIMITS by host as a URL names it: lower case, the default https port dropped', () => {
    const config = loadConfig({
      SERVER_LIMITS: JSON.stringify({
        'EHR.Example': { concurrency: 2, ratePerSecond: 1 },
        'fhir.other.example:8443': { ratePerSecond: 0.5 },
        'plain.example:443': { concurrency: 1 },
        '127.0.0.1:8080': { concurrency: 3 },
      }),
    });
    expect(config.SERVER_LIMITS).toEqual({
      'ehr.example': { concurrency: 2, ratePerSecond: 1 },
      'fhir.other.example:8443': { ratePerSecond: 0.5 },
      'plain.example': { concurrency: 1 },
      '127.0.0.1:8080': { concurrency: 3 },
    });
    expect(new URL('https://EHR.Example/fhir').host in (config.SERVER_LIMITS ?? {})).toBe(true);
  });

  it('names the host and the field of every bad SERVER_LIMITS entry, all at once', () => {
    const message = problemsOf({
      SERVER_LIMITS: JSON.stringify({
        'ehr.example': { concurrency: 0 },
        'slow.example': { ratePerSecond: 'fast' },
        'odd.example': { burst: 3 },
        'https://ehr.example/fhir': { concurrency: 1 },
        'list.example': [1],
      }),
    });
    expect(message).toContain(
      'SERVER_LIMITS host "ehr.example" field "concurrency" must be a whole number from 1 to 1000 (got 0)',
    );
    expect(message).toContain(
      'host "slow.example" field "ratePerSecond" must be a number from 0.01 to 10000',
    );
    expect(message).toContain('host "odd.example" has an unknown field "burst"');
    expect(message).toContain('host "https://ehr.example/fhir" must be a host name');
    expect(message).toContain('host "list.example" must map to an object');
  });

  it('refuses SERVER_LIMITS that is not a JSON object, showing the expected shape', () => {
    expect(problemsOf({ SERVER_LIMITS: '{ehr.example: 2}' })).toMatch(
      /SERVER_LIMITS is not valid JSON; it must be a JSON object mapping hosts to limits, e\.g\. \{"ehr\.example"/,
    );
    expect(problemsOf({ SERVER_LIMITS: '[1]' })).toContain(
      'SERVER_LIMITS must be a JSON object mapping hosts',
    );
  });

  it('refuses a host listed twice under two spellings', () => {
    expect(
      problemsOf({ SERVER_LIMITS: '{"ehr.example": {"concurrency": 1}, "EHR.example": {"concurrency": 2}}' }),
    ).toContain('host "EHR.example" is listed twice (as "ehr.example")');
  });

  it('refuses zero or non-numeric defaults with the variable named', () => {
    const message = problemsOf({
      SERVER_MAX_IN_FLIGHT: '0',
      SERVER_RATE_PER_S: 'lots',
      BREAKER_FAILURE_THRESHOLD: '-1',
      SECRET_WRITES_PER_S: '0',
    });
    expect(message).toContain('SERVER_MAX_IN_FLIGHT must be at least 1');
    expect(message).toContain('SERVER_RATE_PER_S must be a number from 0.01 to 10000');
    expect(message).toContain('BREAKER_FAILURE_THRESHOLD must be a whole number');
    expect(message).toContain('SECRET_WRITES_PER_S must be at least 0.1');
  });

  it('gives permits a lease of three HTTP timeouts, so a dead worker never holds a slot for long', () => {
    const config = loadConfig({ HTTP_TIMEOUT_MS: '2000' });
    expect(serverLimiterSettingsFromConfig(config).leaseTtlMs).toBe(6000);
  });
});
