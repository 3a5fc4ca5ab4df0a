import type dns from 'node:dns';
import { describe, expect, it } from 'vitest';
import {
  type AddressPolicy,
  checkResolvedAddress,
  createGuardedLookup,
  type LookupFunction,
} from '../../../src/http/address-guard.js';
import { OutboundBlockedError } from '../../../src/http/errors.js';

const strict: AddressPolicy = { allowInsecureLocalhost: false, allowedPrivateHosts: [] };
const local: AddressPolicy = { allowInsecureLocalhost: true, allowedPrivateHosts: [] };

describe('http/address-guard checkResolvedAddress', () => {
  const table: Array<[address: string, range: string, allowed: boolean]> = [
    ['93.184.215.14', 'unicast', true],
    ['2606:4700:4700::1111', 'unicast', true],
    ['127.0.0.1', 'loopback', false],
    ['127.53.1.9', 'loopback', false],
    ['::1', 'loopback', false],
    ['169.254.169.254', 'linkLocal', false],
    ['169.254.1.1', 'linkLocal', false],
    ['fe80::1', 'linkLocal', false],
    ['10.0.0.5', 'private', false],
    ['172.16.0.1', 'private', false],
    ['172.31.255.255', 'private', false],
    ['192.168.1.1', 'private', false],
    ['100.64.0.1', 'carrierGradeNat', false],
    ['fc00::1', 'uniqueLocal', false],
    ['fd12:3456::1', 'uniqueLocal', false],
    ['0.0.0.0', 'unspecified', false],
    ['::', 'unspecified', false],
    ['255.255.255.255', 'broadcast', false],
    ['224.0.0.1', 'multicast', false],
    ['ff02::1', 'multicast', false],
    ['240.0.0.1', 'reserved', false],
    ['192.0.2.10', 'reserved', false],
    ['::ffff:10.0.0.1', 'private', false],
    ['::ffff:169.254.169.254', 'linkLocal', false],
    ['::ffff:127.0.0.1', 'loopback', false],
    ['::ffff:93.184.215.14', 'unicast', true],
    ['64:ff9b::a00:1', 'private', false],
    ['64:ff9b::5db8:d70e', 'unicast', true],
    ['not-an-address', 'invalid', false],
  ];

  it.each(table)('judges %s as %s (allowed by default: %s)', (address, range, allowed) => {
    const verdict = checkResolvedAddress('api.example.org', address, strict);
    expect(verdict.range).toBe(range);
    expect(verdict.allowed).toBe(allowed);
  });

  it('allows loopback, including IPv4-mapped loopback, only when insecure localhost is allowed', () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect(checkResolvedAddress('localhost', address, strict).allowed).toBe(false);
      expect(checkResolvedAddress('localhost', address, local).allowed).toBe(true);
    }
  });

  it('allows a private address for an allowlisted host, matching the name case-insensitively and exactly', () => {
    const policy: AddressPolicy = {
      allowInsecureLocalhost: false,
      allowedPrivateHosts: ['fhir.internal.example'],
    };
    expect(checkResolvedAddress('FHIR.Internal.Example', '10.0.0.5', policy).allowed).toBe(true);
    expect(checkResolvedAddress('fhir.internal.example.', '169.254.169.254', policy).allowed).toBe(true);
    expect(checkResolvedAddress('evil.fhir.internal.example', '10.0.0.5', policy).allowed).toBe(false);
    expect(checkResolvedAddress('fhir.internal.example.evil', '10.0.0.5', policy).allowed).toBe(false);
  });

  it('does not let the private-host allowlist unlock loopback', () => {
    const policy: AddressPolicy = { allowInsecureLocalhost: false, allowedPrivateHosts: ['localhost'] };
    expect(checkResolvedAddress('localhost', '127.0.0.1', policy).allowed).toBe(false);
  });

  it('refuses everything but loopback under the plain-http policy, even an allowlisted private host', () => {
    const policy: AddressPolicy = {
      allowInsecureLocalhost: true,
      allowedPrivateHosts: ['box'],
      loopbackOnly: true,
    };
    expect(checkResolvedAddress('localhost', '127.0.0.1', policy).allowed).toBe(true);
    expect(checkResolvedAddress('box', '10.0.0.5', policy).allowed).toBe(false);
    expect(checkResolvedAddress('localhost', '93.184.215.14', policy).allowed).toBe(false);
  });

  it('names the address and the setting that would allow it when it refuses', () => {
    const verdict = checkResolvedAddress('metadata.example', '169.254.169.254', strict);
    expect(verdict.allowed).toBe(false);
    if (!verdict.allowed) {
      expect(verdict.rule).toContain('169.254.169.254');
      expect(verdict.rule).toContain('link-local');
      expect(verdict.rule).toContain('ALLOWED_PRIVATE_HOSTS');
    }
  });
});

