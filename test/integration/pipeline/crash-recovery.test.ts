// Nothing lost, nothing registered twice: a worker killed mid-job. (Secret store faults: unknown-outcomes.test.ts.)

import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publicAppMetadata } from '../../../src/dcr/index.js';
import { registrationSecretName } from '../../../src/secrets/index.js';
import { type SmartServer, startSmartServer } from '../../fixtures/smart-server.js';
import { type Pipeline, pipelineEnv, startPipeline } from './harness.js';

const metadata = publicAppMetadata({ clientName: 'Crash test', redirectUris: ['https://app.example/cb'] });
const servers: Array<{ close(): Promise<void> }> = [];
let child: ChildProcess | undefined;

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function nextMessage(process: ChildProcess, expected: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.on('message', (message) => message === expected && resolve());
    process.once('exit', (code) => reject(new Error(`worker process exited (${code}) before "${expected}"`)));
  });
}

describe('crash recovery', () => {
  let pipeline: Pipeline;
  let smart: SmartServer;
  beforeAll(async () => {
    pipeline = await startPipeline('crash');
  });
  afterAll(() => pipeline.close());

  it('completes a job whose worker was SIGKILLed after storing the secret, without a second POST', async () => {
    smart = await startSmartServer();
    servers.push(smart);
    child = fork(path.resolve(import.meta.dirname, '../../support/worker-process.ts'), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...pipelineEnv('crash') },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await nextMessage(child, 'ready');
    const written = nextMessage(child, 'secret-written');
    const result = await pipeline.producer.enqueue({
      tenantId: 'crashy',
      fhirBaseUrl: smart.fhirBaseUrl,
      clientMetadata: metadata,
    });
    await written;
    child.kill('SIGKILL');
    expect(smart.stats.registrationPosts).toBe(1);

    await pipeline.startWorker({ workerOptions: { stalledInterval: 250 } });
    const job = await pipeline.waitForJob((result as { jobId: string }).jobId, 20_000);
    expect(job.state).toBe('completed');
    expect(smart.stats.registrationPosts).toBe(1);
    expect(smart.stats.liveClientCount()).toBe(1);
    const secretId = registrationSecretName(pipeline.config.SECRET_NAME_PREFIX, 'crashy', smart.fhirBaseUrl);
    const stored = JSON.parse((await pipeline.secretStore.readCurrent(secretId))?.value ?? '{}');
    expect(job.returnvalue).toMatchObject({ clientId: stored.client_id, secretId });
    expect(job.returnvalue?.possibleOrphan).toBeUndefined();
    const events = (await pipeline.events()).filter((e) => e.data.tenantId === 'crashy');
    expect(events.map((e) => e.type)).toEqual(['client.registered']);
  });
});
