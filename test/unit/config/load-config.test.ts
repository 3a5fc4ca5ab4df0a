import { describe, expect, it } from 'vitest';
import { loadConfig, redisUrls } from '../../../src/config/index.js';
import { configProblems as problemsOf } from '../../support/config-problems.js';

describe('config/loadConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: 'dcr',
      SECRETS_BACKEND: 'file',
      SECRETS_FILE_DIR: './.data/secrets',
      SECRET_NAME_PREFIX: 'dcr/',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: 3000,
      WORKER_CONCURRENCY: 16,
      JOB_ATTEMPTS: 8,
      BACKOFF_BASE_MS: 2000,
      BACKOFF_MAX_MS: 900000,
      HTTP_TIMEOUT_MS: 10000,
      DISCOVERY_CACHE_TTL_S: 3600,
      ALLOW_INSECURE_LOCALHOST: false,
      ALLOWED_PRIVATE_HOSTS: [],
      LOG_LEVEL: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses numbers, booleans and host lists', () => {
    const config = loadConfig({
      HTTP_PORT: '8080',
      ALLOW_INSECURE_LOCALHOST: 'true',
      ALLOWED_PRIVATE_HOSTS: 'EHR.internal, fhir.lan',
      QUEUE_PREFIX: '{dcr}',
    });
    expect(config.HTTP_PORT).toBe(8080);
    expect(config.ALLOW_INSECURE_LOCALHOST).toBe(true);
    expect(config.ALLOWED_PRIVATE_HOSTS).toEqual(['ehr.internal', 'fhir.lan']);
    expect(config.QUEUE_PREFIX).toBe('{dcr}');
  });

  it('names every bad variable and its rule at once', () => {
    const message = problemsOf({ HTTP_PORT: 'eighty', WORKER_CONCURRENCY: '0', SECRETS_BACKEND: 'vault' });
    expect(message).toContain('HTTP_PORT must be a whole number from 0 to 65535 (got "eighty")');
    expect(message).toContain('WORKER_CONCURRENCY must be at least 1');
    expect(message).toContain('SECRETS_BACKEND must be file or aws');
  });

  it('requires API_TOKEN when the server listens beyond loopback, without echoing a token', () => {
    expect(problemsOf({ HTTP_HOST: '0.0.0.0' })).toContain('API_TOKEN is required when HTTP_HOST');
    const message = problemsOf({ API_TOKEN: 'short-secret' });
    expect(message).toContain('API_TOKEN must be at least 16 characters');
    expect(message).not.toContain('short-secret');
    expect(loadConfig({ HTTP_HOST: '0.0.0.0', API_TOKEN: 'a'.repeat(32) }).HTTP_HOST).toBe('0.0.0.0');
  });

  it('reads rotation durations with their units and checks the sweep schedule as BullMQ would', () => {
    const config = loadConfig({
      ROTATE_BEFORE_EXPIRY: '36h',
      ROTATION_GRACE: '90',
      ROTATION_SWEEP_CRON: '*/5 * * * *',
    });
    expect(config.ROTATE_BEFORE_EXPIRY).toBe(36 * 3600);
    expect(config.ROTATION_GRACE).toBe(90);
    expect(config.ROTATION_SWEEP_CRON).toBe('*/5 * * * *');
    expect(loadConfig({ ROTATE_BEFORE_EXPIRY: '1.5d' }).ROTATE_BEFORE_EXPIRY).toBe(129_600);
    expect(loadConfig({ ROTATE_BEFORE_EXPIRY: 'P7D' }).ROTATE_BEFORE_EXPIRY).toBe(7 * 86_400);
    expect(loadConfig({ ROTATION_GRACE: 'PT1H30M' }).ROTATION_GRACE).toBe(5400);
    expect(problemsOf({ ROTATION_GRACE: 'PT' })).toContain('ROTATION_GRACE must be a duration');
    expect(loadConfig({}).ROTATE_BEFORE_EXPIRY).toBe(7 * 86_400);

    const message = problemsOf({
      ROTATE_BEFORE_EXPIRY: 'a week',
      ROTATION_GRACE: '100d',
      ROTATION_SWEEP_CRON: '61 * * * *',
    });
    expect(message).toContain('ROTATE_BEFORE_EXPIRY must be a duration such as 7d, 24h, 30m, 45s or P7D');
    expect(message).toContain(
      'ROTATION_GRACE must be a duration such as 7d, 24h, 30m, 45s or P7D (at most 90 days)',
    );
    expect(message).toMatch(/ROTATION_SWEEP_CRON must be a cron pattern such as "0 \* \* \* \*" \(.*61/);
  });

  it('refuses a backoff ceiling below its base', () => {
    expect(problemsOf({ BACKOFF_BASE_MS: '5000', BACKOFF_MAX_MS: '1000' })).toContain(
      'BACKOFF_MAX_MS must be at least BACKOFF_BASE_MS',
    );
  });
});

