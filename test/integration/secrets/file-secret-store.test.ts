// The file adapter in a fresh temporary directory: the shared contract, then what only files have —
// modes, atomic replacement, names that try to leave the root, a crash between two files, corruption.

import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../../src/secrets/index.js';
import {
  credentials,
  describeSecretStoreContract,
  expectNoSecretInFailures,
  failure,
  newSecretsSeen,
  token,
} from './secret-store-contract.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'dcr-secrets-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describeSecretStoreContract('secrets/file', async () => ({
  store: new FileSecretStore({ rootDir: join(base, 'contract') }),
  namePrefix: 'dcr/',
}));

/** Every path under dir, relative, depth first. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('secrets/file', () => {
  const seen = newSecretsSeen();
  let root: string;
  let store: FileSecretStore;
  beforeAll(() => {
    root = join(base, 'own', 'nested', 'root');
    store = new FileSecretStore({ rootDir: root });
  });
  afterAll(() => store.close());

  it('creates a missing root and keeps directories at 0700 and files at 0600', async () => {
    await store.write({
      name: 'dcr/t1/modes',
      value: credentials(seen),
      clientRequestToken: token(seen, 'm1'),
    });
    await store.write({
      name: 'dcr/t1/modes',
      value: credentials(seen),
      clientRequestToken: token(seen, 'm2'),
    });
    expect(await mode(root)).toBe(0o700);
    const paths = await tree(root);
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) {
      const full = join(root, path);
      const isDirectory = (await stat(full)).isDirectory();
      expect([path, await mode(full)]).toEqual([path, isDirectory ? 0o700 : 0o600]);
    }
  });

  it('leaves no temporary files behind, even after concurrent writes', async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.write({
          name: 'dcr/t1/temp',
          value: credentials(seen),
          clientRequestToken: token(seen, 'tmp', String(i)),
        }),
      ),
    );
    const leftovers = (await tree(root)).filter((p) => !/(^|\/)(meta|state|v-[A-Za-z0-9-]+)\.json$/.test(p));
    // Only the per-secret directories themselves remain besides the three kinds of files.
    expect(leftovers.every((p) => /^[0-9a-f]{64}$/.test(p))).toBe(true);
  });

  it('keeps a name with ".." inside the root and reads it back', async () => {
    const outside = join(base, 'own');
    const before = await readdir(outside);
    const name = '../../../escape/../..';
    const value = credentials(seen);
    await store.write({ name, value, clientRequestToken: token(seen, 'dots') });
    expect(await readdir(outside)).toEqual(before);
    expect((await store.readCurrent(name))?.value).toBe(value);
    expect((await store.list('../')).names).toEqual([name]);
  });

  it('commits a write whose earlier attempt died after the version file and before the state file', async () => {
    const name = 'dcr/t1/crash';
    const first = credentials(seen, 'first');
    await store.write({ name, value: first, clientRequestToken: token(seen, 'c1') });

    // Simulate the crash: a version file that state.json never listed, with other content.
    const retried = credentials(seen, 'retried');
    const t2 = token(seen, 'c2');
    const secretDir = await directoryOf(root, name);
    await writeFile(join(secretDir, `v-${t2}.json`), '{"half":', { mode: 0o600 });
    expect((await store.readCurrent(name))?.value).toBe(first);

    await expect(store.write({ name, value: retried, clientRequestToken: t2 })).resolves.toEqual({
      versionId: t2,
      created: false,
    });
    expect((await store.readCurrent(name))?.value).toBe(retried);
    expect((await store.readPrevious(name))?.value).toBe(first);
  });

  it('reports a hand-edited state file as secret_store_rejected without quoting it', async () => {
    const name = 'dcr/t1/corrupt';
    const value = credentials(seen);
    await store.write({ name, value, clientRequestToken: token(seen, 'k') });
    const secretDir = await directoryOf(root, name);
    await writeFile(join(secretDir, 'state.json'), `not json ${value}`);
    const err = await failure(seen, store.readCurrent(name), 'secret_store_rejected');
    expect(err.message).toContain('not valid JSON');
  });

  it('reports a root it cannot write as secret_store_rejected', async () => {
    // A file where the root directory should be fails the same way for root and other users.
    const blocked = join(base, 'blocked-root');
    await writeFile(blocked, 'not a directory');
    const blockedStore = new FileSecretStore({ rootDir: join(blocked, 'secrets') });
    const err = await failure(
      seen,
      blockedStore.write({ name: 'dcr/b', value: credentials(seen), clientRequestToken: token(seen, 'l2') }),
      'secret_store_rejected',
    );
    expect(err.message).toMatch(/ENOTDIR|EEXIST/);
  });

  it('refuses writes once closed, after letting those in flight finish', async () => {
    const closing = new FileSecretStore({ rootDir: join(base, 'closing') });
    const inFlight = closing.write({
      name: 'dcr/a',
      value: credentials(seen),
      clientRequestToken: token(seen, 'z1'),
    });
    await closing.close();
    await expect(inFlight).resolves.toMatchObject({ created: true });
    await failure(
      seen,
      closing.write({ name: 'dcr/a', value: credentials(seen), clientRequestToken: token(seen, 'z2') }),
      'secret_store_unavailable',
    );
  });

  it('never puts a secret value or a client request token into a failure', () => {
    expectNoSecretInFailures(seen);
  });
});

/** The directory holding one secret, found through its meta.json. */
async function directoryOf(root: string, name: string): Promise<string> {
  for (const entry of await readdir(root)) {
    const meta = await readFile(join(root, entry, 'meta.json'), 'utf8').catch(() => undefined);
    if (meta !== undefined && JSON.parse(meta).name === name) return join(root, entry);
  }
  throw new Error(`no directory for ${name}`);
}
