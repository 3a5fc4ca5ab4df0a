// The last steps of a job that stored credentials, the same for a registration and a rotation: schedule
// the delete of the client it replaced (if any), record the registration and announce it — the two
// writes independent, so sent together: every job pays for this round trip — and answer with a return
// value that holds no secret. The event is not marked in the checkpoint: its id is derived from the
// outcome, so the rare repeat after a crash here is one consumers already drop.

import { registrationKey } from '../queue/registration-key.js';
import type { Checkpoint, StoredRegistration } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { type JobSubject, orphanFields, orphanOutcome } from './job-runner.js';
import { replacementFields, scheduleReplacedClientDeletion } from './replaced-client.js';
import type { RegistrationOutcome } from './run-registration.js';
import type { VerificationOutcome } from './verify-credentials.js';

export async function completeStoredRegistration(
  type: 'client.registered' | 'client.rotated',
  job: JobSubject,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  /** Fields of this event type beyond the common ones (a rotation's `rotatedBy`). */
  eventFields: Record<string, unknown> = {},
): Promise<RegistrationOutcome & Partial<VerificationOutcome>> {
  const stored = state.stored as StoredRegistration;
  const verification: Partial<VerificationOutcome> = state.verification?.outcome ?? {};
  const done = await scheduleReplacedClientDeletion(job, state, context, deps);
  const [, { eventId }] = await Promise.all([
    deps.registry?.recordStored(registrationKey(job.tenantId, job.fhirBaseUrl), {
      tenantId: job.tenantId,
      fhirBaseUrl: job.fhirBaseUrl,
      ...stored,
      managed: stored.managed ?? false,
      ...verification,
    }),
    deps.events.publish(
      type,
      {
        tenantId: job.tenantId,
        fhirBaseUrl: job.fhirBaseUrl,
        clientId: stored.clientId,
        secretId: stored.secretId,
        secretVersionId: stored.secretVersionId,
        jobId: context.jobId,
        attempts: context.attempt,
        occurredAt: (deps.now?.() ?? new Date()).toISOString(),
        reason: job.reason,
        ...verification,
        ...eventFields,
        ...orphanFields(done),
        ...replacementFields(done),
      },
      { discriminator: stored.secretVersionId },
    ),
  ]);
  return {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    ...stored,
    ...verification,
    eventId,
    ...(done.previous && done.previous.clientId !== stored.clientId
      ? { previousClientId: done.previous.clientId }
      : {}),
    ...(done.deletion ? { deletion: done.deletion } : {}),
    ...orphanOutcome(done),
  };
}
