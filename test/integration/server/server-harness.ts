// A server over a test pipeline (its own queue prefix on the shared Redis and moto), with helpers to
// call it through `inject` with or without credentials.

import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
import { inject } from 'vitest';
import { initialAccessTokenSecretName } from '../../../src/secrets/index.js';
import { buildServer, type ServerOptions } from '../../../src/server/index.js';
import type { Pipeline } from '../pipeline/harness.js';

/** The API token of every server test; 16+ characters as configuration demands. */
export const TEST_TOKEN = 'test-api-token-0123456789abcdef';

export const bearer = (token = TEST_TOKEN) => ({ authorization: `Bearer ${token}` });
export const basic = (password = TEST_TOKEN, user = 'sre') => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** A metrics source with one series, standing in for the observability registry. */
export function testMetrics(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'dcr-provisioner-test' });
  return registry;
}

export async function serverFor(
  pipeline: Pipeline,
  overrides: Partial<ServerOptions> = {},
): Promise<FastifyInstance> {
  return buildServer({
    config: pipeline.config,
    producer: pipeline.producer,
    status: pipeline,
    redis: pipeline.redis,
    logger: false,
    ...overrides,
  });
}

/** `inject` with the bearer token unless headers say otherwise. */
export function call(app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject({ ...options, headers: { ...bearer(), ...options.headers } });
}

/**
 * Leaves the secret for a tenant's initial access token scheduled for deletion, which Secrets Manager
 * refuses to write. moto would accept the PutSecretValue; the AWS adapter reads the secret's state
 * first and refuses it as AWS does, so this is a refusal of the real store part. Returns its name.
 */
export async function scheduleTokenSecretDeletion(
  pipeline: Pipeline,
  tenantId: string,
  fhirBaseUrl: string,
): Promise<string> {
  const name = initialAccessTokenSecretName(pipeline.config.SECRET_NAME_PREFIX, tenantId, fhirBaseUrl);
  await pipeline.secretStore.write({
    name,
    value: 'an-earlier-token',
    clientRequestToken: `earlier-${tenantId}`.padEnd(32, '0'),
  });
  const client = new SecretsManagerClient({
    region: 'us-east-1',
    endpoint: inject('awsEndpoint'),
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
  } finally {
    client.destroy();
  }
  return name;
}
