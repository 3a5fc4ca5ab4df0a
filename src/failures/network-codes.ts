// Node's codes for a connection that failed, sorted by whether the request can have reached the peer:
// every classifier of transport errors (the HTTP client's, the secret store's) reads them from here.

/** The connection failed before a byte of the request was written: it did not happen. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

/** The connection broke once it was open: the request may have reached the peer. */
export const AFTER_SEND_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'EPROTO',
  'HPE_INVALID_CONSTANT',
]);
