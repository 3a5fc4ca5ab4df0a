import { describe, expect, it } from 'vitest';
import type { AddressPolicy } from '../../../src/http/address-guard.js';
import type { OutboundBlockedError } from '../../../src/http/errors.js';
import { checkOutboundUrl } from '../../../src/http/url-guard.js';

const strict: AddressPolicy = { allowInsecureLocalhost: false, allowedPrivateHosts: [] };
const local: AddressPolicy = { allowInsecureLocalhost: true, allowedPrivateHosts: [] };

describe('http/url-guard checkOutboundUrl', () => {
  const refused = (url: string, policy: AddressPolicy = strict) => {
    try {
      checkOutboundUrl(url, policy);
    } catch (err) {
      return err as OutboundBlockedError;
    }
    throw new Error(`expected ${url} to be refused`);
  };

  it('accepts an https URL with a host name, leaving the address to the connect-time guard', () => {
    expect(checkOutboundUrl('https://fhir.example.org/r4?x=1', strict).href).toBe(
      'https://fhir.example.org/r4?x=1',
    );
  });

  it('refuses plain http to loopback unless insecure localhost is allowed', () => {
    expect(refused('http://127.0.0.1:8080/').reason).toBe('insecure_scheme');
    expect(checkOutboundUrl('http://127.0.0.1:8080/', local).host).toBe('127.0.0.1:8080');
    expect(checkOutboundUrl('http://localhost/', local).hostname).toBe('localhost');
    expect(checkOutboundUrl('http://[::1]/', local).hostname).toBe('[::1]');
  });

  it('refuses plain http to any non-loopback host even when insecure localhost is allowed', () => {
    expect(refused('http://fhir.example.org/', local).reason).toBe('insecure_scheme');
    expect(refused('http://10.0.0.5/', { ...local, allowedPrivateHosts: ['10.0.0.5'] }).reason).toBe(
      'insecure_scheme',
    );
  });

  it('refuses other schemes and URLs that carry credentials, without echoing them', () => {
    expect(refused('ftp://files.example.org/x').reason).toBe('unsupported_scheme');
    expect(refused('file:///etc/passwd').reason).toBe('unsupported_scheme');
    const withCredentials = refused('https://alice:hunter2@fhir.example.org/?token=abc123');
    expect(withCredentials.reason).toBe('credentials_in_url');
    expect(withCredentials.message).not.toMatch(/alice|hunter2|abc123/);
    expect(withCredentials.message).toContain('fhir.example.org');
  });

  it('refuses an unparseable URL without echoing it', () => {
    const err = refused('not a url ?secret=1');
    expect(err.reason).toBe('invalid_url');
    expect(err.message).not.toContain('secret');
  });

  it('judges IP-literal hosts before any connection, in every spelling Node normalises', () => {
    expect(refused('https://169.254.169.254/latest/meta-data/').reason).toBe('blocked_address');
    expect(refused('https://10.1.2.3/').reason).toBe('blocked_address');
    expect(refused('https://[::ffff:10.1.2.3]/').reason).toBe('blocked_address');
    expect(refused('https://[fd00::1]/').reason).toBe('blocked_address');
    expect(refused('https://0xa9fea9fe/').reason).toBe('blocked_address');
    expect(refused('https://127.1/').reason).toBe('blocked_address');
    expect(checkOutboundUrl('https://127.1/', local).hostname).toBe('127.0.0.1');
  });

  it('lets an allowlisted IP literal through', () => {
    expect(
      checkOutboundUrl('https://10.1.2.3/', { ...strict, allowedPrivateHosts: ['10.1.2.3'] }).hostname,
    ).toBe('10.1.2.3');
  });
});
