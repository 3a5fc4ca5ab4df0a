// Queue depth reaches CloudWatch (moto) in the shape the CDK scaling policy reads.

import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createLogger, startQueueDepthPublisher } from '../../../src/observability/index.js';

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
const queue = new Queue('registrations', {
  connection: redis,
  prefix: `${inject('redisPrefix')}-cloudwatch`,
});
const client = new CloudWatchClient({ endpoint: inject('awsEndpoint'), region: 'us-east-1' });
const namespace = `DcrTest${process.pid}`;
afterAll(async () => {
  await queue.close();
  redis.disconnect();
  client.destroy();
});

async function statistic(state: string): Promise<number | undefined> {
  const now = Date.now();
  const { Datapoints } = await client.send(
    new GetMetricStatisticsCommand({
      Namespace: namespace,
      MetricName: 'QueueJobs',
      Dimensions: [{ Name: 'State', Value: state }],
      StartTime: new Date(now - 600_000),
      EndTime: new Date(now + 600_000),
      Period: 60,
      Statistics: ['Maximum'],
    }),
  );
  return Datapoints?.[0]?.Maximum;
}

describe('observability/startQueueDepthPublisher', () => {
  it('publishes QueueJobs per state with the waiting count of the queue', async () => {
    await queue.addBulk([1, 2, 3].map((n) => ({ name: 'register-client', data: { n } })));
    const publisher = startQueueDepthPublisher({
      queue,
      namespace,
      intervalSeconds: 3600,
      logger: createLogger({ level: 'silent' }),
      client,
    });
    await publisher.publish();
    publisher.stop();
    expect(await statistic('waiting')).toBe(3);
    expect(await statistic('active')).toBe(0);
  });

  it('logs and carries on when CloudWatch cannot be reached', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: { write: (line: string) => lines.push(line) },
    });
    const unreachable = new CloudWatchClient({
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      maxAttempts: 1,
    });
    const publisher = startQueueDepthPublisher({
      queue,
      namespace,
      intervalSeconds: 3600,
      logger,
      client: unreachable,
    });
    await expect(publisher.publish()).resolves.toBeUndefined();
    publisher.stop();
    unreachable.destroy();
    expect(lines.join('')).toContain('queue depth not published to CloudWatch');
  });
});
