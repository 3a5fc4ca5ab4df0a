// Event ids derived from the outcome they announce, not drawn at random: a job that crashes after appending
// its event and runs again appends the same id, so consumers drop the duplicate by id alone.

import { createHash } from 'node:crypto';
import type { EventType } from './event-types.js';

/**
 * The id of the event announcing `type` for `jobId`, formatted as a UUID (version 8, "custom", RFC 9562)
 * so it fits the uuid columns consumers tend to dedupe in.
 *
 * @param discriminator - Tells apart several outcomes of one type that one job may announce (e.g. the
 *   client id of each `client.deleted`). Leave it out when a job has at most one outcome of the type.
 */
export function eventId(type: EventType, jobId: string, discriminator?: string): string {
  // JSON keeps the parts apart unambiguously: ('a', 'b:c') and ('a:b', 'c') hash differently.
  const bytes = createHash('sha256')
    .update(JSON.stringify(['dcr-provisioner/event', type, jobId, discriminator ?? null]))
    .digest()
    .subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80; // version 8
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
