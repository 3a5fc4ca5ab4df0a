import { describe, expect, it } from 'vitest';
import { checkClientMetadata } from '../../../src/dcr/metadata-rules.js';
import {
  backendServicesMetadata,
  confidentialAsymmetricMetadata,
  confidentialSymmetricMetadata,
  publicAppMetadata,
} from '../../../src/dcr/profiles.js';
import { ProvisioningError } from '../../../src/failures/index.js';
import { publicJwks, rsa } from './jwk-fixtures.js';

const REDIRECT = 'https://app.example.com/callback';
const JWKS_URI = 'https://app.example.com/.well-known/jwks.json';

function thrownBy(fn: () => unknown): ProvisioningError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProvisioningError) return err;
    throw err;
  }
  throw new Error('expected a ProvisioningError');
}

describe('dcr/profiles', () => {
  it('builds a public app: auth method none, authorization_code, code, redirect URIs', () => {
    const metadata = publicAppMetadata({
      redirectUris: [REDIRECT, 'com.example.app:/callback'],
      clientName: 'Patient App',
      scope: 'launch/patient patient/*.rs openid fhirUser',
    });
    expect(metadata).toEqual({
      redirect_uris: [REDIRECT, 'com.example.app:/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      client_name: 'Patient App',
      scope: 'launch/patient patient/*.rs openid fhirUser',
    });
  });

  it('builds a confidential symmetric app with client_secret_basic and, on request, refresh tokens', () => {
    const metadata = confidentialSymmetricMetadata({ redirectUris: [REDIRECT], refreshToken: true });
    expect(metadata).toEqual({
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  });

  it('builds a confidential asymmetric app with private_key_jwt and either jwks_uri or inline jwks', () => {
    expect(confidentialAsymmetricMetadata({ redirectUris: [REDIRECT], jwksUri: JWKS_URI })).toEqual({
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: JWKS_URI,
    });
    const inline = confidentialAsymmetricMetadata({ redirectUris: [REDIRECT], jwks: publicJwks() });
    expect(inline.jwks).toEqual(publicJwks());
    expect(inline).not.toHaveProperty('jwks_uri');
  });

  it('builds a backend service: client_credentials, private_key_jwt, explicit empty response_types, no redirect URIs', () => {
    const metadata = backendServicesMetadata({
      jwksUri: JWKS_URI,
      scope: 'system/*.rs',
      clientName: 'Nightly export',
    });
    expect(metadata).toEqual({
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      response_types: [],
      jwks_uri: JWKS_URI,
      client_name: 'Nightly export',
      scope: 'system/*.rs',
    });
    expect(metadata).not.toHaveProperty('redirect_uris');
  });

  it('produces metadata that passes checkClientMetadata for every profile', () => {
    const outputs = [
      publicAppMetadata({ redirectUris: ['http://127.0.0.1:8123/cb'] }),
      confidentialSymmetricMetadata({ redirectUris: [REDIRECT], scope: 'user/*.rs openid' }),
      confidentialAsymmetricMetadata({ redirectUris: [REDIRECT], jwks: publicJwks(), refreshToken: true }),
      confidentialAsymmetricMetadata({ redirectUris: [REDIRECT], jwksUri: JWKS_URI }),
      backendServicesMetadata({ jwks: publicJwks(), scope: 'system/Patient.rs system/Observation.rs' }),
      backendServicesMetadata({ jwksUri: JWKS_URI, scope: 'system/*.rs' }),
    ];
    for (const metadata of outputs) expect(checkClientMetadata(metadata)).toEqual({ ok: true, metadata });
  });

  describe('keysAddedLater, for a client whose key pair the service generates at registration', () => {
    it('builds a backend service with private_key_jwt and no keys, which passes the check that expects keys later', () => {
      const metadata = backendServicesMetadata({ keysAddedLater: true, scope: 'system/*.rs' });
      expect(metadata).toEqual({
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: ['client_credentials'],
        response_types: [],
        scope: 'system/*.rs',
      });
      expect(checkClientMetadata(metadata, { keysAddedLater: true })).toEqual({ ok: true, metadata });
      // As it stands it is not registrable: the keys are what registration adds.
      expect(checkClientMetadata(metadata)).toMatchObject({
        ok: false,
        issues: [{ path: ['token_endpoint_auth_method'] }],
      });
    });

    it('builds a confidential asymmetric app the same way', () => {
      const metadata = confidentialAsymmetricMetadata({ redirectUris: [REDIRECT], keysAddedLater: true });
      expect(metadata).toEqual({
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'private_key_jwt',
      });
      expect(checkClientMetadata(metadata, { keysAddedLater: true })).toEqual({ ok: true, metadata });
    });

    it('refuses keys in the extra fields, or beside keysAddedLater from a JavaScript caller', () => {
      expect(() =>
        backendServicesMetadata({
          keysAddedLater: true,
          scope: 'system/*.rs',
          extra: { jwks_uri: JWKS_URI },
        }),
      ).toThrow(/^jwks_uri: is decided by the backend-services profile \(it must be absent\)/);
      const both = { keysAddedLater: true, jwksUri: JWKS_URI, scope: 'system/*.rs' } as unknown as Parameters<
        typeof backendServicesMetadata
      >[0];
      expect(thrownBy(() => backendServicesMetadata(both)).message).toBe(
        'jwks_uri: must be absent with keysAddedLater: true (the keys are added when the client is registered); pass jwksUri or keysAddedLater, not both',
      );
    });

    it('still checks everything else', () => {
      expect(() => confidentialAsymmetricMetadata({ redirectUris: [], keysAddedLater: true })).toThrow(
        /^redirect_uris: must list at least one/,
      );
    });
  });

  it('keeps extra fields the profile does not decide, unchanged', () => {
    const extra = { software_id: 'acme-export', contacts: ['ops@example.com'], vendor_flag: { on: true } };
    expect(backendServicesMetadata({ jwksUri: JWKS_URI, scope: 'system/*.rs', extra })).toMatchObject(extra);
  });

  it('refuses extra fields that contradict the profile instead of silently overwriting them', () => {
    const error = thrownBy(() =>
      backendServicesMetadata({
        jwksUri: JWKS_URI,
        scope: 'system/*.rs',
        extra: {
          token_endpoint_auth_method: 'client_secret_basic',
          redirect_uris: [REDIRECT],
          grant_types: ['client_credentials'],
        },
      }),
    );
    expect(error.code).toBe('invalid_job');
    expect(error.message).toBe(
      "token_endpoint_auth_method: is decided by the backend-services profile; remove it from the extra fields or use the builder's option instead; " +
        "redirect_uris: is decided by the backend-services profile (it must be absent); remove it from the extra fields or use the builder's option instead",
    );
  });

  it('validates its inputs with the metadata rules and throws the same invalid_job error', () => {
    const error = thrownBy(() => publicAppMetadata({ redirectUris: ['http://app.example.com/cb'] }));
    expect(error.code).toBe('invalid_job');
    expect(error.message).toBe(
      'redirect_uris.0: uses http to the non-loopback host app.example.com; use https, or http only to 127.0.0.1, [::1] or localhost (RFC 8252 §7.3)',
    );
    expect(() => confidentialSymmetricMetadata({ redirectUris: [] })).toThrow(
      /^redirect_uris: must list at least one/,
    );
    expect(() => backendServicesMetadata({ jwks: { keys: [rsa.privateJwk] }, scope: 'system/*.rs' })).toThrow(
      /^jwks\.keys\.0\.d: is private key material/,
    );
  });

  it('refuses both jwks and jwksUri when a JavaScript caller passes both', () => {
    const options = {
      redirectUris: [REDIRECT],
      jwksUri: JWKS_URI,
      jwks: publicJwks(),
    } as unknown as Parameters<typeof confidentialAsymmetricMetadata>[0];
    expect(() => confidentialAsymmetricMetadata(options)).toThrow(
      /^jwks: must not be sent together with jwks_uri/,
    );
  });
});
