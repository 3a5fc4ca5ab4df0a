// The embedded SecretStore for the demo and local use, with the AWS adapter's semantics. Writes are
// serialised per name inside one process only: several processes sharing a directory need the aws backend.
//
// Layout: <root>/<sha256(name) in hex>/{meta.json, state.json, v-<versionId>.json}; the root and each
// secret's directory are 0700, files 0600. Every file is replaced atomically (temp file in the same
// directory, fsync, rename, fsync of the directory). state.json is the commit point: a version exists
// once state.json lists it, so a crash between two files leaves a secret that reads as before.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ProvisioningError } from '../failures/index.js';
import { checkListOptions } from './list-options.js';
import { assertValidSecretName } from './secret-name.js';
import type {
  ListOptions,
  MakeCurrentOptions,
  SecretPage,
  SecretStore,
  SecretWrite,
  StoredSecret,
  WrittenVersion,
} from './secret-store.js';
import { TOKEN_REUSED_PROBLEM, type ValidSecretWrite, validateSecretWrite } from './validate-secret-write.js';
import {
  checkMakeCurrent,
  currentMoved,
  noSuchSecret,
  noSuchVersion,
  pendingNeedsSecret,
} from './version-stages.js';

export interface FileSecretStoreOptions {
  /** The directory holding all secrets; created with mode 0700 when missing. */
  rootDir: string;
}

/**
 * Which versions carry AWSCURRENT, AWSPREVIOUS and AWSPENDING, and every version ever committed (for
 * token checks and makeCurrent).
 */
interface SecretState {
  current: string;
  previous?: string;
  pending?: string;
  versions: string[];
}

interface SecretMeta {
  name: string;
  createdAt: string;
  tags: Record<string, string>;
  description?: string;
}

interface VersionRecord {
  versionId: string;
  createdAt: string;
  value: string;
}

const DIRECTORY_MODE = 0o700;
const FILE_MODE = 0o600;
// A hash gives every name one flat, fixed-length, lower-case directory: no `/` or `..` in a name can
// reach outside the root, no name is too long for the file system, and case-insensitive file systems
// (macOS) cannot merge `A` and `a`. meta.json keeps the real name for `list`.
const SECRET_DIRECTORY = /^[0-9a-f]{64}$/;
// Access problems do not go away by retrying; anything else (ENOSPC, EMFILE, EIO, ...) may.
const PERMANENT_FS_CODES = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
  'ENAMETOOLONG',
  'ELOOP',
]);

export class FileSecretStore implements SecretStore {
  readonly #root: string;
  readonly #queues = new Map<string, Promise<unknown>>();
  #closed = false;

  constructor(options: FileSecretStoreOptions) {
    this.#root = resolve(options.rootDir);
  }

  /** The absolute root directory. */
  get rootDir(): string {
    return this.#root;
  }

