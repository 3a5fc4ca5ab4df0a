// The library surface of dcr-provisioner: what an application may import to discover SMART servers and
// register clients without the queue, the secret store or the HTTP API.
export * from './config/index.js';
export * from './dcr/index.js';
export * from './events/index.js';
export * from './failures/index.js';
export * from './http/index.js';
export * from './smart/index.js';