/** A resolver with dns.lookup's shape that answers from a fixed table. */
function fakeResolver(
  table: Record<string, dns.LookupAddress[]>,
): LookupFunction & { calls: dns.LookupOptions[] } {
  const calls: dns.LookupOptions[] = [];
  const resolve: LookupFunction = (hostname, options, callback) => {
    calls.push(options);
    const addresses = table[hostname];
    if (addresses === undefined) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]?.address ?? '', addresses[0]?.family ?? 4);
  };
  return Object.assign(resolve, { calls });
}

function lookupAll(lookup: LookupFunction, hostname: string): Promise<dns.LookupAddress[]> {
  return new Promise((resolve, reject) => {
    lookup(hostname, { all: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses as dns.LookupAddress[]),
    );
  });
}

function lookupOne(lookup: LookupFunction, hostname: string): Promise<{ address: string; family?: number }> {
  return new Promise((resolve, reject) => {
    lookup(hostname, {}, (err, address, family) =>
      err
        ? reject(err)
        : resolve({ address: address as string, ...(family === undefined ? {} : { family }) }),
    );
  });
}

describe('http/address-guard createGuardedLookup', () => {
  const table = {
    'public.example': [
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ],
    'rebind.example': [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.5', family: 4 },
      { address: '93.184.215.15', family: 4 },
    ],
    'internal.example': [{ address: '10.0.0.5', family: 4 }],
    'metadata.example': [{ address: '::ffff:169.254.169.254', family: 6 }],
  };

  it('answers the all:true form with every address when all of them are allowed', async () => {
    const resolve = fakeResolver(table);
    const lookup = createGuardedLookup(strict, resolve);
    await expect(lookupAll(lookup, 'public.example')).resolves.toEqual(table['public.example']);
  });

  it('answers the single-address form with the first address, having checked them all', async () => {
    const resolve = fakeResolver(table);
    const lookup = createGuardedLookup(strict, resolve);
    await expect(lookupOne(lookup, 'public.example')).resolves.toEqual({
      address: '93.184.215.14',
      family: 4,
    });
    expect(resolve.calls[0]?.all).toBe(true);
  });

  it('refuses a name when one of its addresses is private among public ones, in both forms', async () => {
    const lookup = createGuardedLookup(strict, fakeResolver(table));
    await expect(lookupAll(lookup, 'rebind.example')).rejects.toMatchObject({
      name: 'OutboundBlockedError',
      reason: 'blocked_address',
    });
    await expect(lookupOne(lookup, 'rebind.example')).rejects.toBeInstanceOf(OutboundBlockedError);
  });

  it('refuses a name resolving to an IPv4-mapped metadata address', async () => {
    const lookup = createGuardedLookup(strict, fakeResolver(table));
    await expect(lookupOne(lookup, 'metadata.example')).rejects.toThrow(
      /metadata\.example refused.*link-local/,
    );
  });

  it('lets an allowlisted name resolve to its private address', async () => {
    const lookup = createGuardedLookup(
      { allowInsecureLocalhost: false, allowedPrivateHosts: ['Internal.Example'] },
      fakeResolver(table),
    );
    await expect(lookupOne(lookup, 'internal.example')).resolves.toEqual({ address: '10.0.0.5', family: 4 });
  });

  it('passes resolver errors through unchanged', async () => {
    const lookup = createGuardedLookup(strict, fakeResolver(table));
    await expect(lookupOne(lookup, 'missing.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('reports ENOTFOUND when the resolver answers with no address at all', async () => {
    const lookup = createGuardedLookup(strict, fakeResolver({ 'empty.example': [] }));
    await expect(lookupAll(lookup, 'empty.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('keeps the family the caller asked for when it asks the resolver', async () => {
    const resolve = fakeResolver(table);
    const lookup = createGuardedLookup(strict, resolve);
    await new Promise<void>((done) => lookup('public.example', { family: 4 }, () => done()));
    expect(resolve.calls[0]).toMatchObject({ family: 4, all: true });
  });

  it('uses the system resolver when none is given, and still judges what it answers', async () => {
    const addresses = await lookupAll(createGuardedLookup(local), 'localhost');
    expect(addresses.length).toBeGreaterThan(0);
    await expect(lookupAll(createGuardedLookup(strict), 'localhost')).rejects.toMatchObject({
      name: 'OutboundBlockedError',
    });
  });
});
