// Registration and management against a real oidc-provider configured as a SMART server.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  backendServicesMetadata,
  confidentialAsymmetricMetadata,
  confidentialSymmetricMetadata,
  deleteClient,
  publicAppMetadata,
  readClient,
  register,
  registerClient,
  updateClient,
} from '../../../src/dcr/index.js';
import { type ClosableHttpClient, createHttpClient } from '../../../src/http/index.js';
import { MemoryDiscoveryCache } from '../../../src/smart/index.js';
import { ecPublicJwk, rsaPublicJwk } from '../../fixtures/keys.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';

let http: ClosableHttpClient;
const servers: SmartServer[] = [];

async function server(options: Parameters<typeof startSmartServer>[0] = {}): Promise<SmartServer> {
  const started = await startSmartServer(options);
  servers.push(started);
  return started;
}

beforeAll(() => {
  http = createHttpClient({ timeoutMs: 5000, allowInsecureLocalhost: true });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => http.close());

const redirectUris = ['http://127.0.0.1:9/callback'];

describe('dcr/registerClient against oidc-provider', () => {
  const profiles = {
    'public app': () =>
      publicAppMetadata({ clientName: 'Patient app', redirectUris, scope: 'launch/patient patient/*.rs' }),
    'confidential symmetric': () =>
      confidentialSymmetricMetadata({ clientName: 'Clinic portal', redirectUris, scope: 'user/*.rs' }),
    'confidential asymmetric': () =>
      confidentialAsymmetricMetadata({
        clientName: 'Clinic app',
        redirectUris,
        jwks: { keys: [rsaPublicJwk()] },
      }),
    'backend services': () =>
      backendServicesMetadata({
        clientName: 'Export job',
        scope: 'system/*.rs',
        jwks: { keys: [ecPublicJwk()] },
      }),
  };

  for (const [profile, metadata] of Object.entries(profiles)) {
    it(`registers a ${profile} client discovered through smart-configuration`, async () => {
      const smart = await server();
      const { client, configuration, registrationEndpoint } = await registerClient({
        fhirBaseUrl: smart.fhirBaseUrl,
        metadata: metadata(),
        http,
      });
      expect(registrationEndpoint).toBe(smart.registrationEndpoint);
      expect(configuration?.tokenEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      expect(client.status).toBe(201);
      expect(client.clientId).toBeTruthy();
      expect(smart.stats.getClient(client.clientId)).toBeDefined();
      expect(client.registrationAccessToken).toBeTruthy();
      expect(client.registrationClientUri).toContain(client.clientId);
      if (profile === 'confidential symmetric') {
        expect(client.clientSecret).toBeTruthy();
        expect(client.clientSecretExpiresAt).toBe(0);
      } else {
        expect(client.clientSecret).toBeUndefined();
      }
      const sent = smart.lastRegistrationRequest;
      expect(sent?.headers['content-type']).toMatch(/^application\/json/);
      expect(sent?.headers['user-agent']).toMatch(/^dcr-provisioner\/\d+\.\d+\.\d+/);
    });
  }

  it('keeps the secrets out of JSON and logs of the returned client', async () => {
    const smart = await server();
    const { client } = await registerClient({
      fhirBaseUrl: smart.fhirBaseUrl,
      metadata: profiles['confidential symmetric'](),
      http,
    });
    const serialised = JSON.stringify(client);
    expect(serialised).not.toContain(client.clientSecret as string);
    expect(serialised).not.toContain(client.registrationAccessToken as string);
  });

  it('discovers once for many registrations with a shared cache', async () => {
    const smart = await server();
    const cache = new MemoryDiscoveryCache();
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        registerClient({ fhirBaseUrl: smart.fhirBaseUrl, metadata: profiles['public app'](), http, cache }),
      ),
    );
    expect(new Set(results.map((r) => r.client.clientId)).size).toBe(5);
    expect(smart.stats.liveClientCount()).toBe(5);
  });

  it('refuses locally, before any request, an auth method the server does not advertise', async () => {
    const smart = await server();
    await expect(
      registerClient({
        fhirBaseUrl: smart.fhirBaseUrl,
        metadata: { ...profiles['confidential symmetric'](), token_endpoint_auth_method: 'tls_client_auth' },
        http,
      }),
    ).rejects.toMatchObject({
      code: 'invalid_job',
      message: expect.stringContaining('token_endpoint_auth_method'),
    });
    expect(smart.stats.registrationPosts).toBe(0);
  });
});

