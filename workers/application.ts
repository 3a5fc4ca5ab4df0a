// The service as one process (`dcr-provisioner start`, and the demo), or its halves (`worker`,
// `server`): wiring only. One logger and one metrics registry are shared, so /metrics shows the jobs
// this process ran next to the queue depth.

import type { Config } from '../src/config/index.js';
import {
  createLogger,
  createMetrics,
  type Logger,
  type Metrics,
  type QueueDepthPublisher,
  secretKeysFromConfig,
  startQueueDepthPublisher,
} from '../src/observability/index.js';
import type { RegistrationProducer, StatusSources } from '../src/queue/index.js';
import { buildServer, type RunningServer, startServer } from '../src/server/index.js';
import { openProducerContext } from './producer-context.js';
import { type RunningWorker, startRegistrationWorker } from './registration-worker.js';

export interface ApplicationOptions {
  /** Run the registration worker in this process. @defaultValue true */
  worker?: boolean;
  /** Serve the API and the board; without them only /healthz, /readyz and /metrics. @defaultValue true */
  server?: boolean;
  /** Human-readable log lines (the demo). @defaultValue false: JSON lines */
  pretty?: boolean;
  /** When HTTP_PORT is taken, listen on a free port instead of failing (the demo). @defaultValue false */
  fallbackToFreePort?: boolean;
}

export interface RunningApplication {
  /** The HTTP server's base URL. */
  url: string;
  producer: RegistrationProducer;
  status: StatusSources;
  logger: Logger;
  metrics: Metrics;
  /** Stops the server, then the worker, then closes connections; idempotent. */
  close(): Promise<void>;
}

async function listen(
  app: Awaited<ReturnType<typeof buildServer>>,
  config: Config,
  fallback: boolean,
): Promise<RunningServer> {
  try {
    return await startServer(app, { host: config.HTTP_HOST, port: config.HTTP_PORT });
  } catch (err) {
    if (!fallback || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return startServer(app, { host: config.HTTP_HOST, port: 0 });
  }
}

export async function startApplication(
  config: Config,
  options: ApplicationOptions = {},
): Promise<RunningApplication> {
  const logger = createLogger({
    level: config.LOG_LEVEL,
    pretty: options.pretty ?? false,
    secretKeys: secretKeysFromConfig(config),
  });
  const context = await openProducerContext(config, (err) =>
    logger.warn({ err: err.message }, 'redis connection error'),
  );
  const { redis, queue, registry, producer, publishedKeys } = context;
  const metrics = createMetrics({ queue, logger });
  const status = { queue, registry };

  let worker: RunningWorker | undefined;
  let server: RunningServer | undefined;
  const depthPublisher: QueueDepthPublisher | undefined = config.QUEUE_METRICS_NAMESPACE
    ? startQueueDepthPublisher({
        queue,
        namespace: config.QUEUE_METRICS_NAMESPACE,
        intervalSeconds: config.QUEUE_METRICS_INTERVAL_S,
        logger,
      })
    : undefined;
  const shutdown = async () => {
    depthPublisher?.stop();
    await server?.close();
    await worker?.close();
    await context.close();
  };
  try {
    if (options.worker ?? true) worker = await startRegistrationWorker(config, { logger, metrics });
    // A worker-only process still serves the probes and its metrics (jobs it ran, queue depth).
    const probesOnly = !(options.server ?? true);
    const app = await buildServer({
      config,
      producer,
      status,
      redis,
      metrics: metrics.registry,
      publishedKeys,
      onJwksRequest: (outcome) => metrics.jwksRequests.inc({ outcome }),
      logger,
      probesOnly,
    });
    server = await listen(app, config, options.fallbackToFreePort ?? false);
    logger.info({ url: server.url, probesOnly }, 'http server listening');
  } catch (err) {
    await shutdown();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    url: (server as RunningServer).url,
    producer,
    status,
    logger,
    metrics,
    close: () => {
      closing ??= shutdown();
      return closing;
    },
  };
}
