// The demo's sample tenants: one of each SMART client profile — the backend services with keys the
// service generates, once inline and once published by jwks_uri, both verified — and one the sandbox
// refuses for good (a scope it does not know), so a newcomer sees both outcomes and a failure code.

import { generateKeyPairSync } from 'node:crypto';
import type { Jwks } from '../dcr/index.js';
import {
  backendServicesMetadata,
  confidentialAsymmetricMetadata,
  confidentialSymmetricMetadata,
  publicAppMetadata,
} from '../dcr/index.js';
import type { RegistrationRequest } from '../queue/index.js';

export interface SampleTenant {
  tenantId: string;
  profile: string;
  expectedState: 'completed' | 'failed';
  expectedCode?: string;
  /** The sample's credentials are verified with a token request and must pass it. */
  expectVerified?: boolean;
  request(fhirBaseUrl: string, initialAccessToken: string): RegistrationRequest;
}

/** A fresh public signing key brought by the caller; its private half is discarded (it signs nothing here). */
function publicJwks(): Jwks {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { kty = 'RSA', ...members } = publicKey.export({ format: 'jwk' });
  return { keys: [{ kty, ...members, kid: 'demo-rsa-1', alg: 'RS384', use: 'sig' }] };
}

const request = (tenantId: string, clientMetadata: unknown) => (fhirBaseUrl: string, token: string) => ({
  tenantId,
  fhirBaseUrl,
  clientMetadata,
  initialAccessToken: { value: token },
  reason: 'onboarding' as const,
});

const withKeys =
  (build: ReturnType<typeof request>, keys: NonNullable<RegistrationRequest['keys']>) =>
  (fhirBaseUrl: string, token: string): RegistrationRequest => ({ ...build(fhirBaseUrl, token), keys });

export function sampleTenants(): SampleTenant[] {
  return [
    {
      tenantId: 'demo-patient-app',
      profile: 'public app',
      expectedState: 'completed',
      request: request(
        'demo-patient-app',
        publicAppMetadata({
          clientName: 'Demo patient app',
          redirectUris: ['https://patient-app.example/callback'],
          scope: 'openid fhirUser launch/patient patient/*.rs',
        }),
      ),
    },
    {
      tenantId: 'demo-clinic-portal',
      profile: 'confidential symmetric',
      expectedState: 'completed',
      request: request(
        'demo-clinic-portal',
        confidentialSymmetricMetadata({
          clientName: 'Demo clinic portal',
          redirectUris: ['https://portal.example/callback'],
          scope: 'openid fhirUser user/*.rs',
        }),
      ),
    },
    {
      tenantId: 'demo-clinic-app',
      profile: 'confidential asymmetric',
      expectedState: 'completed',
      request: request(
        'demo-clinic-app',
        confidentialAsymmetricMetadata({
          clientName: 'Demo clinic app',
          redirectUris: ['https://clinic-app.example/callback'],
          jwks: publicJwks(),
        }),
      ),
    },
    {
      tenantId: 'demo-population-export',
      profile: 'backend services, generated key',
      expectedState: 'completed',
      expectVerified: true,
      // The service makes the key pair, registers the public key inline, keeps the private one only in
      // the secret, and proves it with a client assertion at the token endpoint.
      request: withKeys(
        request(
          'demo-population-export',
          backendServicesMetadata({
            clientName: 'Demo population export',
            scope: 'system/*.rs',
            keysAddedLater: true,
          }),
        ),
        { generate: { alg: 'ES384' } },
      ),
    },
    {
      tenantId: 'demo-lab-feed',
      profile: 'backend services, key by jwks_uri',
      expectedState: 'completed',
      expectVerified: true,
      // Published at the API's own /jwks/... route, where the sandbox fetches it.
      request: withKeys(
        request(
          'demo-lab-feed',
          backendServicesMetadata({
            clientName: 'Demo lab feed',
            scope: 'system/Observation.rs',
            keysAddedLater: true,
          }),
        ),
        { generate: { alg: 'RS384' }, publish: 'jwks_uri' },
      ),
    },
    {
      tenantId: 'demo-misconfigured',
      profile: 'public app, unknown scope',
      expectedState: 'failed',
      expectedCode: 'invalid_client_metadata',
      request: request(
        'demo-misconfigured',
        publicAppMetadata({
          clientName: 'Demo app asking for a scope the server does not know',
          redirectUris: ['https://misconfigured.example/callback'],
          scope: 'patient/Everything.write',
        }),
      ),
    },
  ];
}
