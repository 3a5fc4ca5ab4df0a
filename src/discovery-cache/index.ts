// Public surface of the fleet-wide discovery cache.
export { RedisDiscoveryCache, type RedisDiscoveryCacheOptions } from './redis-discovery-cache.js';
