// A server over a test pipeline (its own queue prefix on the shared Redis and moto), with helpers to
// call it through `inject` with or without credentials.

import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
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
