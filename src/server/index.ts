// Public surface of the HTTP server: the producer API, Bull Board, probes and metrics.
export { basicPassword, bearerCredential, requireToken, tokenMatches } from './auth.js';
export { BOARD_PATH, type BoardOptions } from './board.js';
export { buildServer, type ServerOptions } from './build-server.js';
export type { MetricsSource } from './probe-routes.js';
export { REDACTED, redactSecrets } from './redact.js';
export { BULK_MAX_REQUESTS } from './registration-routes.js';
export { type ListenOptions, type RunningServer, startServer } from './start-server.js';
