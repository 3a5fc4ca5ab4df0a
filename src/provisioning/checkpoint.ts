// The non-secret progress of one registration job, kept with the job so that a retried or resumed job
// knows what already happened: whether a POST may have reached the server, and whether its answer was
// stored. This is what makes "at most one registration per job" hold across crashes.

export interface Checkpoint {
  /** Written just before the registration POST; cleared once its outcome is known. */
  intent?: { id: string; at: string };
  /** Written once the credentials are in the secret store: from here on the job never POSTs again. */
  stored?: StoredRegistration;
  /** Clients registered by this job that could be neither stored nor deleted. */
  orphanedClientIds?: string[];
  /** Times of POSTs whose outcome is unknown (crash or timeout after sending): possible orphans. */
  lostAttemptsAt?: string[];
  /**
   * Rotation only: the client being rotated, the secret version that holds its credentials, and
   * whether RFC 7592 can still reach it (a refused token cannot delete it later).
   */
  previous?: { clientId: string; secretVersionId: string; manageable: boolean };
  /** Rotation only: the RFC 7592 update was tried and did not rotate the credentials. */
  updateDeclined?: boolean;
  /** Rotation only: the delayed job that deletes the replaced client, and when it runs. */
  deletion?: { jobId: string; after: string };
  /** Deletion only: an RFC 7592 delete reached the server and its answer was lost. */
  deleteOutcomeUnknown?: boolean;
  /** Deletion only: the RFC 7592 delete succeeded. */
  deleted?: boolean;
}

export interface StoredRegistration {
  clientId: string;
  secretId: string;
  secretVersionId: string;
  /** Seconds since the epoch, 0 = never, 'unknown' when the server did not say; absent without a secret. */
  clientSecretExpiresAt?: number | 'unknown';
  registeredAt: string;
  /** Set when these credentials replaced earlier ones. */
  rotatedAt?: string;
  rotationPeriodDays?: number;
  /** The credentials allow RFC 7592 management. */
  managed?: boolean;
}

/** Where a job keeps its checkpoint (the BullMQ job's data, in production). */
export interface CheckpointStore {
  load(): Checkpoint;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** An in-memory store, for using the use case outside a queue and in tests. */
export class MemoryCheckpointStore implements CheckpointStore {
  #checkpoint: Checkpoint;
  constructor(initial: Checkpoint = {}) {
    this.#checkpoint = structuredClone(initial);
  }
  load(): Checkpoint {
    return structuredClone(this.#checkpoint);
  }
  async save(checkpoint: Checkpoint): Promise<void> {
    this.#checkpoint = structuredClone(checkpoint);
  }
}
