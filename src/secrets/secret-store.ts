// The storage port for issued credentials. Provisioning talks only to this interface; the AWS and file
// adapters implement it with identical semantics and throw only ProvisioningError.

export interface SecretWrite {
  /** The full secret name (see secret-name.ts); 1–512 of `A-Za-z0-9/_+=.@-`. */
  name: string;
  /**
   * At most 65,536 bytes of UTF-8, stored as is. The registration record is JSON; an initial access
   * token put there by an operator may be plain text, so the store does not insist on JSON.
   */
  value: string;
  /**
   * 32–64 chars of `[A-Za-z0-9-]`; becomes the version id. Same token + same value = no-op success;
   * same token + different value = `secret_store_rejected`. Derive it from the job with
   * `clientRequestToken(...)` so a retried write is a no-op.
   */
  clientRequestToken: string;
  /**
   * Applied only when the secret is created (tenant, server, managed-by). Keys are 1–128 characters and
   * must not start with `aws:`; values are made tag-safe and cut to 256 characters.
   */
  tags?: Record<string, string>;
  /** Applied only when the secret is created; at most 2,048 characters. */
  description?: string;
}

export interface WrittenVersion {
  /** Always the write's client request token. */
  versionId: string;
  /** True when this write made the secret (it did not exist before). */
  created: boolean;
}

export interface StoredSecret {
  name: string;
  value: string;
  versionId: string;
  /** When this version was written. */
  createdAt?: Date;
}

export interface ListOptions {
  /** The `nextPageToken` of the previous page; opaque. */
  pageToken?: string;
  /** Upper bound of names per page, 1–100. @defaultValue 100 */
  pageSize?: number;
}

export interface SecretPage {
  /**
   * Names that start with the prefix, in the backend's order. A page may hold fewer names than
   * `pageSize` — even none — while `nextPageToken` is set: keep paging until it is absent.
   */
  names: string[];
  nextPageToken?: string;
}

export interface MakeCurrentOptions {
  /** Move AWSCURRENT only away from this version. */
  ifCurrent?: string;
}

export interface SecretStore {
  /** Adds a version that becomes current; the former current becomes previous. */
  write(write: SecretWrite): Promise<WrittenVersion>;
  /**
   * Adds a version labelled only AWSPENDING — credentials made but not yet in use, as in AWS's own
   * rotation — leaving AWSCURRENT and AWSPREVIOUS where they are; `makeCurrent` puts it in use. The label
   * leaves any older pending version (a label is on one version at a time); that version stays readable
   * by id. Validated and idempotent as `write` is (same token + same value = no-op success, also when
   * the version has moved on since). The secret must exist already, else `secret_store_rejected`: a
   * pending version rotates a secret, it never creates one, so `tags` and `description` are ignored.
   * `created` is always false.
   */
  writePending(write: SecretWrite): Promise<WrittenVersion>;
  /**
   * Moves AWSCURRENT to the version `versionId` (any version of the secret, usually the one
   * `writePending` added); the former current becomes previous, and the version loses AWSPENDING.
   * Afterwards `readCurrent` returns this version, `readPrevious` the former current, and `readVersion`
   * finds both. A version that is current already is left alone (a retry is a no-op success). An unknown
   * secret or version is `secret_store_rejected`. With `ifCurrent`, the move happens only while that
   * version is the current one (compare-and-swap): when another write has become current meanwhile,
   * nothing moves and the call is `secret_store_rejected`, so newer credentials are never demoted.
   */
  makeCurrent(name: string, versionId: string, options?: MakeCurrentOptions): Promise<void>;
  /** The current version (AWSCURRENT), or undefined when there is no such secret. */
  readCurrent(name: string): Promise<StoredSecret | undefined>;
  /** The version before the current one (AWSPREVIOUS), or undefined when there is none. */
  readPrevious(name: string): Promise<StoredSecret | undefined>;
  /**
   * One version by id, whatever its stage (e.g. the credentials of a client a rotation replaced, after
   * a second rotation pushed them out of AWSPREVIOUS), or undefined when the secret or version is gone.
   */
  readVersion(name: string, versionId: string): Promise<StoredSecret | undefined>;
  /** Names under a prefix, paged, for rebuilding indexes from the store (the source of truth). */
  list(prefix: string, options?: ListOptions): Promise<SecretPage>;
  /** The tags a secret was created with (for reindexing), or undefined when there is no such secret. */
  readTags(name: string): Promise<Record<string, string> | undefined>;
  /** Waits for writes in flight and releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}
