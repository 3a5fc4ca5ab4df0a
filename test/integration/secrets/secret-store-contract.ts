// The behaviour every SecretStore adapter must share, written once and run against each adapter by its
// own test file. Every failure seen is kept, and the last test checks none of them leaked a value or token.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FailureCode,
  isProvisioningError,
  type ProvisioningError,
} from '../../../src/failures/index.js';
import { clientRequestToken, type SecretStore } from '../../../src/secrets/index.js';

export interface ContractSubject {
  store: SecretStore;
  /** Unique to this run, so runs sharing a backend (one moto server) never meet. */
  namePrefix: string;
}

/** Values and tokens handed to the store; no error message may contain any of them. */
export interface SecretsSeen {
  values: Set<string>;
  tokens: Set<string>;
  failures: ProvisioningError[];
}

export function newSecretsSeen(): SecretsSeen {
  return { values: new Set(), tokens: new Set(), failures: [] };
}

/** A credential-shaped JSON value with a unique, recognisable client secret. */
export function credentials(seen: SecretsSeen, label = 'v'): string {
  const value = JSON.stringify({
    client_id: `client-${label}`,
    client_secret: `do-not-leak-${label}-${randomBytes(12).toString('hex')}`,
  });
  seen.values.add(value);
  return value;
}

export function token(seen: SecretsSeen, ...parts: string[]): string {
  const t = clientRequestToken(randomBytes(8).toString('hex'), ...parts);
  seen.tokens.add(t);
  return t;
}

export async function failure(
  seen: SecretsSeen,
  promise: Promise<unknown>,
  code: FailureCode,
): Promise<ProvisioningError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected ${code}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(isProvisioningError(err), String(err)).toBe(true);
  expect((err as ProvisioningError).code).toBe(code);
  seen.failures.push(err as ProvisioningError);
  return err as ProvisioningError;
}

export function expectNoSecretInFailures(seen: SecretsSeen): void {
  expect(seen.failures.length).toBeGreaterThan(0);
  for (const err of seen.failures) {
    for (const text of [err.message, JSON.stringify(err), err.toFailedReason()]) {
      for (const value of seen.values) {
        expect(text).not.toContain(value);
        const secret = value.startsWith('{') ? JSON.parse(value).client_secret : undefined;
        if (typeof secret === 'string') expect(text).not.toContain(secret);
      }
      for (const t of seen.tokens) expect(text).not.toContain(t);
    }
  }
}

