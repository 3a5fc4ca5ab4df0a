// Public surface of SMART discovery.

export {
  supportsAuthMethod,
  supportsBackendServices,
  supportsDynamicRegistration,
  supportsPrivateKeyJwt,
  supportsSigningAlgorithm,
} from './capabilities.js';
export { OAUTH_URIS_EXTENSION, parseCapabilityStatement } from './capability-statement.js';
export {
  type DiscoverOptions,
  type DiscoveryResult,
  discover,
  fetchSmartConfiguration,
} from './discovery.js';
export {
  type CacheLookup,
  type DiscoveryCache,
  MemoryDiscoveryCache,
  type MemoryDiscoveryCacheOptions,
} from './discovery-cache.js';
export { normalizeFhirBaseUrl } from './fhir-base-url.js';
export {
  parseSmartConfiguration,
  type SmartConfiguration,
  smartConfigurationUrl,
} from './smart-configuration.js';
