// A new client that replaces another — a rotation's successor, or a registration over an existing one —
// must not leave the old one behind unnoticed ("no silent orphan"). These steps remember which client
// was current before, schedule its RFC 7592 delete once the rotation grace has passed, and say in the
// completion event what became of it.

import type { RegistrationReason } from '../events/index.js';
import { registrationSecretName, type StoredSecret } from '../secrets/index.js';
import type { Checkpoint, StoredRegistration } from './checkpoint.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import {
  assertCredentialsOf,
  isManageable,
  readStoredCredentials,
  type StoredCredentials,
} from './secret-value.js';

export const DEFAULT_ROTATION_GRACE_MS = 24 * 3600 * 1000;

interface Subject {
  tenantId: string;
  fhirBaseUrl: string;
  reason?: RegistrationReason | undefined;
}

/** The client a stored version holds, as the checkpoint remembers it: no secret, only where it is. */
export function previousClient(
  version: Pick<StoredSecret, 'versionId'>,
  credentials: StoredCredentials,
): NonNullable<Checkpoint['previous']> {
  return {
    clientId: credentials.clientId,
    secretVersionId: version.versionId,
    manageable: isManageable(credentials),
    ...(credentials.privateJwk ? { kid: credentials.privateJwk.kid } : {}),
  };
}

/**
 * Records the client currently stored for the registration, once, before this job's first POST, and
 * refuses credentials that belong to another FHIR base URL. The secret store is asked every time rather
 * than the registry: a registry rebuilt or lost (Redis replaced, `reindex` not run yet) would otherwise
 * let the new client replace the old one without naming it. After that POST (an intent, a lost attempt
 * or an orphan in the checkpoint) the current secret may hold this job's own client: an earlier attempt
 * that found nothing to remember saved nothing.
 */
export async function rememberCurrentClient(
  subject: Subject,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<Checkpoint> {
  if (state.previous || state.stored || state.intent) return state;
  if (state.lostAttemptsAt?.length || state.orphanedClientIds?.length) return state;
  const secretId = registrationSecretName(deps.secretNamePrefix, subject.tenantId, subject.fhirBaseUrl);
  const current = await deps.secretStore.readCurrent(secretId);
  const credentials = current ? readStoredCredentials(current.value) : undefined;
  if (!current || !credentials) return state;
  assertCredentialsOf(subject.fhirBaseUrl, credentials, secretId);
  const next: Checkpoint = { ...state, previous: previousClient(current, credentials) };
  await context.checkpoint.save(next);
  return next;
}

/**
 * Schedules the delete of the client the stored one replaced, when RFC 7592 allows it; once per job.
 * One that cannot be deleted joins the job's orphans, which its event and return value name.
 */
export async function scheduleReplacedClientDeletion(
  subject: Subject,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<Checkpoint> {
  const { previous, stored } = state;
  if (!previous || !stored || stored.clientId === previous.clientId || state.deletion) return state;
  if (!previous.manageable || !deps.deletions) {
    if (state.orphanedClientIds?.includes(previous.clientId)) return state;
    const next: Checkpoint = {
      ...state,
      orphanedClientIds: [...(state.orphanedClientIds ?? []), previous.clientId],
    };
    await context.checkpoint.save(next);
    return next;
  }
  const delayMs = deps.rotationGraceMs ?? DEFAULT_ROTATION_GRACE_MS;
  const jobId = await deps.deletions.schedule(
    {
      tenantId: subject.tenantId,
      fhirBaseUrl: subject.fhirBaseUrl,
      clientId: previous.clientId,
      secretVersionId: previous.secretVersionId,
      replacedByJobId: context.jobId,
      reason: subject.reason,
    },
    { delayMs, jobId: `${context.jobId}.delete` },
  );
  const now = deps.now?.() ?? new Date();
  const next: Checkpoint = {
    ...state,
    deletion: { jobId, after: new Date(now.getTime() + delayMs).toISOString() },
  };
  await context.checkpoint.save(next);
  return next;
}

/** What the completion event says about the replaced client: its id, and when it is deleted. */
export function replacementFields(state: Checkpoint): Record<string, unknown> {
  const { previous, stored } = state as { previous?: Checkpoint['previous']; stored?: StoredRegistration };
  if (!previous || !stored) return {};
  if (stored.clientId === previous.clientId) return { previousClientId: previous.clientId };
  return {
    previousClientId: previous.clientId,
    ...(state.deletion ? { deleteAfter: state.deletion.after } : {}),
  };
}
