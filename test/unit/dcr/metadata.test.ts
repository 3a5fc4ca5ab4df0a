import { describe, expect, it } from 'vitest';
import { clientMetadataSchema, RFC7591_DEFAULTS } from '../../../src/dcr/metadata.js';
import { checkClientMetadata } from '../../../src/dcr/metadata-rules.js';
import { publicJwks } from './jwk-fixtures.js';

const signedStatement = [
  Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url'),
  Buffer.from(JSON.stringify({ iss: 'https://issuer.example.com', software_id: 'app' })).toString(
    'base64url',
  ),
  'c2lnbmF0dXJl',
].join('.');

describe('dcr/metadata schema', () => {
  it('accepts every RFC 7591 field with its proper type', () => {
    const metadata = {
      redirect_uris: ['https://app.example.com/callback'],
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'Example App',
      client_uri: 'https://app.example.com/',
      logo_uri: 'https://app.example.com/logo.png',
      scope: 'launch/patient patient/*.rs openid fhirUser',
      contacts: ['ops@example.com'],
      tos_uri: 'https://app.example.com/tos',
      policy_uri: 'https://app.example.com/privacy',
      jwks: publicJwks(),
      software_id: '4NRB1-0XZABZI9E6-5SM3R',
      software_version: '2.1.0',
      software_statement: signedStatement,
    };
    expect(clientMetadataSchema.parse(metadata)).toEqual(metadata);
    expect(checkClientMetadata(metadata)).toEqual({ ok: true, metadata });
  });

  it('accepts an empty object, since every field is optional', () => {
    expect(clientMetadataSchema.safeParse({}).success).toBe(true);
  });

  it('does not fill in the RFC defaults, because servers apply their own', () => {
    const parsed = clientMetadataSchema.parse({ redirect_uris: ['https://app.example.com/cb'] });
    expect(parsed).toEqual({ redirect_uris: ['https://app.example.com/cb'] });
    expect(parsed).not.toHaveProperty('grant_types');
    expect(parsed).not.toHaveProperty('response_types');
    expect(parsed).not.toHaveProperty('token_endpoint_auth_method');
    expect(RFC7591_DEFAULTS).toEqual({
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    });
  });

  it('passes unknown extension fields through unchanged, nested values included', () => {
    const input = {
      redirect_uris: ['https://app.example.com/cb'],
      'client_name#ja-Jpan-JP': 'アプリ',
      vendor_extension: { nested: [1, 2, { deep: true }] },
      jwks: { keys: [{ ...publicJwks().keys[0], x5t: 'abc', custom_member: 'kept' }], extra_set_member: 1 },
    };
    const result = checkClientMetadata(input);
    expect(result).toEqual({ ok: true, metadata: input });
  });

  it('reports a field of the wrong type at its path with a message saying the expected type', () => {
    const result = clientMetadataSchema.safeParse({
      redirect_uris: 'https://app.example.com/cb',
      grant_types: ['authorization_code', 7],
      client_name: 42,
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => [i.path, i.message])).toEqual([
      [['redirect_uris'], 'must be an array of strings'],
      [['grant_types', 1], 'must be a string'],
      [['client_name'], 'must be a string'],
    ]);
  });

  it('refuses metadata that is not a JSON object', () => {
    for (const input of [null, [], 'metadata', 3]) {
      expect(checkClientMetadata(input)).toEqual({
        ok: false,
        issues: [{ path: [], message: 'must be a JSON object of RFC 7591 client metadata' }],
      });
    }
  });

  it('refuses a software_statement that is not a signed compact JWT', () => {
    for (const statement of ['not-a-jwt', 'a.b', 'a.b.', 'a.b.c.d.e', 'a b.c.d']) {
      expect(
        checkClientMetadata({
          response_types: [],
          grant_types: ['client_credentials'],
          software_statement: statement,
        }),
      ).toEqual({
        ok: false,
        issues: [
          {
            path: ['software_statement'],
            message: 'must be a signed JWT in compact form (three base64url parts: header.payload.signature)',
          },
        ],
      });
    }
  });

  it('refuses a software_statement without a signing alg or without an iss claim', () => {
    const unsigned = [
      Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url'),
      Buffer.from(JSON.stringify({ software_id: 'app' })).toString('base64url'),
      'c2ln',
    ].join('.');
    const result = checkClientMetadata({
      grant_types: ['client_credentials'],
      response_types: [],
      software_statement: unsigned,
    });
    expect(result).toEqual({
      ok: false,
      issues: [
        {
          path: ['software_statement'],
          message:
            'has no usable JOSE header (base64url JSON with a signing "alg" other than "none"); sign the statement',
        },
        {
          path: ['software_statement'],
          message: 'needs a JSON payload with an "iss" claim naming the statement\'s issuer (RFC 7591 §2.3)',
        },
      ],
    });
  });

  it('requires kty and kid on every key and says why', () => {
    const result = checkClientMetadata({
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ n: 'abc', e: 'AQAB' }] },
    });
    expect(result).toEqual({
      ok: false,
      issues: [
        { path: ['jwks', 'keys', 0, 'kty'], message: 'is missing: every key needs kty ("RSA" or "EC")' },
        {
          path: ['jwks', 'keys', 0, 'kid'],
          message:
            'is missing: every key needs a kid, so the server can pick the key that signed a client assertion',
        },
      ],
    });
  });
});
