// An HttpClient that asks the ServerLimiter before every request and reports each outcome to it. The
// budget is keyed by the host actually requested: discovery counts against the FHIR server's host, the
// registration POST against the registration endpoint's host (often the same).

import { classify } from '../failures/index.js';
import type { HttpClient, HttpResponse } from '../http/index.js';
import { type RequestOutcome, ServerBusyError, type ServerLimiter } from './server-limiter.js';

/** Codes that say the server is unwell, as opposed to refusing us or being refused by us. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['network_error', 'timeout']);

export interface LimitedHttpClientOptions {
  /** Told when a permit could not be handed back (Redis trouble); the lease then expires by itself. */
  onReleaseError?: (err: unknown, host: string) => void;
}

/**
 * Wraps `http` so that each request holds a permit for its host while it runs. When the host has no
 * room, the request is not sent and a ServerBusyError says how long to wait.
 */
export function limitHttpClient(
  http: HttpClient,
  limiter: ServerLimiter,
  options: LimitedHttpClientOptions = {},
): HttpClient {
  return {
    async request(request) {
      const host = new URL(request.url).host;
      const admission = await limiter.acquire(host);
      if (!admission.granted) throw new ServerBusyError(host, admission.waitMs, admission.reason);
      let outcome: RequestOutcome = 'neutral';
      try {
        const response = await http.request(request);
        outcome = responseOutcome(response);
        return response;
      } catch (err) {
        outcome = request.signal?.aborted ? 'neutral' : errorOutcome(err);
        throw err;
      } finally {
        await admission.permit.release(outcome).catch((err: unknown) => options.onReleaseError?.(err, host));
      }
    },
  };
}

/** 5xx and 429 count against the server; any other answer shows it is up. */
export function responseOutcome(response: Pick<HttpResponse, 'status'>): RequestOutcome {
  return response.status >= 500 || response.status === 429 ? 'transient_failure' : 'success';
}

/** Connection failures and timeouts count against the server; a request we refused to send does not. */
export function errorOutcome(err: unknown): RequestOutcome {
  return TRANSIENT_CODES.has(classify(err, 'registration').code) ? 'transient_failure' : 'neutral';
}
