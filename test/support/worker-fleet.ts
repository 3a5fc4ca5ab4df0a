// Registration workers as child processes (test/support/plain-worker-process.ts), configured from the
// environment as in production, so a test can run a fleet, SIGKILL one and start another.

import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';

const WORKER_ENTRY = path.resolve(import.meta.dirname, 'plain-worker-process.ts');

export interface ForkOptions {
  /** Receives the worker's JSON log lines. */
  logs?: string[];
  /** Shows the worker's stderr (for debugging a failing run). @defaultValue false */
  stderr?: boolean;
}

/** A worker process that has connected and reported ready. */
export function forkWorker(env: Record<string, string>, options: ForkOptions = {}): Promise<ChildProcess> {
  const child = fork(WORKER_ENTRY, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', options.stderr ? 'inherit' : 'ignore', 'ipc'],
  });
  child.on('message', (message) => {
    if (typeof message === 'object' && message !== null && 'log' in message)
      options.logs?.push(String((message as { log: unknown }).log));
  });
  return new Promise((resolve, reject) => {
    child.on('message', (message) => message === 'ready' && resolve(child));
    child.once('exit', (code, signal) =>
      reject(new Error(`worker exited (${code ?? signal}) before it was ready`)),
    );
  });
}

/** Sends a signal and waits for the process to end (at once when it already has). */
export function stopWorker(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  return exited;
}
