// What orchestrators and Prometheus call, without credentials: liveness, readiness (Redis answers and
// the queue can take jobs) and the metrics scrape. They reveal no tenant data and no secret; /metrics should still be reachable only
// from the scraper's network (see README "HTTP API").

import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';

/** What /metrics serves; a prom-client `Registry` fits. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface ProbeRouteOptions {
  redis: Pick<Redis, 'ping'>;
  /**
   * The queue the API enqueues to, asked a one-command question. BullMQ checks the Redis version once
   * when a queue connects; if Redis drops during that check the queue stays broken (every call
   * rejects) while PING on the same client succeeds, so readiness asks both.
   */
  queue: Pick<Queue, 'isPaused'>;
  metrics?: MetricsSource;
  /** How long /readyz waits for PONG before answering 503. */
  readinessTimeoutMs: number;
}

/** True when `check` resolves true within the time; a rejection or a hang counts as false. */
async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  // A worker-style client (maxRetriesPerRequest: null) queues commands until Redis returns: bound the wait.
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([check().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each dependency's state, for an SRE reading a failed probe. */
async function readiness(options: ProbeRouteOptions) {
  const [redis, queue] = await Promise.all([
    within(options.readinessTimeoutMs, async () => (await options.redis.ping()) === 'PONG'),
    within(options.readinessTimeoutMs, async () => {
      await options.queue.isPaused();
      return true;
    }),
  ]);
  return { ready: redis && queue, redis: redis ? 'ok' : 'unreachable', queue: queue ? 'ok' : 'unavailable' };
}

export async function probeRoutes(app: FastifyInstance, options: ProbeRouteOptions): Promise<void> {
  // Probes run every few seconds; logging each would drown the request log.
  const quiet = { logLevel: 'warn' as const };

  app.get('/healthz', quiet, async () => ({ status: 'ok' }));

  app.get('/readyz', quiet, async (_request, reply) => {
    const { ready, ...checks } = await readiness(options);
    return ready ? reply.send({ status: 'ok' }) : reply.code(503).send({ error: 'unavailable', ...checks });
  });

  const { metrics } = options;
  if (metrics) {
    app.get('/metrics', quiet, async (_request, reply) =>
      reply.type(metrics.contentType).send(await metrics.metrics()),
    );
  }
}
