// The metadata size limit against the secret it ends up in: metadata the local rules accept must still
// be storable once the server's credentials and this service's fields are added, or a registration
// spends its request and one-shot token and then fails to store.

import { describe, expect, it } from 'vitest';
import {
  checkClientMetadata,
  MAX_METADATA_BYTES,
  METADATA_RESERVE_BYTES,
} from '../../../src/dcr/metadata-rules.js';
import { secretValue } from '../../../src/provisioning/secret-value.js';
import { clientRequestToken, MAX_SECRET_VALUE_BYTES } from '../../../src/secrets/index.js';
import { validateSecretWrite } from '../../../src/secrets/validate-secret-write.js';

const url = (length: number) => `https://ehr.example/${'p'.repeat(length - 'https://ehr.example/'.length)}`;

describe('dcr/MAX_METADATA_BYTES and the secret store', () => {
  it("keeps the reserve for credentials inside Secrets Manager's limit on a secret value", () => {
    expect(MAX_METADATA_BYTES + METADATA_RESERVE_BYTES).toBeLessThanOrEqual(MAX_SECRET_VALUE_BYTES);
  });

  it('stores a registration at the metadata limit with credentials and service fields of the sizes the reserve allows for', () => {
    const request = {
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      response_types: [],
      jwks_uri: 'https://app.example.com/.well-known/jwks.json',
      client_name: '',
    };
    const overhead = Buffer.byteLength(JSON.stringify(request));
    const metadata = { ...request, client_name: 'x'.repeat(MAX_METADATA_BYTES - overhead) };
    expect(checkClientMetadata(metadata).ok).toBe(true);

    // The server echoes the metadata with about 1 KiB of its own defaults and issues long credentials.
    const serverDefaults = { id_token_signed_response_alg: 'RS256', vendor_extension: 'd'.repeat(1_000) };
    const value = secretValue({
      client: {
        clientId: 'c'.repeat(256),
        clientSecret: 's'.repeat(256),
        clientSecretExpiresAt: 1_900_000_000,
        clientIdIssuedAt: 1_800_000_000,
        registrationAccessToken: 't'.repeat(2_048),
        registrationClientUri: url(400),
        metadata: { ...metadata, ...serverDefaults },
        status: 201,
        warnings: [],
      },
      fhirBaseUrl: url(400),
      tokenEndpoint: url(400),
      issuer: url(400),
      registrationEndpoint: url(400),
      registeredAt: new Date('2030-01-01T00:00:00Z'),
      rotatedAt: new Date('2030-02-01T00:00:00Z'),
      rotationPeriodDays: 90,
    });
    const serialized = JSON.stringify(value);
    // About 5 KiB beside the metadata, what the reserve's comment counts on.
    expect(Buffer.byteLength(serialized) - MAX_METADATA_BYTES).toBeGreaterThan(5_000);

    expect(() =>
      validateSecretWrite({
        name: 'dcr/acme/ehr.example',
        value: serialized,
        clientRequestToken: clientRequestToken('job-1', 'write'),
      }),
    ).not.toThrow();
  });
});
