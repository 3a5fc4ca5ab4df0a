// Decides whether an outbound connection may reach an IP address, and wraps a DNS resolver so the
// decision is made on the address actually connected to (at connect time, for every new connection).

import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { OutboundBlockedError } from './errors.js';

export interface AddressPolicy {
  /** Loopback (127.0.0.0/8, ::1) is reachable only when true (ALLOW_INSECURE_LOCALHOST). */
  allowInsecureLocalhost: boolean;
  /**
   * Host names (compared case-insensitively and exactly) that may resolve to private, link-local or
   * other special-purpose addresses (ALLOWED_PRIVATE_HOSTS). They never unlock loopback.
   */
  allowedPrivateHosts: readonly string[];
  /**
   * Accept nothing but loopback. Used for plain-http connections, which are only ever allowed to
   * loopback, so that a `localhost` that resolves elsewhere is still refused.
   * @defaultValue false
   */
  loopbackOnly?: boolean;
}

export type AddressVerdict =
  | { allowed: true; range: string }
  | { allowed: false; range: string; rule: string };

/** Node's `lookup` signature (net/http/https `lookup` option, got's `dnsLookup`). */
export type LookupFunction = net.LookupFunction;

// Addresses in these IPv6 ranges carry an IPv4 address in their last 32 bits and reach it through a
// translator, so they are judged as that IPv4 address. 64:ff9b:1::/48 (local-use NAT64) is not here:
// its embedding depends on the local prefix length, so it stays refused as special-purpose.
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const IPV4_TRANSLATED = ipaddr.IPv6.parseCIDR('::ffff:0:0:0/96');

const RANGE_DESCRIPTIONS: Record<string, string> = {
  private: 'a private address',
  uniqueLocal: 'a private (unique local) address',
  carrierGradeNat: 'a carrier-grade NAT address',
  linkLocal: 'a link-local address (where cloud metadata services live)',
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  loopback: 'a loopback address',
};

/** Lower-cased, without IPv6 brackets or a trailing root dot, so `Example.ORG.` matches `example.org`. */
export function normalizeHostname(hostname: string): string {
  return hostname
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/** The ipaddr.js range name of an address, judging IPv4 embedded in IPv6 as the IPv4 it reaches. */
export function addressRange(address: string): string {
  const bare = address.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(bare) === 0) return 'invalid';
  const parsed = ipaddr.parse(bare);
  if (parsed.kind() === 'ipv4') return parsed.range();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().range();
  if (v6.match(NAT64_WELL_KNOWN) || v6.match(IPV4_TRANSLATED)) {
    return ipaddr.fromByteArray(v6.toByteArray().slice(12)).range();
  }
  return v6.range();
}

/**
 * Whether a connection to `hostname` may go to `address`. Pure: the same input always gives the same
 * verdict, so the table of rules is tested without any network.
 */
export function checkResolvedAddress(
  hostname: string,
  address: string,
  policy: AddressPolicy,
): AddressVerdict {
  const range = addressRange(address);
  if (range === 'loopback') {
    return policy.allowInsecureLocalhost
      ? { allowed: true, range }
      : {
          allowed: false,
          range,
          rule: `resolves to ${address}, ${describe(range)}; set ALLOW_INSECURE_LOCALHOST=true to allow loopback`,
        };
  }
  if (policy.loopbackOnly) {
    return {
      allowed: false,
      range,
      rule: `plain http may only reach loopback, but it resolves to ${address}`,
    };
  }
  if (range === 'unicast') return { allowed: true, range };
  if (range === 'invalid')
    return { allowed: false, range, rule: `resolved to something that is not an IP address` };
  const host = normalizeHostname(hostname);
  if (policy.allowedPrivateHosts.some((allowed) => normalizeHostname(allowed) === host)) {
    return { allowed: true, range };
  }
  return {
    allowed: false,
    range,
    rule: `resolves to ${address}, ${describe(range)}; list the host in ALLOWED_PRIVATE_HOSTS if it is meant to be reached`,
  };
}

function describe(range: string): string {
  return RANGE_DESCRIPTIONS[range] ?? `a special-purpose address (${range})`;
}

/** Throws OutboundBlockedError when the verdict refuses the address. */
export function assertAddressAllowed(hostname: string, address: string, policy: AddressPolicy): void {
  const verdict = checkResolvedAddress(hostname, address, policy);
  if (!verdict.allowed) throw new OutboundBlockedError('blocked_address', hostname, verdict.rule);
}

/**
 * Wraps a resolver (dns.lookup by default) with the policy. It always resolves every address and
 * refuses the host if any of them is blocked: with autoSelectFamily Node may try each address in turn,
 * and a name that mixes a public and a private address is a DNS-rebinding attempt. Answers in the form
 * the caller asked for (`all: true` gives the list, otherwise the first address).
 */
export function createGuardedLookup(
  policy: AddressPolicy,
  resolve: LookupFunction = dns.lookup as LookupFunction,
): LookupFunction {
  return (hostname, options, callback) => {
    // Node always passes an object, but the public dns.lookup signature also allows a family number.
    const lookupOptions: dns.LookupOptions =
      typeof options === 'number' ? { family: options } : { ...(options ?? {}) };
    resolve(hostname, { ...lookupOptions, all: true }, (err, resolved, family) => {
      if (err) {
        callback(err, lookupOptions.all ? [] : '');
        return;
      }
      const addresses: dns.LookupAddress[] = Array.isArray(resolved)
        ? resolved
        : [{ address: resolved, family: family ?? net.isIP(resolved) }];
      const first = addresses[0];
      if (first === undefined) {
        const notFound: NodeJS.ErrnoException = Object.assign(
          new Error(`getaddrinfo ENOTFOUND ${hostname}`),
          {
            code: 'ENOTFOUND',
            hostname,
          },
        );
        callback(notFound, lookupOptions.all ? [] : '');
        return;
      }
      for (const { address } of addresses) {
        const verdict = checkResolvedAddress(hostname, address, policy);
        if (!verdict.allowed) {
          callback(
            new OutboundBlockedError('blocked_address', hostname, verdict.rule),
            lookupOptions.all ? [] : '',
          );
          return;
        }
      }
      if (lookupOptions.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}
