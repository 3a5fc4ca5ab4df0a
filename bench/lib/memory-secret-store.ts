// In-memory SecretStores for benchmarks only: same port as src/secrets, no I/O.
import type {
  ListOptions,
  SecretPage,
  SecretStore,
  SecretWrite,
  StoredSecret,
  WrittenVersion,
} from '../../src/secrets/index.js';

interface MemorySecret {
  versions: StoredSecret[];
  current: string;
  previous?: string;
  pending?: string;
  tags?: Record<string, string>;
}

export class MemorySecretStore implements SecretStore {
  readonly secrets = new Map<string, MemorySecret>();
  writes = 0;

  async write(w: SecretWrite): Promise<WrittenVersion> {
    this.writes++;
    const entry = this.secrets.get(w.name);
    const version = newVersion(w);
    if (!entry) {
      this.secrets.set(w.name, {
        versions: [version],
        current: version.versionId,
        ...(w.tags ? { tags: { ...w.tags } } : {}),
      });
      return { versionId: w.clientRequestToken, created: true };
    }
    const same = entry.versions.find((v) => v.versionId === w.clientRequestToken);
    if (same) return { versionId: same.versionId, created: false };
    entry.versions.push(version);
    entry.previous = entry.current;
    entry.current = version.versionId;
    return { versionId: w.clientRequestToken, created: false };
  }
  async writePending(w: SecretWrite): Promise<WrittenVersion> {
    this.writes++;
    const entry = this.secrets.get(w.name);
    if (!entry) throw new Error(`no secret ${w.name} to add a pending version to`);
    if (!entry.versions.some((v) => v.versionId === w.clientRequestToken)) {
      entry.versions.push(newVersion(w));
      entry.pending = w.clientRequestToken;
    }
    return { versionId: w.clientRequestToken, created: false };
  }
  async makeCurrent(name: string, versionId: string) {
    const entry = this.secrets.get(name);
    if (!entry?.versions.some((v) => v.versionId === versionId)) {
      throw new Error(`no version ${versionId} of secret ${name}`);
    }
    if (entry.current !== versionId) {
      entry.previous = entry.current;
      entry.current = versionId;
    }
    if (entry.pending === versionId) delete entry.pending;
  }
  async readCurrent(name: string) {
    const entry = this.secrets.get(name);
    return entry?.versions.find((v) => v.versionId === entry.current);
  }
  async readPrevious(name: string) {
    const entry = this.secrets.get(name);
    return entry?.previous === undefined
      ? undefined
      : entry.versions.find((v) => v.versionId === entry.previous);
  }
  async readVersion(name: string, versionId: string) {
    return this.secrets.get(name)?.versions.find((v) => v.versionId === versionId);
  }
  async list(prefix: string, options: ListOptions = {}): Promise<SecretPage> {
    const names = [...this.secrets.keys()].filter((n) => n.startsWith(prefix)).sort();
    const start = options.pageToken ? Number(options.pageToken) : 0;
    const size = options.pageSize ?? 100;
    const page = names.slice(start, start + size);
    return start + size < names.length
      ? { names: page, nextPageToken: String(start + size) }
      : { names: page };
  }
  async readTags(name: string) {
    return this.secrets.get(name)?.tags;
  }
  async close() {}
}

/**
 * Keeps nothing: every write is new and nothing can be read back. For long runs, where a store that
 * remembers every secret would be the fastest-growing thing in the worker's memory.
 */
export class DiscardingSecretStore implements SecretStore {
  writes = 0;

  async write(w: SecretWrite): Promise<WrittenVersion> {
    this.writes++;
    return { versionId: w.clientRequestToken, created: true };
  }
  async writePending(w: SecretWrite): Promise<WrittenVersion> {
    this.writes++;
    return { versionId: w.clientRequestToken, created: false };
  }
  async makeCurrent() {}
  async readCurrent() {
    return undefined;
  }
  async readPrevious() {
    return undefined;
  }
  async readVersion() {
    return undefined;
  }
  async list(): Promise<SecretPage> {
    return { names: [] };
  }
  async readTags() {
    return undefined;
  }
  async close() {}
}

function newVersion(w: SecretWrite): StoredSecret {
  return { name: w.name, value: w.value, versionId: w.clientRequestToken, createdAt: new Date() };
}