export function describeSecretStoreContract(
  label: string,
  subject: () => Promise<ContractSubject>,
  seen: SecretsSeen = newSecretsSeen(),
): void {
  describe(`${label} (shared SecretStore contract)`, () => {
    let store: SecretStore;
    let prefix: string;
    let counter = 0;
    const uniqueName = (what: string) => `${prefix}${what}-${++counter}/ehr.example_fhir`;
    const tags = { tenant: 'tenant-1', server: 'https://ehr.example/fhir', 'managed-by': 'dcr-provisioner' };

    beforeAll(async () => {
      ({ store, namePrefix: prefix } = await subject());
    });
    afterAll(async () => {
      await store.close();
    });

    it('creates a secret whose current version is the written value and has no previous version', async () => {
      const name = uniqueName('create');
      const value = credentials(seen);
      const t = token(seen, 'create');
      await expect(store.write({ name, value, clientRequestToken: t, tags })).resolves.toEqual({
        versionId: t,
        created: true,
      });
      const current = await store.readCurrent(name);
      expect(current).toMatchObject({ name, value, versionId: t });
      expect(current?.createdAt).toBeInstanceOf(Date);
      expect(await store.readPrevious(name)).toBeUndefined();
    });

    it('reads a secret that does not exist as undefined', async () => {
      const name = uniqueName('absent');
      expect(await store.readCurrent(name)).toBeUndefined();
      expect(await store.readPrevious(name)).toBeUndefined();
      expect(await store.readTags(name)).toBeUndefined();
      expect(await store.readVersion(name, token(seen, 'absent'))).toBeUndefined();
    });

    it('reads any version by id, also one pushed out of AWSPREVIOUS, and an unknown id as undefined', async () => {
      const name = uniqueName('versions');
      const values = [credentials(seen, 'v1'), credentials(seen, 'v2'), credentials(seen, 'v3')];
      const tokens = [token(seen, 'v1'), token(seen, 'v2'), token(seen, 'v3')];
      for (const [i, value] of values.entries())
        await store.write({ name, value, clientRequestToken: tokens[i] as string, tags });
      expect(await store.readVersion(name, tokens[0] as string)).toMatchObject({
        name,
        value: values[0],
        versionId: tokens[0],
      });
      expect((await store.readVersion(name, tokens[2] as string))?.value).toBe(values[2]);
      expect(await store.readVersion(name, token(seen, 'never-written'))).toBeUndefined();
    });

    it('adds a version on a second write: current is the new value, previous keeps the old', async () => {
      const name = uniqueName('rotate');
      const [oldValue, newValue] = [credentials(seen, 'old'), credentials(seen, 'new')];
      const [t1, t2] = [token(seen, 'old'), token(seen, 'new')];
      await store.write({ name, value: oldValue, clientRequestToken: t1, tags });
      await expect(store.write({ name, value: newValue, clientRequestToken: t2 })).resolves.toEqual({
        versionId: t2,
        created: false,
      });
      expect(await store.readCurrent(name)).toMatchObject({ value: newValue, versionId: t2 });
      expect(await store.readPrevious(name)).toMatchObject({ value: oldValue, versionId: t1 });
    });

    it('treats the same token with the same value as a no-op that keeps a single version', async () => {
      const name = uniqueName('retry');
      const value = credentials(seen);
      const t = token(seen, 'retry');
      await store.write({ name, value, clientRequestToken: t, tags });
      const again = await store.write({ name, value, clientRequestToken: t, tags });
      expect(again.versionId).toBe(t);
      // Read back: the one version holds the value, under its token, and is current.
      expect(await store.readCurrent(name)).toMatchObject({ name, value, versionId: t });
      expect(await store.readVersion(name, t)).toMatchObject({ value, versionId: t });
      expect(await store.readPrevious(name)).toBeUndefined();
    });

    it('leaves the stages alone when an older write is retried after a newer one', async () => {
      const name = uniqueName('late-retry');
      const [a, b] = [credentials(seen, 'a'), credentials(seen, 'b')];
      const [ta, tb] = [token(seen, 'a'), token(seen, 'b')];
      await store.write({ name, value: a, clientRequestToken: ta });
      await store.write({ name, value: b, clientRequestToken: tb });
      await expect(store.write({ name, value: a, clientRequestToken: ta })).resolves.toMatchObject({
        versionId: ta,
        created: false,
      });
      // Read back: both versions hold what was written, and the stages are where the newer write put them.
      expect(await store.readCurrent(name)).toMatchObject({ value: b, versionId: tb });
      expect(await store.readPrevious(name)).toMatchObject({ value: a, versionId: ta });
      expect(await store.readVersion(name, ta)).toMatchObject({ value: a, versionId: ta });
    });

    it('refuses the same token with a different value as secret_store_rejected and keeps the stored value', async () => {
      const name = uniqueName('token-reuse');
      const [first, second] = [credentials(seen, 'first'), credentials(seen, 'second')];
      const t = token(seen, 'reuse');
      await store.write({ name, value: first, clientRequestToken: t });
      const err = await failure(
        seen,
        store.write({ name, value: second, clientRequestToken: t }),
        'secret_store_rejected',
      );
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(name);
      expect(err.message).toContain('client request token');
      expect(await store.readCurrent(name)).toMatchObject({ value: first, versionId: t });
    });

    it('records the tags given at creation and keeps them when later writes bring others', async () => {
      const name = uniqueName('tags');
      await store.write({ name, value: credentials(seen), clientRequestToken: token(seen, 't1'), tags });
      const later = { value: credentials(seen), versionId: token(seen, 't2') };
      await store.write({
        name,
        value: later.value,
        clientRequestToken: later.versionId,
        tags: { tenant: 'someone-else' },
      });
      expect(await store.readTags(name)).toEqual(tags);
      // The later write was stored all the same, only its tags were not applied.
      expect(await store.readCurrent(name)).toMatchObject(later);
    });

    it('makes tag values tag-safe and cuts them to 256 characters', async () => {
      const name = uniqueName('tag-values');
      const server = `https://ehr.example/~fhir%20r4/${'p'.repeat(300)}`;
      await store.write({
        name,
        value: credentials(seen),
        clientRequestToken: token(seen, 'tv'),
        tags: { server },
      });
      const stored = (await store.readTags(name))?.server ?? '';
      expect(stored).toHaveLength(256);
      expect(stored.startsWith('https://ehr.example/_fhir_20r4/ppp')).toBe(true);
    });

    it.each([
      ['an invalid name', { name: 'dcr/has space' }, 'A-Za-z0-9/_+=.@-'],
      ['a name ending in "-" and six characters', { name: 'dcr/tenant/x-abcdef' }, 'six characters'],
      ['a value over 65,536 bytes', { value: JSON.stringify({ pad: 'é'.repeat(40_000) }) }, '65536'],
      ['a token that is too short', { clientRequestToken: 'short' }, 'client request token'],
      ['a token with odd characters', { clientRequestToken: `${'a'.repeat(40)}_!` }, 'client request token'],
      ['a reserved tag key', { tags: { 'aws:owner': 'x' } }, 'tag key'],
      ['a tag key over 128 characters', { tags: { ['k'.repeat(129)]: 'x' } }, 'tag key'],
      ['a description over 2,048 characters', { description: 'd'.repeat(2049) }, 'description'],
    ])('refuses %s before storing anything', async (_, override, rule) => {
      const name = uniqueName('invalid');
      const write = {
        name,
        value: credentials(seen),
        clientRequestToken: token(seen, 'invalid'),
        ...override,
      };
      const err = await failure(seen, store.write(write), 'secret_store_rejected');
      expect(err.message).toContain(rule);
      expect(err.message).toContain(write.name.slice(0, 40));
      if (write.name === name) expect(await store.readCurrent(name)).toBeUndefined();
    });

    it("stores a plain-text value, such as an operator's initial access token, as it is", async () => {
      const name = uniqueName('plain');
      const value = `iat-${randomBytes(16).toString('hex')}`;
      seen.values.add(value);
      await store.write({ name, value, clientRequestToken: token(seen, 'plain') });
      expect((await store.readCurrent(name))?.value).toBe(value);
    });

    it('refuses to read under an invalid name rather than guessing', async () => {
      await failure(seen, store.readCurrent('dcr/has space'), 'secret_store_rejected');
      await failure(seen, store.readTags('dcr/x-abcdef'), 'secret_store_rejected');
    });

    it('lists the names under a prefix page by page, and not those that merely share its letters', async () => {
      const base = `${prefix}list-${++counter}/`;
      const wanted = [
        't1/a.example',
        't1/b.example_fhir',
        't1/c.example',
        't1/sub/d.example',
        't1/e.example',
      ].map((n) => `${base}${n}`);
      const others = [`${base}t10/a.example`, `${base}T1/a.example`, `${base}t1`];
      await Promise.all(
        [...wanted, ...others].map((name) =>
          store.write({ name, value: credentials(seen), clientRequestToken: token(seen, name) }),
        ),
      );
      const names: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const page = await store.list(`${base}t1/`, { pageSize: 2, ...(pageToken ? { pageToken } : {}) });
        expect(page.names.length).toBeLessThanOrEqual(2);
        names.push(...page.names);
        pageToken = page.nextPageToken;
        pages += 1;
      } while (pageToken !== undefined && pages < 50);
      expect(pageToken).toBeUndefined();
      expect(names.sort()).toEqual([...wanted].sort());
      expect((await store.list(`${base}nothing-here/`)).names).toEqual([]);
    });

    it('refuses a list prefix with characters no name can have, and a page size outside 1–100', async () => {
      await failure(seen, store.list('dcr/ space'), 'secret_store_rejected');
      await failure(seen, store.list(prefix, { pageSize: 0 }), 'secret_store_rejected');
      await failure(seen, store.list(prefix, { pageSize: 101 }), 'secret_store_rejected');
    });

    it('keeps the secret readable when concurrent writes with distinct tokens race', async () => {
      const name = uniqueName('race');
      const writes = Array.from({ length: 8 }, (_, i) => ({
        name,
        value: credentials(seen, `race-${i}`),
        clientRequestToken: token(seen, 'race', String(i)),
      }));
      const results = await Promise.all(writes.map((w) => store.write(w)));
      expect(results.filter((r) => r.created).length).toBeLessThanOrEqual(1);
      expect(results.map((r) => r.versionId)).toEqual(writes.map((w) => w.clientRequestToken));
      // Read back: every write that was answered holds its own value under its own token.
      for (const w of writes) {
        expect(await store.readVersion(name, w.clientRequestToken)).toMatchObject({
          name,
          value: w.value,
          versionId: w.clientRequestToken,
        });
      }
      const current = await store.readCurrent(name);
      const previous = await store.readPrevious(name);
      const byToken = new Map(writes.map((w) => [w.clientRequestToken, w.value]));
      expect(current).toBeDefined();
      expect(previous).toBeDefined();
      expect(byToken.get(current?.versionId as string)).toBe(current?.value);
      expect(byToken.get(previous?.versionId as string)).toBe(previous?.value);
      expect(previous?.versionId).not.toBe(current?.versionId);
    });

    it('answers concurrent retries of one write with the same version', async () => {
      const name = uniqueName('retry-race');
      const write = { name, value: credentials(seen), clientRequestToken: token(seen, 'retry-race'), tags };
      const results = await Promise.all(Array.from({ length: 5 }, () => store.write(write)));
      expect(new Set(results.map((r) => r.versionId))).toEqual(new Set([write.clientRequestToken]));
      // Read back: one version, current, holding the value.
      expect(await store.readCurrent(name)).toMatchObject({
        name,
        value: write.value,
        versionId: write.clientRequestToken,
      });
      expect(await store.readVersion(name, write.clientRequestToken)).toMatchObject({ value: write.value });
      expect(await store.readPrevious(name)).toBeUndefined();
    });

    it('never puts a secret value or a client request token into a failure', () => {
      expectNoSecretInFailures(seen);
    });
  });
}
