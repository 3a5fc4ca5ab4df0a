// The secret naming rules of DESIGN.md "Secrets": how a FHIR base URL becomes a slug (readable part and
// hash), which names Secrets Manager accepts, and the deterministic client request token.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isProvisioningError } from '../../../src/failures/index.js';
import {
  assertValidSecretName,
  clientRequestToken,
  initialAccessTokenSecretName,
  registrationSecretName,
  serverSlug,
} from '../../../src/secrets/index.js';

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    expect(isProvisioningError(err), String(err)).toBe(true);
    return err as Error & { code: string };
  }
  throw new Error('expected a ProvisioningError, but the call returned');
}

/** The 8 hex characters a slug ends in, computed here from the normalized URL written out literally. */
const hash8 = (normalizedUrl: string) => createHash('sha256').update(normalizedUrl).digest('hex').slice(0, 8);

describe('secrets/serverSlug', () => {
  it.each([
    [
      'https://EHR.example:8443/fhir/R4/',
      'ehr.example_8443_fhir_r4',
      'https://ehr.example:8443/fhir/R4',
      'keeps a non-default port, lower-cases the readable part',
    ],
    [
      'https://ehr.example/fhir',
      'ehr.example_fhir',
      'https://ehr.example/fhir',
      'turns the slash between host and path into _',
    ],
    ['https://ehr.example/fhir/', 'ehr.example_fhir', 'https://ehr.example/fhir', 'drops a trailing slash'],
    [
      'https://EHR.EXAMPLE/fhir///',
      'ehr.example_fhir',
      'https://ehr.example/fhir',
      'drops several trailing slashes',
    ],
    [
      'https://ehr.example:443/fhir',
      'ehr.example_fhir',
      'https://ehr.example/fhir',
      'drops the default port',
    ],
    ['https://ehr.example/', 'ehr.example', 'https://ehr.example', 'is the host alone for a root path'],
    ['https://ehr.example', 'ehr.example', 'https://ehr.example', 'is the host alone without a path'],
    [
      'http://ehr.example/fhir',
      'ehr.example_fhir',
      'http://ehr.example/fhir',
      'leaves the scheme out of the readable part but not the hash',
    ],
    [
      'https://ehr.example/fhir?x=1#top',
      'ehr.example_fhir',
      'https://ehr.example/fhir',
      'drops query and fragment',
    ],
    [
      'https://ehr.example/a/../fhir',
      'ehr.example_fhir',
      'https://ehr.example/fhir',
      'resolves dot segments',
    ],
    [
      'https://ehr.example/fhir/R4 tenant~a+b',
      'ehr.example_fhir_r4_20tenant_a_b',
      'https://ehr.example/fhir/R4%20tenant~a+b',
      'replaces odd characters',
    ],
    [
      'https://[::1]:8443/fhir',
      '___1__8443_fhir',
      'https://[::1]:8443/fhir',
      'replaces the brackets and colons of an IPv6 host',
    ],
    [
      'https://bücher.example/fhir',
      'xn--bcher-kva.example_fhir',
      'https://xn--bcher-kva.example/fhir',
      'uses the punycode form of a host',
    ],
  ])('maps %s to %s and the hash of %s (%s)', (url, readable, normalized) => {
    expect(serverSlug(url)).toBe(`${readable}-${hash8(normalized)}`);
    expect(serverSlug(url)).toMatch(/^[a-z0-9._-]+-[0-9a-f]{8}$/);
  });

  it('refuses a base URL that is not an absolute URL as invalid_job', () => {
    expect(thrown(() => serverSlug('/fhir')).code).toBe('invalid_job');
  });
});

