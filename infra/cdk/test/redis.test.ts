// ElastiCache as BullMQ needs it: noeviction, and reachable only from the service's tasks, over TLS —
// standalone by default, or Redis Cluster with an ACL user and REDIS_URL as a secret.

import { describe, expect, it } from 'vitest';
import {
  type ContainerDefinition,
  container,
  containers,
  joined,
  only,
  type Resource,
  synth,
} from './support.js';

const environment = (c: ContainerDefinition): Record<string, unknown> =>
  Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, e.Value]));

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

  it('is not a cluster: no ACL users, REDIS_URL in the environment, no REDIS_CLUSTER or QUEUE_PREFIX', () => {
    expect(redis.Properties.ClusterMode).toBeUndefined();
    expect(redis.Properties.UserGroupIds).toBeUndefined();
    expect(template.findResources('AWS::ElastiCache::User')).toEqual({});
    expect(template.findResources('AWS::ElastiCache::UserGroup')).toEqual({});
    for (const c of containers(template)) {
      const env = environment(c);
      expect(env.REDIS_CLUSTER ?? 'false', c.Name).toBe('false');
      expect(env.QUEUE_PREFIX, c.Name).toBeUndefined();
      expect(joined(env.REDIS_URL), c.Name).toMatch(/^rediss:\/\//);
      expect(
        (c.Secrets ?? []).map((x) => x.Name),
        c.Name,
      ).not.toContain('REDIS_URL');
    }
  });
});

