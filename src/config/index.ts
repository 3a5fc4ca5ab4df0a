// Public surface of the configuration.
export { ConfigError, loadConfig, withoutUserinfo } from './load-config.js';
export {
  type Config,
  configSchema,
  HASH_TAGGED_PREFIX,
  isLoopbackHost,
  REFUSED_SERVER_HEADERS,
  redisUrls,
  type ServerHeaders,
} from './schema.js';
