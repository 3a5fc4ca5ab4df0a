// The producer API of DESIGN.md "HTTP API": enqueue one registration, enqueue many, ask for status,
// rotate a registration's credentials.
// Routes only adapt HTTP to the producer and the status query; validation is the producer's (the same
// schema the CLI and the worker use), so a 400 here lists exactly what the worker would refuse.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  type RegistrationProducer,
  type RequestIssue,
  registrationRequestSchema,
  registrationStatus,
  requestIssues,
  type StatusSources,
  tenantStatuses,
} from '../queue/index.js';
import { DependencyUnavailableError, fromDependency } from './error-replies.js';

/** Requests per bulk call; larger batches are refused whole, so a client learns to split them. */
export const BULK_MAX_REQUESTS = 1000;
/** Body limits: a request with inline JWKS and a software statement fits comfortably in 1 MiB. */
export const BODY_LIMIT_BYTES = 1024 * 1024;
export const BULK_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

export interface RegistrationRouteOptions {
  producer: Pick<RegistrationProducer, 'enqueue' | 'enqueueMany' | 'enqueueRotation'>;
  status: StatusSources;
  /** Deadline of one request's calls to Redis and the secret store. */
  dependencyTimeoutMs: number;
  /**
   * The same for a bulk request, which may store up to 1,000 initial access tokens one after another
   * (Secrets Manager allows 50 writes a second per account).
   */
  bulkDependencyTimeoutMs: number;
}

const bulkBodySchema = z.strictObject({
  requests: z
    .array(z.unknown(), { error: 'must be an array of registration requests' })
    .min(1, 'must hold at least one registration request')
    .max(BULK_MAX_REQUESTS, `must hold at most ${BULK_MAX_REQUESTS} requests; split larger batches`),
});

// The tenant rule and its message are the registration request's own, so every route says the same.
const tenantParamsSchema = z.object({
  tenantId: registrationRequestSchema({ allowInsecureLocalhost: false }).shape.tenantId,
});

const statusQuerySchema = z.object({
  fhirBaseUrl: z
    .string({ error: 'must be given once, as an absolute URL' })
    .refine((value) => /^https?:$/.test(URL.parse(value)?.protocol ?? ''), 'must be an absolute http(s) URL')
    .optional(),
});

function invalid(issues: Array<{ path: string; message: string }>) {
  return { error: 'invalid_request', issues } as const;
}

/** One request's token could not be stored for now: for a single request that is an outage (503). */
function storeUnavailable(message: string): DependencyUnavailableError {
  return new DependencyUnavailableError('the secret store', { cause: new Error(message) });
}

/** Reasons a caller may give for a rotation; `scheduled` is the sweep's, `onboarding` a registration's. */
const CALLER_ROTATION_REASONS: readonly unknown[] = ['manual', 'rotation'];

/**
 * What the rotate body may not say: the path names the tenant (a body may repeat it, not contradict
 * it), and the reason is the caller's own. Every other field is the producer's to judge (an unknown one
 * is named there).
 */
function rotateBodyIssues(tenantId: string | undefined, body: unknown): RequestIssue[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ path: '(root)', message: 'must be a JSON object with fhirBaseUrl' }];
  }
  const fields = body as Record<string, unknown>;
  return [
    ...('tenantId' in fields && fields.tenantId !== tenantId
      ? [{ path: 'tenantId', message: 'must match the tenant in the path, or be left out' }]
      : []),
    ...('reason' in fields && !CALLER_ROTATION_REASONS.includes(fields.reason)
      ? [{ path: 'reason', message: 'must be "manual" or "rotation" (the default is "manual")' }]
      : []),
  ];
}

export async function registrationRoutes(
  app: FastifyInstance,
  options: RegistrationRouteOptions,
): Promise<void> {
  const { producer, status, dependencyTimeoutMs } = options;
  const dependency = <T>(what: string, work: () => Promise<T>) =>
    fromDependency(what, dependencyTimeoutMs, work);

  app.post('/registrations', { bodyLimit: BODY_LIMIT_BYTES }, async (request, reply) => {
    const result = await dependency('the registration queue', () => producer.enqueue(request.body));
    switch (result.status) {
      case 'invalid':
        return reply.code(400).send(invalid(result.issues));
      case 'conflict':
        return reply.code(409).send({ error: 'conflict', jobId: result.jobId, message: result.message });
      case 'unavailable':
        throw storeUnavailable(result.message);
      case 'queued':
        return reply.code(202).send({ jobId: result.jobId, status: 'queued' });
      case 'already_queued':
        return reply.code(200).send({ jobId: result.jobId, status: 'already_queued' });
    }
  });

  app.post('/registrations/bulk', { bodyLimit: BULK_BODY_LIMIT_BYTES }, async (request, reply) => {
    const body = bulkBodySchema.safeParse(request.body);
    if (!body.success) return reply.code(400).send(invalid(requestIssues(body.error)));
    const results = await fromDependency('the registration queue', options.bulkDependencyTimeoutMs, () =>
      producer.enqueueMany(body.data.requests),
    );
    const summary = { queued: 0, already_queued: 0, conflict: 0, invalid: 0, unavailable: 0 };
    const items = results.map((result, index) => {
      summary[result.status] += 1;
      return { index, ...result };
    });
    // 207: the call succeeded, each item says how it fared; one bad item never rejects the others (an
    // item whose token the store could not take for now is `unavailable`, alone).
    return reply.code(207).send({ results: items, summary });
  });

  app.post('/registrations/:tenantId/rotate', { bodyLimit: BODY_LIMIT_BYTES }, async (request, reply) => {
    const params = tenantParamsSchema.safeParse(request.params);
    const issues = [
      ...(params.success ? [] : requestIssues(params.error)),
      ...rotateBodyIssues(params.success ? params.data.tenantId : undefined, request.body),
    ];
    if (!params.success || issues.length > 0) return reply.code(400).send(invalid(issues));
    const result = await dependency('the registration queue', () =>
      producer.enqueueRotation({
        reason: 'manual',
        ...(request.body as Record<string, unknown>),
        tenantId: params.data.tenantId,
      }),
    );
    switch (result.status) {
      case 'invalid':
        return reply.code(400).send(invalid(result.issues));
      case 'unavailable':
        throw storeUnavailable(result.message);
      case 'not_found':
        return reply.code(404).send({ error: 'not_found', message: result.message });
      case 'queued':
        return reply.code(202).send({ jobId: result.jobId, status: 'queued' });
      case 'already_queued':
        return reply.code(200).send({ jobId: result.jobId, status: 'already_queued' });
    }
  });

  app.get('/registrations/:tenantId', async (request, reply) => {
    const params = tenantParamsSchema.safeParse(request.params);
    const query = statusQuerySchema.safeParse(request.query);
    const issues = [
      ...(params.success ? [] : requestIssues(params.error)),
      ...(query.success ? [] : requestIssues(query.error)),
    ];
    if (!params.success || !query.success) return reply.code(400).send(invalid(issues));
    const { tenantId } = params.data;
    const { fhirBaseUrl } = query.data;
    if (fhirBaseUrl === undefined) {
      const registrations = await dependency('the registry', () => tenantStatuses(status, tenantId));
      return reply.send({ registrations });
    }
    const found = await dependency('the registry', () => registrationStatus(status, tenantId, fhirBaseUrl));
    return found ? reply.send(found) : reply.code(404).send({ error: 'not_found' });
  });
}
