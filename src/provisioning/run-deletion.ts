// Deletes a client that a rotation (or a registration over an existing one) replaced, once the grace
// has passed: RFC 7592 DELETE with the registration access token stored with it, read from the secret
// version the replacing job named (AWSPREVIOUS, unless another rotation came since). The current client
// is never deleted.
// A client that cannot be deleted is announced as an orphan in the failure event, for a person to
// remove at the server.

import { deleteClient } from '../dcr/index.js';
import { classify, ProvisioningError } from '../failures/index.js';
import { findServerBusy } from '../limits/index.js';
import { type DeletionJob, deletionJobSchema } from '../queue/rotation-request.js';
import { registrationSecretName } from '../secrets/index.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { perRules, runProvisioningJob } from './job-runner.js';
import { serverHttp } from './register-and-store.js';
import { assertCredentialsOf, isManageable, readStoredCredentials } from './secret-value.js';

/** The deletion job's return value. */
export interface DeletionOutcome {
  tenantId: string;
  fhirBaseUrl: string;
  clientId: string;
  secretId: string;
  eventId: string;
}

const jobSchemaFor = perRules(deletionJobSchema);

export function runDeletion(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<DeletionOutcome> {
  const schema = jobSchemaFor(deps);
  return runProvisioningJob('deletion', data, context, deps, schema, (job) =>
    deleteReplaced(job, context, deps),
  );
}

async function deleteReplaced(
  job: DeletionJob,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<DeletionOutcome> {
  const secretId = registrationSecretName(deps.secretNamePrefix, job.tenantId, job.fhirBaseUrl);
  let state = context.checkpoint.load();
  if (!state.deleted) {
    const [current, replaced] = await Promise.all([
      deps.secretStore.readCurrent(secretId),
      deps.secretStore.readVersion(secretId, job.secretVersionId),
    ]);
    if (current && readStoredCredentials(current.value)?.clientId === job.clientId) {
      throw new ProvisioningError(
        'invalid_job',
        `client ${job.clientId} is the current client stored at ${secretId}; it is not deleted`,
      );
    }
    // From here until the delete succeeds the client is an orphan: a final failure must name it.
    if (!state.orphanedClientIds) {
      state = { ...state, orphanedClientIds: [job.clientId] };
      await context.checkpoint.save(state);
    }
    const credentials = replaced ? readStoredCredentials(replaced.value) : undefined;
    if (credentials) assertCredentialsOf(job.fhirBaseUrl, credentials, secretId);
    if (!credentials || credentials.clientId !== job.clientId || !isManageable(credentials)) {
      throw new ProvisioningError(
        'invalid_job',
        `the RFC 7592 credentials of client ${job.clientId} are not in version ${job.secretVersionId} of ${secretId}; delete it at the server by hand`,
      );
    }
    try {
      await deleteClient({
        http: serverHttp(deps.http, context, deps),
        registrationClientUri: credentials.registrationClientUri as string,
        registrationAccessToken: credentials.registrationAccessToken as string,
        ...(context.signal ? { signal: context.signal } : {}),
      });
    } catch (err) {
      // RFC 7592: 401 also means "no such client". After a delete that reached the server and whose
      // answer was lost, that is the delete having worked, not an orphan.
      if (findServerBusy(err)) throw err;
      const failure = classify(err, 'management');
      const gone = failure.code === 'unauthorized' || failure.status === 404;
      if (!(gone && state.deleteOutcomeUnknown)) {
        if (failure.outcomeUnknown && !state.deleteOutcomeUnknown)
          await context.checkpoint.save({ ...state, deleteOutcomeUnknown: true });
        throw failure;
      }
      deps.log?.warn(
        { tenantId: job.tenantId, jobId: context.jobId },
        `client ${job.clientId} is gone at the server after an earlier delete whose answer was lost`,
      );
    }
    state = { ...state, deleted: true };
    await context.checkpoint.save(state);
  }
  const { eventId } = await deps.events.publish(
    'client.deleted',
    {
      tenantId: job.tenantId,
      fhirBaseUrl: job.fhirBaseUrl,
      clientId: job.clientId,
      secretId,
      jobId: context.jobId,
      attempts: context.attempt,
      occurredAt: (deps.now?.() ?? new Date()).toISOString(),
      reason: job.reason,
    },
    { discriminator: job.clientId },
  );
  return {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    clientId: job.clientId,
    secretId,
    eventId,
  };
}
