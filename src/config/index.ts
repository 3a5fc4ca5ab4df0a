// Public surface of the configuration.
export { ConfigError, loadConfig, withoutUserinfo } from './load-config.js';
export { type Config, configSchema, HASH_TAGGED_PREFIX, isLoopbackHost, redisUrls } from './schema.js';