describe('redis cluster mode', () => {
  const { template } = synth({ redisClusterMode: 'true' });
  const [parameterGroupId, parameterGroup] = only(template, 'AWS::ElastiCache::ParameterGroup');
  const [, redis] = only(template, 'AWS::ElastiCache::ReplicationGroup');
  const [userGroupId, userGroup] = only(template, 'AWS::ElastiCache::UserGroup');
  const [, serviceUser] = only(template, 'AWS::ElastiCache::User', { UserName: 'dcr-provisioner' });
  const [, defaultUser] = only(template, 'AWS::ElastiCache::User', { UserName: 'default' });
  const [urlSecretId, urlSecret] = only(template, 'AWS::SecretsManager::Secret', {
    Name: 'Test/redis-url',
  });

  it('enables cluster mode with the default 3 shards of a primary and a replica, failing over across zones', () => {
    expect(redis.Properties).toMatchObject({
      Engine: 'redis',
      ClusterMode: 'enabled',
      NumNodeGroups: 3,
      ReplicasPerNodeGroup: 1,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      CacheParameterGroupName: { Ref: parameterGroupId },
      UserGroupIds: [{ Ref: userGroupId }],
    });
    expect(redis.Properties.NumCacheClusters).toBeUndefined();
  });

  it('encrypts in transit (required) and at rest', () => {
    expect(redis.Properties).toMatchObject({
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
    });
  });

  it('takes shards and replicas from context; without replicas, failover stays on (ElastiCache requires it) but not Multi-AZ', () => {
    const other = synth({ redisClusterMode: 'true', redisShards: '5', redisReplicasPerShard: '0' }).template;
    const [, group] = only(other, 'AWS::ElastiCache::ReplicationGroup');
    expect(group.Properties).toMatchObject({
      NumNodeGroups: 5,
      ReplicasPerNodeGroup: 0,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: false,
    });
  });

  it('uses a redis7 parameter group with cluster-enabled and noeviction', () => {
    expect(parameterGroup.Properties.CacheParameterGroupFamily).toBe('redis7');
    expect(parameterGroup.Properties.Properties).toEqual({
      'cluster-enabled': 'yes',
      'maxmemory-policy': 'noeviction',
    });
  });

  it("scopes the service user to the service's hash-tagged keys", () => {
    expect(serviceUser.Properties.Engine).toBe('redis');
    const access = serviceUser.Properties.AccessString as string;
    expect(access.split(' ')[0]).toBe('on');
    expect(access.split(' ').filter((rule) => rule.startsWith('~'))).toEqual(['~{dcr}*']);
    expect(access).toContain('-@dangerous');
  });

  it('switches off the default user the user group must contain', () => {
    expect(defaultUser.Properties).toMatchObject({
      Engine: 'redis',
      AccessString: 'off -@all',
      NoPasswordRequired: false,
    });
    expect(userGroup.Properties.Engine).toBe('redis');
    expect(userGroup.Properties.UserIds).toEqual([
      serviceUser.Properties.UserId,
      defaultUser.Properties.UserId,
    ]);
    expect(defaultUser.Properties.UserId).not.toBe(serviceUser.Properties.UserId);
    for (const id of [
      serviceUser.Properties.UserId,
      defaultUser.Properties.UserId,
      userGroup.Properties.UserGroupId,
    ])
      expect(id).toMatch(/^[a-z](?:[a-z0-9]|-(?!-)){0,38}[a-z0-9]$/);
  });

  it('gives both containers REDIS_CLUSTER=true and the hash-tagged QUEUE_PREFIX', () => {
    for (const name of ['worker', 'server']) {
      expect(environment(container(template, name))).toMatchObject({
        REDIS_CLUSTER: 'true',
        QUEUE_PREFIX: '{dcr}',
      });
    }
  });

  it('passes REDIS_URL as an ECS secret, never in the environment', () => {
    for (const name of ['worker', 'server']) {
      const c = container(template, name);
      expect(c.Secrets, name).toContainEqual({ Name: 'REDIS_URL', ValueFrom: { Ref: urlSecretId } });
      expect(Object.keys(environment(c)), name).not.toContain('REDIS_URL');
      expect(JSON.stringify(c.Environment), name).not.toContain('rediss://');
    }
  });

  it('builds REDIS_URL from the configuration endpoint and a reference to the generated password', () => {
    const url = joined(urlSecret.Properties.SecretString);
    expect(url).toMatch(
      /^rediss:\/\/dcr-provisioner:\{\{resolve:secretsmanager:\{"Ref":"RedisServicePassword\w+"\}:SecretString:::\}\}@/,
    );
    expect(url).toContain('{"Fn::GetAtt":["Redis","ConfigurationEndPoint.Address"]}:');
    expect(url).toContain('{"Fn::GetAtt":["Redis","ConfigurationEndPoint.Port"]}');
  });

  it('puts no password in the template: generated at deploy time, used through dynamic references', () => {
    for (const user of [serviceUser, defaultUser]) {
      const passwords = user.Properties.Passwords as unknown[];
      expect(passwords).toHaveLength(1);
      expect(joined(passwords[0])).toMatch(
        /^\{\{resolve:secretsmanager:\{"Ref":"\w+"\}:SecretString:::\}\}$/,
      );
    }
    const secrets = Object.entries(template.findResources('AWS::SecretsManager::Secret')) as Array<
      [string, Resource]
    >;
    for (const [id, secret] of secrets) {
      if (id === urlSecretId) continue;
      expect(secret.Properties.SecretString, id).toBeUndefined();
      expect(secret.Properties.GenerateSecretString, id).toMatchObject({ ExcludePunctuation: true });
    }
    const json = JSON.stringify(template.toJSON());
    // A user:password@ in any URL must be a dynamic reference, and no user has a literal password.
    expect(json).not.toMatch(/rediss?:\/\/[^:"]*:(?!\{\{resolve:)[^@"]*@/);
    expect(json).not.toMatch(/"Passwords":\["/);
  });

  it('lets the ECS execution roles read the URL secret', () => {
    const grants = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes('ExecutionRole'))
      .map(([, p]) =>
        (
          (p as Resource).Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }
        ).Statement.filter((s) => JSON.stringify(s.Resource).includes(`"${urlSecretId}"`)),
      );
    expect(grants).toHaveLength(2);
    for (const statements of grants) {
      expect(statements).toHaveLength(1);
      expect(statements[0]?.Action).toContain('secretsmanager:GetSecretValue');
    }
  });

  it('names its secrets outside SECRET_NAME_PREFIX', () => {
    expect(() => synth({ redisClusterMode: 'true', secretNamePrefix: 'Test/redis' })).toThrow(
      /secretNamePrefix must not be a prefix of the Redis secrets' names/,
    );
  });
});
