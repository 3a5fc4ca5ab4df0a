// An HttpClient that asks the ServerLimiter before every request and reports each outcome to it. The
// budget is keyed by the host actually requested: discovery counts against the FHIR server's host, the
// registration POST against the registration endpoint's host (often the same).
//
// One client serves one attempt of a job. Its first request, refused, ends the attempt with a
// ServerBusyError (the job is delayed and nothing was done). Once a request has gone out, later ones
// wait in process for their permit instead — booking the next rate slot so that jobs that have not
// started cannot take it — because ending the attempt then would repeat requests that already succeeded
// (a SMART 1.0 server's well-known 404 before its CapabilityStatement), and under a tight rate limit
// every restart would stop at the same point again: a livelock.

import { classify } from '../failures/index.js';
import type { HttpClient, HttpRequest, HttpResponse } from '../http/index.js';
import {
  type Admission,
  type RequestOutcome,
  ServerBusyError,
  type ServerLimiter,
} from './server-limiter.js';

/** Codes that say the server is unwell, as opposed to refusing us or being refused by us. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['network_error', 'timeout']);

/** How long a request part-way through an attempt waits in process, in all, before the attempt is put off. */
const DEFAULT_IN_ATTEMPT_WAIT_MS = 30_000;

export interface LimitedHttpClientOptions {
  /** Told when a permit could not be handed back (Redis trouble); the lease then expires by itself. */
  onReleaseError?: (err: unknown, host: string) => void;
  /**
   * Runs once the request has its permit, just before it is sent (e.g. the intent marker of a POST).
   * If it fails, nothing is sent, the permit is handed back without counting against the server, and
   * its error is thrown as is.
   */
  beforeSend?: (request: HttpRequest) => Promise<void>;
  /**
   * The longest a request after the attempt's first waits in process for its permit, in all.
   * @defaultValue 30000
   */
  inAttemptWaitMs?: number;
}

/**
 * Wraps `http` so that each request holds a permit for its host while it runs. When the host has no
 * room for the attempt's first request, it is not sent and a ServerBusyError says how long to wait.
 */
export function limitHttpClient(
  http: HttpClient,
  limiter: ServerLimiter,
  options: LimitedHttpClientOptions = {},
): HttpClient {
  const maxWaitMs = options.inAttemptWaitMs ?? DEFAULT_IN_ATTEMPT_WAIT_MS;
  let sentAny = false;

  async function permitFor(host: string): Promise<Extract<Admission, { granted: true }>> {
    if (!sentAny) {
      const admission = await limiter.acquire(host);
      if (!admission.granted) throw new ServerBusyError(host, admission.waitMs, admission.reason);
      return admission;
    }
    let waitedMs = 0;
    let rateClaimed = false;
    for (;;) {
      const admission = await limiter.acquire(host, { claimRate: true, rateClaimed });
      if (admission.granted) return admission;
      rateClaimed ||= admission.rateClaimed === true;
      if (waitedMs + admission.waitMs > maxWaitMs) {
        throw new ServerBusyError(host, admission.waitMs, admission.reason);
      }
      await sleep(admission.waitMs);
      waitedMs += admission.waitMs;
    }
  }

  return {
    async request(request) {
      const host = new URL(request.url).host;
      const { permit } = await permitFor(host);
      sentAny = true;
      let outcome: RequestOutcome = 'neutral';
      try {
        await options.beforeSend?.(request);
        try {
          const response = await http.request(request);
          outcome = responseOutcome(response);
          return response;
        } catch (err) {
          outcome = request.signal?.aborted ? 'neutral' : errorOutcome(err);
          throw err;
        }
      } finally {
        await permit.release(outcome).catch((err: unknown) => options.onReleaseError?.(err, host));
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

/** A pause on the global timer (which tests can fake). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
