// The rotation request of `POST /v1/registrations/{tenantId}/rotate`, `dcr-provisioner rotate` and the
// sweep, the rotation job derived from it, and the job that deletes a replaced client. None carries
// metadata: rotation reads the registration back from its stored secret (the source of truth).

import { z } from 'zod';
import { REGISTRATION_REASONS } from '../events/index.js';
import {
  fhirBaseUrl,
  jobSchemaOf,
  type RequestRules,
  requestSchemaOf,
  tenantId,
} from './registration-request.js';

const common = (rules: RequestRules) => ({
  tenantId,
  fhirBaseUrl: fhirBaseUrl(rules),
  reason: z.enum(REGISTRATION_REASONS).default('manual'),
});

/**
 * What a producer accepts. An initial access token is used only when the server refuses the RFC 7592
 * update and a successor client has to be registered.
 */
export function rotationRequestSchema(rules: RequestRules) {
  return requestSchemaOf(rules, common(rules));
}

export function rotationJobSchema(rules: RequestRules) {
  return jobSchemaOf(rules, common(rules));
}

/** A replaced client, deleted through RFC 7592 after the rotation grace. */
export function deletionJobSchema(rules: RequestRules) {
  return z.strictObject({
    ...common(rules),
    clientId: z.string().min(1, 'must not be empty'),
    secretVersionId: z.string().min(1, 'must not be empty'),
    replacedByJobId: z.string().min(1, 'must not be empty'),
    requestedAt: z.iso.datetime(),
  });
}

/**
 * A generated key replaced by a key rotation of an inline-`jwks` client: after the grace, the client's
 * registered keys are cut to `keepKid` (the current one), dropping `retireKid`.
 */
export function keyRetirementJobSchema(rules: RequestRules) {
  return z.strictObject({
    ...common(rules),
    clientId: z.string().min(1, 'must not be empty'),
    retireKid: z.string().min(1, 'must not be empty'),
    keepKid: z.string().min(1, 'must not be empty'),
    replacedByJobId: z.string().min(1, 'must not be empty'),
    requestedAt: z.iso.datetime(),
  });
}

export type RotationRequest = z.input<ReturnType<typeof rotationRequestSchema>>;
export type ValidRotationRequest = z.output<ReturnType<typeof rotationRequestSchema>>;
export type RotationJob = z.output<ReturnType<typeof rotationJobSchema>>;
export type DeletionJob = z.output<ReturnType<typeof deletionJobSchema>>;
export type KeyRetirementJob = z.output<ReturnType<typeof keyRetirementJobSchema>>;
