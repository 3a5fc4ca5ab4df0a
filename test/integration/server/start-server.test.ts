// Listening and stopping: close() stops accepting at once, lets running requests finish, and cuts what
// is still running at the deadline so a shutdown never hangs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnqueueResult, RotationEnqueueResult } from '../../../src/queue/index.js';
import { buildServer, startServer } from '../../../src/server/index.js';
import { type Pipeline, startPipeline } from '../pipeline/harness.js';
import { bearer, TEST_TOKEN } from './server-harness.js';

let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = await startPipeline('server-start', { API_TOKEN: TEST_TOKEN });
});
afterAll(async () => {
  await pipeline.close();
});

/** A producer that answers only when the test says so. */
function gatedProducer() {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let entered: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const producer = {
    async enqueue(): Promise<EnqueueResult> {
      entered();
      await gate;
      return { status: 'queued', jobId: 'gated-job' };
    },
    async enqueueMany(): Promise<EnqueueResult[]> {
      return [];
    },
    async enqueueRotation(): Promise<RotationEnqueueResult> {
      return { status: 'queued', jobId: 'rotation-job' };
    },
  };
  return { producer, open, started };
}

/**
 * The server, and how often its shutdown deadline cut connections: the only caller of
 * `closeAllConnections`, so a count says whether close() finished by itself or was cut.
 */
async function serve(producer: ReturnType<typeof gatedProducer>['producer'], shutdownDeadlineMs?: number) {
  const app = await buildServer({
    config: pipeline.config,
    producer,
    status: pipeline,
    redis: pipeline.redis,
    logger: false,
    dependencyTimeoutMs: 60_000,
  });
  const cuts = { count: 0 };
  const closeAll = app.server.closeAllConnections.bind(app.server);
  app.server.closeAllConnections = () => {
    cuts.count += 1;
    closeAll();
  };
  const running = await startServer(app, {
    host: '127.0.0.1',
    port: 0,
    ...(shutdownDeadlineMs ? { shutdownDeadlineMs } : {}),
  });
  return Object.assign(running, { cuts });
}

const enqueue = (url: string) =>
  fetch(`${url}/v1/registrations`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json' },
    body: '{}',
  });

describe('startServer', () => {
  it('listens on the port it was given, or a free one for 0, and reports its URL', async () => {
    const running = await serve(gatedProducer().producer);
    try {
      expect(running.port).toBeGreaterThan(0);
      expect(running.url).toBe(`http://127.0.0.1:${running.port}`);
      const res = await fetch(`${running.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    } finally {
      await running.close();
    }
  });

  it('on close stops accepting connections and lets a running request finish', async () => {
    const { producer, open, started } = gatedProducer();
    // A deadline the test would otherwise wait out, but shorter than the test's own timeout.
    const running = await serve(producer, 15_000);
    const inFlight = enqueue(running.url);
    await started;
    const closed = running.close();
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    open();
    const res = await inFlight;
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ jobId: 'gated-job', status: 'queued' });
    await closed;
    // The finished request's kept-alive connection did not hold the shutdown until the deadline cut it.
    expect(running.cuts.count, 'connections cut by the shutdown deadline').toBe(0);
    // Idempotent: a second signal does not throw or hang.
    await running.close();
  });

  it('cuts a request still running at the deadline, so close() returns in time', async () => {
    const { producer, open, started } = gatedProducer();
    const running = await serve(producer, 300);
    const inFlight = enqueue(running.url).then(
      (res) => res.status,
      (err: Error) => err.name,
    );
    await started;
    // close() returns while the request is still held (the gate opens only afterwards): the deadline cut it.
    await running.close();
    expect(running.cuts.count).toBe(1);
    expect(await inFlight).toBe('TypeError'); // fetch failed: the socket was closed under it
    open();
  });
});
