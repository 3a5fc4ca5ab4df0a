// Times the phases of one attempt. registerClient (src/dcr) discovers and POSTs in one call and stays a
// plain library, so the use case measures it from outside: through the discovery cache and HTTP client
// it hands in, which see exactly the lookup and the POST.

import { performance } from 'node:perf_hooks';
import type { HttpClient } from '../http/index.js';
import type { DiscoveryCache } from '../smart/index.js';
import type { PhaseDurations, PhaseOutcome, ProvisioningObserver } from './observer.js';

/** Forwards each measurement to the observer and keeps this attempt's totals for its outcome report. */
export class PhaseRecorder {
  readonly durations: PhaseDurations = {};

  constructor(private readonly observer: ProvisioningObserver) {}

  discovery(durationMs: number, cacheHit: boolean): void {
    this.durations.discoveryMs = (this.durations.discoveryMs ?? 0) + durationMs;
    this.durations.cacheHit = cacheHit;
    this.observer.discovery(durationMs, cacheHit);
  }

  registrationRequest(durationMs: number, outcome: PhaseOutcome): void {
    this.durations.registrationRequestMs = (this.durations.registrationRequestMs ?? 0) + durationMs;
    this.observer.registrationRequest(durationMs, outcome);
  }

  secretWrite(durationMs: number, outcome: PhaseOutcome): void {
    this.durations.secretWriteMs = (this.durations.secretWriteMs ?? 0) + durationMs;
    this.observer.secretWrite(durationMs, outcome);
  }
}

/** Milliseconds since `startedMs` (a `performance.now()` reading); monotonic, unlike Date. */
export function elapsedMs(startedMs: number): number {
  return performance.now() - startedMs;
}

/**
 * A cache that times every lookup. Without a real cache it loads every time, which is what discover()
 * does when given none, so behaviour is unchanged. A failed lookup counts as a miss: nothing was cached.
 */
export function timedDiscoveryCache(
  cache: DiscoveryCache | undefined,
  phases: PhaseRecorder,
): DiscoveryCache {
  return {
    async getOrLoad(fhirBaseUrl, load) {
      const started = performance.now();
      try {
        const lookup = cache
          ? await cache.getOrLoad(fhirBaseUrl, load)
          : { configuration: await load(), hit: false };
        phases.discovery(elapsedMs(started), lookup.hit);
        return lookup;
      } catch (err) {
        phases.discovery(elapsedMs(started), false);
        throw err;
      }
    },
  };
}

/**
 * An HTTP client that times POSTs and PUTs: the registration request, and the RFC 7592 update of a
 * rotation (discovery uses GET). Success means a 2xx answer; judging its body is the caller's business.
 */
export function timedRegistrationHttp(http: HttpClient, phases: PhaseRecorder): HttpClient {
  return {
    async request(request) {
      if (request.method !== 'POST' && request.method !== 'PUT') return http.request(request);
      const started = performance.now();
      try {
        const response = await http.request(request);
        const outcome = response.status >= 200 && response.status < 300 ? 'success' : 'failure';
        phases.registrationRequest(elapsedMs(started), outcome);
        return response;
      } catch (err) {
        phases.registrationRequest(elapsedMs(started), 'failure');
        throw err;
      }
    },
  };
}
