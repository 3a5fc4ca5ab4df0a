// Drops a rotated-out key from an inline-`jwks` client once ROTATION_GRACE has passed (DESIGN.md
// "Scheduled re-registration"): the key rotation registered `[new, old]` by RFC 7592 so that whatever
// still signed with the old key kept working; this delayed job updates the registration to `[new]`.
// It acts only while the stored credentials are still the ones the rotation made (same client, the
// kept key current): a later rotation or registration owns the registration from then on. Like every
// RFC 7592 update, the PUT is preceded by an intent marker and a reserved write turn, and its answer
// (which may carry a rotated registration access token) is stored before anything else can fail.

import { classify } from '../failures/index.js';
import { publicJwkOf, publicJwkSet } from '../keys/index.js';
import { findServerBusy } from '../limits/index.js';
import { type KeyRetirementJob, keyRetirementJobSchema } from '../queue/rotation-request.js';
import { clientRequestToken, registrationSecretName } from '../secrets/index.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { perRules, runProvisioningJob } from './job-runner.js';
import type { PhaseRecorder } from './phase-timing.js';
import {
  keepUnresolved,
  preparedUpdate,
  secretTags,
  storeAnswer,
  withoutIntent,
} from './register-and-store.js';
import { isManageable, readStoredCredentials, updatedCredentials } from './secret-value.js';

/** The key-retirement job's return value: nothing secret. */
export interface KeyRetirementOutcome {
  tenantId: string;
  fhirBaseUrl: string;
  clientId: string;
  secretId: string;
  retireKid: string;
  /** The key is no longer registered (dropped now, or found gone). */
  retired: boolean;
  /** Why nothing was done, when `retired` is false. */
  skipped?: string;
  /** The version that stores the updated registration, when an update was made. */
  secretVersionId?: string;
}

const jobSchemaFor = perRules(keyRetirementJobSchema);

export function runKeyRetirement(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<KeyRetirementOutcome> {
  return runProvisioningJob('key_retirement', data, context, deps, jobSchemaFor(deps), (job, phases) =>
    retireKey(job, context, deps, phases),
  );
}

/** Whether registered metadata holds the key `kid` inline. */
export function registersKey(metadata: Record<string, unknown>, kid: string): boolean {
  const keys = (metadata.jwks as { keys?: unknown } | undefined)?.keys;
  return Array.isArray(keys) && keys.some((key) => (key as { kid?: unknown } | null)?.kid === kid);
}

async function retireKey(
  job: KeyRetirementJob,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<KeyRetirementOutcome> {
  const secretId = registrationSecretName(deps.secretNamePrefix, job.tenantId, job.fhirBaseUrl);
  const base = {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    clientId: job.clientId,
    secretId,
    retireKid: job.retireKid,
  };
  const skip = (skipped: string): KeyRetirementOutcome => {
    deps.log?.warn(
      { tenantId: job.tenantId, jobId: context.jobId },
      `key ${job.retireKid} not retired: ${skipped}`,
    );
    return { ...base, retired: false, skipped };
  };
  let state = context.checkpoint.load();
  const current = await deps.secretStore.readCurrent(secretId);
  const credentials = current ? readStoredCredentials(current.value) : undefined;
  // An earlier attempt's update stored its answer: done. (Its version id is derived from the intent.)
  if (state.intent && current?.versionId === clientRequestToken(context.jobId, state.intent.id)) {
    return { ...base, retired: true, secretVersionId: current.versionId };
  }
  if (state.intent) {
    state = withoutIntent(state);
    await context.checkpoint.save(state);
  }
  if (!current || !credentials || credentials.clientId !== job.clientId) {
    return skip(`client ${job.clientId} is no longer the one stored at ${secretId}`);
  }
  if (credentials.privateJwk?.kid !== job.keepKid) {
    return skip(`the stored key is no longer ${job.keepKid}: a later rotation owns the registration`);
  }
  if (!registersKey(credentials.metadata, job.retireKid)) return { ...base, retired: true };
  if (!isManageable(credentials)) return skip('the stored credentials allow no RFC 7592 update');

  const metadata = { ...credentials.metadata, jwks: publicJwkSet([publicJwkOf(credentials.privateJwk)]) };
  const { intent, prepared, send } = preparedUpdate(credentials, metadata, state, context, deps, phases);
  let updated: Awaited<ReturnType<typeof send>>;
  try {
    updated = await send();
  } catch (err) {
    const busy = findServerBusy(err);
    if (busy) throw busy;
    const failure = classify(err, 'management');
    if (failure.retryable) throw failure;
    // The client works with its current key whatever happens here; the old key stays registered.
    return skip(`the server refused the RFC 7592 update (${failure.message})`);
  }
  const { value } = updatedCredentials(credentials, updated, {
    fhirBaseUrl: job.fhirBaseUrl,
    at: deps.now?.() ?? new Date(),
    rotated: false,
    privateJwk: credentials.privateJwk,
  });
  const secretVersionId = clientRequestToken(context.jobId, intent.id);
  const written = await storeAnswer(
    deps,
    phases,
    {
      name: secretId,
      value,
      clientRequestToken: secretVersionId,
      tags: secretTags(job.tenantId, job.fhirBaseUrl),
    },
    prepared.turn,
  );
  if (written.outcome !== 'stored') {
    throw await keepUnresolved(
      written.failure,
      state,
      { ...intent, clientId: credentials.clientId },
      context,
    );
  }
  return { ...base, retired: registersKey(updated.metadata, job.retireKid) === false, secretVersionId };
}
