// The status of a tenant's registration as the API and CLI report it: the latest job's state merged
// with what the registry knows about the stored credentials. Never a secret: the job's data and
// return value are non-secret by construction, and nothing is read from the secret store.

import type { Queue } from 'bullmq';
import type { RegistrationRecord, RegistrationRegistry } from '../registry/index.js';
import { parseFailedReason } from './job-errors.js';
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
  /** The job is put off because the server has had no room for its first request since `since`. */
  waitingForServer?: { host: string; reason: string; since: string };
};

/** The parts of a job's checkpoint status reads; only the job's own (a copied one says nothing of it). */
interface Progress {
  lostAttemptsAt?: string[];
  intent?: { at?: string };
  waiting?: { attempt?: number; host: string; reason: string; since: string };
}

function ownProgress(data: unknown, jobId: string): Progress | undefined {
  const checkpoint = (data as { checkpoint?: Progress & { jobId?: unknown } } | undefined)?.checkpoint;
  return checkpoint?.jobId === jobId ? checkpoint : undefined;
}

export interface StatusSources {
  queue: Queue;
  registry: RegistrationRegistry;
}

async function statusOf(sources: StatusSources, firstRead: RegistrationRecord): Promise<RegistrationStatus> {
  const { queue } = sources;
  const latestJobId = firstRead.latestJobId;
  // State first, then the job: a job read before a state change would report stale attempts.
  const jobState = latestJobId ? await queue.getJobState(latestJobId) : 'unknown';
  // A job stores its outcome in the registry before it completes, but it may have completed after the
  // record was read: read it again, so a completed status names the client that job stored.
  const record =
    jobState === 'completed'
      ? ((await sources.registry.get(registrationKey(firstRead.tenantId, firstRead.fhirBaseUrl))) ??
        firstRead)
      : firstRead;
  // The registry's record holds only what it knows (absent fields are left out).
  const { latestJobId: _latest, ...known } = record;
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
  const checkpoint = ownProgress(job.data, job.id as string);
  // A request still marked as under way in a job that failed for good never got its answer.
  const lostAttemptAt =
    checkpoint?.lostAttemptsAt?.at(-1) ?? (state === 'failed' ? checkpoint?.intent?.at : undefined);
  const waiting =
    (state === 'queued' || state === 'retrying') && checkpoint?.waiting?.attempt === job.attemptsMade + 1
      ? checkpoint.waiting
      : undefined;
  const finishedAt = job.finishedOn ?? job.processedOn ?? job.timestamp;
  return {
    ...known,
    state,
    // An active job's running attempt counts, unless it finished since its state was read.
    attempts: job.attemptsMade + (state === 'active' && job.finishedOn === undefined ? 1 : 0),
    ...(job.failedReason && state !== 'completed'
      ? { lastFailure: parseFailedReason(job.failedReason) ?? { code: 'unknown', message: job.failedReason } }
      : {}),
    jobId: job.id as string,
    ...(lostAttemptAt ? { possibleOrphan: true, lostAttemptAt } : {}),
    ...(waiting
      ? { waitingForServer: { host: waiting.host, reason: waiting.reason, since: waiting.since } }
      : {}),
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
  return record ? statusOf(sources, record) : undefined;
}

/** The statuses of all of a tenant's registrations, one per FHIR server. */
export async function tenantStatuses(
  sources: StatusSources,
  tenantId: string,
): Promise<RegistrationStatus[]> {
  const keys = await sources.registry.keysOfTenant(tenantId);
  const records = await Promise.all(keys.map((key) => sources.registry.get(key)));
  return Promise.all(
    records.filter((r): r is RegistrationRecord => r !== undefined).map((r) => statusOf(sources, r)),
  );
}
