// The demo's sample tenants: one of each SMART client profile, and one the sandbox refuses for good
// (a scope it does not know), so a newcomer sees both outcomes and a failure code.

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
  request(fhirBaseUrl: string, initialAccessToken: string): RegistrationRequest;
}

/** A fresh public signing key; the private half is discarded, since the demo never requests tokens. */
function publicJwks(kind: 'rsa' | 'ec'): Jwks {
  const { publicKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const { kty = kind === 'rsa' ? 'RSA' : 'EC', ...members } = publicKey.export({ format: 'jwk' });
  return {
    keys: [{ kty, ...members, kid: `demo-${kind}-1`, alg: kind === 'rsa' ? 'RS384' : 'ES384', use: 'sig' }],
  };
}

const request = (tenantId: string, clientMetadata: unknown) => (fhirBaseUrl: string, token: string) => ({
  tenantId,
  fhirBaseUrl,
  clientMetadata,
  initialAccessToken: { value: token },
  reason: 'onboarding' as const,
});

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
          jwks: publicJwks('rsa'),
        }),
      ),
    },
    {
      tenantId: 'demo-population-export',
      profile: 'backend services',
      expectedState: 'completed',
      request: request(
        'demo-population-export',
        backendServicesMetadata({
          clientName: 'Demo population export',
          scope: 'system/*.rs',
          jwks: publicJwks('ec'),
        }),
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
