// Context values are checked before anything is built, and a bad one names its key.

import { describe, expect, it } from 'vitest';
import { SettingsError, settingsFromContext } from '../lib/settings.js';
import { ECR_IMAGE, synth } from './support.js';

const settings = (context: Record<string, unknown>) => settingsFromContext((key) => context[key]);

describe('settings from context', () => {
  it('requires the image URI', () => {
    expect(() => settings({})).toThrow(/imageUri is required/);
  });

  it('uses the documented defaults', () => {
    expect(settings({ imageUri: ECR_IMAGE })).toMatchObject({
      secretNamePrefix: 'dcr/',
      certificateArn: undefined,
      internetFacing: false,
      workerMinTasks: 1,
      workerMaxTasks: 10,
      apiTasks: 2,
      logRetentionDays: 30,
      redisClusterMode: false,
      redisShards: 3,
      redisReplicasPerShard: 1,
    });
  });

  it.each([
    [{ secretNamePrefix: 'dcr/*' }, /secretNamePrefix must be/],
    [{ certificateArn: 'my-cert' }, /certificateArn must be an ACM certificate ARN/],
    [{ logRetentionDays: '10' }, /logRetentionDays must be one of/],
    [{ workerMinTasks: '5', workerMaxTasks: '2' }, /workerMaxTasks must be at least workerMinTasks/],
    [{ internetFacing: 'yes' }, /internetFacing must be true or false/],
    [{ ingressCidr: 'everyone' }, /ingressCidr must be an IPv4 CIDR/],
    [{ redisClusterMode: 'yes' }, /redisClusterMode must be true or false/],
    [{ redisShards: '0' }, /redisShards must be a whole number from 1 to 500/],
    [{ redisShards: '2.5' }, /redisShards must be a whole number/],
    [{ redisReplicasPerShard: '6' }, /redisReplicasPerShard must be a whole number from 0 to 5/],
    [{ redisReplicasPerShard: '-1' }, /redisReplicasPerShard must be a whole number from 0 to 5/],
  ])('refuses %j', (context, message) => {
    expect(() => settings({ imageUri: ECR_IMAGE, ...context })).toThrow(SettingsError);
    expect(() => settings({ imageUri: ECR_IMAGE, ...context })).toThrow(message);
  });

  it('reads the Redis cluster settings from strings (-c) and JSON values (cdk.json)', () => {
    expect(
      settings({
        imageUri: ECR_IMAGE,
        redisClusterMode: 'true',
        redisShards: '4',
        redisReplicasPerShard: '0',
      }),
    ).toMatchObject({ redisClusterMode: true, redisShards: 4, redisReplicasPerShard: 0 });
    expect(
      settings({ imageUri: ECR_IMAGE, redisClusterMode: true, redisShards: 2, redisReplicasPerShard: 2 }),
    ).toMatchObject({ redisClusterMode: true, redisShards: 2, redisReplicasPerShard: 2 });
  });

  it('refuses an ECR image without a tag or digest', () => {
    expect(() => synth({ imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/dcr-provisioner' })).toThrow(
      /must name a tag or a digest/,
    );
  });

  it('refuses a prefix that would cover the API token secret', () => {
    expect(() => synth({ secretNamePrefix: 'Te' })).toThrow(/API token's secret name/);
  });
});
