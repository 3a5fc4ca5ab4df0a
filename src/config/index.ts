// Public surface of the configuration.
export { ConfigError, loadConfig } from './load-config.js';
export { type Config, configSchema, isLoopbackHost } from './schema.js';
