// The library surface of dcr-provisioner: discover SMART servers and register clients directly, or
// enqueue registrations and consume their completion events; client keys and assertions; the logger
// and metrics the processes use.
export * from './config/index.js';
export * from './dcr/index.js';
export * from './events/index.js';
export * from './failures/index.js';
export * from './http/index.js';
export * from './keys/index.js';
export * from './observability/index.js';
export * from './provisioning/index.js';
export * from './queue/index.js';
export * from './registry/index.js';
export * from './secrets/index.js';
export * from './smart/index.js';
