// Identifies "tenant X with server Y" for deduplicating in-flight work. Job ids stay unique per request
// (a retained finished job would otherwise swallow the next re-registration); BullMQ ids may not
// contain `:` and may not be all digits.

import { createHash, randomUUID } from 'node:crypto';
import { normalizeFhirBaseUrl } from '../smart/index.js';

export function registrationKey(tenantId: string, fhirBaseUrl: string): string {
  const server = createHash('sha256').update(normalizeFhirBaseUrl(fhirBaseUrl)).digest('hex').slice(0, 24);
  return `${tenantId}.${server}`;
}

export function newJobId(key: string): string {
  return `${key}.${randomUUID()}`;
}
