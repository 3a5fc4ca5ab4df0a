// The rules a URL must pass before any connection is opened: scheme, credentials, and IP-literal hosts
// (Node never calls `lookup` for those, so the connect-time address guard would not see them).

import net from 'node:net';
import { isLoopbackHost } from '../config/index.js';
import { type AddressPolicy, assertAddressAllowed } from './address-guard.js';
import { OutboundBlockedError } from './errors.js';

/** Parses and checks a request or redirect target; returns a fresh URL the caller may keep. */
export function checkOutboundUrl(input: string | URL, policy: AddressPolicy): URL {
  let url: URL;
  try {
    url = new URL(typeof input === 'string' ? input : input.href);
  } catch {
    // The input is not echoed: an unparseable URL may still hold a token in its query.
    throw new OutboundBlockedError('invalid_url', undefined, 'the URL is not a valid absolute URL');
  }
  const { host, hostname, protocol } = url;
  if (url.username !== '' || url.password !== '') {
    throw new OutboundBlockedError(
      'credentials_in_url',
      host,
      'URLs with user name or password are not sent',
    );
  }
  if (protocol === 'http:') {
    if (!policy.allowInsecureLocalhost || !isLoopbackHost(hostname)) {
      throw new OutboundBlockedError(
        'insecure_scheme',
        host,
        'http is allowed only to loopback (localhost, 127.x, [::1]) with ALLOW_INSECURE_LOCALHOST=true; use https',
      );
    }
  } else if (protocol !== 'https:') {
    throw new OutboundBlockedError(
      'unsupported_scheme',
      host,
      `scheme ${protocol} is not supported; use https`,
    );
  }
  const literal = hostname.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(literal) !== 0) {
    assertAddressAllowed(
      hostname,
      literal,
      protocol === 'http:' ? { ...policy, loopbackOnly: true } : policy,
    );
  }
  return url;
}
