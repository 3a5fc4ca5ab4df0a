// Finds a SMART server's endpoints: the well-known document first, the SMART 1.0 CapabilityStatement
// when that document does not exist. Sending and judging are separate functions so each can be tested.

import { classify, classifyResponse, ProvisioningError } from '../failures/index.js';
import type { HttpClient, HttpResponse } from '../http/types.js';
import { parseCapabilityStatement } from './capability-statement.js';
import type { DiscoveryCache } from './discovery-cache.js';
import { normalizeFhirBaseUrl } from './fhir-base-url.js';
import {
  parseSmartConfiguration,
  type SmartConfiguration,
  smartConfigurationUrl,
} from './smart-configuration.js';

export interface DiscoverOptions {
  http: HttpClient;
  /** Shares results between callers; without it every call fetches. */
  cache?: DiscoveryCache;
  signal?: AbortSignal;
}

export interface DiscoveryResult {
  configuration: SmartConfiguration;
  /** True when the configuration came from the cache. */
  cacheHit: boolean;
}

async function get(
  http: HttpClient,
  url: string,
  accept: string,
  signal?: AbortSignal,
): Promise<HttpResponse> {
  try {
    return await http.request({ method: 'GET', url, headers: { accept }, ...(signal ? { signal } : {}) });
  } catch (err) {
    throw classify(err, 'discovery');
  }
}

function isSuccess(response: HttpResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/** Fetches and validates the configuration of one FHIR server, without any cache. */
export async function fetchSmartConfiguration(
  fhirBaseUrl: string,
  http: HttpClient,
  signal?: AbortSignal,
): Promise<SmartConfiguration> {
  const wellKnown = await get(http, smartConfigurationUrl(fhirBaseUrl), 'application/json', signal);
  if (isSuccess(wellKnown)) return parseSmartConfiguration(wellKnown.body, fhirBaseUrl);
  if (wellKnown.status !== 404) throw classifyResponse('discovery', wellKnown);

  const metadataUrl = `${fhirBaseUrl.replace(/\/+$/, '')}/metadata`;
  const metadata = await get(http, metadataUrl, 'application/fhir+json, application/json;q=0.9', signal);
  if (isSuccess(metadata)) return parseCapabilityStatement(metadata.body, fhirBaseUrl);
  if (metadata.status === 404) {
    throw new ProvisioningError(
      'discovery_invalid',
      'neither /.well-known/smart-configuration nor /metadata exists at the FHIR base URL',
      { status: 404 },
    );
  }
  throw classifyResponse('discovery', metadata);
}

/** Discovers a server's SMART configuration, through the cache when one is given. */
export async function discover(fhirBaseUrl: string, options: DiscoverOptions): Promise<DiscoveryResult> {
  let base: string;
  try {
    base = normalizeFhirBaseUrl(fhirBaseUrl);
  } catch {
    throw new ProvisioningError('invalid_job', 'fhirBaseUrl is not an absolute URL');
  }
  const load = () => fetchSmartConfiguration(base, options.http, options.signal);
  if (!options.cache) return { configuration: await load(), cacheHit: false };
  const { configuration, hit } = await options.cache.getOrLoad(base, load);
  return { configuration, cacheHit: hit };
}