describe('dcr/registerClient with an initial access token', () => {
  it('fails as unauthorized without the token and registers with it', async () => {
    const smart = await server({ initialAccessToken: true });
    const metadata = publicAppMetadata({ redirectUris });
    await expect(registerClient({ fhirBaseUrl: smart.fhirBaseUrl, metadata, http })).rejects.toMatchObject({
      code: 'unauthorized',
      status: 401,
      retryable: false,
    });
    const token = await smart.issueInitialAccessToken();
    const { client } = await registerClient({
      fhirBaseUrl: smart.fhirBaseUrl,
      metadata,
      http,
      initialAccessToken: token,
    });
    expect(client.clientId).toBeTruthy();
    expect(smart.lastRegistrationRequest?.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('reports a spent one-shot token (as Epic issues them) as unauthorized, without the token in the message', async () => {
    const smart = await server({ initialAccessToken: true });
    const token = await smart.issueInitialAccessToken({ singleUse: true });
    const metadata = publicAppMetadata({ redirectUris });
    await registerClient({ fhirBaseUrl: smart.fhirBaseUrl, metadata, http, initialAccessToken: token });
    const failure = await registerClient({
      fhirBaseUrl: smart.fhirBaseUrl,
      metadata,
      http,
      initialAccessToken: token,
    }).catch((err: unknown) => err as Error);
    expect(failure).toMatchObject({ code: 'unauthorized' });
    expect(JSON.stringify(failure)).not.toContain(token);
    expect((failure as Error).message).not.toContain(token);
  });
});

describe('dcr RFC 7592 management against oidc-provider', () => {
  it('reads, updates with a rotated token, and deletes a registration', async () => {
    const smart = await server();
    const { client } = await registerClient({
      fhirBaseUrl: smart.fhirBaseUrl,
      metadata: confidentialSymmetricMetadata({ clientName: 'Before', redirectUris }),
      http,
    });
    const registrationClientUri = client.registrationClientUri as string;
    const firstToken = client.registrationAccessToken as string;

    const read = await readClient({ http, registrationClientUri, registrationAccessToken: firstToken });
    expect(read.clientId).toBe(client.clientId);
    expect(read.metadata.client_name).toBe('Before');
    expect(read.registrationAccessToken).toBe(firstToken);

    const updated = await updateClient({
      http,
      registrationClientUri,
      registrationAccessToken: read.registrationAccessToken,
      clientId: client.clientId,
      // Sending back what the server returned must work: the forbidden fields are stripped.
      metadata: {
        ...read.metadata,
        client_name: 'After',
        client_id_issued_at: 1,
        client_secret_expires_at: 0,
      },
    });
    expect(updated.metadata.client_name).toBe('After');
    expect(updated.registrationAccessToken).not.toBe(firstToken);
    expect(smart.stats.managementPuts).toBe(1);

    await expect(
      readClient({ http, registrationClientUri, registrationAccessToken: firstToken }),
    ).rejects.toMatchObject({ code: 'unauthorized' });

    const liveBefore = smart.stats.liveClientCount();
    await deleteClient({
      http,
      registrationClientUri,
      registrationAccessToken: updated.registrationAccessToken,
    });
    expect(smart.stats.liveClientCount()).toBe(liveBefore - 1);
    await expect(
      readClient({ http, registrationClientUri, registrationAccessToken: updated.registrationAccessToken }),
    ).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('keeps using the same token when the server does not rotate it', async () => {
    const smart = await server({ rotateRegistrationAccessToken: false });
    const { client } = await registerClient({
      fhirBaseUrl: smart.fhirBaseUrl,
      metadata: publicAppMetadata({ redirectUris }),
      http,
    });
    const updated = await updateClient({
      http,
      registrationClientUri: client.registrationClientUri as string,
      registrationAccessToken: client.registrationAccessToken as string,
      clientId: client.clientId,
      metadata: client.metadata,
    });
    expect(updated.registrationAccessToken).toBe(client.registrationAccessToken);
  });

  it('reports a server without update or delete as rejected', async () => {
    const smart = await server({ registrationManagement: false });
    const { client } = await registerClient({
      fhirBaseUrl: smart.fhirBaseUrl,
      metadata: publicAppMetadata({ redirectUris }),
      http,
    });
    await expect(
      deleteClient({
        http,
        registrationClientUri: client.registrationClientUri as string,
        registrationAccessToken: client.registrationAccessToken as string,
      }),
    ).rejects.toMatchObject({ code: 'rejected', status: 404 });
  });
});

describe('dcr/register maps the RFC 7591 errors oidc-provider produces', () => {
  // These bypass the local rules on purpose: the server's own verdicts must map to their codes.
  const cases = [
    ['invalid_redirect_uri', { redirect_uris: ['http://127.0.0.1/cb#fragment'] }],
    ['invalid_client_metadata', { redirect_uris: redirectUris, scope: 'system/Unknown.everything' }],
    [
      'invalid_software_statement',
      { redirect_uris: redirectUris, software_statement: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig' },
    ],
  ] as const;

  for (const [code, metadata] of cases) {
    it(`fails with ${code} when the server answers ${code}`, async () => {
      const smart = await server();
      await expect(
        register({ http, registrationEndpoint: smart.registrationEndpoint, metadata }),
      ).rejects.toMatchObject({ code, status: 400, retryable: false });
      expect(smart.stats.registrationPosts).toBe(1);
    });
  }

  it('fails with invalid_client_metadata for an unknown scope even after local checks pass', async () => {
    const smart = await server();
    await expect(
      registerClient({
        fhirBaseUrl: smart.fhirBaseUrl,
        metadata: publicAppMetadata({ redirectUris, scope: 'patient/Unknown.crud' }),
        http,
      }),
    ).rejects.toMatchObject({ code: 'invalid_client_metadata' });
  });
});
