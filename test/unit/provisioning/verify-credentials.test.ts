import { describe, expect, it } from 'vitest';
import type { HttpClient, HttpRequest } from '../../../src/http/index.js';
import { requestClientCredentialsToken } from '../../../src/provisioning/verify-credentials.js';

function answering(status: number, body: unknown): { http: HttpClient; sent: HttpRequest[] } {
  const sent: HttpRequest[] = [];
  return {
    sent,
    http: {
      async request(request) {
        sent.push(request);
        return { status, headers: {}, body: typeof body === 'string' ? body : JSON.stringify(body), url: '' };
      },
    },
  };
}

const base = {
  tokenEndpoint: 'https://auth.example/token',
  clientId: 'id with space:colon',
  scope: 'system/Patient.rs',
};
const secret = 'p@ss+/=:é';
const basic = { method: 'client_secret_basic', clientSecret: secret } as const;

describe('provisioning/requestClientCredentialsToken', () => {
  it('client_secret_basic: HTTP Basic over the form-urlencoded id and secret (RFC 6749 §2.3.1), nothing secret in the body', async () => {
    const { http, sent } = answering(200, { access_token: 'tok', token_type: 'bearer' });
    expect(await requestClientCredentialsToken(http, { ...base, authentication: basic })).toEqual({
      ok: true,
    });
    const [request] = sent;
    expect(request?.form).toEqual({ grant_type: 'client_credentials', scope: 'system/Patient.rs' });
    const decoded = Buffer.from(
      String(request?.headers?.authorization).replace(/^Basic /, ''),
      'base64',
    ).toString();
    expect(decoded).toBe('id+with+space%3Acolon:p%40ss%2B%2F%3D%3A%C3%A9');
  });

  it('client_secret_post: id and secret in the form body, no Authorization header', async () => {
    const { http, sent } = answering(200, { access_token: 'tok' });
    await requestClientCredentialsToken(http, {
      ...base,
      authentication: { method: 'client_secret_post', clientSecret: secret },
      scope: undefined,
    });
    expect(sent[0]?.headers?.authorization).toBeUndefined();
    expect(sent[0]?.form).toEqual({
      grant_type: 'client_credentials',
      client_id: base.clientId,
      client_secret: secret,
    });
  });

  it('private_key_jwt: the client assertion and its type in the form, no Authorization header and no client secret', async () => {
    const { http, sent } = answering(200, { access_token: 'tok' });
    await requestClientCredentialsToken(http, {
      ...base,
      authentication: { method: 'private_key_jwt', clientAssertion: 'header.payload.signature' },
    });
    expect(sent[0]?.headers?.authorization).toBeUndefined();
    expect(sent[0]?.form).toEqual({
      grant_type: 'client_credentials',
      scope: 'system/Patient.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'header.payload.signature',
    });
  });

  it("answers the server's error code, an http_<status> without one, and never the body", async () => {
    const refused = answering(401, { error: 'invalid_client', error_description: 'nope' });
    expect(await requestClientCredentialsToken(refused.http, { ...base, authentication: basic })).toEqual({
      ok: false,
      error: 'invalid_client',
      status: 401,
    });
    const html = answering(503, '<html>down</html>');
    expect(await requestClientCredentialsToken(html.http, { ...base, authentication: basic })).toEqual({
      ok: false,
      error: 'http_503',
      status: 503,
    });
    const odd = answering(400, { error: 'not a code\nwith lines' });
    expect(await requestClientCredentialsToken(odd.http, { ...base, authentication: basic })).toEqual({
      ok: false,
      error: 'http_400',
      status: 400,
    });
  });

  it('a 200 without an access_token is not a verification', async () => {
    const { http } = answering(200, { token_type: 'bearer' });
    expect(await requestClientCredentialsToken(http, { ...base, authentication: basic })).toEqual({
      ok: false,
      error: 'invalid_response',
      status: 200,
    });
  });

  it('a transport failure is an unverified answer with its failure code', async () => {
    const http: HttpClient = {
      request: async () => {
        throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
      },
    };
    expect(await requestClientCredentialsToken(http, { ...base, authentication: basic })).toEqual({
      ok: false,
      error: 'network_error',
    });
  });
});