  async write(input: SecretWrite): Promise<WrittenVersion> {
    const write = validateSecretWrite(input);
    const what = `cannot write secret ${write.name}`;
    this.#assertOpen(what);
    return this.#serialised(write.name, () =>
      this.#guard(what, () => this.#writeLocked(write, what, 'current')),
    );
  }

  async writePending(input: SecretWrite): Promise<WrittenVersion> {
    const write = validateSecretWrite(input);
    const what = `cannot write secret ${write.name}`;
    this.#assertOpen(what);
    return this.#serialised(write.name, () =>
      this.#guard(what, () => this.#writeLocked(write, what, 'pending')),
    );
  }

  async #writeLocked(
    write: ValidSecretWrite,
    what: string,
    stage: 'current' | 'pending',
  ): Promise<WrittenVersion> {
    const dir = this.#directory(write.name);
    const token = write.clientRequestToken;
    const state = await this.#readState(dir);
    if (state === undefined && stage === 'pending') throw pendingNeedsSecret(write.name);

    // A repeated token is answered from the version it made, whatever labels that version has now.
    if (state?.versions.includes(token)) {
      const existing = await readJson<VersionRecord>(versionPath(dir, token));
      if (existing === undefined)
        throw corrupt(what, `version file of a committed version is missing in ${dir}`);
      if (existing.value === write.value) return { versionId: token, created: false };
      throw new ProvisioningError('secret_store_rejected', `${what}: ${TOKEN_REUSED_PROBLEM}`);
    }

    const now = new Date().toISOString();
    if (state === undefined) {
      await mkdir(this.#root, { recursive: true, mode: DIRECTORY_MODE });
      try {
        await mkdir(dir, { mode: DIRECTORY_MODE });
        await syncDirectory(this.#root);
      } catch (err) {
        // Left by a create that crashed before its commit; it is overwritten below.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const meta: SecretMeta = {
        name: write.name,
        createdAt: now,
        tags: write.tags,
        ...(write.description === undefined ? {} : { description: write.description }),
      };
      await writeFileAtomic(join(dir, 'meta.json'), JSON.stringify(meta));
    }
    const version: VersionRecord = { versionId: token, createdAt: now, value: write.value };
    await writeFileAtomic(versionPath(dir, token), JSON.stringify(version));
    const versions = [...(state?.versions ?? []), token];
    // As PutSecretValue: AWSCURRENT moves and takes AWSPREVIOUS along, AWSPENDING stays where it is; or
    // only AWSPENDING moves, off the older pending version.
    const next: SecretState =
      state !== undefined && stage === 'pending'
        ? { ...state, pending: token, versions }
        : {
            current: token,
            ...(state === undefined ? {} : { previous: state.current }),
            ...(state?.pending === undefined ? {} : { pending: state.pending }),
            versions,
          };
    await writeFileAtomic(join(dir, 'state.json'), JSON.stringify(next));
    return { versionId: token, created: state === undefined };
  }

  async makeCurrent(name: string, versionId: string, options: MakeCurrentOptions = {}): Promise<void> {
    const what = checkMakeCurrent(name, versionId);
    this.#assertOpen(what);
    return this.#serialised(name, () =>
      this.#guard(what, async () => {
        const dir = this.#directory(name);
        const state = await this.#readState(dir);
        if (state === undefined) throw noSuchSecret(what);
        if (!state.versions.includes(versionId)) throw noSuchVersion(what);
        if (state.current === versionId && state.pending !== versionId) return;
        if (
          options.ifCurrent !== undefined &&
          state.current !== versionId &&
          state.current !== options.ifCurrent
        ) {
          throw currentMoved(what, options.ifCurrent);
        }
        // As UpdateSecretVersionStage: AWSPREVIOUS goes to the version AWSCURRENT leaves.
        const { pending, ...labelled } = state;
        const next: SecretState = {
          ...labelled,
          current: versionId,
          ...(state.current === versionId ? {} : { previous: state.current }),
          ...(pending === undefined || pending === versionId ? {} : { pending }),
        };
        await writeFileAtomic(join(dir, 'state.json'), JSON.stringify(next));
      }),
    );
  }

  readCurrent(name: string): Promise<StoredSecret | undefined> {
    return this.#read(name, 'current');
  }

  readPrevious(name: string): Promise<StoredSecret | undefined> {
    return this.#read(name, 'previous');
  }

  readVersion(name: string, versionId: string): Promise<StoredSecret | undefined> {
    return this.#read(name, { versionId });
  }

  // Reads take no lock: state.json is swapped atomically and committed version files never change.
  async #read(
    name: string,
    stage: 'current' | 'previous' | { versionId: string },
  ): Promise<StoredSecret | undefined> {
    assertValidSecretName(name);
    const what = `cannot read secret ${name}`;
    return this.#guard(what, async () => {
      const dir = this.#directory(name);
      const state = await this.#readState(dir);
      const versionId =
        typeof stage === 'string'
          ? state?.[stage]
          : state?.versions.includes(stage.versionId)
            ? stage.versionId
            : undefined;
      if (versionId === undefined) return undefined;
      const version = await readJson<VersionRecord>(versionPath(dir, versionId));
      if (version === undefined || typeof version.value !== 'string') {
        throw corrupt(
          what,
          `the ${typeof stage === 'string' ? stage : versionId} version's file is missing in ${dir}`,
        );
      }
      return { name, value: version.value, versionId, createdAt: new Date(version.createdAt) };
    });
  }

  async list(prefix: string, options: ListOptions = {}): Promise<SecretPage> {
    const { pageSize } = checkListOptions(prefix, options);
    const what = `cannot list secrets under ${JSON.stringify(prefix)}`;
    const after = options.pageToken === undefined ? undefined : decodePageToken(what, options.pageToken);
    return this.#guard(what, async () => {
      const entries = await readdir(this.#root, { withFileTypes: true }).catch(
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return [];
          throw err;
        },
      );
      const found = await Promise.all(
        entries
          .filter((e) => e.isDirectory() && SECRET_DIRECTORY.test(e.name))
          .map(async (e) => {
            const dir = join(this.#root, e.name);
            // A directory without state.json is a create that never committed: no secret.
            if ((await this.#readState(dir)) === undefined) return undefined;
            return (await readJson<SecretMeta>(join(dir, 'meta.json')))?.name;
          }),
      );
      const names = found
        .filter((n): n is string => typeof n === 'string' && n.startsWith(prefix))
        .filter((n) => after === undefined || n > after)
        .sort();
      const page = names.slice(0, pageSize);
      const last = page.at(-1);
      return names.length > pageSize && last !== undefined
        ? { names: page, nextPageToken: encodePageToken(last) }
        : { names: page };
    });
  }

  async readTags(name: string): Promise<Record<string, string> | undefined> {
    assertValidSecretName(name);
    return this.#guard(`cannot read secret ${name}`, async () => {
      const dir = this.#directory(name);
      if ((await this.#readState(dir)) === undefined) return undefined;
      return { ...(await readJson<SecretMeta>(join(dir, 'meta.json')))?.tags };
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#queues.values());
  }

  #assertOpen(what: string): void {
    if (this.#closed)
      throw new ProvisioningError('secret_store_unavailable', `${what}: the file store is closed`);
  }

  /** The directory holding a secret's versions, so people can find it (the demo prints it). */
  locate(name: string): string {
    return this.#directory(name);
  }

  #directory(name: string): string {
    return join(this.#root, createHash('sha256').update(name).digest('hex'));
  }

  async #readState(dir: string): Promise<SecretState | undefined> {
    const state = await readJson<SecretState>(join(dir, 'state.json'));
    if (state === undefined) return undefined;
    if (typeof state.current !== 'string' || !Array.isArray(state.versions)) {
      throw new SyntaxError('state.json does not have the expected shape');
    }
    return state;
  }

  /** Runs tasks for one name one after another, so two writes never interleave their files. */
  async #serialised<T>(name: string, task: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(name) ?? Promise.resolve();
    const run = before.then(task);
    const tail = run.catch(() => undefined);
    this.#queues.set(name, tail);
    try {
      return await run;
    } finally {
      if (this.#queues.get(name) === tail) this.#queues.delete(name);
    }
  }

  /** Translates file-system failures into the store's failure codes. */
  async #guard<T>(what: string, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (err) {
      if (err instanceof ProvisioningError) throw err;
      if (err instanceof SyntaxError) {
        throw corrupt(what, `a file under ${this.#root} is not what this store wrote (${err.message})`, err);
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && PERMANENT_FS_CODES.has(code)) {
        throw new ProvisioningError(
          'secret_store_rejected',
          `${what}: the file store at ${this.#root} refused access (${code}); check its owner and permissions`,
          { cause: err },
        );
      }
      throw new ProvisioningError(
        'secret_store_unavailable',
        `${what}: the file store at ${this.#root} failed (${code ?? (err as Error).name})`,
        { cause: err },
      );
    }
  }
}

function corrupt(what: string, problem: string, cause?: unknown): ProvisioningError {
  return new ProvisioningError(
    'secret_store_rejected',
    `${what}: ${problem}; restore the directory from a backup or remove it`,
    {
      cause,
    },
  );
}

function versionPath(dir: string, versionId: string): string {
  // Version ids are checked to be [A-Za-z0-9-] before they get here.
  return join(dir, `v-${versionId}.json`);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // JSON.parse's message may quote the file, which may hold a secret.
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new SyntaxError(`${path} is not valid JSON`);
  }
}

async function writeFileAtomic(path: string, data: string): Promise<void> {
  const temp = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', FILE_MODE);
    try {
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** Makes a rename or mkdir durable; platforms that cannot fsync a directory are skipped. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}

function encodePageToken(lastName: string): string {
  return Buffer.from(JSON.stringify({ after: lastName }), 'utf8').toString('base64url');
}

function decodePageToken(what: string, token: string): string {
  try {
    const { after } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof after === 'string') return after;
  } catch {
    // fall through
  }
  throw new ProvisioningError(
    'secret_store_rejected',
    `${what}: the page token is invalid; list again from the first page`,
  );
}
