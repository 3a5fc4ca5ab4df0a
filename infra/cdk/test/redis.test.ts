// ElastiCache as BullMQ needs it: noeviction, and reachable only from the service's tasks, over TLS.

import { describe, expect, it } from 'vitest';
import { only, synth } from './support.js';

describe('redis', () => {
  const { template } = synth();
  const [parameterGroupId, parameterGroup] = only(template, 'AWS::ElastiCache::ParameterGroup');
  const [, redis] = only(template, 'AWS::ElastiCache::ReplicationGroup');

  it('uses a parameter group that sets maxmemory-policy noeviction', () => {
    expect(parameterGroup.Properties.CacheParameterGroupFamily).toBe('redis7');
    expect(parameterGroup.Properties.Properties).toEqual({ 'maxmemory-policy': 'noeviction' });
    expect(redis.Properties.CacheParameterGroupName).toEqual({ Ref: parameterGroupId });
  });

  it('encrypts in transit (required) and at rest, with a replica in another zone', () => {
    expect(redis.Properties).toMatchObject({
      Engine: 'redis',
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
      NumCacheClusters: 2,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
    });
  });

  it('accepts connections only from the worker and API task security groups', () => {
    const groups = redis.Properties.SecurityGroupIds as Array<{ 'Fn::GetAtt': [string, string] }>;
    expect(groups).toHaveLength(1);
    const redisGroupId = groups[0]?.['Fn::GetAtt'][0] as string;
    const [, redisGroup] = only(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'dcr-provisioner Redis: inbound from the worker and API tasks only',
    });
    expect(redisGroup.Properties.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => (r as { Properties: Record<string, unknown> }).Properties)
      .filter(
        (p) => JSON.stringify(p.GroupId) === JSON.stringify({ 'Fn::GetAtt': [redisGroupId, 'GroupId'] }),
      );
    const sources = ingress.map(
      (p) => (p.SourceSecurityGroupId as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
    );
    const [workerGroupId] = only(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'dcr-provisioner worker tasks: no inbound',
    });
    const [apiGroupId] = only(template, 'AWS::EC2::SecurityGroup', {
      GroupDescription: 'dcr-provisioner API tasks: inbound from the load balancer only',
    });
    expect(sources.sort()).toEqual([workerGroupId, apiGroupId].sort());
    for (const rule of ingress)
      expect(rule).toMatchObject({ FromPort: 6379, ToPort: 6379, IpProtocol: 'tcp' });
  });

  it('gives the service a rediss:// URL to the primary endpoint', () => {
    const json = JSON.stringify(template.toJSON());
    expect(json).toContain('"rediss://",{"Fn::GetAtt":["Redis","PrimaryEndPoint.Address"]}');
  });
});
