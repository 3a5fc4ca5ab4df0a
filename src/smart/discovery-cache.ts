// The port through which discovery results are shared. `getOrLoad` owns single-flight: however many
// callers ask for the same base URL at once, one load runs and all of them get its result.
// Failures are not cached, so a server that recovers is seen at the next request.

import type { SmartConfiguration } from './smart-configuration.js';

export interface CacheLookup {
  configuration: SmartConfiguration;
  /** True when no request was made for this caller. */
  hit: boolean;
}

export interface DiscoveryCache {
  getOrLoad(fhirBaseUrl: string, load: () => Promise<SmartConfiguration>): Promise<CacheLookup>;
}

export interface MemoryDiscoveryCacheOptions {
  /** How long a discovered configuration is reused. @defaultValue 3600 (DISCOVERY_CACHE_TTL_S) */
  ttlSeconds?: number;
  /** Injectable clock for tests. @defaultValue Date.now */
  now?: () => number;
}

/** A per-process cache; the Redis adapter shares the same contract across the fleet. */
export class MemoryDiscoveryCache implements DiscoveryCache {
  readonly #entries = new Map<string, { configuration: SmartConfiguration; expiresAt: number }>();
  readonly #inFlight = new Map<string, Promise<SmartConfiguration>>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: MemoryDiscoveryCacheOptions = {}) {
    this.#ttlMs = (options.ttlSeconds ?? 3600) * 1000;
    this.#now = options.now ?? Date.now;
  }

  async getOrLoad(fhirBaseUrl: string, load: () => Promise<SmartConfiguration>): Promise<CacheLookup> {
    const entry = this.#entries.get(fhirBaseUrl);
    if (entry && entry.expiresAt > this.#now()) return { configuration: entry.configuration, hit: true };

    const running = this.#inFlight.get(fhirBaseUrl);
    if (running) return { configuration: await running, hit: true };

    const loading = load().then((configuration) => {
      if (this.#ttlMs > 0)
        this.#entries.set(fhirBaseUrl, { configuration, expiresAt: this.#now() + this.#ttlMs });
      return configuration;
    });
    this.#inFlight.set(fhirBaseUrl, loading);
    try {
      return { configuration: await loading, hit: false };
    } finally {
      this.#inFlight.delete(fhirBaseUrl);
    }
  }
}
