// Public surface of the outbound HTTP layer: the port, its got-based implementation and the guards.
export {
  type AddressPolicy,
  type AddressVerdict,
  addressRange,
  checkResolvedAddress,
  createGuardedLookup,
  type LookupFunction,
} from './address-guard.js';
export {
  type ClosableHttpClient,
  createHttpClient,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  type HttpClientOptions,
} from './client.js';
export {
  OUTBOUND_BLOCK_REASONS,
  OutboundBlockedError,
  type OutboundBlockReason,
  ResponseTooLargeError,
} from './errors.js';
export { httpClientOptionsFromConfig } from './from-config.js';
export type { HttpClient, HttpMethod, HttpRequest, HttpResponse } from './types.js';
export { checkOutboundUrl } from './url-guard.js';
export { defaultUserAgent } from './user-agent.js';
