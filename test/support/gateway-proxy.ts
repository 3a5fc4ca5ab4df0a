// A gateway in front of a real authorization server (the sandbox's oidc-provider) that loses answers
// the way real gateways and networks do, which no real server produces on demand. Per request the rule
// says: pass it through; cut the connection before forwarding (the server never saw it) or answer 503
// before forwarding; or forward it and then lose the answer — a 502 or 504 in its place, or the
// connection cut (the server acted, the client cannot know).

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface GatewayRequest {
  method: string;
  path: string;
  /** Requests with this method and path before this one. */
  seen: number;
}

/**
 * `pass`: the server's own answer. Before forwarding: `reset` (connection cut), `503`. After the server
 * acted: `502`, `504` (a gateway error instead of its answer), `lose-answer` (connection cut).
 */
export type GatewayAnswer = 'pass' | 'reset' | 503 | 502 | 504 | 'lose-answer';

export interface GatewayProxyOptions {
  /**
   * Rewrites the target's origin to the gateway's in answers (discovery documents, registration client
   * URIs), so that every later request goes through the gateway too. @defaultValue false
   */
  rewriteOrigin?: boolean;
}

export interface GatewayProxy {
  /** `http://127.0.0.1:<port>`; a path on it reaches the same path on the target. */
  readonly origin: string;
  url(path: string): string;
  setRule(rule: (request: GatewayRequest) => GatewayAnswer): void;
  /** Every request, with what the client got (the status, or the fault). */
  readonly log: Array<{ method: string; path: string; answered: number | string }>;
  close(): Promise<void>;
}

export async function startGatewayProxy(
  target: string,
  options: GatewayProxyOptions = {},
): Promise<GatewayProxy> {
  const upstream = new URL(target);
  const seen = new Map<string, number>();
  const sockets = new Set<Socket>();
  const log: GatewayProxy['log'] = [];
  let rule: (request: GatewayRequest) => GatewayAnswer = () => 'pass';
  let origin = '';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
      const method = req.method ?? 'GET';
      const key = `${method} ${path}`;
      const answer = rule({ method, path, seen: seen.get(key) ?? 0 });
      seen.set(key, (seen.get(key) ?? 0) + 1);
      log.push({ method, path, answered: answer === 'pass' ? 0 : answer });
      if (answer === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      if (answer === 503) {
        res.writeHead(503, { 'content-type': 'text/html' });
        res.end('<html><body>503 Service Unavailable</body></html>');
        return;
      }
      const forwarded = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method,
          path: req.url,
          // Uncompressed, so that answers can be read and rewritten.
          headers: { ...req.headers, host: upstream.host, 'accept-encoding': 'identity' },
        },
        (response) => {
          const body: Buffer[] = [];
          response.on('data', (chunk: Buffer) => body.push(chunk));
          response.on('end', () => {
            // The server has answered: whatever it did is done. Now the client may not hear of it.
            if (answer === 'lose-answer') {
              req.socket.resetAndDestroy();
              return;
            }
            if (answer === 502 || answer === 504) {
              res.writeHead(answer, { 'content-type': 'text/html' });
              res.end(`<html><body>${answer} Gateway error</body></html>`);
              return;
            }
            let text = Buffer.concat(body).toString('utf8');
            if (options.rewriteOrigin) text = text.split(upstream.origin).join(origin);
            const { 'transfer-encoding': _chunked, ...kept } = response.headers;
            const headers = { ...kept, 'content-length': String(Buffer.byteLength(text)) };
            const entry = log.at(-1);
            if (entry) entry.answered = response.statusCode ?? 0;
            res.writeHead(response.statusCode ?? 502, headers);
            res.end(text);
          });
        },
      );
      forwarded.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      forwarded.end(Buffer.concat(chunks));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
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
