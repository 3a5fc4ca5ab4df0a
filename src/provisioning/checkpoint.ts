// The non-secret progress of one job, kept with the job so that a retried or resumed job knows what
// already happened: whether a POST or PUT may have reached the server, and whether its answer was
// stored. This is what makes "at most one registration per job" hold across crashes. A checkpoint is
// read back from Redis, where anyone with access (the board's edit and duplicate, a script) may have
// changed it, so it is validated like any other input, and one copied from another job is not trusted.

import { z } from 'zod';
import { ProvisioningError } from '../failures/index.js';

const isoTime = z.iso.datetime();
const clientIds = z.array(z.string().min(1));

const storedRegistrationSchema = z.object({
  clientId: z.string().min(1),
  secretId: z.string().min(1),
  secretVersionId: z.string().min(1),
  /** Seconds since the epoch, 0 = never, 'unknown' when the server did not say; absent without a secret. */
  clientSecretExpiresAt: z.union([z.number(), z.literal('unknown')]).optional(),
  registeredAt: isoTime,
  /** Set when these credentials replaced earlier ones. */
  rotatedAt: isoTime.optional(),
  rotationPeriodDays: z.number().positive().optional(),
  /** The credentials allow RFC 7592 management. */
  managed: z.boolean().optional(),
  /** The kid of the key the service generated for the client, when it did. */
  kid: z.string().min(1).optional(),
});

// Loose objects: a newer worker's fields survive an older one's save during a rolling deploy.
export const checkpointSchema = z.looseObject({
  /**
   * Written just before a registration POST (`register`) or an RFC 7592 PUT (`update`), once the
   * request has its permit; cleared once its outcome is known. The credentials it produces are stored
   * as the version `clientRequestToken(jobId, id)`, so a resumed job can tell whether they landed.
   * `clientId` is set when the answer arrived but whether its credentials were stored is not known.
   */
  intent: z
    .looseObject({
      id: z.string().min(1),
      at: isoTime,
      request: z.enum(['register', 'update']).optional(),
      clientId: z.string().min(1).optional(),
    })
    .optional(),
  /** Written once the credentials are in the secret store: from here on the job never POSTs again. */
  stored: storedRegistrationSchema.optional(),
  /**
   * The token request that proves the stored credentials (request field `verify`): refused tries so far,
   * and the outcome once there is one. Never the token.
   */
  verification: z
    .looseObject({
      tries: z.number().int().nonnegative(),
      outcome: z
        .looseObject({
          verified: z.boolean(),
          verifiedAt: isoTime,
          verificationError: z.string().min(1).max(100).optional(),
        })
        .optional(),
    })
    .optional(),
  /** Clients of this registration that no secret holds working credentials for, and that could not be deleted. */
  orphanedClientIds: clientIds.optional(),
  /** Times of requests whose outcome is unknown (crash, timeout or gateway error after sending): possible orphans. */
  lostAttemptsAt: z.array(isoTime).optional(),
  /**
   * Rotation only: the client being rotated, the secret version that holds its credentials, and
   * whether RFC 7592 can still reach it (a refused token cannot delete it later).
   */
  previous: z
    .looseObject({
      clientId: z.string().min(1),
      secretVersionId: z.string().min(1),
      manageable: z.boolean(),
      /** The kid of its generated key, when it has one. */
      kid: z.string().min(1).optional(),
    })
    .optional(),
  /**
   * Key rotation by `jwks_uri` only: the new key's credentials, written as a pending secret version
   * (`versionId`, made from the current version `basedOn`), and when its public key was published.
   * The key signs nothing until servers' caches of the old set have expired; then the version is made
   * current. Never the key itself.
   */
  pendingKey: z
    .looseObject({
      versionId: z.string().min(1),
      basedOn: z.string().min(1),
      kid: z.string().min(1),
      publishedAt: isoTime,
    })
    .optional(),
  /** Registration only: the stored key published by jwks_uri is served as current. */
  keysSettled: z.boolean().optional(),
  /** Rotation only: an RFC 7592 update registered a new inline key beside the old one, to be dropped later. */
  retireInlineKey: z.boolean().optional(),
  /** Rotation only: the delayed job that drops the old inline key, and when it runs. */
  keyRetirement: z.looseObject({ jobId: z.string().min(1), after: isoTime }).optional(),
  /** Rotation only: the RFC 7592 update was tried and did not rotate the credentials. */
  updateDeclined: z.boolean().optional(),
  /** Rotation only: the delayed job that deletes the replaced client, and when it runs. */
  deletion: z.looseObject({ jobId: z.string().min(1), after: isoTime }).optional(),
  /** Deletion only: an RFC 7592 delete reached the server and its answer was lost. */
  deleteOutcomeUnknown: z.boolean().optional(),
  /** Deletion only: the RFC 7592 delete succeeded. */
  deleted: z.boolean().optional(),
  /**
   * The attempt (1 = first) has been waiting since `since` for a server with no room for its first
   * request: shown by status, and bounded (a job that waits too long spends the attempt).
   */
  waiting: z
    .looseObject({
      attempt: z.number().int().positive(),
      since: isoTime,
      host: z.string(),
      reason: z.string(),
    })
    .optional(),
});

export type Checkpoint = z.infer<typeof checkpointSchema>;
export type StoredRegistration = z.infer<typeof storedRegistrationSchema>;

/** Where a job keeps its checkpoint (the BullMQ job's data, in production). */
export interface CheckpointStore {
  /** Throws `invalid_job` when the stored checkpoint is malformed. */
  load(): Checkpoint;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** How a checkpoint is kept in a job: with the id of the job that wrote it. */
export type OwnedCheckpoint = Checkpoint & { jobId: string };

/**
 * The checkpoint a job may trust: none when it was written by another job (a duplicated or hand-made
 * job carries its original's progress, which says nothing of this job's requests), the validated one
 * when it is this job's own. A malformed one of its own is `invalid_job`: guessing what it said could
 * register twice.
 */
export function ownCheckpoint(raw: unknown, jobId: string): Checkpoint {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || (raw as { jobId?: unknown }).jobId !== jobId) return {};
  const parsed = checkpointSchema.safeParse(raw);
  if (!parsed.success) {
    const where = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
    throw new ProvisioningError(
      'invalid_job',
      `the job's checkpoint is malformed (${where}); it was changed outside the service — add the request again as a new job`,
    );
  }
  const { jobId: _owner, ...checkpoint } = parsed.data as OwnedCheckpoint;
  return checkpoint;
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
