// Checks a SecretWrite before any backend is touched, so both adapters refuse the same writes with the
// same messages and nothing AWS would refuse leaves the process. Messages never quote the value or token.

import { ProvisioningError } from '../failures/index.js';
import { assertValidSecretName } from './secret-name.js';
import type { SecretWrite } from './secret-store.js';

/** Secrets Manager's limit for SecretString, in bytes of UTF-8. */
export const MAX_SECRET_VALUE_BYTES = 65_536;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
export const MAX_TAGS = 50;
export const MAX_DESCRIPTION_LENGTH = 2048;

/** Both adapters' words for "same token, different value", so the two read alike. */
export const TOKEN_REUSED_PROBLEM =
  'a version with this client request token already exists with a different value; a retried write must send the same value, and a new value needs a new token';

const CLIENT_REQUEST_TOKEN = /^[A-Za-z0-9-]{32,64}$/;
// The characters AWS allows in tag keys and values.
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u;
const TAG_VALUE_UNSAFE = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;

export interface ValidSecretWrite {
  name: string;
  value: string;
  clientRequestToken: string;
  /** Tag-safe values, each at most 256 characters. */
  tags: Record<string, string>;
  description?: string;
}

function reject(name: string, problem: string): ProvisioningError {
  return new ProvisioningError('secret_store_rejected', `cannot write secret ${name}: ${problem}`);
}

export function validateSecretWrite(write: SecretWrite): ValidSecretWrite {
  const { name, value, clientRequestToken, description } = write;
  assertValidSecretName(name);

  if (typeof value !== 'string') throw reject(name, 'the value must be text');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_SECRET_VALUE_BYTES) {
    throw reject(
      name,
      `the value is ${bytes} bytes; Secrets Manager allows at most ${MAX_SECRET_VALUE_BYTES}`,
    );
  }

  if (typeof clientRequestToken !== 'string' || !CLIENT_REQUEST_TOKEN.test(clientRequestToken)) {
    throw reject(name, 'the client request token must be 32–64 characters of A-Za-z0-9 and -');
  }

  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    throw reject(name, `the description is longer than ${MAX_DESCRIPTION_LENGTH} characters`);
  }

  return {
    name,
    value,
    clientRequestToken,
    tags: validTags(name, write.tags ?? {}),
    ...(description === undefined ? {} : { description }),
  };
}

// Keys are chosen by our code, so a bad one is a bug and refused; values carry data (a server URL may
// hold `~` or `%`, or be very long) and are made safe rather than failing the whole write over a label.
function validTags(name: string, tags: Record<string, string>): Record<string, string> {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS)
    throw reject(name, `${entries.length} tags given; at most ${MAX_TAGS} allowed`);
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (key.length > MAX_TAG_KEY_LENGTH || !TAG_KEY.test(key) || key.toLowerCase().startsWith('aws:')) {
      throw reject(
        name,
        `tag key ${JSON.stringify(key.slice(0, MAX_TAG_KEY_LENGTH))} must be 1–${MAX_TAG_KEY_LENGTH} letters, digits, spaces or _.:/=+-@ and not start with aws:`,
      );
    }
    const safe = String(value).replace(TAG_VALUE_UNSAFE, '_');
    // Count code points, as AWS does, and never split a surrogate pair.
    out[key] = Array.from(safe).slice(0, MAX_TAG_VALUE_LENGTH).join('');
  }
  return out;
}