describe('config/loadConfig errors', () => {
  it('never echoes the password of a URL it refuses', () => {
    const message = problemsOf({ REDIS_URL: 'valkey://:Sup3rSecretPw@cache.internal:6379' });
    expect(message).toContain('REDIS_URL');
    expect(message).not.toContain('Sup3rSecretPw');
  });
});

describe('config/loadConfig on Redis Cluster', () => {
  const seeds = 'rediss://svc:pw-one@node-1.cache:6379, rediss://svc:pw-two@node-2.cache:6379';

  it('takes a comma-separated seed list and a hash-tagged prefix with REDIS_CLUSTER=true', () => {
    const config = loadConfig({ REDIS_CLUSTER: 'true', REDIS_URL: seeds, QUEUE_PREFIX: '{dcr}' });
    expect(config.REDIS_CLUSTER).toBe(true);
    expect(redisUrls(config)).toEqual([
      'rediss://svc:pw-one@node-1.cache:6379',
      'rediss://svc:pw-two@node-2.cache:6379',
    ]);
  });

  it('stays standalone by default', () => {
    expect(loadConfig({}).REDIS_CLUSTER).toBe(false);
  });

  it('refuses a prefix without a hash tag, naming QUEUE_PREFIX and the fix', () => {
    const message = problemsOf({ REDIS_CLUSTER: 'true', REDIS_URL: seeds, QUEUE_PREFIX: 'dcr' });
    expect(message).toMatch(/QUEUE_PREFIX must be a hash tag such as \{name\} when REDIS_CLUSTER=true/);
    expect(message).not.toMatch(/pw-one|pw-two/);
  });

  it('refuses a prefix with the tag not around the whole prefix', () => {
    expect(problemsOf({ REDIS_CLUSTER: 'true', REDIS_URL: seeds, QUEUE_PREFIX: 'dcr-{a}' })).toContain(
      'QUEUE_PREFIX',
    );
  });

  it('refuses several URLs without REDIS_CLUSTER, masking every password', () => {
    const message = problemsOf({ REDIS_URL: seeds });
    expect(message).toContain('REDIS_URL lists several URLs: set REDIS_CLUSTER=true');
    expect(message).not.toMatch(/pw-one|pw-two/);
    expect(message).toContain('rediss://***@node-1.cache:6379');
    expect(message).toContain('rediss://***@node-2.cache:6379');
  });

  it('names the bad entry of a seed list', () => {
    const message = problemsOf({
      REDIS_CLUSTER: 'true',
      REDIS_URL: 'redis://a:1@node-1:6379,http://b:secret-b@node-2:6379',
      QUEUE_PREFIX: '{dcr}',
    });
    expect(message).toContain(
      'REDIS_URL must be a comma-separated list of redis or rediss URLs (entry 2 of the list)',
    );
    expect(message).not.toContain('secret-b');
  });

  it('refuses a standalone URL without a host', () => {
    expect(problemsOf({ REDIS_URL: 'redis://' })).toContain(
      'REDIS_URL must be an absolute redis or rediss URL',
    );
  });
});
