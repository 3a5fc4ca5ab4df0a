// Every error the API answers is JSON with a stable `error` code and nothing internal: no stack, no
// dependency message, no echo of the request body (a JSON parser's message quotes the body, which may
// hold an initial access token). Failures of Redis or the secret store become 503 `unavailable`.

import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Redis, the queue or the secret store failed or did not answer in time; the caller may retry. */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';
  constructor(what: string, options?: { cause?: unknown }) {
    super(`dcr-provisioner: ${what} is unavailable`, options);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_S = 5;

/**
 * Runs a call to Redis or the secret store with a deadline. A fail-fast Redis client still waits
 * forever for a server that was down when it connected (BullMQ waits for `ready`), so the deadline is
 * what turns an outage into a prompt 503. The call is not cancelled: its outcome is unknown to the
 * caller, which is safe to retry because duplicates answer `already_queued`.
 */
export async function fromDependency<T>(what: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new DependencyUnavailableError(what, { cause: new Error(`no answer in ${timeoutMs} ms`) })),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      work().catch((err: unknown) => {
        throw new DependencyUnavailableError(what, { cause: err });
      }),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `Payload Too Large` → `payload_too_large`. */
function errorCodeOf(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

function bodyIssue(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ error: 'invalid_request', issues: [{ path: '(root)', message }] });
}

export function replyToError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return bodyIssue(reply, 'the request body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return bodyIssue(reply, 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply.code(413).send({
        error: 'payload_too_large',
        message: `the request body is larger than ${request.routeOptions.bodyLimit} bytes`,
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply.code(415).send({
        error: 'unsupported_media_type',
        message: 'send the body as Content-Type: application/json',
      });
  }
  if (error instanceof DependencyUnavailableError) {
    request.log.warn({ err: error.cause, dependency: error.message }, 'dependency unavailable');
    return reply.code(503).header('retry-after', String(RETRY_AFTER_S)).send({ error: 'unavailable' });
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Other client errors Fastify raises (a Content-Length that does not match, ...): the code only.
    request.log.info({ code: error.code, status }, 'request refused');
    return reply.code(status).send({ error: errorCodeOf(status) });
  }
  request.log.error({ err: error }, 'request failed');
  return reply.code(500).send({ error: 'internal_error' });
}

export function replyNotFound(_request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send({ error: 'not_found' });
}
