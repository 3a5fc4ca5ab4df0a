// The outbound HTTP client behind the HttpClient port, on got 14: no silent retries, a timeout per
// phase, a capped body, the address guard on every connection, and redirects followed by hand.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import got from 'got';
import { type AddressPolicy, createGuardedLookup, type LookupFunction } from './address-guard.js';
import { OutboundBlockedError, ResponseTooLargeError, surfaceOwnError } from './errors.js';
import type { HttpClient, HttpMethod, HttpRequest, HttpResponse } from './types.js';
import { checkOutboundUrl } from './url-guard.js';
import { defaultUserAgent } from './user-agent.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576;
export const DEFAULT_MAX_REDIRECTS = 3;

export interface HttpClientOptions {
  /**
   * Limit for each phase of a request (HTTP_TIMEOUT_MS): DNS lookup, TCP connect, TLS handshake, sending
   * the request, waiting for the response headers, and reading the body. Each phase has the whole
   * budget; a request can therefore take a few times this long in total.
   * @defaultValue 10000
   */
  timeoutMs?: number;
  /**
   * Allow loopback addresses, and plain http to loopback hosts (ALLOW_INSECURE_LOCALHOST).
   * @defaultValue false
   */
  allowInsecureLocalhost?: boolean;
  /**
   * Host names allowed to resolve to private, link-local or other special-purpose addresses
   * (ALLOWED_PRIVATE_HOSTS); exact names, compared case-insensitively.
   * @defaultValue []
   */
  allowedPrivateHosts?: readonly string[];
  /**
   * Largest response body read, in bytes; a bigger one fails with ResponseTooLargeError.
   * @defaultValue 1048576 (1 MiB)
   */
  maxResponseBytes?: number;
  /**
   * Redirects a GET follows before the last 3xx answer is returned as is. Other methods never follow.
   * @defaultValue 3
   */
  maxRedirects?: number;
  /**
   * The User-Agent header of every request.
   * @defaultValue `dcr-provisioner/<version from package.json>`
   */
  userAgent?: string;
  /**
   * Resolver with dns.lookup's signature, wrapped by the address guard; tests inject one to map
   * names to addresses without DNS.
   * @defaultValue dns.lookup
   */
  resolve?: LookupFunction;
  /**
   * Extra trusted CA certificates (PEM), added to Node's bundled roots rather than replacing them:
   * for test servers and private CAs.
   */
  certificateAuthority?: string | readonly string[];
  /**
   * Extra headers for every request to a host (SERVER_HEADERS), keyed like `URL.host` (lower case, the
   * default port dropped), as SERVER_LIMITS is. Checked against each hop's URL, so a redirect elsewhere
   * does not carry them; they replace a caller's header of the same name, and the User-Agent.
   * @defaultValue {}
   */
  serverHeaders?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The port plus ownership of the keep-alive connections. */
export interface ClosableHttpClient extends HttpClient {
  /** Closes pooled connections; requests made afterwards open new ones. */
  close(): void;
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

// Credentials for one origin must not travel with a redirect to another.
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie', 'proxy-authorization'] as const;

export function createHttpClient(options: HttpClientOptions = {}): ClosableHttpClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const userAgent = options.userAgent ?? defaultUserAgent();
  const policy: AddressPolicy = {
    allowInsecureLocalhost: options.allowInsecureLocalhost ?? false,
    allowedPrivateHosts: [...(options.allowedPrivateHosts ?? [])],
  };

  const httpsLookup = createGuardedLookup(policy, options.resolve);
  const httpLookup = createGuardedLookup({ ...policy, loopbackOnly: true }, options.resolve);
  const serverHeaders = lowerCasedByHost(options.serverHeaders ?? {});
  const extraCas = options.certificateAuthority === undefined ? [] : [options.certificateAuthority].flat();

  // The guarded lookup sits on the agents as well as on each request: Node lets agent options win over
  // request options, so no socket these agents open can skip the guard.
  const httpAgent = new http.Agent({ keepAlive: true, lookup: httpLookup });
  const httpsAgent = new https.Agent({
    keepAlive: true,
    lookup: httpsLookup,
    ...(extraCas.length > 0 ? { ca: [...tls.rootCertificates, ...extraCas] } : {}),
  });

