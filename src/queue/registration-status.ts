// The status of a tenant's registration as the API and CLI report it: the latest job's state merged
// with what the registry knows about the stored credentials. Never a secret: the job's data and
// return value are non-secret by construction, and nothing is read from the secret store.

import type { Queue } from 'bullmq';
import { isFailureCode } from '../failures/index.js';
import type { RegistrationRecord, RegistrationRegistry } from '../registry/index.js';
import { registrationKey } from './registration-key.js';

export const REGISTRATION_STATES = ['queued', 'active', 'retrying', 'completed', 'failed'] as const;
export type RegistrationState = (typeof REGISTRATION_STATES)[number];

/** What the registry knows of the registration, merged with its latest job's state. */
export type RegistrationStatus = Omit<RegistrationRecord, 'latestJobId'> & {
  state: RegistrationState;
  /** Tries so far, the running one included. */
  attempts: number;
  lastFailure?: { code: string; message: string };
  jobId?: string;
  /** A POST of the latest job may have registered a client that was never stored. */
  possibleOrphan?: boolean;
  lostAttemptAt?: string;
};

export interface StatusSources {
  queue: Queue;
  registry: RegistrationRegistry;
}

/** `<code>: <message>` back into its parts; a reason without a known code is reported whole. */
function parseFailedReason(reason: string): { code: string; message: string } {
  const separator = reason.indexOf(': ');
  const code = separator > 0 ? reason.slice(0, separator) : '';
  return isFailureCode(code)
    ? { code, message: reason.slice(separator + 2) }
    : { code: 'unknown', message: reason };
}

async function statusOf(queue: Queue, record: RegistrationRecord): Promise<RegistrationStatus> {
  // The registry's record holds only what it knows (absent fields are left out).
  const { latestJobId, ...known } = record;
  // State first, then the job: a job read before a state change would report stale attempts.
  const jobState = latestJobId ? await queue.getJobState(latestJobId) : 'unknown';
  const job = jobState === 'unknown' ? undefined : await queue.getJob(latestJobId as string);
  if (!job) {
    // The job was removed by retention; the registry still knows the outcome if there was one.
    return { ...known, state: record.clientId ? 'completed' : 'failed', attempts: 0 };
  }

  const state: RegistrationState =
    jobState === 'completed' || jobState === 'failed' || jobState === 'active'
      ? jobState
      : job.attemptsMade > 0
        ? 'retrying'
        : 'queued';
  const checkpoint = (job.data as { checkpoint?: { lostAttemptsAt?: string[] } }).checkpoint;
  const lostAttemptAt = checkpoint?.lostAttemptsAt?.at(-1);
  const finishedAt = job.finishedOn ?? job.processedOn ?? job.timestamp;
  return {
    ...known,
    state,
    // An active job's running attempt counts, unless it finished since its state was read.
    attempts: job.attemptsMade + (state === 'active' && job.finishedOn === undefined ? 1 : 0),
    ...(job.failedReason && state !== 'completed'
      ? { lastFailure: parseFailedReason(job.failedReason) }
      : {}),
    jobId: job.id as string,
    ...(lostAttemptAt ? { possibleOrphan: true, lostAttemptAt } : {}),
    updatedAt: new Date(Math.max(finishedAt, Date.parse(record.updatedAt) || 0)).toISOString(),
  };
}

/** The status of one tenant with one FHIR server, or undefined when nothing was ever requested. */
export async function registrationStatus(
  sources: StatusSources,
  tenantId: string,
  fhirBaseUrl: string,
): Promise<RegistrationStatus | undefined> {
  const record = await sources.registry.get(registrationKey(tenantId, fhirBaseUrl));
  return record ? statusOf(sources.queue, record) : undefined;
}

/** The statuses of all of a tenant's registrations, one per FHIR server. */
export async function tenantStatuses(
  sources: StatusSources,
  tenantId: string,
): Promise<RegistrationStatus[]> {
  const keys = await sources.registry.keysOfTenant(tenantId);
  const records = await Promise.all(keys.map((key) => sources.registry.get(key)));
  return Promise.all(
    records.filter((r): r is RegistrationRecord => r !== undefined).map((r) => statusOf(sources.queue, r)),
  );
}
