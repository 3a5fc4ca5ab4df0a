import { describe, expect, it } from 'vitest';
import { completionEventSchema, EVENT_TYPES, eventDataSchemas } from '../../../src/events/index.js';
import { failureCodes } from '../../../src/failures/index.js';

const common = {
  tenantId: 'acme',
  fhirBaseUrl: 'https://fhir.example.org/r4',
  jobId: 'job-1',
  attempts: 1,
  occurredAt: '2025-01-02T03:04:05.678Z',
};
const valid = {
  'client.registered': {
    ...common,
    clientId: 'c-1',
    secretId: 'dcr/acme/fhir.example.org_r4',
    secretVersionId: 'v1',
  },
  'client.rotated': {
    ...common,
    clientId: 'c-2',
    secretId: 'dcr/acme/x',
    previousClientId: 'c-1',
    rotatedBy: 'new_registration',
    deleteAfter: '2026-11-29T10:00:00.000Z',
    reason: 'rotation',
  },
  'client.registration_failed': {
    ...common,
    code: 'unauthorized',
    message: 'the initial access token expired',
  },
  'client.deleted': { ...common, clientId: 'c-1' },
} as const;

describe('events/eventDataSchemas', () => {
  it('accepts a well-formed example of every event type', () => {
    for (const type of EVENT_TYPES)
      expect(eventDataSchemas[type].safeParse(valid[type]).success, type).toBe(true);
  });

  it('refuses a key it does not declare on every event type, so no secret can ride along', () => {
    for (const type of EVENT_TYPES) {
      const result = eventDataSchemas[type].safeParse({ ...valid[type], client_secret: 's3cr3t' });
      expect(result.success, type).toBe(false);
      expect(JSON.stringify(result.error?.issues)).toContain('client_secret');
      expect(JSON.stringify(result.error?.issues)).not.toContain('s3cr3t');
    }
  });

  it('requires a contract failure code and a message on a failure', () => {
    const failed = eventDataSchemas['client.registration_failed'];
    for (const code of failureCodes)
      expect(failed.safeParse({ ...valid['client.registration_failed'], code }).success).toBe(true);
    expect(failed.safeParse({ ...valid['client.registration_failed'], code: 'oops' }).success).toBe(false);
    const { message: _message, ...withoutMessage } = valid['client.registration_failed'];
    expect(failed.safeParse(withoutMessage).success).toBe(false);
  });

  it('announces the failure of an invalid job even when it has no usable tenant or URL', () => {
    const result = eventDataSchemas['client.registration_failed'].safeParse({
      ...valid['client.registration_failed'],
      tenantId: '',
      fhirBaseUrl: 'unknown',
      code: 'invalid_job',
    });
    expect(result.success).toBe(true);
  });

  it('requires the client and its secret on a registration, and a URL as the FHIR base', () => {
    const registered = eventDataSchemas['client.registered'];
    const { clientId: _c, ...withoutClient } = valid['client.registered'];
    const { secretId: _s, ...withoutSecret } = valid['client.registered'];
    expect(registered.safeParse(withoutClient).success).toBe(false);
    expect(registered.safeParse(withoutSecret).success).toBe(false);
    expect(
      registered.safeParse({ ...valid['client.registered'], fhirBaseUrl: 'fhir.example.org' }).success,
    ).toBe(false);
  });

  it('refuses a failure code on a success, and fields of one type on another', () => {
    expect(
      eventDataSchemas['client.registered'].safeParse({ ...valid['client.registered'], code: 'timeout' })
        .success,
    ).toBe(false);
    expect(
      eventDataSchemas['client.deleted'].safeParse({ ...valid['client.deleted'], previousClientId: 'c-0' })
        .success,
    ).toBe(false);
  });

  it('carries a possible orphan and an orphaned client on a success too, since a later attempt may succeed', () => {
    const result = eventDataSchemas['client.registered'].safeParse({
      ...valid['client.registered'],
      possibleOrphan: true,
      lostAttemptAt: '2025-01-02T03:00:00.000Z',
      orphanedClientId: 'c-0',
    });
    expect(result.success).toBe(true);
  });

  it('wants timestamps in ISO 8601 UTC and attempts as an integer', () => {
    const registered = eventDataSchemas['client.registered'];
    expect(registered.safeParse({ ...valid['client.registered'], occurredAt: 'yesterday' }).success).toBe(
      false,
    );
    expect(registered.safeParse({ ...valid['client.registered'], lostAttemptAt: '2025-01-02' }).success).toBe(
      false,
    );
    expect(registered.safeParse({ ...valid['client.registered'], attempts: 1.5 }).success).toBe(false);
  });
});

describe('events/completionEventSchema', () => {
  it('drops a data key it does not know instead of refusing the event, so older readers survive newer producers', () => {
    const result = completionEventSchema.safeParse({
      type: 'client.registered',
      eventId: 'e-1',
      data: { ...valid['client.registered'], addedLater: 1 },
    });
    expect(result.success).toBe(true);
    expect(result.data?.data).not.toHaveProperty('addedLater');
  });

  it('refuses an unknown event type, and narrows data by type', () => {
    expect(
      completionEventSchema.safeParse({ type: 'client.exploded', eventId: 'e-1', data: common }).success,
    ).toBe(false);
    const event = completionEventSchema.parse({
      type: 'client.registration_failed',
      eventId: 'e-2',
      data: valid['client.registration_failed'],
    });
    if (event.type === 'client.registration_failed') expect(event.data.code).toBe('unauthorized');
  });
});