describe('secrets/registrationSecretName', () => {
  it('joins prefix, tenant, the readable part and the hash of the normalized base URL', () => {
    expect(registrationSecretName('dcr/', 'acme-health', 'https://EHR.example/fhir/R4')).toBe(
      `dcr/acme-health/ehr.example_fhir_r4-${hash8('https://ehr.example/fhir/R4')}`,
    );
    // Pinned literally, so a change of the rule or of the normalization shows here.
    expect(registrationSecretName('dcr/', 'acme-health', 'https://EHR.example/fhir/R4')).toBe(
      'dcr/acme-health/ehr.example_fhir_r4-d99fc015',
    );
  });

  it('gives three base URLs whose readable parts are the same three different names', () => {
    const names = ['https://h.example/fhir/r4', 'https://h.example/fhir_r4', 'https://h.example/fhir/R4'].map(
      (url) => registrationSecretName('dcr/', 't', url),
    );
    expect(names.map((name) => name.slice(0, -9))).toEqual(Array(3).fill('dcr/t/h.example_fhir_r4'));
    expect(new Set(names).size).toBe(3);
  });

  it('gives one name to spellings of one base URL, and keeps the case of the path apart', () => {
    const name = registrationSecretName('dcr/', 't', 'https://EHR.example/fhir/R4/');
    expect(registrationSecretName('dcr/', 't', 'https://ehr.example:443/fhir/R4')).toBe(name);
    expect(registrationSecretName('dcr/', 't', 'https://ehr.example/fhir/r4')).not.toBe(name);
  });

  it('keeps a non-default port in the readable part and the hash', () => {
    expect(registrationSecretName('dcr/', 't', 'https://ehr.example:8443/fhir/R4')).toBe(
      `dcr/t/ehr.example_8443_fhir_r4-${hash8('https://ehr.example:8443/fhir/R4')}`,
    );
  });

  it('cuts the readable part of a very long base URL to fit exactly 512 characters, keeping the full hash', () => {
    const path = 'p'.repeat(600);
    const name = registrationSecretName('dcr/', 't', `https://ehr.example/${path}/`);
    expect(name).toHaveLength(512);
    expect(name).toMatch(/^dcr\/t\/ehr\.example_p+-[0-9a-f]{8}$/);
    expect(name.endsWith(`-${hash8(`https://ehr.example/${path}`)}`)).toBe(true);
    // Two long base URLs that differ only beyond the cut still get two names.
    expect(registrationSecretName('dcr/', 't', `https://ehr.example/${path}x`)).not.toBe(name);
  });

  it('refuses a prefix and tenant id too long for even the hash alone, naming the 512 limit', () => {
    const err = thrown(() => registrationSecretName(`${'d'.repeat(510)}/`, 't', 'https://ehr.example/fhir'));
    expect(err.code).toBe('secret_store_rejected');
    expect(err.message).toContain('512');
  });

  it('puts the initial access token beside the registration', () => {
    expect(initialAccessTokenSecretName('dcr/', 'tenant-1', 'https://ehr.example/fhir')).toBe(
      `${registrationSecretName('dcr/', 'tenant-1', 'https://ehr.example/fhir')}/initial-access-token`,
    );
  });

  it('refuses an initial access token name that would exceed 512 characters', () => {
    const err = thrown(() =>
      initialAccessTokenSecretName('dcr/', 't', `https://ehr.example/${'p'.repeat(600)}`),
    );
    expect(err.code).toBe('secret_store_rejected');
    expect(err.message).toContain('512');
  });

  it('derives usable names for a base URL ending like an ARN suffix ("-" and six characters)', () => {
    const name = registrationSecretName('dcr/', 't', 'https://ehr.example/fhir-prod01');
    expect(name).toBe(`dcr/t/ehr.example_fhir-prod01-${hash8('https://ehr.example/fhir-prod01')}`);
    expect(() => assertValidSecretName(name)).not.toThrow();
    expect(() =>
      assertValidSecretName(initialAccessTokenSecretName('dcr/', 't', 'https://ehr.example/fhir-prod01')),
    ).not.toThrow();
  });
});

describe('secrets/assertValidSecretName', () => {
  it('accepts every allowed character and exactly 512 characters', () => {
    expect(() => assertValidSecretName('Az09/_+=.@-x')).not.toThrow();
    expect(() => assertValidSecretName('a'.repeat(512))).not.toThrow();
  });

  it.each([
    ['', 'is empty'],
    ['a'.repeat(513), 'at most 512'],
    ['dcr/with space', 'A-Za-z0-9/_+=.@-'],
    ['dcr/bang!', 'A-Za-z0-9/_+=.@-'],
    ['dcr/é', 'A-Za-z0-9/_+=.@-'],
    ['dcr/secret-abcdef', 'six characters'],
    ['dcr/secret-a.b/cd', 'six characters'],
  ])('refuses %j, naming the rule (%s)', (name, rule) => {
    const err = thrown(() => assertValidSecretName(name));
    expect(err.code).toBe('secret_store_rejected');
    expect(err.message).toContain(rule);
  });

  it('accepts a hyphen followed by five or seven characters', () => {
    expect(() => assertValidSecretName('dcr/secret-abcde')).not.toThrow();
    expect(() => assertValidSecretName('dcr/secret-abcdefg')).not.toThrow();
  });

  it('shortens a very long refused name in the message', () => {
    const err = thrown(() => assertValidSecretName(`${'a'.repeat(600)}!`));
    expect(err.message.length).toBeLessThan(300);
  });
});

describe('secrets/clientRequestToken', () => {
  it('is 64 hex characters and the same for the same parts', () => {
    const token = clientRequestToken('job-1', 'attempt-2');
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(clientRequestToken('job-1', 'attempt-2')).toBe(token);
  });

  it('differs when the parts differ, including where they are split', () => {
    expect(clientRequestToken('job-1')).not.toBe(clientRequestToken('job-2'));
    expect(clientRequestToken('a:b', 'c')).not.toBe(clientRequestToken('a', 'b:c'));
    expect(clientRequestToken('ab')).not.toBe(clientRequestToken('a', 'b'));
  });
});
