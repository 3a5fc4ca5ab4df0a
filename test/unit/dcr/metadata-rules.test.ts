import { describe, expect, it } from 'vitest';
import {
  assertClientMetadata,
  checkClientMetadata,
  MAX_METADATA_BYTES,
  type MetadataIssue,
} from '../../../src/dcr/metadata-rules.js';
import { isProvisioningError, ProvisioningError } from '../../../src/failures/index.js';
import { ec, publicJwks, rsa } from './jwk-fixtures.js';

const JWKS_URI = 'https://app.example.com/.well-known/jwks.json';

const backend = (): Record<string, unknown> => ({
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  response_types: [],
  jwks_uri: JWKS_URI,
  scope: 'system/*.rs',
});

const app = (): Record<string, unknown> => ({
  redirect_uris: ['https://app.example.com/callback'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
});

function issuesOf(input: unknown): MetadataIssue[] {
  const result = checkClientMetadata(input);
  return result.ok ? [] : result.issues;
}

describe('dcr/metadata-rules', () => {
  it('accepts a valid backend services client and a valid public app', () => {
    expect(checkClientMetadata(backend())).toEqual({ ok: true, metadata: backend() });
    expect(checkClientMetadata(app())).toEqual({ ok: true, metadata: app() });
  });

  describe('jwks and jwks_uri', () => {
    it('when both are present, points at jwks and says to keep only one', () => {
      expect(issuesOf({ ...backend(), jwks: publicJwks() })).toEqual([
        {
          path: ['jwks'],
          message:
            'must not be sent together with jwks_uri (RFC 7591 §2); keep jwks_uri (preferred by SMART) and drop jwks, or drop jwks_uri',
        },
      ]);
    });
  });

  describe('public keys only', () => {
    const withKey = (key: Record<string, unknown>) => {
      const { jwks_uri: _, ...rest } = backend();
      return { ...rest, jwks: { keys: [key] } };
    };

    it.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'])(
      'when an RSA key carries "%s", points at that member',
      (member) => {
        expect(issuesOf(withKey({ ...rsa.publicJwk, [member]: 'c2VjcmV0LXZhbHVl' }))).toEqual([
          {
            path: ['jwks', 'keys', 0, member],
            message:
              'is private key material and must never be sent; register only the public key (RSA: kty, kid, n, e; EC: kty, kid, crv, x, y)',
          },
        ]);
      },
    );

    it('when a private EC key is registered, points at its d member', () => {
      expect(issuesOf(withKey(ec.privateJwk)).map((i) => i.path)).toEqual([['jwks', 'keys', 0, 'd']]);
    });

    it('when a symmetric oct key is registered, refuses both its secret and its key type', () => {
      expect(issuesOf(withKey({ kty: 'oct', kid: 'hmac', k: 'c2hhcmVkLXNlY3JldA' }))).toEqual([
        {
          path: ['jwks', 'keys', 0, 'k'],
          message:
            'is a symmetric secret and must never be registered; use an RSA or EC key pair and register its public key',
        },
        {
          path: ['jwks', 'keys', 0, 'kty'],
          message:
            '"oct" keys are shared secrets, not public keys; use an RSA or EC key pair and register its public key',
        },
      ]);
    });

    it('never repeats private key values in any message, nor in the thrown error', () => {
      const input = withKey(rsa.privateJwk);
      const secrets = ['d', 'p', 'q', 'dp', 'dq', 'qi'].map((m) =>
        String(rsa.privateJwk[m as keyof typeof rsa.privateJwk]),
      );
      const issues = issuesOf(input);
      expect(issues.map((i) => i.path.at(-1))).toEqual(['d', 'p', 'q', 'dp', 'dq', 'qi']);
      let thrown: unknown;
      try {
        assertClientMetadata(input);
      } catch (err) {
        thrown = err;
      }
      const texts = [
        JSON.stringify(issues),
        (thrown as Error).message,
        JSON.stringify(thrown),
        (thrown as ProvisioningError).toFailedReason(),
      ];
      for (const text of texts) {
        for (const secret of secrets) expect(text).not.toContain(secret);
        expect(text).not.toContain(secrets[0]?.slice(0, 16));
      }
    });

    it('when an RSA key lacks n or e, names the missing members', () => {
      expect(issuesOf(withKey({ kty: 'RSA', kid: 'k1' }))).toEqual([
        { path: ['jwks', 'keys', 0, 'n'], message: 'is missing: a public RSA key needs n, e' },
        { path: ['jwks', 'keys', 0, 'e'], message: 'is missing: a public RSA key needs n, e' },
      ]);
    });

    it('when an EC key lacks crv, x or y, names the missing members', () => {
      expect(issuesOf(withKey({ kty: 'EC', kid: 'k1', x: 'abc' }))).toEqual([
        { path: ['jwks', 'keys', 0, 'crv'], message: 'is missing: a public EC key needs crv, x, y' },
        { path: ['jwks', 'keys', 0, 'y'], message: 'is missing: a public EC key needs crv, x, y' },
      ]);
    });

    it('when a key has an unknown key type, asks for RSA or EC', () => {
      expect(issuesOf(withKey({ kty: 'XYZ', kid: 'k1' }))).toEqual([
        {
          path: ['jwks', 'keys', 0, 'kty'],
          message: 'must be "RSA" or "EC" (or "OKP"), the asymmetric key types',
        },
      ]);
    });

    it('when the key set is empty, asks for at least one public key', () => {
      const { jwks_uri: _, ...rest } = backend();
      expect(issuesOf({ ...rest, jwks: { keys: [] } })).toEqual([
        {
          path: ['jwks', 'keys'],
          message: "must hold at least one key; add the client's public signing key, or use jwks_uri instead",
        },
      ]);
    });

    it('checks every key of the set, not only the first', () => {
      const { jwks_uri: _, ...rest } = backend();
      const keys = [
        rsa.publicJwk,
        { ...ec.publicJwk, d: 'c2VjcmV0' },
        { kty: 'RSA', kid: 'x', n: 'n', e: 'AQAB', q: 'cQ' },
      ];
      expect(issuesOf({ ...rest, jwks: { keys } }).map((i) => i.path)).toEqual([
        ['jwks', 'keys', 1, 'd'],
        ['jwks', 'keys', 2, 'q'],
      ]);
    });
  });

  describe('private_key_jwt', () => {
    it('without jwks or jwks_uri, points at the auth method and asks for keys', () => {
      const { jwks_uri: _, ...rest } = backend();
      expect(issuesOf(rest)).toEqual([
        {
          path: ['token_endpoint_auth_method'],
          message:
            '"private_key_jwt" needs the client\'s public keys for verifying its assertions; add jwks_uri (preferred) or jwks',
        },
      ]);
    });

    it('with inline jwks instead of jwks_uri, is accepted', () => {
      const { jwks_uri: _, ...rest } = backend();
      expect(issuesOf({ ...rest, jwks: publicJwks() })).toEqual([]);
    });
  });

  describe('grant and response types (RFC 7591 §2.1)', () => {
    it('when a client_credentials client omits response_types, explains that it must send [] explicitly', () => {
      const { response_types: _, ...rest } = backend();
      expect(issuesOf(rest)).toEqual([
        {
          path: ['response_types'],
          message:
            'is omitted and defaults to ["code"], which needs the "authorization_code" grant; a client using only "client_credentials" must send "response_types": [] explicitly (servers such as oidc-provider otherwise assume "code" and demand redirect_uris)',
        },
      ]);
    });

    it('when grant_types is omitted but response_types is [], points at the defaulted grant_types', () => {
      const { grant_types: _, ...rest } = backend();
      expect(issuesOf(rest)).toEqual([
        {
          path: ['grant_types'],
          message:
            'is omitted and defaults to ["authorization_code"], which needs "code" in response_types (RFC 7591 §2.1); set grant_types to the grants the client uses (e.g. ["client_credentials"]) or add "code" to response_types',
        },
        {
          path: ['redirect_uris'],
          message:
            'must list at least one redirect URI because grant_types is omitted and defaults to ["authorization_code"]; add the app\'s callback URL, or for a backend service set grant_types to ["client_credentials"] and response_types to []',
        },
      ]);
    });

    it('when authorization_code is listed without "code", points at that grant', () => {
      expect(
        issuesOf({ ...app(), grant_types: ['refresh_token', 'authorization_code'], response_types: [] }),
      ).toEqual([
        {
          path: ['grant_types', 1],
          message:
            '"authorization_code" needs "code" in response_types (RFC 7591 §2.1); add "code" to response_types or remove "authorization_code"',
        },
      ]);
    });

    it('when "code" is listed without authorization_code, points at that response type', () => {
      expect(issuesOf({ ...backend(), response_types: ['code'] })).toEqual([
        {
          path: ['response_types', 0],
          message:
            '"code" needs the "authorization_code" grant (RFC 7591 §2.1); add "authorization_code" to grant_types or remove "code" from response_types',
        },
      ]);
    });

    it('when implicit is listed without "token", and "token" without implicit, reports both directions', () => {
      expect(issuesOf({ ...app(), grant_types: ['authorization_code', 'implicit'] })).toEqual([
        {
          path: ['grant_types', 1],
          message:
            '"implicit" needs "token" in response_types (RFC 7591 §2.1); add "token" to response_types or remove "implicit"',
        },
      ]);
      expect(issuesOf({ ...app(), response_types: ['code', 'token'] })).toEqual([
        {
          path: ['response_types', 1],
          message:
            '"token" needs the "implicit" grant (RFC 7591 §2.1); add "implicit" to grant_types or remove "token" from response_types',
        },
      ]);
    });

    it('accepts grants that need no response type alongside the redirect-based ones', () => {
      const grants = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'];
      expect(issuesOf({ ...app(), grant_types: grants })).toEqual([]);
      expect(issuesOf({ ...backend(), grant_types: ['client_credentials', 'refresh_token'] })).toEqual([]);
    });

    it('accepts omitted grant_types and response_types together, as the RFC defaults match', () => {
      const { grant_types: _g, response_types: _r, ...rest } = app();
      expect(issuesOf(rest)).toEqual([]);
    });

    it('when grant_types is empty, refuses it because UDAP servers read that as cancelling the registration', () => {
      expect(issuesOf({ ...backend(), grant_types: [] })).toEqual([
        {
          path: ['grant_types'],
          message:
            'must list at least one grant type (an empty list cancels the registration on UDAP servers); omit it for the default ["authorization_code"] or list the grants the client uses',
        },
      ]);
    });
  });

  describe('grant type names (RFC 7591 §2)', () => {
    it('refuses a grant type that is neither registered nor a URI, naming its index and the likely name', () => {
      expect(issuesOf({ ...backend(), grant_types: ['client-credentials'] })).toEqual([
        {
          path: ['grant_types', 0],
          message:
            '"client-credentials" is neither a registered grant type (did you mean "client_credentials"?) nor an absolute URI naming an extension; use one of "authorization_code", "implicit", "password", "client_credentials", "refresh_token", or the extension\'s URI such as "urn:ietf:params:oauth:grant-type:jwt-bearer"',
        },
      ]);
    });

    it.each(['refresh', 'foo:', 'urn:x:has space', 'Client_Credentials '])(
      'refuses the grant type %j',
      (grant) => {
        expect(
          issuesOf({ ...backend(), grant_types: ['client_credentials', grant] }).map((i) => i.path),
        ).toEqual([['grant_types', 1]]);
      },
    );

    it.each([
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:openid:params:grant-type:ciba',
      'https://grants.example/custom',
    ])('accepts the extension grant type %j', (grant) => {
      expect(issuesOf({ ...backend(), grant_types: ['client_credentials', grant] })).toEqual([]);
    });

    it.each(['authorization_code', 'refresh_token'])('accepts the registered grant type %j', (grant) => {
      expect(issuesOf({ ...app(), grant_types: ['authorization_code', grant] })).toEqual([]);
    });
  });

  describe('token endpoint authentication method names', () => {
    it('refuses a method that is neither registered nor a URI and lists the registered ones', () => {
      expect(issuesOf({ ...app(), token_endpoint_auth_method: 'client_secret' })).toEqual([
        {
          path: ['token_endpoint_auth_method'],
          message:
            '"client_secret" is neither a registered token endpoint authentication method nor an absolute URI naming an extension; use one of "none", "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth", or the extension\'s URI; SMART Backend Services use "private_key_jwt", public apps "none"',
        },
      ]);
    });

    it('suggests the registered spelling of a near miss', () => {
      expect(issuesOf({ ...app(), token_endpoint_auth_method: 'Client-Secret-Basic' })[0]?.message).toMatch(
        /^"Client-Secret-Basic" is neither a registered token endpoint authentication method \(did you mean "client_secret_basic"\?\)/,
      );
    });

    it.each([
      'client_secret_post',
      'client_secret_jwt',
      'tls_client_auth',
      'self_signed_tls_client_auth',
      'https://auth.example/methods/hsm',
    ])('accepts the method %j', (method) => {
      expect(issuesOf({ ...app(), token_endpoint_auth_method: method })).toEqual([]);
    });

    it('leaves an empty method to the schema, reporting it once', () => {
      expect(issuesOf({ ...app(), token_endpoint_auth_method: '' })).toEqual([
        {
          path: ['token_endpoint_auth_method'],
          message: 'must not be empty; omit it for the default client_secret_basic',
        },
      ]);
    });
  });

  describe('client_credentials needs a confidential client (RFC 6749 §4.4)', () => {
    it('refuses client_credentials for a public client, naming the grant', () => {
      expect(
        issuesOf({
          ...backend(),
          token_endpoint_auth_method: 'none',
          grant_types: ['refresh_token', 'client_credentials'],
        }),
      ).toEqual([
        {
          path: ['grant_types', 1],
          message:
            '"client_credentials" is only for confidential clients (RFC 6749 §4.4), but token_endpoint_auth_method is "none"; for a backend service use "private_key_jwt" with jwks_uri (SMART Backend Services), or remove "client_credentials" from a public app',
        },
      ]);
    });

    it('accepts client_credentials when the auth method is omitted, as the default client_secret_basic is confidential', () => {
      const { token_endpoint_auth_method: _, jwks_uri: _j, ...rest } = backend();
      expect(issuesOf(rest)).toEqual([]);
    });
  });

  describe('redirect_uris for redirect-based grants', () => {
    it('when authorization_code is listed and redirect_uris is missing, asks for a callback URL', () => {
      const { redirect_uris: _, ...rest } = app();
      expect(issuesOf(rest)).toEqual([
        {
          path: ['redirect_uris'],
          message:
            'must list at least one redirect URI because grant_types includes "authorization_code"; add the app\'s callback URL, or for a backend service set grant_types to ["client_credentials"] and response_types to []',
        },
      ]);
    });

    it('when authorization_code applies by default and redirect_uris is empty, says the grant is a default', () => {
      const { grant_types: _g, response_types: _r, ...rest } = app();
      expect(issuesOf({ ...rest, redirect_uris: [] })).toEqual([
        {
          path: ['redirect_uris'],
          message:
            'must list at least one redirect URI because grant_types is omitted and defaults to ["authorization_code"]; add the app\'s callback URL, or for a backend service set grant_types to ["client_credentials"] and response_types to []',
        },
      ]);
    });

    it('when only implicit is listed and redirect_uris is missing, names implicit', () => {
      expect(issuesOf({ grant_types: ['implicit'], response_types: ['token'] })[0]?.message).toMatch(
        /^must list at least one redirect URI because grant_types includes "implicit"/,
      );
    });

    it('when redirect_uris has the wrong type, reports only the type, not a missing list', () => {
      expect(issuesOf({ ...app(), redirect_uris: 'https://app.example.com/callback' })).toEqual([
        { path: ['redirect_uris'], message: 'must be an array of strings' },
      ]);
    });
  });

  describe('redirect URI forms (RFC 8252)', () => {
    it.each([
      'https://app.example.com/callback',
      'https://app.example.com:8443/cb?tenant=a',
      'http://127.0.0.1:51004/oauth2redirect',
      'http://[::1]:8080/callback',
      'http://localhost:3000/callback',
      'com.example.app:/oauth2redirect/example-provider',
      'org.smarthealthit.launcher:/callback',
    ])('accepts %s', (uri) => {
      expect(issuesOf({ ...app(), redirect_uris: [uri] })).toEqual([]);
    });

    const refused: [string, string][] = [
      [
        'http://app.example.com/callback',
        'uses http to the non-loopback host app.example.com; use https, or http only to 127.0.0.1, [::1] or localhost (RFC 8252 §7.3)',
      ],
      [
        'http://10.0.0.5/callback',
        'uses http to the non-loopback host 10.0.0.5; use https, or http only to 127.0.0.1, [::1] or localhost (RFC 8252 §7.3)',
      ],
      [
        'javascript:alert(1)',
        'uses the "javascript:" scheme, which is not an acceptable redirect target; use https, http to a loopback host (127.0.0.1, [::1], localhost; RFC 8252 §7.3) or a reverse-domain private-use scheme such as com.example.app:/callback (RFC 8252 §7.1)',
      ],
      [
        'data:text/html,hi',
        'uses the "data:" scheme, which is not an acceptable redirect target; use https, http to a loopback host (127.0.0.1, [::1], localhost; RFC 8252 §7.3) or a reverse-domain private-use scheme such as com.example.app:/callback (RFC 8252 §7.1)',
      ],
      [
        'file:///etc/passwd',
        'uses the "file:" scheme, which is not an acceptable redirect target; use https, http to a loopback host (127.0.0.1, [::1], localhost; RFC 8252 §7.3) or a reverse-domain private-use scheme such as com.example.app:/callback (RFC 8252 §7.1)',
      ],
      [
        'myapp:/callback',
        'uses the "myapp:" scheme, which is not an acceptable redirect target; use https, http to a loopback host (127.0.0.1, [::1], localhost; RFC 8252 §7.3) or a reverse-domain private-use scheme such as com.example.app:/callback (RFC 8252 §7.1)',
      ],
      [
        'com.example.app://callback',
        'is not in the private-use form com.example.app:/path (one slash after the scheme, RFC 8252 §7.1); if it is a web address, it needs https://',
      ],
      [
        'app.example.com:8080/callback',
        'is not in the private-use form app.example.com:/path (one slash after the scheme, RFC 8252 §7.1); if it is a web address, it needs https://',
      ],
      ['/callback', 'must be an absolute URI such as https://app.example.com/callback'],
      [
        'https://app.example.com/callback#section',
        'must not contain a fragment (RFC 6749 §3.1.2); remove the "#..." part',
      ],
      [
        'https://app.example.com/callback#',
        'must not contain a fragment (RFC 6749 §3.1.2); remove the "#..." part',
      ],
    ];
    it.each(refused)('refuses %s and explains the allowed forms', (uri, message) => {
      expect(issuesOf({ ...app(), redirect_uris: ['https://app.example.com/ok', uri] })).toEqual([
        { path: ['redirect_uris', 1], message },
      ]);
    });

    it('lists every problem of one URI, such as a fragment on an http URL to a public host', () => {
      expect(
        issuesOf({ ...app(), redirect_uris: ['http://app.example.com/cb#x'] }).map((i) => i.message),
      ).toEqual([
        'must not contain a fragment (RFC 6749 §3.1.2); remove the "#..." part',
        'uses http to the non-loopback host app.example.com; use https, or http only to 127.0.0.1, [::1] or localhost (RFC 8252 §7.3)',
      ]);
    });
  });

  describe('https URLs', () => {
    it.each(['jwks_uri', 'client_uri', 'logo_uri', 'tos_uri', 'policy_uri'])(
      'when %s is http or relative, asks for an absolute https URL',
      (field) => {
        const base = field === 'jwks_uri' ? backend() : app();
        expect(issuesOf({ ...base, [field]: 'http://app.example.com/x' })).toEqual([
          {
            path: [field],
            message: 'uses http; it must be an absolute https URL, e.g. https://app.example.com/',
          },
        ]);
        expect(issuesOf({ ...base, [field]: '/x' })).toEqual([
          {
            path: [field],
            message:
              'is not an absolute URL; it must be an absolute https URL, e.g. https://app.example.com/',
          },
        ]);
      },
    );
  });

  describe('serialized size', () => {
    const padTo = (bytes: number) => {
      const base = backend();
      const overhead = Buffer.byteLength(JSON.stringify({ ...base, client_name: '' }));
      return { ...base, client_name: 'x'.repeat(bytes - overhead) };
    };

    it('accepts metadata of exactly 56 KiB', () => {
      const input = padTo(MAX_METADATA_BYTES);
      expect(Buffer.byteLength(JSON.stringify(input))).toBe(57_344);
      expect(issuesOf(input)).toEqual([]);
    });

    it('refuses metadata one byte over 56 KiB, says why the limit is below 64 KiB and suggests jwks_uri', () => {
      expect(issuesOf(padTo(MAX_METADATA_BYTES + 1))).toEqual([
        {
          path: [],
          message:
            'serializes to 57345 bytes, more than the 57344-byte (56 KiB) limit that leaves room for the issued credentials in the stored secret (at most 64 KiB); register keys by jwks_uri instead of inline jwks and drop bulky extension fields',
        },
      ]);
    });

    it('counts UTF-8 bytes, not characters', () => {
      const base = backend();
      const overhead = Buffer.byteLength(JSON.stringify({ ...base, client_name: '' }));
      const name = 'é'.repeat(Math.ceil((MAX_METADATA_BYTES - overhead) / 2) + 1);
      expect(JSON.stringify({ ...base, client_name: name }).length).toBeLessThan(MAX_METADATA_BYTES);
      expect(issuesOf({ ...base, client_name: name })[0]?.path).toEqual([]);
    });
  });

  describe('scope and contacts', () => {
    it.each(['system/*.rs', 'launch/patient patient/*.rs openid fhirUser offline_access'])(
      'accepts scope %j',
      (scope) => {
        expect(issuesOf({ ...backend(), scope })).toEqual([]);
      },
    );

    it.each(['', ' system/*.rs', 'system/*.rs ', 'system/*.rs  openid', 'system/*.rs\topenid', 'a"b'])(
      'refuses scope %j and asks for single-space-separated tokens',
      (scope) => {
        expect(issuesOf({ ...backend(), scope })).toEqual([
          {
            path: ['scope'],
            message:
              'must be scope tokens separated by single spaces, e.g. "system/Patient.rs system/Observation.rs", with no leading, trailing or repeated spaces and no quotes, backslashes or control characters; omit scope instead of sending an empty one',
          },
        ]);
      },
    );

    it('refuses contacts that are not non-empty strings, pointing at each entry', () => {
      expect(issuesOf({ ...backend(), contacts: ['ops@example.com', 3, ''] })).toEqual([
        { path: ['contacts', 1], message: 'must be a string' },
        { path: ['contacts', 2], message: 'must not be empty' },
      ]);
    });
  });

  it('lists every problem at once, each at its own path', () => {
    const input = {
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      jwks_uri: 'http://keys.example.com/jwks.json',
      jwks: { keys: [{ ...rsa.privateJwk }] },
      redirect_uris: ['javascript:alert(1)'],
      client_uri: 'ftp://example.com',
      scope: 'system/*.rs  ',
      contacts: [7],
      client_name: 12,
    };
    expect(issuesOf(input).map((i) => i.path)).toEqual([
      ['client_name'],
      ['contacts', 0],
      ['jwks'],
      ['jwks', 'keys', 0, 'd'],
      ['jwks', 'keys', 0, 'p'],
      ['jwks', 'keys', 0, 'q'],
      ['jwks', 'keys', 0, 'dp'],
      ['jwks', 'keys', 0, 'dq'],
      ['jwks', 'keys', 0, 'qi'],
      ['response_types'],
      ['redirect_uris', 0],
      ['jwks_uri'],
      ['client_uri'],
      ['scope'],
    ]);
  });

  describe('assertClientMetadata', () => {
    it('returns the metadata when every rule passes', () => {
      expect(assertClientMetadata(backend())).toEqual(backend());
    });

    it('throws invalid_job whose message joins every issue as "path: message"', () => {
      const { jwks_uri: _, ...rest } = backend();
      let thrown: unknown;
      try {
        assertClientMetadata({ ...rest, redirect_uris: ['http://app.example.com/cb'] });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ProvisioningError);
      expect(isProvisioningError(thrown)).toBe(true);
      const error = thrown as ProvisioningError;
      expect(error.code).toBe('invalid_job');
      expect(error.retryable).toBe(false);
      expect(error.message).toBe(
        'token_endpoint_auth_method: "private_key_jwt" needs the client\'s public keys for verifying its assertions; add jwks_uri (preferred) or jwks; ' +
          'redirect_uris.0: uses http to the non-loopback host app.example.com; use https, or http only to 127.0.0.1, [::1] or localhost (RFC 8252 §7.3)',
      );
    });

    it('names the root for problems of the whole document', () => {
      expect(() => assertClientMetadata('nope')).toThrow(
        '(root): must be a JSON object of RFC 7591 client metadata',
      );
    });
  });
});

describe('dcr/checkClientMetadata and credentials', () => {
  it('refuses credentials in the metadata, since metadata is queued where no secret may go', () => {
    const result = checkClientMetadata({
      redirect_uris: ['https://app.example/cb'],
      client_secret: 'oops',
      initial_access_token: 'also-oops',
    });
    expect(result.ok).toBe(false);
    const issues = result.ok ? [] : result.issues;
    expect(issues.map((i) => i.path[0])).toEqual(
      expect.arrayContaining(['client_secret', 'initial_access_token']),
    );
    expect(JSON.stringify(issues)).not.toContain('oops');
  });
});
