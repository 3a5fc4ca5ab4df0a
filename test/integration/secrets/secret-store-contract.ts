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

/**
 * Where a backend the tests run on is known to differ from the behaviour AWS documents, with the reason.
 * The test runs all the same but is expected to fail, so it starts failing once the backend is fixed.
 */
export interface KnownDeviations {
  /** A plain write after makeCurrent moves AWSCURRENT on from the version made current. */
  plainWriteAfterMakeCurrent?: string;
}

export function describeSecretStoreContract(
  label: string,
  subject: () => Promise<ContractSubject>,
  seen: SecretsSeen = newSecretsSeen(),
  deviations: KnownDeviations = {},
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

    describe('pending versions', () => {
      /** A secret with two versions written, so that it has both a current and a previous one. */
      async function rotatedOnce(what: string) {
        const name = uniqueName(what);
        const older = { value: credentials(seen, 'older'), versionId: token(seen, 'older') };
        const current = { value: credentials(seen, 'current'), versionId: token(seen, 'current') };
        for (const v of [older, current])
          await store.write({ name, value: v.value, clientRequestToken: v.versionId, tags });
        return { name, older, current };
      }
      const pending = (label = 'pending') => ({
        value: credentials(seen, label),
        versionId: token(seen, label),
      });

      it('adds a pending version that leaves current and previous where they were, readable by its id', async () => {
        const { name, older, current } = await rotatedOnce('pending');
        const p = pending();
        await expect(
          store.writePending({ name, value: p.value, clientRequestToken: p.versionId }),
        ).resolves.toEqual({ versionId: p.versionId, created: false });
        expect(await store.readCurrent(name)).toMatchObject(current);
        expect(await store.readPrevious(name)).toMatchObject(older);
        expect(await store.readVersion(name, p.versionId)).toMatchObject({ name, ...p });
      });

      it('makes a pending version current: the former current becomes previous, and both stay readable', async () => {
        const { name, older, current } = await rotatedOnce('make-current');
        const p = pending();
        await store.writePending({ name, value: p.value, clientRequestToken: p.versionId });
        await expect(store.makeCurrent(name, p.versionId)).resolves.toBeUndefined();
        expect(await store.readCurrent(name)).toMatchObject({ name, ...p });
        expect(await store.readPrevious(name)).toMatchObject(current);
        expect(await store.readVersion(name, current.versionId)).toMatchObject(current);
        expect(await store.readVersion(name, p.versionId)).toMatchObject(p);
        // The version two rotations back is out of AWSPREVIOUS but still there by id.
        expect(await store.readVersion(name, older.versionId)).toMatchObject(older);
      });

      it('with ifCurrent, moves nothing once another version became current, and moves from the expected one', async () => {
        const { name, older, current } = await rotatedOnce('make-current-if');
        const p = pending();
        await store.writePending({ name, value: p.value, clientRequestToken: p.versionId });
        // The pending version was made from `older`, but `current` landed since: it stays current.
        await expect(
          store.makeCurrent(name, p.versionId, { ifCurrent: older.versionId }),
        ).rejects.toMatchObject({
          code: 'secret_store_rejected',
        });
        expect(await store.readCurrent(name)).toMatchObject(current);
        await store.makeCurrent(name, p.versionId, { ifCurrent: current.versionId });
        expect(await store.readCurrent(name)).toMatchObject({ name, ...p });
        // A retry after it moved is a no-op success.
        await expect(
          store.makeCurrent(name, p.versionId, { ifCurrent: current.versionId }),
        ).resolves.toBeUndefined();
      });

      it('treats a retried pending write and a retried makeCurrent as no-ops, also after the version became current', async () => {
        const { name, current } = await rotatedOnce('pending-retry');
        const p = pending();
        const write = { name, value: p.value, clientRequestToken: p.versionId };
        await store.writePending(write);
        await expect(store.writePending(write)).resolves.toEqual({ versionId: p.versionId, created: false });
        expect(await store.readCurrent(name)).toMatchObject(current);

        await store.makeCurrent(name, p.versionId);
        await expect(store.makeCurrent(name, p.versionId)).resolves.toBeUndefined();
        // A pending write retried late, after its version was put in use, does not move anything back.
        await expect(store.writePending(write)).resolves.toEqual({ versionId: p.versionId, created: false });
        expect(await store.readCurrent(name)).toMatchObject(p);
        expect(await store.readPrevious(name)).toMatchObject(current);
      });

      it('refuses a pending write that reuses a token with another value, and keeps the pending value', async () => {
        const { name, current } = await rotatedOnce('pending-reuse');
        const p = pending();
        await store.writePending({ name, value: p.value, clientRequestToken: p.versionId });
        const err = await failure(
          seen,
          store.writePending({ name, value: credentials(seen, 'other'), clientRequestToken: p.versionId }),
          'secret_store_rejected',
        );
        expect(err.message).toContain(name);
        expect(err.message).toContain('client request token');
        expect(await store.readVersion(name, p.versionId)).toMatchObject(p);
        expect(await store.readCurrent(name)).toMatchObject(current);
      });

      it('refuses a pending version of a secret that does not exist, and creates nothing', async () => {
        const name = uniqueName('pending-absent');
        const p = pending();
        const err = await failure(
          seen,
          store.writePending({ name, value: p.value, clientRequestToken: p.versionId, tags }),
          'secret_store_rejected',
        );
        expect(err.retryable).toBe(false);
        expect(err.message).toContain(name);
        expect(err.message).toContain('a pending version needs an existing secret');
        expect(await store.readCurrent(name)).toBeUndefined();
        expect(await store.readVersion(name, p.versionId)).toBeUndefined();
        expect(await store.list(name)).toEqual({ names: [] });
      });

      it('validates a pending write as a plain write', async () => {
        const { name } = await rotatedOnce('pending-invalid');
        const err = await failure(
          seen,
          store.writePending({ name, value: credentials(seen), clientRequestToken: 'short' }),
          'secret_store_rejected',
        );
        expect(err.message).toContain('client request token');
      });

      it('refuses to make an unknown version, or a version of an unknown secret, current, naming both', async () => {
        const { name, older, current } = await rotatedOnce('unknown-version');
        // A version id is named in the message (it is no secret: events carry it), so this one stays out
        // of the tokens the last test looks for.
        const unknown = clientRequestToken('never-written', name);
        const err = await failure(seen, store.makeCurrent(name, unknown), 'secret_store_rejected');
        expect(err.retryable).toBe(false);
        expect(err.message).toContain(name);
        expect(err.message).toContain(unknown);
        expect(await store.readCurrent(name)).toMatchObject(current);
        expect(await store.readPrevious(name)).toMatchObject(older);

        const absent = uniqueName('unknown-secret');
        const missing = await failure(seen, store.makeCurrent(absent, unknown), 'secret_store_rejected');
        expect(missing.message).toContain(absent);
        expect(missing.message).toContain('no such secret');

        const malformed = await failure(
          seen,
          store.makeCurrent(name, 'not/a version'),
          'secret_store_rejected',
        );
        expect(malformed.message).toContain('version id');
      });

      it('moves the pending label to the newer of two pending writes; the older stays a version that can be made current', async () => {
        const { name, current } = await rotatedOnce('two-pending');
        const [p1, p2] = [pending('p1'), pending('p2')];
        await store.writePending({ name, value: p1.value, clientRequestToken: p1.versionId });
        await store.writePending({ name, value: p2.value, clientRequestToken: p2.versionId });
        expect(await store.readCurrent(name)).toMatchObject(current);
        expect(await store.readVersion(name, p1.versionId)).toMatchObject(p1);

        await store.makeCurrent(name, p2.versionId);
        expect(await store.readCurrent(name)).toMatchObject(p2);
        expect(await store.readPrevious(name)).toMatchObject(current);
        // Going back is the same operation: the version AWSCURRENT leaves becomes previous.
        await store.makeCurrent(name, current.versionId);
        expect(await store.readCurrent(name)).toMatchObject(current);
        expect(await store.readPrevious(name)).toMatchObject(p2);
        await store.makeCurrent(name, p1.versionId);
        expect(await store.readCurrent(name)).toMatchObject(p1);
        expect(await store.readPrevious(name)).toMatchObject(current);
      });

      (deviations.plainWriteAfterMakeCurrent === undefined ? it : it.fails)(
        'moves current on from a version made current when a plain write follows',
        async () => {
          const { name } = await rotatedOnce('make-current-then-write');
          const p = pending();
          const next = { value: credentials(seen, 'next'), versionId: token(seen, 'next') };
          await store.writePending({ name, value: p.value, clientRequestToken: p.versionId });
          await store.makeCurrent(name, p.versionId);
          await store.write({ name, value: next.value, clientRequestToken: next.versionId });
          expect(await store.readCurrent(name)).toMatchObject(next);
          expect(await store.readPrevious(name)).toMatchObject(p);
        },
      );

      it('keeps a pending version pending while a plain write moves current', async () => {
        const { name, current } = await rotatedOnce('pending-then-rotate');
        const p = pending();
        const next = { value: credentials(seen, 'next'), versionId: token(seen, 'next') };
        await store.writePending({ name, value: p.value, clientRequestToken: p.versionId });
        await store.write({ name, value: next.value, clientRequestToken: next.versionId });
        expect(await store.readCurrent(name)).toMatchObject(next);
        expect(await store.readPrevious(name)).toMatchObject(current);
        await store.makeCurrent(name, p.versionId);
        expect(await store.readCurrent(name)).toMatchObject(p);
        expect(await store.readPrevious(name)).toMatchObject(next);
      });
    });

    it('never puts a secret value or a client request token into a failure', () => {
      expectNoSecretInFailures(seen);
    });
  });
}
