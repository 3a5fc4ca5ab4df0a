// Listens, and stops gracefully: no new connections, requests already running finish, and whatever is
// still open when the deadline passes is cut so shutdown never hangs on a slow client.

import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface ListenOptions {
  /** HTTP_HOST */
  host: string;
  /** HTTP_PORT; 0 picks a free port. */
  port: number;
  /** How long close() lets in-flight requests run before cutting connections. @defaultValue 10000 */
  shutdownDeadlineMs?: number;
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:3000`, the port actually bound. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Idempotent; resolves once the server and its plugins are closed. */
  close(): Promise<void>;
}

export async function startServer(app: FastifyInstance, options: ListenOptions): Promise<RunningServer> {
  await app.listen({ host: options.host, port: options.port });
  const { address, port, family } = app.server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  const deadlineMs = options.shutdownDeadlineMs ?? 10_000;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    host: address,
    port,
    close() {
      closing ??= (async () => {
        // app.close() stops listening, answers 503 to new requests on kept-alive connections, closes
        // the connections idle at that moment and waits for the others. A keep-alive connection whose
        // request finishes later would hold close() until the client hangs up, hence the sweep; the
        // deadline cuts requests that run too long.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
        const deadline = setTimeout(() => app.server.closeAllConnections(), deadlineMs);
        sweep.unref();
        deadline.unref();
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
          clearTimeout(deadline);
        }
      })();
      return closing;
    },
  };
}
