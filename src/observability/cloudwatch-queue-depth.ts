// Publishes the queue's job counts to CloudWatch (`<namespace>/QueueJobs`, dimension `State`), because
// ECS scales the workers on a CloudWatch metric while Prometheus scrapes `dcr_queue_jobs`. Every process
// that has it on publishes the same numbers; scaling reads the Maximum, so duplicates are harmless.

import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { Logger } from './logger.js';

/** The states a scaling policy needs: the backlog and the work in hand. */
export const PUBLISHED_STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const;

export interface QueueDepthPublisherOptions {
  /** Where the counts come from: a BullMQ Queue fits. */
  queue: { getJobCounts(...states: string[]): Promise<Record<string, number>> };
  namespace: string;
  intervalSeconds: number;
  logger: Logger;
  client?: CloudWatchClient;
}

export interface QueueDepthPublisher {
  /** Publishes once now; the timer calls it every interval. */
  publish(): Promise<void>;
  stop(): void;
}

export const QUEUE_JOBS_METRIC = 'QueueJobs';

export function startQueueDepthPublisher(options: QueueDepthPublisherOptions): QueueDepthPublisher {
  const client = options.client ?? new CloudWatchClient({});
  const publish = async () => {
    try {
      const counts = await options.queue.getJobCounts(...PUBLISHED_STATES);
      const timestamp = new Date();
      await client.send(
        new PutMetricDataCommand({
          Namespace: options.namespace,
          MetricData: PUBLISHED_STATES.map((state) => ({
            MetricName: QUEUE_JOBS_METRIC,
            Dimensions: [{ Name: 'State', Value: state }],
            Value: counts[state] ?? 0,
            Unit: 'Count',
            Timestamp: timestamp,
          })),
        }),
      );
    } catch (err) {
      // A missed data point only delays scaling; it must never take the service down.
      options.logger.warn(
        { err: err instanceof Error ? err.name : String(err) },
        'queue depth not published to CloudWatch',
      );
    }
  };
  const timer = setInterval(() => void publish(), options.intervalSeconds * 1000);
  timer.unref();
  return {
    publish,
    stop: () => {
      clearInterval(timer);
      if (!options.client) client.destroy();
    },
  };
}
