// A moto_server of the benchmark's own, on a free loopback port: our Secrets Manager. Its data lives in
// its memory and goes with it.
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../src/demo/local-redis.js';
import { sleep, stopChild } from './common.js';

export interface Moto {
  endpoint: string;
  child: ChildProcess;
  close(): Promise<void>;
}

export async function startMoto(timeoutMs = 30_000): Promise<Moto> {
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  // A benchmark that dies on an exception must not leave its moto behind.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error('moto_server exited; is it on PATH?');
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (response.status < 500) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
  return {
    endpoint,
    child,
    close: async () => {
      await stopChild(child, 5000);
      process.off('exit', kill);
    },
  };
}
