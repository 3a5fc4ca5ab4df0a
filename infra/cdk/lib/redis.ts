// ElastiCache for the service, in one of two shapes chosen by `redisClusterMode`:
//   standalone (default): one primary and a replica in another zone, no ACL user, REDIS_URL to the
//     primary endpoint as a plain environment value (it holds no credential);
//   cluster: cluster mode enabled (redisShards × redisReplicasPerShard), an ACL user scoped to the
//     service's keys, and REDIS_URL — which then carries that user's password — as an ECS secret.
// Both use TLS in transit (required), encryption at rest and maxmemory-policy noeviction: under
// eviction Redis may drop a job's hash or a queue list, and BullMQ loses or corrupts the job.
// Switching a deployed stack from one shape to the other changes the replication group's topology,
// endpoint and parameter group: treat it as a migration (drain the queues first), not a routine update.

import { Annotations, SecretValue, type Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { type DeploymentSettings, SettingsError } from './settings.js';

export const REDIS_PORT = 6379;

/**
 * QUEUE_PREFIX on Redis Cluster. The braces are a hash tag: Redis hashes only `dcr` for every key
 * that starts with `{dcr}`, so all the service's keys live in one slot, which BullMQ's multi-key Lua
 * scripts and the service's own scripts (limits, registry) need — a cross-slot script is refused.
 */
export const CLUSTER_QUEUE_PREFIX = '{dcr}';

/** The ACL user the service connects as in cluster mode. */
export const SERVICE_REDIS_USER = 'dcr-provisioner';

/**
 * The service user's permissions: its own keys only (`~{dcr}*`), any pub/sub channel, every command
 * except the dangerous ones (FLUSHALL, CONFIG, KEYS, ...), plus back the few of those the clients
 * need: INFO (BullMQ checks the server version and eviction policy), CLUSTER INFO/SLOTS/NODES (ioredis
 * discovers the cluster's topology) and CLIENT SETNAME/GETNAME (BullMQ names its connections).
 */
export const SERVICE_ACCESS_STRING = `on ~${CLUSTER_QUEUE_PREFIX}* &* +@all -@dangerous +info +cluster|info +cluster|slots +cluster|nodes +client|setname +client|getname`;

/** What the containers need to reach Redis: the same for the worker and the API. */
export interface RedisConnection {
  /** Plain environment values (never a credential). */
  environment: Record<string, string>;
  /** Values ECS reads from Secrets Manager at task start. */
  secrets: Record<string, ecs.Secret>;
}

/** The pieces both shapes share: where Redis runs and who may connect. */
export interface RedisPlacement {
  subnetGroupName: string;
  securityGroupId: string;
}

/** Creates the replication group for the settings and says how the containers connect to it. */
export function serviceRedis(
  stack: Stack,
  s: DeploymentSettings,
  placement: RedisPlacement,
): RedisConnection {
  return s.redisClusterMode ? clusterRedis(stack, s, placement) : standaloneRedis(stack, s, placement);
}

/** Properties of the replication group that do not depend on the shape. */
function commonProperties(s: DeploymentSettings, placement: RedisPlacement) {
  return {
    replicationGroupDescription: 'dcr-provisioner queues, registry and completion events',
    engine: 'redis',
    engineVersion: '7.1',
    cacheNodeType: s.redisNodeType,
    cacheSubnetGroupName: placement.subnetGroupName,
    securityGroupIds: [placement.securityGroupId],
    port: REDIS_PORT,
    transitEncryptionEnabled: true,
    transitEncryptionMode: 'required',
    atRestEncryptionEnabled: true,
    snapshotRetentionLimit: 7,
    autoMinorVersionUpgrade: true,
  };
}

function standaloneRedis(stack: Stack, s: DeploymentSettings, placement: RedisPlacement): RedisConnection {
  const parameters = new elasticache.CfnParameterGroup(stack, 'RedisParameters', {
    cacheParameterGroupFamily: 'redis7',
    description: 'dcr-provisioner: BullMQ needs maxmemory-policy noeviction',
    properties: { 'maxmemory-policy': 'noeviction' },
  });
  const redis = new elasticache.CfnReplicationGroup(stack, 'Redis', {
    ...commonProperties(s, placement),
    numCacheClusters: 2,
    automaticFailoverEnabled: true,
    multiAzEnabled: true,
    cacheParameterGroupName: parameters.ref,
  });
  return {
    environment: {
      REDIS_URL: `rediss://${redis.attrPrimaryEndPointAddress}:${redis.attrPrimaryEndPointPort}`,
    },
    secrets: {},
  };
}

function clusterRedis(stack: Stack, s: DeploymentSettings, placement: RedisPlacement): RedisConnection {
  // Named outside SECRET_NAME_PREFIX, like the API token, so the service's own policy does not reach
  // them; the execution role reads the URL for ECS.
  const secretName = (name: string): string => {
    const full = `${stack.stackName}/${name}`;
    if (full.startsWith(s.secretNamePrefix)) {
      throw new SettingsError(
        'secretNamePrefix',
        `must not be a prefix of the Redis secrets' names (${full})`,
      );
    }
    return full;
  };
  // Alphanumeric passwords: nothing that would need escaping in REDIS_URL (: @ / ? #) and none of
  // the characters ElastiCache refuses in a password.
  const password = (id: string, name: string, description: string) =>
    new secretsmanager.Secret(stack, id, {
      secretName: secretName(name),
      description,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });

  const parameters = new elasticache.CfnParameterGroup(stack, 'RedisParameters', {
    cacheParameterGroupFamily: 'redis7',
    description: 'dcr-provisioner: Redis Cluster; BullMQ needs maxmemory-policy noeviction',
    properties: { 'cluster-enabled': 'yes', 'maxmemory-policy': 'noeviction' },
  });

  // ---- ACL. A user group must contain a user named `default`, which is what a connection without
  // AUTH becomes; ElastiCache's own `default` user may run anything, so ours is switched off.
  const servicePassword = password(
    'RedisServicePassword',
    'redis-service-password',
    `Password of the ${SERVICE_REDIS_USER} ElastiCache user (part of the REDIS_URL secret)`,
  );
  const serviceUser = new elasticache.CfnUser(stack, 'RedisServiceUser', {
    engine: 'redis',
    userId: elastiCacheId(stack, 'service'),
    userName: SERVICE_REDIS_USER,
    accessString: SERVICE_ACCESS_STRING,
    // A CloudFormation dynamic reference, resolved at deploy time: the password is never in the template.
    passwords: [servicePassword.secretValue.unsafeUnwrap()],
  });
  const defaultPassword = password(
    'RedisDefaultUserPassword',
    'redis-default-password',
    'Password of the disabled default ElastiCache user (not used by anything)',
  );
  const defaultUser = new elasticache.CfnUser(stack, 'RedisDefaultUser', {
    engine: 'redis',
    userId: elastiCacheId(stack, 'default'),
    userName: 'default',
    accessString: 'off -@all',
    noPasswordRequired: false,
    passwords: [defaultPassword.secretValue.unsafeUnwrap()],
  });
  const users = [serviceUser, defaultUser];
  const userGroup = new elasticache.CfnUserGroup(stack, 'RedisUsers', {
    engine: 'redis',
    userGroupId: elastiCacheId(stack, 'users'),
    userIds: users.map((user) => user.userId),
  });
  for (const user of users) userGroup.addResourceDependency(user);

  // ElastiCache requires automatic failover on every cluster-mode group; Multi-AZ needs a replica to
  // promote in another zone.
  const replicated = s.redisReplicasPerShard >= 1;
  if (!replicated) {
    Annotations.of(stack).addWarningV2(
      'dcr-provisioner:redis-without-replicas',
      'redisReplicasPerShard is 0: no replica to fail over to, and losing a node loses the jobs on its shard.',
    );
  }
  const redis = new elasticache.CfnReplicationGroup(stack, 'Redis', {
    ...commonProperties(s, placement),
    clusterMode: 'enabled',
    numNodeGroups: s.redisShards,
    replicasPerNodeGroup: s.redisReplicasPerShard,
    automaticFailoverEnabled: true,
    multiAzEnabled: replicated,
    cacheParameterGroupName: parameters.ref,
    userGroupIds: [userGroup.ref],
  });

  // ---- REDIS_URL with the password in it, so a secret itself. Its value is a template of the
  // configuration endpoint (the cluster's entry point; the client discovers the shards from it) and a
  // dynamic reference to the password, both resolved by CloudFormation at deploy time. Regenerating
  // the password means redeploying the stack, which rebuilds this value too.
  const url = new secretsmanager.Secret(stack, 'RedisUrl', {
    secretName: secretName('redis-url'),
    description: `REDIS_URL of dcr-provisioner: rediss:// with the ${SERVICE_REDIS_USER} user's password`,
    secretStringValue: SecretValue.unsafePlainText(
      `rediss://${SERVICE_REDIS_USER}:${servicePassword.secretValue.unsafeUnwrap()}@${redis.attrConfigurationEndPointAddress}:${redis.attrConfigurationEndPointPort}`,
    ),
  });
  return {
    environment: { REDIS_CLUSTER: 'true', QUEUE_PREFIX: CLUSTER_QUEUE_PREFIX },
    secrets: { REDIS_URL: ecs.Secret.fromSecretsManager(url) },
  };
}

/**
 * An ElastiCache user or user group id from the stack name: unique in the account and region like the
 * stack, and within ElastiCache's rules (lowercase letters, digits and single hyphens, starting with a
 * letter, at most 40 characters).
 */
function elastiCacheId(stack: Stack, suffix: string): string {
  const base = stack.stackName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '');
  const head = (base || 'dcr').slice(0, 40 - suffix.length - 1).replace(/-+$/, '');
  return `${head}-${suffix}`;
}
