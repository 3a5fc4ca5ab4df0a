// The containers: non-root, read-only, the right command each, secrets only through ECS `secrets`, and
// logs kept for a bounded time.

import { describe, expect, it } from 'vitest';
import { container, containers, only, type Resource, synth } from './support.js';

/** Configuration variables whose names look secret but whose values are not (see the schema). */
const NOT_SECRET = new Set(['SECRETS_BACKEND', 'SECRET_NAME_PREFIX', 'SECRETS_KMS_KEY_ID']);

describe('task definitions', () => {
  const { template } = synth();
  const all = containers(template);

  it('run the worker with `worker` and the API with `server`', () => {
    expect(all.map((c) => [c.Name, c.Command]).sort()).toEqual([
      ['server', ['server']],
      ['worker', ['worker']],
    ]);
  });

  it('run as a non-root user on a read-only root filesystem', () => {
    for (const c of all) {
      expect(c.User, c.Name).toBeDefined();
      const [uid] = (c.User as string).split(':');
      expect(uid, c.Name).not.toMatch(/^(0|root)$/);
      expect(c.ReadonlyRootFilesystem, c.Name).toBe(true);
    }
  });

  it('pass no secret as a plain environment variable', () => {
    const secretResources = new Set(Object.keys(template.findResources('AWS::SecretsManager::Secret')));
    for (const c of all) {
      for (const { Name, Value } of c.Environment ?? []) {
        if (!NOT_SECRET.has(Name))
          expect(Name, `${c.Name} environment`).not.toMatch(/token|secret|password/i);
        for (const id of secretResources) {
          expect(JSON.stringify(Value), `${c.Name} ${Name}`).not.toContain(`"${id}"`);
        }
      }
      expect(
        (c.Environment ?? []).map((e) => e.Name),
        c.Name,
      ).not.toContain('API_TOKEN');
    }
  });

  it('give the API its token from Secrets Manager through ECS secrets, and the worker none', () => {
    const [tokenId] = only(template, 'AWS::SecretsManager::Secret');
    expect(container(template, 'server').Secrets).toEqual([
      { Name: 'API_TOKEN', ValueFrom: { Ref: tokenId } },
    ]);
    expect(container(template, 'worker').Secrets).toBeUndefined();
  });

  it('generate the API token at deploy time, never in the template', () => {
    const [, token] = only(template, 'AWS::SecretsManager::Secret');
    expect(token.Properties.SecretString).toBeUndefined();
    expect(token.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 48 });
  });

  it('configure the worker so the schema accepts it without an API token', () => {
    const env = Object.fromEntries(
      (container(template, 'worker').Environment ?? []).map((e) => [e.Name, e.Value]),
    );
    expect(env.HTTP_HOST).toBe('127.0.0.1');
    expect(env.SECRETS_BACKEND).toBe('aws');
  });

  it('log to one group with a retention', () => {
    const [logGroupId, logGroup] = only(template, 'AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(30);
    for (const c of all) expect(c.LogConfiguration?.Options['awslogs-group']).toEqual({ Ref: logGroupId });
  });

  it('take the log retention from context', () => {
    const [, logGroup] = only(synth({ logRetentionDays: '90' }).template, 'AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(90);
  });

  it('pull an ECR image with a pull grant on that repository only', () => {
    const pulls = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap(
        (p) =>
          ((p as Resource).Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> })
            .Statement,
      )
      .filter((s) => JSON.stringify(s.Action).includes('ecr:BatchGetImage'));
    expect(pulls.length).toBeGreaterThan(0);
    for (const s of pulls)
      expect(JSON.stringify(s.Resource)).toContain(':ecr:eu-west-1:123456789012:repository/dcr-provisioner');
  });

  it('take any other registry as is', () => {
    const other = synth({ imageUri: 'ghcr.io/example/dcr-provisioner:0.1.0' }).template;
    for (const c of containers(other))
      expect((c as unknown as { Image: unknown }).Image).toBe('ghcr.io/example/dcr-provisioner:0.1.0');
  });
});

describe('worker scaling', () => {
  const { template } = synth({ workerMinTasks: '2', workerMaxTasks: '8' });

  it('scales the worker service between the bounds given', () => {
    const targets = Object.values(template.findResources('AWS::ApplicationAutoScaling::ScalableTarget')).map(
      (t) => (t as Resource).Properties,
    );
    expect(targets).toContainEqual(expect.objectContaining({ MinCapacity: 2, MaxCapacity: 8 }));
  });

  it('scales on the queue depth published as DcrProvisioner/QueueJobs', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as Resource).Properties,
    );
    expect(alarms).toHaveLength(2);
    for (const alarm of alarms) {
      const metrics = alarm.Metrics as Array<{
        Id: string;
        MetricStat?: { Metric: Record<string, unknown> };
      }>;
      const queue = metrics.filter((m) => m.MetricStat?.Metric.Namespace === 'DcrProvisioner');
      expect(queue.map((m) => m.MetricStat?.Metric)).toEqual([
        {
          Namespace: 'DcrProvisioner',
          MetricName: 'QueueJobs',
          Dimensions: [{ Name: 'State', Value: 'waiting' }],
        },
        {
          Namespace: 'DcrProvisioner',
          MetricName: 'QueueJobs',
          Dimensions: [{ Name: 'State', Value: 'active' }],
        },
      ]);
    }
  });
});