  const instance = got.extend({
    agent: { http: httpAgent, https: httpsAgent },
    http2: false,
    // A retried POST could register a second client; retrying is the job's decision, not ours.
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    timeout: {
      lookup: timeoutMs,
      connect: timeoutMs,
      secureConnect: timeoutMs,
      send: timeoutMs,
      response: timeoutMs,
      read: timeoutMs,
      // The idle timer starts at TCP connect together with the TLS timer. classify() reads a `socket`
      // timeout as "after the request was sent", so it must never win that race: it gets extra slack
      // and only catches a connection that stalls once the phase timers are done.
      socket: timeoutMs * 2,
    },
  });

  async function send(
    method: HttpMethod,
    url: URL,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    const stream = instance.stream(url, {
      method,
      headers,
      dnsLookup: url.protocol === 'http:' ? httpLookup : httpsLookup,
      ...(body === undefined ? {} : { body }),
      ...(signal === undefined ? {} : { signal }),
    });
    // got.stream only ends GET by itself; a bodiless POST/PUT/DELETE would wait for a body forever.
    if (body === undefined && method !== 'GET') stream.end();

    let response: IncomingMessage | undefined;
    stream.once('response', (res: IncomingMessage) => {
      response = res;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxResponseBytes) {
        stream.destroy(new ResponseTooLargeError(url.host, maxResponseBytes));
      }
    });

    const chunks: Buffer[] = [];
    let received = 0;
    try {
      // Counted as the bytes arrive (after decompression), so a lying Content-Length, a chunked body
      // or a compression bomb is cut off at the cap instead of being buffered whole.
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > maxResponseBytes) throw new ResponseTooLargeError(url.host, maxResponseBytes);
        chunks.push(chunk);
      }
    } catch (err) {
      throw surfaceOwnError(err);
    }
    if (response === undefined) {
      // Not expected: got emits `response` before any body byte or the end of the stream.
      throw new Error(`no response from ${url.host}`);
    }
    return {
      status: response.statusCode ?? 0,
      headers: { ...response.headers },
      // A UTF-8 byte order mark (IIS, .NET) is not part of the JSON; JSON.parse would choke on it.
      body: Buffer.concat(chunks)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
      url: url.href,
    };
  }

  async function request(req: HttpRequest): Promise<HttpResponse> {
    let url = checkOutboundUrl(req.url, policy);
    const headers = requestHeaders(req, userAgent);
    const body =
      req.form !== undefined
        ? new URLSearchParams(req.form).toString()
        : req.json === undefined
          ? undefined
          : JSON.stringify(req.json);

    for (let hop = 0; ; hop += 1) {
      const response = await send(
        req.method,
        url,
        { ...headers, ...serverHeaders.get(url.host) },
        body,
        req.signal,
      );
      // Only GET follows: repeating a POST/PUT/DELETE elsewhere could register or delete twice.
      if (req.method !== 'GET' || hop >= maxRedirects || !REDIRECT_STATUSES.has(response.status)) {
        return response;
      }
      const target = redirectTarget(response, url);
      if (target === undefined) return response;
      if (url.protocol === 'https:' && target.protocol === 'http:') {
        throw new OutboundBlockedError(
          'redirect_to_http',
          url.host,
          `it redirected to plain http (host ${target.host}); a redirect may not leave https`,
        );
      }
      const next = checkOutboundUrl(target, policy);
      if (next.origin !== url.origin) {
        for (const name of ORIGIN_BOUND_HEADERS) delete headers[name];
      }
      url = next;
    }
  }

  return {
    request,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** Caller headers (lower-cased so ours replace theirs), our User-Agent, and the body's content type. */
function requestHeaders(req: HttpRequest, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['user-agent'] = userAgent;
  if (req.form !== undefined && headers['content-type'] === undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (req.json !== undefined && headers['content-type'] === undefined) {
    headers['content-type'] = 'application/json';
  }
  return headers;
}

/** SERVER_HEADERS with the names lower-cased, as requestHeaders keys them, so each replaces its namesake. */
function lowerCasedByHost(
  byHost: Readonly<Record<string, Readonly<Record<string, string>>>>,
): ReadonlyMap<string, Readonly<Record<string, string>>> {
  return new Map(
    Object.entries(byHost).map(([host, headers]) => [
      host,
      Object.freeze(
        Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
      ),
    ]),
  );
}

/** The Location of a redirect resolved against the URL that answered; undefined when absent or unparseable. */
function redirectTarget(response: HttpResponse, base: URL): URL | undefined {
  const location = response.headers.location;
  if (typeof location !== 'string' || location === '') return undefined;
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}
