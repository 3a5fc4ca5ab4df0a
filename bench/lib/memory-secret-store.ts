// In-memory SecretStores for benchmarks only: same port as src/secrets, no I/O.
import type {
  ListOptions,
  SecretPage,
  SecretStore,
  SecretWrite,
  StoredSecret,
  WrittenVersion,
} from '../../src/secrets/index.js';

export class MemorySecretStore implements SecretStore {
  readonly secrets = new Map<string, { versions: StoredSecret[]; tags?: Record<string, string> }>();
  writes = 0;

  async write(w: SecretWrite): Promise<WrittenVersion> {
    this.writes++;
    const entry = this.secrets.get(w.name);
    const version: StoredSecret = {
      name: w.name,
      value: w.value,
      versionId: w.clientRequestToken,
      createdAt: new Date(),
    };
    if (!entry) {
      this.secrets.set(w.name, { versions: [version], ...(w.tags ? { tags: { ...w.tags } } : {}) });
      return { versionId: w.clientRequestToken, created: true };
    }
    const same = entry.versions.find((v) => v.versionId === w.clientRequestToken);
    if (same) return { versionId: same.versionId, created: false };
    entry.versions.push(version);
    return { versionId: w.clientRequestToken, created: false };
  }
  async readCurrent(name: string) {
    return this.secrets.get(name)?.versions.at(-1);
  }
  async readPrevious(name: string) {
    return this.secrets.get(name)?.versions.at(-2);
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
