import { describe, expect, it } from 'vitest';
import {
  registrationJobSchema,
  registrationKey,
  registrationRequestSchema,
  requestIssues,
} from '../../../src/queue/index.js';
import { verificationWanted } from '../../../src/queue/registration-request.js';

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
