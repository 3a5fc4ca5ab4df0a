// The outbound HTTP port used by discovery and registration. Callers judge status codes themselves;
// the client only moves bytes safely (timeouts, size cap, address guard, redirect rules).

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  url: string | URL;
  /** Extra request headers; `User-Agent` is always set by the client. */
  headers?: Record<string, string>;
  /** Serialised as the JSON body, with `Content-Type: application/json`. */
  json?: unknown;
  /** Serialised as an `application/x-www-form-urlencoded` body (a token request); wins over `json`. */
  form?: Record<string, string>;
  /** Aborts the request (e.g. the job's signal). */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-cased header names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The body decoded as UTF-8 (at most `maxResponseBytes`). */
  body: string;
  /** The URL that answered, after any redirects (GET only). */
  url: string;
}

export interface HttpClient {
  /**
   * Sends one request. Resolves with any HTTP status (no throw on 4xx/5xx). Rejects with
   * `OutboundBlockedError` (scheme, address or redirect refused), `ResponseTooLargeError`, or got's
   * transport errors (`TimeoutError`, `RequestError` with a Node `code`, abort) — see failures/classify.
   */
  request(request: HttpRequest): Promise<HttpResponse>;
}
