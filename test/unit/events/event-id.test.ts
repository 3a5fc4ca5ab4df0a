import { describe, expect, it } from 'vitest';
import { eventId } from '../../../src/events/index.js';

describe('events/eventId', () => {
  it('gives the same outcome of the same job the same id, so a republished event is a recognisable duplicate', () => {
    expect(eventId('client.registered', 'job-1', 'v1')).toBe(eventId('client.registered', 'job-1', 'v1'));
    expect(eventId('client.registration_failed', 'job-1')).toBe(
      eventId('client.registration_failed', 'job-1'),
    );
  });

  it('gives different outcomes different ids: another type, job or discriminator', () => {
    const ids = new Set([
      eventId('client.registered', 'job-1'),
      eventId('client.registration_failed', 'job-1'),
      eventId('client.registered', 'job-2'),
      eventId('client.registered', 'job-1', 'v2'),
      eventId('client.registered', 'job-1', ''),
    ]);
    expect(ids.size).toBe(5);
  });

  it('keeps the parts apart, so a separator inside a job id cannot make two outcomes collide', () => {
    expect(eventId('client.deleted', 'a', 'b:c')).not.toBe(eventId('client.deleted', 'a:b', 'c'));
  });

  it('is formatted as a version 8 UUID', () => {
    expect(eventId('client.rotated', 'job-1')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
