import { describe, expect, it } from 'vitest';
import {
  parseCapabilityStatement,
  parseSmartConfiguration,
  smartConfigurationUrl,
  supportsBackendServices,
  supportsDynamicRegistration,
  supportsPrivateKeyJwt,
  supportsSigningAlgorithm,
} from '../../../src/smart/index.js';

const base = 'https://ehr.example/fhir/r4';

const smart22 = {
  issuer: 'https://ehr.example',
  token_endpoint: 'https://ehr.example/token',
  registration_endpoint: 'https://ehr.example/register',
  grant_types_supported: ['authorization_code', 'client_credentials'],
  token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
  token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
  capabilities: ['launch-standalone', 'client-confidential-asymmetric'],
  code_challenge_methods_supported: ['S256'],
};

const parse = (doc: unknown) => parseSmartConfiguration(JSON.stringify(doc), base);

describe('smart/parseSmartConfiguration', () => {
  it('appends .well-known to a base URL that has a path', () => {
    expect(smartConfigurationUrl(`${base}/`)).toBe(
      'https://ehr.example/fhir/r4/.well-known/smart-configuration',
    );
  });

  it('reads a complete SMART 2.2 document without warnings', () => {
    const config = parse(smart22);
    expect(config).toMatchObject({
      source: 'well-known',
      issuer: 'https://ehr.example',
      tokenEndpoint: 'https://ehr.example/token',
      registrationEndpoint: 'https://ehr.example/register',
      warnings: [],
    });
    expect(supportsDynamicRegistration(config)).toBe(true);
    expect(supportsBackendServices(config)).toBe(true);
    expect(supportsPrivateKeyJwt(config)).toBe(true);
    expect(supportsSigningAlgorithm(config, 'RS256')).toBe(false);
  });

  it('tolerates a missing issuer and says so', () => {
    const { issuer: _issuer, ...withoutIssuer } = smart22;
    const config = parse(withoutIssuer);
    expect(config.issuer).toBeUndefined();
    expect(config.warnings).toContain('issuer is missing');
  });

  it('resolves relative endpoints against the FHIR base as a directory', () => {
    const config = parse({
      ...smart22,
      token_endpoint: 'auth/token',
      registration_endpoint: '/oauth/register',
    });
    expect(config.tokenEndpoint).toBe('https://ehr.example/fhir/r4/auth/token');
    expect(config.registrationEndpoint).toBe('https://ehr.example/oauth/register');
    expect(config.warnings.filter((w) => w.includes('relative'))).toHaveLength(2);
  });

  it('reads the SMART 1.0 name token_endpoint_auth_methods', () => {
    const { token_endpoint_auth_methods_supported: methods, ...old } = smart22;
    const config = parse({ ...old, token_endpoint_auth_methods: methods });
    expect(config.tokenEndpointAuthMethodsSupported).toEqual(methods);
  });

  it('reports a server without a registration endpoint as unable to register dynamically', () => {
    const { registration_endpoint: _r, ...noDcr } = smart22;
    expect(supportsDynamicRegistration(parse(noDcr))).toBe(false);
  });

  it('refuses a document without token_endpoint, naming the field', () => {
    const { token_endpoint: _t, ...noToken } = smart22;
    expect(() => parse(noToken)).toThrow(expect.objectContaining({ code: 'discovery_invalid' }));
    expect(() => parse(noToken)).toThrow(/token_endpoint/);
  });

  it('refuses a body that is not a JSON object', () => {
    expect(() => parseSmartConfiguration('<html>', base)).toThrow(/not JSON/);
    expect(() => parseSmartConfiguration('[]', base)).toThrow(/not a JSON object/);
  });

  it('refuses endpoints that are not http(s) URLs', () => {
    expect(() => parse({ ...smart22, registration_endpoint: 'javascript:alert(1)' })).toThrow(
      expect.objectContaining({ code: 'discovery_invalid' }),
    );
  });
});

describe('smart/parseCapabilityStatement', () => {
  const statement = (extensions: unknown[]) =>
    JSON.stringify({
      resourceType: 'CapabilityStatement',
      rest: [
        {
          mode: 'server',
          security: {
            extension: [
              {
                url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
                extension: extensions,
              },
            ],
          },
        },
      ],
    });

  it('reads the oauth-uris extension of a SMART 1.0 server', () => {
    const config = parseCapabilityStatement(
      statement([
        { url: 'authorize', valueUri: 'https://ehr.example/authorize' },
        { url: 'token', valueUri: 'https://ehr.example/token' },
        { url: 'register', valueUri: 'https://ehr.example/register' },
      ]),
      base,
    );
    expect(config).toMatchObject({
      source: 'capability-statement',
      tokenEndpoint: 'https://ehr.example/token',
      authorizationEndpoint: 'https://ehr.example/authorize',
      registrationEndpoint: 'https://ehr.example/register',
    });
  });

  it('refuses a statement whose extension lacks the token URI', () => {
    expect(() =>
      parseCapabilityStatement(statement([{ url: 'authorize', valueUri: 'https://x/a' }]), base),
    ).toThrow(/no token URI/);
  });

  it('refuses a statement without the extension', () => {
    expect(() =>
      parseCapabilityStatement(JSON.stringify({ resourceType: 'CapabilityStatement', rest: [] }), base),
    ).toThrow(/no oauth-uris extension/);
  });
});

describe('smart/parseSmartConfiguration with serialiser quirks', () => {
  it('treats null optional fields as absent, so a null registration_endpoint means no dynamic registration', () => {
    const config = parse({ ...smart22, registration_endpoint: null, issuer: null, scopes_supported: null });
    expect(supportsDynamicRegistration(config)).toBe(false);
    expect(config.issuer).toBeUndefined();
    expect(config.warnings).toContain('registration_endpoint is null and was ignored');
  });

  it('ignores an unused optional field of the wrong type instead of failing the document', () => {
    const config = parse({ ...smart22, scopes_supported: 'launch openid' });
    expect(config.scopesSupported).toBeUndefined();
    expect(config.warnings).toContain('scopes_supported is of the wrong type and was ignored');
  });
});
