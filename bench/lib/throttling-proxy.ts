// Secrets Manager's write quota in front of moto: an HTTP proxy on 127.0.0.1 that answers a write call
// (X-Amz-Target CreateSecret or PutSecretValue) as AWS does when the account is over its rate — HTTP 400,
// {"__type":"ThrottlingException","message":"Rate exceeded"} — once `perSecond` writes were let through in
// the last 1,000 ms (a sliding window: the strictest reading of "50 per second"). Every other call passes.
// It records when each write arrived, so a run can tell how many the fleet offered in any second.
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const WRITE_TARGETS: ReadonlySet<string> = new Set([
  'secretsmanager.CreateSecret',
  'secretsmanager.PutSecretValue',
]);

export interface ProxyStats {
  /** Write calls let through to moto. */
  writesPassed: number;
  /** Write calls answered with ThrottlingException. */
  writesThrottled: number;
  /** Other calls (DescribeSecret, GetSecretValue, ...), all let through. */
  otherCalls: number;
  /** The most write calls that arrived (passed or not) within any 1,000 ms. */
  maxOfferedPerSecond: number;
  /** The most write calls let through within any 1,000 ms (at most `perSecond`). */
  maxPassedPerSecond: number;
  /** Milliseconds from the first write let through to the last. */
  writeSpanMs: number;
}

export interface ThrottlingProxy {
  url: string;
  stats(): ProxyStats;
  close(): Promise<void>;
}

/** Counts arrivals in the sliding 1,000 ms that ends at each new one. */
class SlidingSecond {
  readonly #times: number[] = [];
  #head = 0;
  max = 0;

  get total(): number {
    return this.#times.length;
  }

  /** How many arrived in (now - 1000, now], this one excluded. */
  countBefore(now: number): number {
    while (this.#head < this.#times.length && (this.#times[this.#head] as number) <= now - 1000) this.#head++;
    return this.#times.length - this.#head;
  }

  add(now: number): void {
    this.#times.push(now);
    this.max = Math.max(this.max, this.countBefore(now));
  }
}

export async function startThrottlingProxy(options: {
  target: string;
  perSecond: number;
}): Promise<ThrottlingProxy> {
  const target = new URL(options.target);
  const agent = new http.Agent({ keepAlive: true });
  const offered = new SlidingSecond();
  const passed = new SlidingSecond();
  let writesThrottled = 0;
  let otherCalls = 0;
  let firstPassed: number | undefined;
  let lastPassed = 0;

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };

  const server = http.createServer((req, res) => {
    const amzTarget = String(req.headers['x-amz-target'] ?? '');
    if (!WRITE_TARGETS.has(amzTarget)) {
      otherCalls++;
      forward(req, res);
      return;
    }
    const now = performance.now();
    offered.add(now);
    if (passed.countBefore(now) >= options.perSecond) {
      writesThrottled++;
      const body = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });
      req.resume();
      res.writeHead(400, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(body),
        'x-amzn-requestid': randomUUID(),
      });
      res.end(body);
      return;
    }
    passed.add(now);
    firstPassed ??= now;
    lastPassed = now;
    forward(req, res);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({
      writesPassed: passed.total,
      writesThrottled,
      otherCalls,
      maxOfferedPerSecond: offered.max,
      maxPassedPerSecond: passed.max,
      writeSpanMs: firstPassed === undefined ? 0 : Math.round(lastPassed - firstPassed),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
