// What the provisioning use cases need from the outside world, and what a job hands them. The jobs in
// jobs/ build these from BullMQ; library users and tests build them by hand.

import type { EventPublisher, RegistrationReason } from '../events/index.js';
import type { HttpClient } from '../http/index.js';
import type { SecretWriteTurns, ServerLimiter } from '../limits/index.js';
import type { RequestRules } from '../queue/registration-request.js';
import type { PublishedKeys, RegistrationRegistry } from '../registry/index.js';
import type { SecretStore } from '../secrets/index.js';
import type { DiscoveryCache } from '../smart/index.js';
import type { CheckpointStore } from './checkpoint.js';
import type { ProvisioningObserver } from './observer.js';

/** A replaced client to delete through RFC 7592 once the rotation grace has passed. */
export interface DeletionRequest {
  tenantId: string;
  fhirBaseUrl: string;
  clientId: string;
  /** The secret version that holds its RFC 7592 credentials. */
  secretVersionId: string;
  /** The job that replaced it (a rotation, or a registration over an existing one), and its reason. */
  replacedByJobId: string;
  reason?: RegistrationReason | undefined;
}

/** A rotated-out inline key to drop from its client's registration once the rotation grace has passed. */
export interface KeyRetirementRequest {
  tenantId: string;
  fhirBaseUrl: string;
  clientId: string;
  /** The key to drop, and the key that must be the stored one for anything to be dropped. */
  retireKid: string;
  keepKid: string;
  replacedByJobId: string;
  reason?: RegistrationReason | undefined;
}

/** Puts a job off until the grace has passed (a delayed job in production). */
export interface DelayedJobScheduler<R> {
  /** Idempotent per `jobId`; resolves to the id of the scheduled job. */
  schedule(request: R, options: { delayMs: number; jobId: string }): Promise<string>;
}

export type DeletionScheduler = DelayedJobScheduler<DeletionRequest>;
export type KeyRetirementScheduler = DelayedJobScheduler<KeyRetirementRequest>;

export interface RegistrationDeps {
  http: HttpClient;
  secretStore: SecretStore;
  events: EventPublisher;
  discoveryCache?: DiscoveryCache;
  /** The non-secret index status and rotation read; optional for library use. */
  registry?: RegistrationRegistry;
  /** What the `/jwks/...` route serves: generated keys published by `jwks_uri`. */
  publishedKeys?: PublishedKeys;
  /** SECRET_NAME_PREFIX. */
  secretNamePrefix: string;
  rules: RequestRules;
  /**
   * Turns from the fleet's secret write budget: one is reserved before each POST or PUT whose answer
   * must be stored, and one before each retried write. Without it writes go out unbudgeted (library use).
   */
  secretWriteTurns?: SecretWriteTurns;
  /**
   * Pauses between in-process retries of a credential write, before the new client is given up: their
   * number bounds the retries. @defaultValue 250 ms doubling to 8 s, about 32 s in all
   */
  secretWriteRetryDelaysMs?: readonly number[];
  /**
   * How long an attempt may wait, job delay after job delay, for a server with no room for its first
   * request before it is spent as `rate_limited` (visible in status, counted, and failed for good after
   * the last attempt). @defaultValue 1 h
   */
  maxServerWaitMs?: number;
  now?: () => Date;
  log?: Pick<Console, 'warn'> | { warn(obj: object, msg?: string): void };
  /** Receives phase latencies and one report per attempt's outcome. @defaultValue NOOP_OBSERVER */
  observer?: ProvisioningObserver;
  /**
   * Permits for the requests to authorization servers, per host requested. Without it requests go
   * out unlimited (library use). The RFC 7592 delete of a client that could not be stored is not
   * limited: it must not be put off.
   */
  serverLimiter?: ServerLimiter;
  /** Rotation: where replaced clients are scheduled for deletion. Without it they are left in place. */
  deletions?: DeletionScheduler;
  /**
   * Key rotation of an inline-`jwks` client: where the old key's removal is scheduled. Without it the
   * old key stays registered beside the new one.
   */
  keyRetirements?: KeyRetirementScheduler;
  /**
   * Token requests a verification makes (each a job attempt) before the credentials are called
   * unverified. @defaultValue 4
   */
  verificationTries?: number;
  /** ROTATION_GRACE: how long a replaced client keeps working. @defaultValue 24 h */
  rotationGraceMs?: number;
  /**
   * JWKS_MAX_AGE_S: how long servers may cache a published JWK Set; a key rotation by jwks_uri waits
   * twice this between publishing the new key and signing with it. @defaultValue 60
   */
  jwksMaxAgeSeconds?: number;
}

export interface JobContext {
  jobId: string;
  /** 1 for the first try. */
  attempt: number;
  maxAttempts: number;
  checkpoint: CheckpointStore;
  signal?: AbortSignal;
}
