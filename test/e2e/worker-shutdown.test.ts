// The worker process as deployed: started from its entry point with configuration from the
// environment, stopped with SIGTERM, exits 0.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';

const entry = path.resolve(import.meta.dirname, '../../workers/registration-worker.ts');

describe('registration worker process', () => {
  it('exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      env: {
        ...process.env,
        REDIS_URL: inject('redisUrl'),
        QUEUE_PREFIX: `${inject('redisPrefix')}-shutdown`,
        SECRETS_FILE_DIR: path.join(inject('redisPrefix'), 'unused'),
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    // Ready once BullMQ has registered the worker in Redis.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(child.exitCode, stderr).toBeNull();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses to start with invalid configuration, naming the variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      env: { ...process.env, WORKER_CONCURRENCY: 'many' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(stderr).toContain('WORKER_CONCURRENCY must be a whole number');
  });
});
