// The secret naming rules of DESIGN.md "Secrets": how a FHIR base URL becomes a slug, which names
// Secrets Manager accepts, and the deterministic client request token.

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

describe('secrets/serverSlug', () => {
  it.each([
    [
      'https://EHR.example:8443/fhir/R4/',
      'ehr.example_8443_fhir_r4',
      'keeps a non-default port, lower-cases',
    ],
    ['https://ehr.example/fhir', 'ehr.example_fhir', 'turns the slash between host and path into _'],
    ['https://ehr.example/fhir/', 'ehr.example_fhir', 'drops a trailing slash'],
    ['https://EHR.EXAMPLE/fhir///', 'ehr.example_fhir', 'drops several trailing slashes'],
    ['https://ehr.example:443/fhir', 'ehr.example_fhir', 'drops the default port'],
    ['https://ehr.example/', 'ehr.example', 'is the host alone for a root path'],
    ['https://ehr.example', 'ehr.example', 'is the host alone without a path'],
    ['http://ehr.example/fhir', 'ehr.example_fhir', 'ignores the scheme'],
    ['https://user:pw@ehr.example/fhir?x=1#top', 'ehr.example_fhir', 'drops user info, query and fragment'],
    ['https://ehr.example/a/../fhir', 'ehr.example_fhir', 'resolves dot segments'],
    ['https://ehr.example/fhir/R4 tenant~a+b', 'ehr.example_fhir_r4_20tenant_a_b', 'replaces odd characters'],
    ['https://[::1]:8443/fhir', '___1__8443_fhir', 'replaces the brackets and colons of an IPv6 host'],
    ['https://bücher.example/fhir', 'xn--bcher-kva.example_fhir', 'uses the punycode form of a host'],
  ])('maps %s to %s (%s)', (url, slug) => {
    expect(serverSlug(url)).toBe(slug);
    expect(slug).toMatch(/^[a-z0-9._-]+$/);
  });

  it('refuses a base URL that is not an absolute URL as invalid_job', () => {
    expect(thrown(() => serverSlug('/fhir')).code).toBe('invalid_job');
  });
});

describe('secrets/registrationSecretName', () => {
  it('joins prefix, tenant and slug', () => {
    expect(registrationSecretName('dcr/', 'tenant-1', 'https://EHR.example/fhir/')).toBe(
      'dcr/tenant-1/ehr.example_fhir',
    );
  });

  it('puts the initial access token beside the registration', () => {
    expect(initialAccessTokenSecretName('dcr/', 'tenant-1', 'https://ehr.example/fhir')).toBe(
      'dcr/tenant-1/ehr.example_fhir/initial-access-token',
    );
  });

  it('refuses a name that would exceed 512 characters', () => {
    const err = thrown(() => registrationSecretName('dcr/', 't', `https://ehr.example/${'p'.repeat(600)}`));
    expect(err.code).toBe('secret_store_rejected');
    expect(err.message).toContain('512');
  });

  it('adds "_" to a name that would end like an ARN suffix ("-" and six characters), so it stays usable', () => {
    expect(registrationSecretName('dcr/', 't', 'https://ehr.example/fhir-prod01')).toBe(
      'dcr/t/ehr.example_fhir-prod01_',
    );
    expect(initialAccessTokenSecretName('dcr/', 't', 'https://ehr.example/fhir')).toBe(
      'dcr/t/ehr.example_fhir/initial-access-token',
    );
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
