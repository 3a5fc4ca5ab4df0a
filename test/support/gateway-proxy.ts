// A gateway in front of a real authorization server (the sandbox's oidc-provider) that can lose
// answers: each request is forwarded, and the rule may replace the server's answer with a gateway error
// (502, 504) after the server has acted on it — the case no real server produces on demand.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface GatewayRequest {
  method: string;
  path: string;
  /** Requests with this method and path before this one. */
  seen: number;
}

/** `pass`: the server's own answer; a status: the server acted, the client gets this instead. */
export type GatewayAnswer = 'pass' | 502 | 504;

export interface GatewayProxy {
  /** `http://127.0.0.1:<port>`; a path on it reaches the same path on the target. */
  url(path: string): string;
  setRule(rule: (request: GatewayRequest) => GatewayAnswer): void;
  /** Every request forwarded, with what the client got. */
  readonly log: Array<{ method: string; path: string; answered: number }>;
  close(): Promise<void>;
}

export async function startGatewayProxy(target: string): Promise<GatewayProxy> {
  const upstream = new URL(target);
  const seen = new Map<string, number>();
  const sockets = new Set<Socket>();
  const log: GatewayProxy['log'] = [];
  let rule: (request: GatewayRequest) => GatewayAnswer = () => 'pass';

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
    const method = req.method ?? 'GET';
    const key = `${method} ${path}`;
    const answer = rule({ method, path, seen: seen.get(key) ?? 0 });
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const forwarded = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (response) => {
        if (answer === 'pass') {
          log.push({ method, path, answered: response.statusCode ?? 0 });
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(res);
          return;
        }
        // The server has answered: whatever it did is done. The client hears only the gateway.
        response.resume();
        log.push({ method, path, answered: answer });
        res.writeHead(answer, { 'content-type': 'text/html' });
        res.end(`<html><body>${answer} Gateway error</body></html>`);
      },
    );
    forwarded.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forwarded);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    setRule(next) {
      rule = next;
    },
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
