// Faults Secrets Manager produces and moto will not: an HTTP proxy on loopback in front of moto that
// answers each call as the test's rule says — pass it through, throttle it (AWS's 400
// ThrottlingException), fail it (500 InternalServiceError), reset the connection before forwarding
// (the call never reached the store), or forward it and then reset the connection (the call landed and
// its answer was lost), or hold it unanswered and unforwarded (the caller waits, as for a store that
// never replies, until it or the proxy gives up). It counts what it did per operation, and keeps every
// call in the order it arrived, with the secret it names.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does with one call. */
export type SecretsFault = 'pass' | 'throttle' | 'fail' | 'reset' | 'lose-answer' | 'hang';

/** One call as the rule sees it: the operation (`PutSecretValue`, ...) and how many came before it. */
export interface SecretsCall {
  operation: string;
  /** Calls of this operation before this one. */
  seen: number;
  isWrite: boolean;
  /** The secret the call names (`Name` or `SecretId` of its body), if any. */
  secretId?: string;
}

/** One call as it arrived, and what the proxy did with it. */
export interface ArrivedCall extends SecretsCall {
  fault: SecretsFault;
}

export interface SecretsFaultProxy {
  /** The endpoint to give the SDK (AWS_ENDPOINT_URL_SECRETS_MANAGER). */
  url: string;
  /** Replaces the rule; the default passes everything. */
  setRule(rule: (call: SecretsCall) => SecretsFault): void;
  /** How often each fault was applied to each operation, e.g. `counts['PutSecretValue:lose-answer']`. */
  readonly counts: Record<string, number>;
  /** Every call, in the order it arrived. */
  readonly calls: readonly ArrivedCall[];
  close(): Promise<void>;
}

const WRITES: ReadonlySet<string> = new Set(['CreateSecret', 'PutSecretValue']);

export async function startSecretsFaultProxy(target: string): Promise<SecretsFaultProxy> {
  const upstreamUrl = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const counts: Record<string, number> = {};
  const seen: Record<string, number> = {};
  const calls: ArrivedCall[] = [];
  const sockets = new Set<Socket>();
  let rule: (call: SecretsCall) => SecretsFault = () => 'pass';

  const forward = (req: IncomingMessage, body: Buffer, onAnswer: (answer: IncomingMessage) => void) => {
    const upstream = http.request(
      {
        host: upstreamUrl.hostname,
        port: upstreamUrl.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      onAnswer,
    );
    upstream.on('error', () => req.socket.destroy());
    upstream.end(body);
  };

  const awsError = (res: ServerResponse, status: number, type: string, message: string) => {
    const body = JSON.stringify({ __type: type, message });
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
      const call: SecretsCall = {
        operation,
        seen: seen[operation] ?? 0,
        isWrite: WRITES.has(operation),
        ...secretIdOf(body),
      };
      const fault = rule(call);
      calls.push({ ...call, fault });
      seen[operation] = (seen[operation] ?? 0) + 1;
      counts[`${operation}:${fault}`] = (counts[`${operation}:${fault}`] ?? 0) + 1;
      switch (fault) {
        case 'pass':
          forward(req, body, (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          });
          return;
        case 'throttle':
          awsError(res, 400, 'ThrottlingException', 'Rate exceeded');
          return;
        case 'fail':
          awsError(res, 500, 'InternalServiceError', 'We encountered an internal error. Please try again.');
          return;
        case 'reset':
          req.socket.resetAndDestroy();
          return;
        case 'hang':
          // Never forwarded, never answered: the socket is dropped by the caller or by close().
          return;
        case 'lose-answer':
          forward(req, body, (answer) => {
            answer.resume();
            answer.on('end', () => req.socket.resetAndDestroy());
          });
          return;
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setRule(next) {
      rule = next;
    },
    counts,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

function secretIdOf(body: Buffer): { secretId?: string } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { Name?: unknown; SecretId?: unknown };
    const id = parsed.SecretId ?? parsed.Name;
    return typeof id === 'string' ? { secretId: id } : {};
  } catch {
    return {};
  }
}
