import { describe, expect, it } from 'vitest';
import {
  checkAuthMethodSupported,
  checkSigningAlgsSupported,
  checkTokenEndpointAuthSupport,
  effectiveAuthMethod,
} from '../../../src/dcr/auth-method.js';
import type { ClientMetadata } from '../../../src/dcr/metadata.js';
import { ec, rsa } from './jwk-fixtures.js';

const backend = (keys: Record<string, unknown>[]): ClientMetadata => ({
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  response_types: [],
  jwks: { keys: keys as ClientMetadata['jwks'] extends { keys: infer K } | undefined ? K : never },
});

const { alg: _rsaAlg, ...rsaWithoutAlg } = rsa.publicJwk;
const { alg: _ecAlg, ...ecWithoutAlg } = ec.publicJwk;

describe('dcr/auth-method', () => {
  it('takes client_secret_basic as the method when the metadata omits it', () => {
    expect(effectiveAuthMethod({})).toBe('client_secret_basic');
    expect(effectiveAuthMethod({ token_endpoint_auth_method: 'none' })).toBe('none');
  });

  it('checks nothing when the server does not advertise its methods', () => {
    expect(checkAuthMethodSupported({ token_endpoint_auth_method: 'private_key_jwt' }, undefined)).toEqual(
      [],
    );
  });

  it('accepts a method the server advertises', () => {
    expect(
      checkAuthMethodSupported({ token_endpoint_auth_method: 'none' }, ['none', 'private_key_jwt']),
    ).toEqual([]);
  });

  it('when the method is not advertised, names what the server supports', () => {
    expect(
      checkAuthMethodSupported({ token_endpoint_auth_method: 'private_key_jwt' }, ['client_secret_basic']),
    ).toEqual([
      {
        path: ['token_endpoint_auth_method'],
        message:
          '"private_key_jwt" is not supported by the server; its token_endpoint_auth_methods_supported lists client_secret_basic; choose one of those',
      },
    ]);
  });

  it('when the method is omitted and the default is not advertised, says the default applies', () => {
    expect(checkAuthMethodSupported({}, ['private_key_jwt', 'none'])).toEqual([
      {
        path: ['token_endpoint_auth_method'],
        message:
          'is omitted and defaults to "client_secret_basic", which the server does not support; its token_endpoint_auth_methods_supported lists private_key_jwt, none; choose one of those',
      },
    ]);
  });

  it('when the server advertises an empty list, says it lists nothing', () => {
    expect(checkAuthMethodSupported({ token_endpoint_auth_method: 'none' }, [])[0]?.message).toContain(
      'lists nothing',
    );
  });

  it('checks key algorithms only for private_key_jwt and only when the server advertises them', () => {
    const keys = [{ ...rsa.publicJwk, alg: 'RS256' }];
    expect(checkSigningAlgsSupported(backend(keys), undefined)).toEqual([]);
    expect(
      checkSigningAlgsSupported({ ...backend(keys), token_endpoint_auth_method: 'none' }, ['RS384']),
    ).toEqual([]);
  });

  it('accepts keys whose alg the server advertises', () => {
    expect(checkSigningAlgsSupported(backend([rsa.publicJwk, ec.publicJwk]), ['RS384', 'ES384'])).toEqual([]);
  });

  it('when a key names an alg the server does not accept, points at that alg and names what it accepts', () => {
    expect(
      checkSigningAlgsSupported(backend([{ ...rsa.publicJwk, alg: 'RS256' }, ec.publicJwk]), [
        'RS384',
        'ES384',
      ]),
    ).toEqual([
      {
        path: ['jwks', 'keys', 0, 'alg'],
        message:
          '"RS256" is not accepted for client assertions; the server\'s token_endpoint_auth_signing_alg_values_supported lists RS384, ES384; use a key for one of those or remove this one',
      },
    ]);
  });

  it('infers what keys without alg can sign with, by key type and curve', () => {
    expect(checkSigningAlgsSupported(backend([rsaWithoutAlg]), ['RS384'])).toEqual([]);
    expect(checkSigningAlgsSupported(backend([ecWithoutAlg]), ['ES384'])).toEqual([]);
    expect(
      checkSigningAlgsSupported(backend([{ ...ecWithoutAlg, crv: 'P-256' }]), ['RS384', 'ES384']),
    ).toEqual([
      {
        path: ['jwks', 'keys'],
        message:
          "holds no key that can sign with an algorithm the server accepts; the server's token_endpoint_auth_signing_alg_values_supported lists RS384, ES384; add a key for one of those (e.g. RSA for RS384, EC P-384 for ES384)",
      },
    ]);
  });

  it('ignores encryption keys, which never sign an assertion', () => {
    expect(
      checkSigningAlgsSupported(backend([{ ...rsa.publicJwk, use: 'enc', alg: 'RSA-OAEP' }, ec.publicJwk]), [
        'ES384',
      ]),
    ).toEqual([]);
  });

  it('checks an explicitly requested token_endpoint_auth_signing_alg', () => {
    const metadata = { ...backend([ec.publicJwk]), token_endpoint_auth_signing_alg: 'ES256' };
    expect(checkSigningAlgsSupported(metadata, ['ES384'])).toEqual([
      {
        path: ['token_endpoint_auth_signing_alg'],
        message:
          '"ES256" is not accepted for client assertions; the server\'s token_endpoint_auth_signing_alg_values_supported lists ES384; choose one of those',
      },
    ]);
  });

  it('cannot check keys behind jwks_uri, so reports nothing for them', () => {
    const metadata: ClientMetadata = {
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://a.example/jwks',
    };
    expect(checkSigningAlgsSupported(metadata, ['RS384'])).toEqual([]);
  });

  it('combines both checks against one server document', () => {
    const server = {
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
      token_endpoint_auth_signing_alg_values_supported: ['ES384'],
    };
    expect(checkTokenEndpointAuthSupport(backend([rsa.publicJwk]), server).map((i) => i.path)).toEqual([
      ['token_endpoint_auth_method'],
      ['jwks', 'keys', 0, 'alg'],
    ]);
    expect(checkTokenEndpointAuthSupport(backend([rsa.publicJwk]), {})).toEqual([]);
  });
});
