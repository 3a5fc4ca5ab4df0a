// One registration from end to end, the way Safire's register_client does it and more carefully:
// check the metadata locally, discover the server (unless the endpoint is given), check the metadata
// against what the server advertises, then POST. Nothing is stored and nothing is retried here.

import { ProvisioningError } from '../failures/index.js';
import type { HttpClient } from '../http/types.js';
import { type DiscoveryCache, discover, type SmartConfiguration } from '../smart/index.js';
import { checkTokenEndpointAuthSupport } from './auth-method.js';
import type { RegisteredClient } from './client-information.js';
import { assertClientMetadata, invalidMetadataError, type MetadataCheckOptions } from './metadata-rules.js';
import { register } from './registration.js';

export interface RegisterClientOptions {
  /** The FHIR base URL whose SMART configuration names the registration endpoint. */
  fhirBaseUrl: string;
  /** RFC 7591 client metadata; checked locally before any request. */
  metadata: unknown;
  http: HttpClient;
  /** Skips discovery and POSTs here (for servers that do not advertise their endpoint). */
  registrationEndpoint?: string;
  /** Sent as `Authorization: Bearer` to the registration endpoint. */
  initialAccessToken?: string;
  /** Shares discovery results; without it every call discovers. */
  cache?: DiscoveryCache;
  signal?: AbortSignal;
  /** How the metadata's local rules apply (e.g. loopback http URLs in a sandbox). */
  metadataCheck?: MetadataCheckOptions;
}

export interface RegisterClientResult {
  client: RegisteredClient;
  /** Absent when `registrationEndpoint` was given and discovery was skipped. */
  configuration?: SmartConfiguration;
  registrationEndpoint: string;
}

export async function registerClient(options: RegisterClientOptions): Promise<RegisterClientResult> {
  const metadata = assertClientMetadata(options.metadata, options.metadataCheck);
  const signal = options.signal ? { signal: options.signal } : {};

  let configuration: SmartConfiguration | undefined;
  let registrationEndpoint = options.registrationEndpoint;
  if (registrationEndpoint === undefined) {
    configuration = (
      await discover(options.fhirBaseUrl, {
        http: options.http,
        ...(options.cache ? { cache: options.cache } : {}),
        ...signal,
      })
    ).configuration;
    registrationEndpoint = configuration.registrationEndpoint;
    if (registrationEndpoint === undefined) {
      throw new ProvisioningError(
        'no_registration_endpoint',
        'the server advertises no registration_endpoint; pass registrationEndpoint if you know it',
      );
    }
    const issues = checkTokenEndpointAuthSupport(metadata, {
      token_endpoint_auth_methods_supported: configuration.tokenEndpointAuthMethodsSupported,
      token_endpoint_auth_signing_alg_values_supported:
        configuration.tokenEndpointAuthSigningAlgValuesSupported,
    });
    if (issues.length > 0) throw invalidMetadataError(issues);
  }

  const client = await register({
    http: options.http,
    registrationEndpoint,
    metadata,
    ...(options.initialAccessToken ? { initialAccessToken: options.initialAccessToken } : {}),
    ...signal,
  });
  return configuration ? { client, configuration, registrationEndpoint } : { client, registrationEndpoint };
}
