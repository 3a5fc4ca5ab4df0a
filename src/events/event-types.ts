// The completion events of the contract (DESIGN.md "Completion events"): their types and what each may carry.
// Every data schema is a strict object, so a key nobody declared here — a client_secret, a token — is
// refused at publish time instead of riding along into a durable, widely read stream.

import { z } from 'zod';
import { failureCodes } from '../failures/index.js';

export const EVENT_TYPES = [
  'client.registered',
  'client.rotated',
  'client.registration_failed',
  'client.deleted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Why the registration was requested; mirrors the request's `reason`. */
export const REGISTRATION_REASONS = ['onboarding', 'scheduled', 'rotation', 'manual'] as const;

export type RegistrationReason = (typeof REGISTRATION_REASONS)[number];

// ISO 8601 in UTC with a `Z` (what Date#toISOString writes), so consumers can compare timestamps as strings.
const timestamp = z.iso.datetime();
const id = z.string().min(1);

/** Fields every event has, whatever its outcome. */
const common = {
  tenantId: id,
  fhirBaseUrl: z.url(),
  jobId: id,
  /** Attempts the job made, including the one that produced this outcome. */
  attempts: z.number().int().nonnegative(),
  occurredAt: timestamp,
  reason: z.enum(REGISTRATION_REASONS).optional(),
  /**
   * An earlier attempt sent its POST and its answer was lost (the process died, the connection dropped):
   * the server may hold a client nobody has credentials for. Set on the job's final event, whatever it is.
   */
  possibleOrphan: z.boolean().optional(),
  /** When that lost attempt was sent. */
  lostAttemptAt: timestamp.optional(),
  /**
   * A client an earlier attempt registered and could neither store nor delete: clean it up by hand. Any
   * final outcome may carry it, since the job can still succeed with a later attempt.
   */
  orphanedClientId: id.optional(),
  /** All of them, when a job left more than one (e.g. an unstorable client, then an undeletable one). */
  orphanedClientIds: z.array(id).optional(),
};

/** Where the credentials of the client now live: a secret name (or ARN) and the version just written. */
const credentials = {
  clientId: id,
  secretId: id,
  secretVersionId: id.optional(),
};

/**
 * The outcome of the token request that checks freshly stored credentials (request field `verify`).
 * Absent when no check was asked for; `verificationError` is the token endpoint's error code.
 */
const verification = {
  verified: z.boolean().optional(),
  verifiedAt: timestamp.optional(),
  verificationError: z.string().min(1).max(100).optional(),
};

/** The schema of `data` for each event type. Publishing validates against it; unknown keys are refused. */
export const eventDataSchemas = {
  'client.registered': z.strictObject({
    ...common,
    ...credentials,
    ...verification,
    /** A registration over an existing one: the client it replaced (deleted after `deleteAfter`). */
    previousClientId: id.optional(),
    deleteAfter: timestamp.optional(),
  }),
  'client.rotated': z.strictObject({
    ...common,
    ...credentials,
    ...verification,
    /** The client before the rotation: the same as `clientId` when the server updated it in place. */
    previousClientId: id,
    /**
     * `update`: RFC 7592 in place; `new_registration`: a successor client replaced the previous one;
     * `key`: the same client signs with a new generated key (published, or registered by RFC 7592).
     */
    rotatedBy: z.enum(['update', 'new_registration', 'key']),
    /** A key rotation's new and replaced key ids (public JWK thumbprints). */
    kid: id.optional(),
    previousKid: id.optional(),
    /** When the replaced client is deleted (RFC 7592), if it can be; otherwise `orphanedClientId` names it. */
    deleteAfter: timestamp.optional(),
  }),
  'client.registration_failed': z.strictObject({
    ...common,
    // As the job gave them: an invalid job (code invalid_job) may carry neither a tenant nor a usable URL,
    // and its failure must still be announced.
    tenantId: z.string(),
    fhirBaseUrl: z.string(),
    code: z.enum(failureCodes),
    /** The failure's message: written for people, never holding a secret. */
    message: z.string(),
    // A failure may happen after a client exists (e.g. while storing its secret), so these stay possible.
    clientId: id.optional(),
    secretId: id.optional(),
    secretVersionId: id.optional(),
  }),
  'client.deleted': z.strictObject({
    ...common,
    clientId: id,
    secretId: id.optional(),
    secretVersionId: id.optional(),
  }),
} as const satisfies Record<EventType, z.ZodType>;

export type EventData<T extends EventType = EventType> = z.infer<(typeof eventDataSchemas)[T]>;

/** One completion event as it travels: a discriminated union on `type`, so `data` narrows with it. */
export type CompletionEvent = {
  [T in EventType]: { type: T; eventId: string; data: EventData<T> };
}[EventType];

/**
 * Validates an event read back from the stream. Unlike publishing, it drops keys it does not know instead
 * of refusing them: a producer newer than the reader may have added an optional field, and that must not
 * make every event unreadable downstream.
 */
export const completionEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('client.registered'),
    eventId: id,
    data: eventDataSchemas['client.registered'].strip(),
  }),
  z.object({
    type: z.literal('client.rotated'),
    eventId: id,
    data: eventDataSchemas['client.rotated'].strip(),
  }),
  z.object({
    type: z.literal('client.registration_failed'),
    eventId: id,
    data: eventDataSchemas['client.registration_failed'].strip(),
  }),
  z.object({
    type: z.literal('client.deleted'),
    eventId: id,
    data: eventDataSchemas['client.deleted'].strip(),
  }),
]);

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}
