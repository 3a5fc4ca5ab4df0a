// Public surface of the sandbox SMART server.
export * from './smart-server.js';
