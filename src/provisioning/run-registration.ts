// The use case: one registration job from payload to completion event (DESIGN.md "What one
// registration does"). It does not know which queue or process called it; the job adapter hands it a
// checkpoint store and the attempt counters, and turns its ProvisioningError into the queue's terms.
// What it measures goes to a ProvisioningObserver, so it knows nothing of metrics or log formats.
// Every request to an authorization server first takes a permit from the ServerLimiter; when the
// server has no room the use case throws a ServerBusyError, which is not a failure: the job adapter
// delays the job, and neither its attempt count nor its checkpoint changes.

import { registeredJwksUri } from '../queue/jwks-uri.js';
import { registrationKey } from '../queue/registration-key.js';
import {
  type RegistrationJob,
  registrationJobSchema,
  verificationWanted,
} from '../queue/registration-request.js';
import { registrationSecretName } from '../secrets/index.js';
import type { Checkpoint, StoredRegistration } from './checkpoint.js';
import { completeStoredRegistration } from './completion.js';
import type { JobContext, RegistrationDeps } from './deps.js';
import { perRules, runProvisioningJob } from './job-runner.js';
import type { PhaseRecorder } from './phase-timing.js';
import {
  type RegistrationPlan,
  registerAndStore,
  resumeAfterLostAnswer,
  settlePublishedKeys,
} from './register-and-store.js';
import { rememberCurrentClient } from './replaced-client.js';
import type { StoredCredentials } from './secret-value.js';
import {
  readStoredVersion,
  type VerificationOutcome,
  verifyStoredCredentials,
} from './verify-credentials.js';

/** The job's return value: everything an operator needs, nothing secret. */
export interface RegistrationOutcome extends StoredRegistration {
  tenantId: string;
  fhirBaseUrl: string;
  eventId: string;
  /** A POST of this job may have registered a client that was never stored. */
  possibleOrphan?: boolean;
  lostAttemptsAt?: string[];
  orphanedClientIds?: string[];
  /** The client this one replaced (a registration over an existing one, or a rotation). */
  previousClientId?: string;
  /** The delayed job deleting the replaced client, and when it runs. */
  deletion?: { jobId: string; after: string };
}

/** A completed job's outcome with its verification, when one was asked for (never the token). */
export type VerifiedOutcome = RegistrationOutcome & Partial<VerificationOutcome>;

const jobSchemaFor = perRules(registrationJobSchema);

export function runRegistration(
  data: unknown,
  context: JobContext,
  deps: RegistrationDeps,
): Promise<VerifiedOutcome> {
  return runProvisioningJob('registration', data, context, deps, jobSchemaFor(deps), (job, phases) =>
    provision(job, context, deps, phases),
  );
}

async function provision(
  job: RegistrationJob,
  context: JobContext,
  deps: RegistrationDeps,
  phases: PhaseRecorder,
): Promise<VerifiedOutcome> {
  const secretId = registrationSecretName(deps.secretNamePrefix, job.tenantId, job.fhirBaseUrl);
  const key = registrationKey(job.tenantId, job.fhirBaseUrl);
  let state = context.checkpoint.load();
  await deps.registry?.recordWorking(key, {
    tenantId: job.tenantId,
    fhirBaseUrl: job.fhirBaseUrl,
    jobId: context.jobId,
  });
  // A registration over an existing one replaces its client: remember it, so it is deleted or reported.
  state = await rememberCurrentClient(job, state, context, deps);

  if (!state.stored && state.intent) state = await resumeAfterLostAnswer(state, secretId, context, deps);
  // Secret, and only in memory: this attempt's stored credentials, so that verifying them needs no read.
  let fresh: StoredCredentials | undefined;
  if (!state.stored) {
    state = await registerAndStore(
      {
        tenantId: job.tenantId,
        fhirBaseUrl: job.fhirBaseUrl,
        clientMetadata: job.clientMetadata,
        registrationEndpoint: job.registrationEndpoint,
        initialAccessTokenSecretId: job.initialAccessToken?.secretId,
        rotationPeriodDays: job.rotation?.periodDays,
        keys: generatedKeysPlan(job, deps),
        secretId,
        onStored: (credentials) => {
          fresh = credentials;
        },
      },
      state,
      context,
      deps,
      phases,
    );
  }
  // A key published by jwks_uri is served as current once stored, also by an attempt that resumed
  // after the one that stored it died before saying so.
  if (job.keys?.publish === 'jwks_uri' && !state.keysSettled)
    state = await settleStoredKey(job, state, context, deps, fresh);
  // After the store, never before: a retried attempt finds `stored` in the checkpoint and comes straight here.
  if (verificationWanted(job)) state = await verifyStoredCredentials(state, context, deps, fresh);
  return completeStoredRegistration('client.registered', job, state, context, deps);
}

async function settleStoredKey(
  job: RegistrationJob,
  state: Checkpoint,
  context: JobContext,
  deps: RegistrationDeps,
  fresh: StoredCredentials | undefined,
): Promise<Checkpoint> {
  const stored = state.stored as StoredRegistration;
  const credentials = fresh ?? (await readStoredVersion(stored, deps));
  if (!credentials?.privateJwk) return state;
  await settlePublishedKeys(job, credentials.privateJwk, deps);
  const next: Checkpoint = { ...state, keysSettled: true };
  await context.checkpoint.save(next);
  return next;
}

/** What `keys` asks the registration to make, with the URL it publishes the key at (checked by the job schema). */
function generatedKeysPlan(job: RegistrationJob, deps: RegistrationDeps): RegistrationPlan['keys'] {
  if (!job.keys) return undefined;
  const { jwksPublicBaseUrl } = deps.rules;
  const jwksUri =
    job.keys.publish === 'jwks_uri' && jwksPublicBaseUrl
      ? registeredJwksUri(jwksPublicBaseUrl, job.tenantId, job.fhirBaseUrl)
      : undefined;
  return { alg: job.keys.generate.alg, jwksUri };
}
