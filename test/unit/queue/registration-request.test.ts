import { describe, expect, it } from 'vitest';
import { backendServicesMetadata } from '../../../src/dcr/index.js';
import {
  registrationJobSchema,
  registrationKey,
  registrationRequestSchema,
  requestIssues,
} from '../../../src/queue/index.js';
import { verificationWanted } from '../../../src/queue/registration-request.js';
import { publicJwks } from '../dcr/jwk-fixtures.js';

const schema = registrationRequestSchema({ allowInsecureLocalhost: false });
const valid = {
  tenantId: 'acme-health',
  fhirBaseUrl: 'https://ehr.example/fhir/r4',
  clientMetadata: { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' },
};

function issuesOf(input: unknown) {
  const result = schema.safeParse(input);
  expect(result.success).toBe(false);
  return result.success ? [] : requestIssues(result.error);
}

describe('queue/registrationRequestSchema', () => {
  it('accepts a valid request and defaults the reason to onboarding', () => {
    const parsed = schema.parse(valid);
    expect(parsed.reason).toBe('onboarding');
  });

  it('names each bad field by its JSON path', () => {
    const issues = issuesOf({
      ...valid,
      tenantId: '-bad',
      fhirBaseUrl: 'http://ehr.example/fhir',
      clientMetadata: { grant_types: ['authorization_code'], jwks_uri: 'https://x', jwks: { keys: [] } },
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('tenantId');
    expect(paths).toContain('fhirBaseUrl');
    expect(paths).toContain('clientMetadata.redirect_uris');
    expect(paths).toContain('clientMetadata.jwks');
  });

  it('answers one issue at (root) for a body that is not an object, and nothing about its fields', () => {
    for (const body of [[valid], 'acme-health', null]) {
      expect(issuesOf(body).map((i) => i.path)).toEqual(['(root)']);
    }
  });

  it('refuses unknown fields, so a typo is not silently ignored', () => {
    expect(issuesOf({ ...valid, tenantID: 'x' })).toEqual([
      { path: 'tenantID', message: 'is not a known field' },
    ]);
  });

  it('accepts an initial access token by reference or by value, nothing else', () => {
    expect(schema.safeParse({ ...valid, initialAccessToken: { secretId: 'dcr/iat' } }).success).toBe(true);
    expect(schema.safeParse({ ...valid, initialAccessToken: { value: 'abc' } }).success).toBe(true);
    expect(issuesOf({ ...valid, initialAccessToken: { token: 'abc' } })[0]?.path).toBe('initialAccessToken');
  });

  it('refuses a FHIR base URL with a query, and plain http unless loopback is allowed', () => {
    expect(issuesOf({ ...valid, fhirBaseUrl: 'https://ehr.example/fhir?x=1' })[0]?.path).toBe('fhirBaseUrl');
    const local = { ...valid, fhirBaseUrl: 'http://127.0.0.1:8080/fhir' };
    expect(schema.safeParse(local).success).toBe(false);
    expect(registrationRequestSchema({ allowInsecureLocalhost: true }).safeParse(local).success).toBe(true);
  });
});

describe('queue/registrationKey', () => {
  it('is the same for spellings of one server and has no colon', () => {
    const a = registrationKey('t1', 'https://EHR.example/fhir/');
    expect(a).toBe(registrationKey('t1', 'https://ehr.example/fhir'));
    expect(a).not.toContain(':');
    expect(a).not.toBe(registrationKey('t2', 'https://ehr.example/fhir'));
  });
});

describe('queue/registrationRequestSchema with a secret name prefix', () => {
  const strict = registrationRequestSchema({ allowInsecureLocalhost: false, secretNamePrefix: 'dcr/' });
  const issues = (input: unknown) => {
    const result = strict.safeParse(input);
    return result.success ? [] : requestIssues(result.error);
  };

  it("reads an initial access token only from under the tenant's own prefix", () => {
    expect(issues({ ...valid, initialAccessToken: { secretId: 'dcr/acme-health/iat' } })).toEqual([]);
    expect(issues({ ...valid, initialAccessToken: { secretId: 'dcr/other-tenant/iat' } })).toEqual([
      { path: 'initialAccessToken.secretId', message: 'must name a secret under dcr/acme-health/' },
    ]);
  });

  it('accepts a base URL too long for a whole secret name, whose name is shortened to fit', () => {
    expect(issues({ ...valid, fhirBaseUrl: `https://ehr.example/${'p'.repeat(600)}` })).toEqual([]);
  });

  it('answers up front when the base URL leads to a secret name Secrets Manager refuses', () => {
    // The registration's name is shortened to 512 characters; the token's name beside it cannot be.
    const long = {
      ...valid,
      fhirBaseUrl: `https://ehr.example/${'p'.repeat(600)}`,
      initialAccessToken: { value: 'iat' },
    };
    expect(issues(long)).toEqual([
      { path: 'fhirBaseUrl', message: expect.stringMatching(/512.*use a shorter base URL or tenant id$/) },
    ]);
  });

  it('accepts a private IP literal only when it is allow-listed', () => {
    const privateIp = { ...valid, fhirBaseUrl: 'https://10.0.0.5/fhir' };
    expect(issues(privateIp).map((i) => i.path)).toEqual(['fhirBaseUrl']);
    const allowed = registrationRequestSchema({
      allowInsecureLocalhost: false,
      allowedPrivateHosts: ['10.0.0.5'],
    });
    expect(allowed.safeParse(privateIp).success).toBe(true);
  });

  describe('verify', () => {
    const secretClient = {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    };
    const keyClient = { ...secretClient, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } };

    it('defaults to checking client_credentials clients with a client secret, and nothing else', () => {
      expect(verificationWanted({ clientMetadata: secretClient })).toBe(true);
      expect(
        verificationWanted({ clientMetadata: { ...secretClient, token_endpoint_auth_method: undefined } }),
      ).toBe(true);
      expect(verificationWanted({ clientMetadata: valid.clientMetadata })).toBe(false);
      expect(verificationWanted({ clientMetadata: keyClient })).toBe(false);
      expect(verificationWanted({ clientMetadata: secretClient, verify: false })).toBe(false);
    });

    it('accepts a boolean only, and true only where a client_credentials check with a secret can be made', () => {
      expect(schema.safeParse({ ...valid, clientMetadata: secretClient, verify: true }).success).toBe(true);
      expect(schema.safeParse({ ...valid, verify: false }).success).toBe(true);
      expect(issuesOf({ ...valid, clientMetadata: secretClient, verify: 'true' })[0]?.path).toBe('verify');
      expect(issuesOf({ ...valid, verify: true })).toEqual([
        { path: 'verify', message: expect.stringContaining('client_credentials') },
      ]);
    });

    it('applies the same rules to a queued job as to a request', () => {
      const job = registrationJobSchema({ allowInsecureLocalhost: false });
      const base = { ...valid, reason: 'onboarding', requestedAt: new Date().toISOString() };
      expect(job.safeParse({ ...base, clientMetadata: secretClient, verify: true }).success).toBe(true);
      expect(job.safeParse({ ...base, verify: true }).success).toBe(false);
      expect(job.safeParse({ ...base, clientMetadata: secretClient, verify: 1 }).success).toBe(false);
    });
  });
});

describe('queue/registrationRequestSchema keys', () => {
  const backendClient = {
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'system/Patient.rs',
  };
  const keyed = { ...valid, clientMetadata: backendClient, keys: { generate: { alg: 'RS384' } } };
  const publicBase = { allowInsecureLocalhost: false, jwksPublicBaseUrl: 'https://dcr.example/base' };
  const issuesUnder = (rules: Parameters<typeof registrationRequestSchema>[0], input: unknown) => {
    const result = registrationRequestSchema(rules).safeParse(input);
    return result.success ? [] : requestIssues(result.error);
  };

  it('accepts generated keys for a private_key_jwt client without jwks or jwks_uri, published by jwks unless told', () => {
    expect(schema.parse(keyed).keys).toEqual({ generate: { alg: 'RS384' }, publish: 'jwks' });
    for (const alg of ['ES384', 'RS256', 'ES256']) {
      expect(schema.parse({ ...keyed, keys: { generate: { alg } } }).keys?.generate.alg).toBe(alg);
    }
  });

  it('refuses keys beside jwks or jwks_uri in the metadata, at keys', () => {
    const ownJwks = { ...keyed, clientMetadata: { ...backendClient, jwks: publicJwks() } };
    expect(issuesOf(ownJwks)).toEqual([
      { path: 'keys', message: expect.stringContaining('must not be sent with clientMetadata.jwks') },
    ]);
    const ownUri = { ...keyed, clientMetadata: { ...backendClient, jwks_uri: 'https://app.example/jwks' } };
    expect(issuesOf(ownUri)).toEqual([
      { path: 'keys', message: expect.stringContaining('must not be sent with clientMetadata.jwks_uri') },
    ]);
  });

  it('refuses keys for a client that does not authenticate with private_key_jwt, at keys', () => {
    const secretClient = { ...backendClient, token_endpoint_auth_method: 'client_secret_basic' };
    expect(issuesOf({ ...keyed, clientMetadata: secretClient })).toEqual([
      { path: 'keys', message: expect.stringContaining('"client_secret_basic"') },
    ]);
    // Left out, the auth method is RFC 7591's default, and the message says so.
    const { token_endpoint_auth_method: _, ...defaulted } = backendClient;
    expect(issuesOf({ ...keyed, clientMetadata: defaulted })).toEqual([
      { path: 'keys', message: expect.stringContaining('the RFC 7591 default') },
    ]);
  });

  it('refuses publish "jwks_uri" at keys.publish when no public base URL is configured', () => {
    expect(issuesOf({ ...keyed, keys: { generate: { alg: 'ES384' }, publish: 'jwks_uri' } })).toEqual([
      { path: 'keys.publish', message: expect.stringContaining('JWKS_PUBLIC_BASE_URL') },
    ]);
  });

  it('refuses publish "jwks_uri" at keys.publish when the registered URL would be plain http', () => {
    const byUri = { ...keyed, keys: { generate: { alg: 'RS384' }, publish: 'jwks_uri' } };
    const remote = { allowInsecureLocalhost: true, jwksPublicBaseUrl: 'http://dcr.example' };
    expect(issuesUnder(remote, byUri)).toEqual([
      {
        path: 'keys.publish',
        message: expect.stringMatching(
          /^"jwks_uri" would register http:\/\/dcr\.example\/jwks\/acme-health\/.*\.json/,
        ),
      },
    ]);
    const loopback = { allowInsecureLocalhost: false, jwksPublicBaseUrl: 'http://127.0.0.1:3000' };
    expect(issuesUnder(loopback, byUri)).toEqual([
      { path: 'keys.publish', message: expect.stringContaining('ALLOW_INSECURE_LOCALHOST') },
    ]);
    expect(issuesUnder({ ...loopback, allowInsecureLocalhost: true }, byUri)).toEqual([]);
  });

  it('accepts publish "jwks_uri" under an https public base URL', () => {
    const byUri = { ...keyed, keys: { generate: { alg: 'RS384' }, publish: 'jwks_uri' } };
    expect(issuesUnder(publicBase, byUri)).toEqual([]);
    expect(registrationRequestSchema(publicBase).parse(byUri).keys?.publish).toBe('jwks_uri');
  });

  it('names keys.generate.alg for an algorithm it cannot generate, and keys.publish for an unknown way to publish', () => {
    expect(issuesOf({ ...keyed, keys: { generate: { alg: 'HS256' } } })).toEqual([
      { path: 'keys.generate.alg', message: 'must be one of RS384, ES384, RS256, ES256' },
    ]);
    expect(issuesOf({ ...keyed, keys: { generate: { alg: 'RS384' }, publish: 'x5c' } })).toEqual([
      { path: 'keys.publish', message: 'must be one of jwks, jwks_uri' },
    ]);
    expect(issuesOf({ ...keyed, keys: { generate: { alg: 'RS384', size: 4096 } } })).toEqual([
      { path: 'keys.generate.size', message: 'is not a known field' },
    ]);
  });

  it('answers an issue at keys, never an exception, for keys that are not an object', () => {
    for (const keys of [null, 'RS384', ['RS384']]) {
      expect(issuesOf({ ...keyed, keys }).map((i) => i.path)).toContain('keys');
    }
  });

  it('applies the same rules to a queued job as to a request', () => {
    const job = registrationJobSchema({ allowInsecureLocalhost: false });
    const base = { ...keyed, reason: 'onboarding', requestedAt: new Date().toISOString() };
    expect(job.parse(base).keys).toEqual({ generate: { alg: 'RS384' }, publish: 'jwks' });
    const jobIssues = (input: unknown) => {
      const result = job.safeParse(input);
      return result.success ? [] : requestIssues(result.error).map((i) => i.path);
    };
    expect(jobIssues({ ...base, clientMetadata: { ...backendClient, jwks: publicJwks() } })).toEqual([
      'keys',
    ]);
    expect(
      jobIssues({ ...base, clientMetadata: { ...backendClient, token_endpoint_auth_method: 'none' } }),
    ).toContain('keys');
    expect(jobIssues({ ...base, keys: { generate: { alg: 'RS384' }, publish: 'jwks_uri' } })).toEqual([
      'keys.publish',
    ]);
    expect(jobIssues({ ...base, keys: { generate: { alg: 'PS256' } } })).toEqual(['keys.generate.alg']);
  });

  it('still reports the metadata issues, at clientMetadata.<field>, when another field is bad too', () => {
    const issues = issuesOf({
      ...keyed,
      tenantId: '-bad',
      clientMetadata: { ...backendClient, grant_types: ['authorization_code'], response_types: ['code'] },
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('tenantId');
    expect(paths).toContain('clientMetadata.redirect_uris');
    // Generated keys are the client's keys: private_key_jwt without jwks is not one of the problems.
    expect(paths).not.toContain('clientMetadata.token_endpoint_auth_method');
  });

  it('accepts the metadata the profile builders make with keysAddedLater', () => {
    const clientMetadata = backendServicesMetadata({ keysAddedLater: true, scope: 'system/*.rs' });
    expect(schema.safeParse({ ...keyed, clientMetadata }).success).toBe(true);
    expect(issuesOf({ ...valid, clientMetadata }).map((i) => i.path)).toEqual([
      'clientMetadata.token_endpoint_auth_method',
    ]);
  });

  it('still asks a private_key_jwt client without generated keys for jwks or jwks_uri', () => {
    expect(issuesOf({ ...valid, clientMetadata: backendClient }).map((i) => i.path)).toEqual([
      'clientMetadata.token_endpoint_auth_method',
    ]);
  });

  describe('verify', () => {
    it('defaults to checking a client_credentials private_key_jwt client whose keys the service makes, and not one without', () => {
      expect(verificationWanted(schema.parse(keyed))).toBe(true);
      expect(verificationWanted({ clientMetadata: backendClient, keys: keyed.keys })).toBe(true);
      expect(verificationWanted({ clientMetadata: backendClient })).toBe(false);
      expect(verificationWanted({ clientMetadata: backendClient, keys: keyed.keys, verify: false })).toBe(
        false,
      );
    });

    it('accepts verify: true with generated keys, and refuses it at verify for a private_key_jwt client without them', () => {
      expect(schema.safeParse({ ...keyed, verify: true }).success).toBe(true);
      const ownKeys = { ...backendClient, jwks_uri: 'https://app.example/jwks' };
      expect(issuesOf({ ...valid, clientMetadata: ownKeys, verify: true })).toEqual([
        { path: 'verify', message: expect.stringContaining('needs keys.generate') },
      ]);
    });
  });
});
