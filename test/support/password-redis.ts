// A private redis-server on a free port that admits only an ACL user with a password, for tests that
// check a credential in REDIS_URL never reaches a log line: against a Redis without a password such a
// check has nothing to find. Stopped by its own PID.

import { spawn } from 'node:child_process';
import { freePort, redisAnswers } from '../../src/demo/local-redis.js';

export const REDIS_USER = 'dcr-worker';
export const REDIS_PASSWORD = 's3cr3t-pass-7d41c9';
/** A user with every permission, for a test to inspect the server (ACL LOG) beside the service's user. */
const ADMIN_USER = 'test-admin';
const ADMIN_PASSWORD = 'admin-pass-0b7e52';

export interface PasswordRedis {
  /** `redis://dcr-worker:<password>@127.0.0.1:<port>`. */
  url: string;
  /** The same server without the credentials, which it refuses. */
  urlWithoutCredentials: string;
  /** The admin user's URL (all permissions). */
  adminUrl: string;
  stop(): Promise<void>;
}

/** `permissions`: the service user's ACL rules after `on >password`. @defaultValue every key and command */
export async function startPasswordRedis(
  permissions: readonly string[] = ['~*', '&*', '+@all'],
): Promise<PasswordRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      // The default user is switched off, so nothing gets in without the password.
      ...['--user', 'default', 'off'],
      ...['--user', REDIS_USER, 'on', `>${REDIS_PASSWORD}`, ...permissions],
      ...['--user', ADMIN_USER, 'on', `>${ADMIN_PASSWORD}`, '~*', '&*', '+@all'],
    ],
    { stdio: 'ignore' },
  );
  let failed: Error | undefined;
  child.once('error', (err) => {
    failed = err;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://${REDIS_USER}:${REDIS_PASSWORD}@127.0.0.1:${port}`;
  const adminUrl = `redis://${ADMIN_USER}:${ADMIN_PASSWORD}@127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(adminUrl))) {
    if (failed || child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(
        `redis-server with a password did not answer (${failed?.message ?? 'not within 10 s'}); is redis-server installed?`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, urlWithoutCredentials: `redis://127.0.0.1:${port}`, adminUrl, stop };
}
