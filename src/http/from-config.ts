// Maps the validated configuration onto the outbound client's options, so every process builds its
// client the same way.

import type { Config } from '../config/index.js';
import type { HttpClientOptions } from './client.js';

export function httpClientOptionsFromConfig(
  config: Pick<
    Config,
    'HTTP_TIMEOUT_MS' | 'ALLOW_INSECURE_LOCALHOST' | 'ALLOWED_PRIVATE_HOSTS' | 'SERVER_HEADERS'
  >,
): HttpClientOptions {
  return {
    timeoutMs: config.HTTP_TIMEOUT_MS,
    allowInsecureLocalhost: config.ALLOW_INSECURE_LOCALHOST,
    allowedPrivateHosts: config.ALLOWED_PRIVATE_HOSTS,
    serverHeaders: config.SERVER_HEADERS ?? {},
  };
}
