// Assembles the HTTP server: probes and metrics without credentials, the producer API and Bull Board
// behind API_TOKEN, JSON errors everywhere. Builds only; listening is start-server's job, so tests can
// drive the same instance with `inject`.

import type { Queue } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { RegistrationProducer, StatusSources } from '../queue/index.js';
import { requireToken } from './auth.js';
import { BOARD_PATH, registerBoard } from './board.js';
import { replyNotFound, replyToError } from './error-replies.js';
import { type JwksRouteOptions, jwksRoutes } from './jwks-routes.js';
import { type MetricsSource, probeRoutes } from './probe-routes.js';
import { BODY_LIMIT_BYTES, registrationRoutes } from './registration-routes.js';

export interface ServerOptions {
  config: Pick<Config, 'API_TOKEN' | 'BOARD_READ_ONLY' | 'LOG_LEVEL' | 'JWKS_MAX_AGE_S'>;
  /** Validates and enqueues; a fail-fast (producer role) Redis connection is the right one. */
  producer: Pick<RegistrationProducer, 'enqueue' | 'enqueueMany' | 'enqueueRotation'>;
  /** Where the status route reads the queue and the registry. */
  status: StatusSources;
  /** Pinged by /readyz, which also asks `status.queue` a question. */
  redis: Pick<Redis, 'ping'>;
  /** Served at /metrics; without it /metrics is not a route (404). */
  metrics?: MetricsSource;
  /** What /jwks/... serves (keys published by `jwks_uri`); without it the route is absent (404). */
  publishedKeys?: JwksRouteOptions['publishedKeys'];
  /** Counts /jwks/... requests by outcome. */
  onJwksRequest?: JwksRouteOptions['onRequest'];
  /**
   * A pino logger, or false for none.
   * @defaultValue Fastify's pino at `config.LOG_LEVEL`, with the Authorization header redacted
   */
  logger?: FastifyBaseLogger | false;
  /** Queues shown on the board. @defaultValue `[status.queue]` */
  boardQueues?: readonly Queue[];
  /** Deadline of a request's calls to Redis and the secret store before answering 503. @defaultValue 15000 */
  dependencyTimeoutMs?: number;
  /** The same for the bulk route (up to 1,000 secret writes). @defaultValue 120000 */
  bulkDependencyTimeoutMs?: number;
  /** How long /readyz waits for Redis and the queue to answer. @defaultValue 2000 */
  readinessTimeoutMs?: number;
  /**
   * Serve only /healthz, /readyz and /metrics: what a worker-only process (`dcr-provisioner worker`)
   * offers, so its job metrics can be scraped too. @defaultValue false
   */
  probesOnly?: boolean;
}

function loggerOptions(options: ServerOptions) {
  if (options.logger === false) return { logger: false };
  if (options.logger) return { loggerInstance: options.logger };
  return {
    logger: {
      level: options.config.LOG_LEVEL,
      // Fastify's request serializer leaves headers out; this holds should anyone log them.
      redact: ['req.headers.authorization', 'headers.authorization'],
    },
  };
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const token = options.config.API_TOKEN;
  const app = Fastify({
    ...loggerOptions(options),
    bodyLimit: BODY_LIMIT_BYTES,
    // Framework-level refusals (an undecodable URL) get the same JSON shape as every other error.
    frameworkErrors: (error, _request, reply) => {
      (reply as FastifyReply).code(error.statusCode ?? 400).send({ error: 'bad_request' });
    },
  }) as unknown as FastifyInstance;

  app.setErrorHandler(replyToError);
  app.setNotFoundHandler(replyNotFound);
  // JSON only: a text/plain body would otherwise reach the handlers as a string.
  app.removeContentTypeParser('text/plain');

  await app.register(probeRoutes, {
    redis: options.redis,
    queue: options.status.queue,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    readinessTimeoutMs: options.readinessTimeoutMs ?? 2000,
  });
  if (options.probesOnly) return app;

  // No credentials: authorization servers fetch these keys themselves.
  if (options.publishedKeys) {
    await app.register(jwksRoutes, {
      publishedKeys: options.publishedKeys,
      maxAgeSeconds: options.config.JWKS_MAX_AGE_S,
      ...(options.onJwksRequest ? { onRequest: options.onJwksRequest } : {}),
    });
  }

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', requireToken({ token, acceptBasic: false }));
      // A scoped 404 handler runs the scope's onRequest hook: unknown /v1 routes answer 401 before 404,
      // so the API cannot be mapped without a token.
      v1.setNotFoundHandler(replyNotFound);
      await v1.register(registrationRoutes, {
        producer: options.producer,
        status: options.status,
        dependencyTimeoutMs: options.dependencyTimeoutMs ?? 15_000,
        bulkDependencyTimeoutMs: options.bulkDependencyTimeoutMs ?? 120_000,
      });
    },
    { prefix: '/v1' },
  );

  await app.register(
    async (board) => {
      board.addHook('onRequest', requireToken({ token, acceptBasic: true }));
      board.setNotFoundHandler(replyNotFound);
      await registerBoard(board, {
        queues: options.boardQueues ?? [options.status.queue],
        readOnly: options.config.BOARD_READ_ONLY,
      });
    },
    { prefix: BOARD_PATH },
  );

  return app;
}
