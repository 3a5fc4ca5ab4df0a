// The deployment's knobs, read from CDK context (`cdk synth -c imageUri=...` or cdk.json) and checked
// before anything is built, so a wrong value fails synth with the context key's name.

import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/** Everything the stack needs to know that is not fixed by the service's contract. */
export interface DeploymentSettings {
  /** The service image built from the repository's Dockerfile (ECR or any registry), tag or digest. */
  imageUri: string;
  /**
   * SECRET_NAME_PREFIX: every secret the service writes starts with it, and the IAM policy is scoped
   * to it. Must not be empty (an empty prefix would scope the policy to every secret in the account).
   * @defaultValue `dcr/`
   */
  secretNamePrefix: string;
  /** ACM certificate for the API's HTTPS listener. Without it the ALB listens on plain HTTP (port 80). */
  certificateArn: string | undefined;
  /** Put the ALB on public subnets. @defaultValue false (internal: reachable from the VPC only) */
  internetFacing: boolean;
  /**
   * Who may connect to the ALB.
   * @defaultValue the VPC's CIDR when internal, `0.0.0.0/0` when internet-facing
   */
  ingressCidr: string | undefined;
  /** @defaultValue `10.40.0.0/16` */
  vpcCidr: string;
  /** NAT gateways for the tasks' outbound traffic (SMART servers, AWS APIs). @defaultValue 1 */
  natGateways: number;
  /** @defaultValue 2 */
  apiTasks: number;
  /** Worker task count bounds (at least 1: the worker runs the scheduler). @defaultValue 1 and 10 */
  workerMinTasks: number;
  workerMaxTasks: number;
  /** WORKER_CONCURRENCY per worker task. @defaultValue 16 */
  workerConcurrency: number;
  /** @defaultValue `cache.t4g.small` */
  redisNodeType: string;
  /**
   * Run ElastiCache with cluster mode enabled (shards, an ACL user, REDIS_CLUSTER=true) instead of one
   * primary with a replica. @defaultValue false
   */
  redisClusterMode: boolean;
  /** Shards (node groups) in cluster mode; ignored otherwise. @defaultValue 3 */
  redisShards: number;
  /** Replicas per shard in cluster mode, 0 to 5; ignored otherwise. @defaultValue 1 */
  redisReplicasPerShard: number;
  /** Days CloudWatch keeps the containers' logs (one of CloudWatch's fixed periods). @defaultValue 30 */
  logRetentionDays: RetentionDays;
}

/** Reads a context value; the CDK gives strings for `-c key=value` and JSON values from cdk.json. */
export type ContextReader = (key: string) => unknown;

const SECRET_NAME_PREFIX = /^[A-Za-z0-9/_+=.@-]{1,256}$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(key: string, problem: string) {
    super(`context value ${key} ${problem}`);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export function settingsFromContext(read: ContextReader): DeploymentSettings {
  const text = (key: string): string | undefined => {
    const value = read(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new SettingsError(key, 'must be a string');
    return value.trim();
  };
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const value = read(key);
    if (value === undefined || value === null || value === '') return fallback;
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new SettingsError(key, `must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = read(key);
    if (value === undefined || value === null || value === '') return fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new SettingsError(key, 'must be true or false');
  };

  const imageUri = text('imageUri');
  if (imageUri === undefined) {
    throw new SettingsError(
      'imageUri',
      'is required: the image built from the Dockerfile, e.g. -c imageUri=123456789012.dkr.ecr.eu-west-1.amazonaws.com/dcr-provisioner:0.1.0',
    );
  }
  const secretNamePrefix = text('secretNamePrefix') ?? 'dcr/';
  if (!SECRET_NAME_PREFIX.test(secretNamePrefix)) {
    throw new SettingsError(
      'secretNamePrefix',
      'must be 1-256 characters of A-Za-z0-9/_+=.@- (an empty prefix would grant access to every secret)',
    );
  }
  const certificateArn = text('certificateArn');
  if (certificateArn !== undefined && !/^arn:aws[a-z-]*:acm:/.test(certificateArn)) {
    throw new SettingsError('certificateArn', 'must be an ACM certificate ARN (arn:aws:acm:...)');
  }
  const ingressCidr = text('ingressCidr');
  if (ingressCidr !== undefined && !CIDR.test(ingressCidr)) {
    throw new SettingsError('ingressCidr', 'must be an IPv4 CIDR such as 10.0.0.0/8');
  }
  const vpcCidr = text('vpcCidr') ?? '10.40.0.0/16';
  if (!CIDR.test(vpcCidr)) throw new SettingsError('vpcCidr', 'must be an IPv4 CIDR such as 10.40.0.0/16');

  // At least one: the worker also runs the scheduler.
  const workerMinTasks = integer('workerMinTasks', 1, 1, 100);
  const workerMaxTasks = integer('workerMaxTasks', 10, 1, 100);
  if (workerMaxTasks < workerMinTasks) {
    throw new SettingsError('workerMaxTasks', 'must be at least workerMinTasks');
  }
  return {
    imageUri,
    secretNamePrefix,
    certificateArn,
    internetFacing: flag('internetFacing', false),
    ingressCidr,
    vpcCidr,
    natGateways: integer('natGateways', 1, 1, 2),
    apiTasks: integer('apiTasks', 2, 1, 20),
    workerMinTasks,
    workerMaxTasks,
    workerConcurrency: integer('workerConcurrency', 16, 1, 1000),
    redisNodeType: text('redisNodeType') ?? 'cache.t4g.small',
    redisClusterMode: flag('redisClusterMode', false),
    // ElastiCache's own bounds: up to 500 shards, 0 to 5 replicas each.
    redisShards: integer('redisShards', 3, 1, 500),
    redisReplicasPerShard: integer('redisReplicasPerShard', 1, 0, 5),
    logRetentionDays: retention(integer('logRetentionDays', 30, 1, 3653)),
  };
}

const RETENTION_PERIODS = Object.values(RetentionDays).filter(
  (days): days is RetentionDays => typeof days === 'number' && days !== RetentionDays.INFINITE,
);

function retention(days: number): RetentionDays {
  const period = RETENTION_PERIODS.find((p) => p === days);
  if (period === undefined) {
    throw new SettingsError('logRetentionDays', `must be one of ${RETENTION_PERIODS.join(', ')}`);
  }
  return period;
}
