import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { classify } from '../../../src/failures/index.js';
import {
  type ClosableHttpClient,
  createHttpClient,
  type HttpClientOptions,
  type LookupFunction,
} from '../../../src/http/index.js';
import { createLoopbackCertificate } from '../../support/tls.js';

// Every server listens on 127.0.0.1: this machine allows no traffic to anything but loopback.
const TIMEOUT_MS = 300;
const MIB = 1024 * 1024;

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Requests seen per path, so tests can assert what did (not) reach a server. */
const hits = new Map<string, number>();
const hitCount = (path: string) => hits.get(path) ?? 0;
let endlessBodyClosedEarly: Promise<boolean>;
let markEndlessClosed: (closedEarly: boolean) => void = () => {};

function route(req: http.IncomingMessage, res: http.ServerResponse, httpPort: () => number): void {
  const url = new URL(req.url ?? '/', 'http://x');
  hits.set(url.pathname, hitCount(url.pathname) + 1);
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const redirect = /^\/r\/(\d+)$/.exec(url.pathname);
    const bytes = /^\/bytes\/(\d+)$/.exec(url.pathname);
    if (url.pathname === '/echo') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
    } else if (url.pathname === '/status/404' || url.pathname === '/status/500') {
      res.statusCode = Number(url.pathname.slice(-3));
      res.end('{"error":"nope"}');
    } else if (redirect) {
      const left = Number(redirect[1]);
      if (left === 0) {
        res.end('arrived');
      } else {
        // Relative Location, resolved by the client against the URL that answered.
        res.writeHead(302, { location: `/r/${left - 1}` }).end();
      }
    } else if (url.pathname === '/to-localhost') {
      res.writeHead(302, { location: `http://localhost:${httpPort()}/echo` }).end();
    } else if (url.pathname === '/from-localhost') {
      res.writeHead(302, { location: `http://127.0.0.1:${httpPort()}/echo` }).end();
    } else if (url.pathname === '/to-http') {
      res.writeHead(302, { location: `http://127.0.0.1:${httpPort()}/echo` }).end();
    } else if (url.pathname === '/to-private-name') {
      res.writeHead(307, { location: `https://internal.example:${url.searchParams.get('port')}/echo` }).end();
    } else if (url.pathname === '/hang') {
      // Accepts the request and never answers.
    } else if (url.pathname === '/reset') {
      req.socket.resetAndDestroy();
    } else if (url.pathname === '/big') {
      res.writeHead(200, { 'content-length': String(5 * MIB) });
      res.end(Buffer.alloc(5 * MIB, 'a'));
    } else if (url.pathname === '/endless') {
      const chunk = Buffer.alloc(64 * 1024, 'b');
      let finished = false;
      const pump = () => {
        while (!finished && res.write(chunk)) {
          // keep writing until the socket pushes back
        }
      };
      res.on('drain', pump);
      res.on('close', () => {
        finished = true;
        markEndlessClosed(!res.writableFinished);
      });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      pump();
    } else if (bytes) {
      const size = Number(bytes[1]);
      if (url.searchParams.has('declare')) res.setHeader('content-length', String(size));
      // Without a declared length Node sends the body chunked.
      res.write(Buffer.alloc(Math.floor(size / 2), 'c'));
      res.end(Buffer.alloc(size - Math.floor(size / 2), 'c'));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
}

let httpServer: http.Server;
let httpsServer: https.Server;
let stallServer: net.Server;
const stalledSockets = new Set<net.Socket>();
let httpBase: string;
let httpsBase: string;
let httpsPort: number;
let stallPort: number;
let certificate: string;
const clients: ClosableHttpClient[] = [];

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function client(options: HttpClientOptions = {}): ClosableHttpClient {
  const created = createHttpClient({ timeoutMs: TIMEOUT_MS, certificateAuthority: certificate, ...options });
  clients.push(created);
  return created;
}

/** A client allowed to reach loopback, as in local development and these tests. */
const localClient = (options: HttpClientOptions = {}) => client({ allowInsecureLocalhost: true, ...options });

/** A resolver that maps names to fixed addresses without DNS, recording what it was asked. */
function fixedResolver(table: Record<string, string>) {
  return vi.fn<LookupFunction>((hostname, options, callback) => {
    const address = table[hostname];
    if (address === undefined) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    } else if (options.all) {
      callback(null, [{ address, family: net.isIP(address) }]);
    } else {
      callback(null, address, net.isIP(address));
    }
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected the request to reject');
}

beforeAll(async () => {
  const { cert, key } = createLoopbackCertificate();
  certificate = cert;
  endlessBodyClosedEarly = new Promise((resolve) => {
    markEndlessClosed = resolve;
  });
  let httpPort = 0;
  httpServer = http.createServer((req, res) => route(req, res, () => httpPort));
  httpsServer = https.createServer({ cert, key }, (req, res) => route(req, res, () => httpPort));
  // Accepts TCP connections and never speaks, so a TLS handshake waits forever.
  stallServer = net.createServer((socket) => {
    stalledSockets.add(socket);
    socket.on('close', () => stalledSockets.delete(socket));
  });
  httpPort = await listen(httpServer);
  httpsPort = await listen(httpsServer);
  stallPort = await listen(stallServer);
  httpBase = `http://127.0.0.1:${httpPort}`;
  httpsBase = `https://127.0.0.1:${httpsPort}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const socket of stalledSockets) socket.destroy();
  httpServer.closeAllConnections();
  httpsServer.closeAllConnections();
  await Promise.all(
    [httpServer, httpsServer, stallServer].map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    ),
  );
});

describe('http/client requests and answers', () => {
  it('sends a User-Agent naming the product and its version, replacing any the caller set', async () => {
    const response = await localClient().request({
      method: 'GET',
      url: `${httpBase}/echo`,
      headers: { 'User-Agent': 'curl/8' },
    });
    const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
    expect(echoed.headers['user-agent']).toBe(`dcr-provisioner/${version}`);
  });

  it('round-trips a GET and reports the status, lower-cased headers and the URL that answered', async () => {
    const response = await localClient().request({
      method: 'GET',
      url: `${httpsBase}/echo?q=1`,
      headers: { Accept: 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.url).toBe(`${httpsBase}/echo?q=1`);
    const echoed = JSON.parse(response.body) as { method: string; headers: Record<string, string> };
    expect(echoed.method).toBe('GET');
    expect(echoed.headers.accept).toBe('application/json');
  });

  it('sends the json option as a JSON body with Content-Type application/json', async () => {
    const response = await localClient().request({
      method: 'POST',
      url: `${httpsBase}/echo`,
      json: { client_name: 'Zoë', redirect_uris: ['https://app.example/cb'] },
    });
    const echoed = JSON.parse(response.body) as {
      method: string;
      headers: Record<string, string>;
      body: string;
    };
    expect(echoed.method).toBe('POST');
    expect(echoed.headers['content-type']).toBe('application/json');
    expect(JSON.parse(echoed.body)).toEqual({
      client_name: 'Zoë',
      redirect_uris: ['https://app.example/cb'],
    });
  });

  it('sends a DELETE without a body instead of waiting for one', async () => {
    const response = await localClient().request({ method: 'DELETE', url: `${httpBase}/echo` });
    expect(JSON.parse(response.body)).toMatchObject({ method: 'DELETE', body: '' });
  });

  it('resolves 404 and 500 answers instead of throwing, body included', async () => {
    const http = localClient();
    const notFound = await http.request({ method: 'GET', url: `${httpBase}/status/404` });
    const broken = await http.request({ method: 'POST', url: `${httpBase}/status/500`, json: {} });
    expect([notFound.status, broken.status]).toEqual([404, 500]);
    expect(broken.body).toBe('{"error":"nope"}');
  });
});

describe('http/client SERVER_HEADERS', () => {
  const echoedHeaders = (response: { body: string }) =>
    (JSON.parse(response.body) as { headers: Record<string, string> }).headers;
  const httpHost = () => new URL(httpBase).host;
  const localhostBase = () => httpBase.replace('127.0.0.1', 'localhost');
  const withHeaders = () =>
    localClient({
      resolve: fixedResolver({ localhost: '127.0.0.1' }),
      serverHeaders: { [httpHost()]: { 'Epic-Client-ID': 'parent-id', 'X-Extra': 'x' } },
    });

  it("adds the host's headers to every method, replacing a caller's header of the same name", async () => {
    const http = withHeaders();
    for (const method of ['GET', 'POST', 'PUT', 'DELETE'] as const) {
      const response = await http.request({
        method,
        url: `${httpBase}/echo`,
        headers: { 'epic-client-id': 'caller', Accept: 'application/json' },
        ...(method === 'POST' || method === 'PUT' ? { json: { a: 1 } } : {}),
      });
      expect(echoedHeaders(response)).toMatchObject({
        'epic-client-id': 'parent-id',
        'x-extra': 'x',
        accept: 'application/json',
      });
    }
  });

  it('sends them to no other host (same port, other name)', async () => {
    const response = await withHeaders().request({ method: 'GET', url: `${localhostBase()}/echo` });
    expect(response.status).toBe(200);
    expect(echoedHeaders(response)['epic-client-id']).toBeUndefined();
    expect(echoedHeaders(response)['x-extra']).toBeUndefined();
  });

  it('matches hosts as URL.host does: the case of the URL does not matter', async () => {
    const http = withHeaders();
    const upper = await http.request({
      method: 'GET',
      url: `${httpBase.replace('http://', 'HTTP://')}/echo`,
    });
    expect(echoedHeaders(upper)['epic-client-id']).toBe('parent-id');
  });

  it("drops them on a redirect to another host and adds the target host's on a redirect to it", async () => {
    const away = await withHeaders().request({ method: 'GET', url: `${httpBase}/to-localhost` });
    expect(away.url).toBe(`${localhostBase()}/echo`);
    expect(echoedHeaders(away)['epic-client-id']).toBeUndefined();

    const toward = await withHeaders().request({ method: 'GET', url: `${localhostBase()}/from-localhost` });
    expect(toward.url).toBe(`${httpBase}/echo`);
    expect(echoedHeaders(toward)['epic-client-id']).toBe('parent-id');
  });
});

describe('http/client transport failures as classify() sees them', () => {
  it('when DNS never answers, times out in the lookup phase and the outcome is known', async () => {
    const neverAnswers: LookupFunction = () => {};
    const err = await rejection(
      client({ resolve: neverAnswers }).request({
        method: 'POST',
        url: 'https://slow-dns.example/register',
        json: {},
      }),
    );
    expect(err).toMatchObject({ name: 'TimeoutError', event: 'lookup' });
    expect(classify(err, 'registration')).toMatchObject({ code: 'timeout', outcomeUnknown: false });
  });

  it('when the TLS handshake stalls, times out before sending and the outcome is known', async () => {
    const err = await rejection(
      localClient().request({ method: 'POST', url: `https://127.0.0.1:${stallPort}/register`, json: {} }),
    );
    expect(err).toMatchObject({ name: 'TimeoutError', event: 'secureConnect' });
    expect(classify(err, 'registration')).toMatchObject({ code: 'timeout', outcomeUnknown: false });
  });

  it('when the server takes the POST and never answers, times out with the outcome unknown', async () => {
    const err = await rejection(
      localClient().request({ method: 'POST', url: `${httpBase}/hang`, json: { a: 1 } }),
    );
    // The response-phase timer gave up, not the socket's slack timer or the test's own timeout.
    expect(err).toMatchObject({ name: 'TimeoutError', event: 'response' });
    expect((err.timings as { upload?: number }).upload).toBeDefined();
    const failure = classify(err, 'registration');
    expect(failure).toMatchObject({ code: 'timeout', outcomeUnknown: true, retryable: true });
    expect(failure.message).toContain('outcome is unknown');
  });

  it('when the server resets the connection mid-request, reports a network error', async () => {
    const err = await rejection(
      localClient().request({ method: 'POST', url: `${httpBase}/reset`, json: {} }),
    );
    expect(err).toMatchObject({ name: 'RequestError', code: 'ECONNRESET' });
    expect(classify(err, 'registration').code).toBe('network_error');
  });

  it('when nothing listens on the port, reports a network error', async () => {
    const closed = net.createServer();
    const port = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await rejection(localClient().request({ method: 'GET', url: `http://127.0.0.1:${port}/` }));
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
    expect(classify(err, 'registration')).toMatchObject({ code: 'network_error', outcomeUnknown: false });
  });

  it('rejects with an AbortError when the caller aborts a request in flight', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await rejection(
      localClient().request({ method: 'GET', url: `${httpBase}/hang`, signal: controller.signal }),
    );
    expect(err.name).toBe('AbortError');
    expect(classify(err, 'discovery').code).toBe('network_error');
  });

  it('rejects at once with an AbortError when the signal is already aborted', async () => {
    const before = hitCount('/echo');
    const err = await rejection(
      localClient().request({ method: 'GET', url: `${httpBase}/echo`, signal: AbortSignal.abort() }),
    );
    expect(err.name).toBe('AbortError');
    expect(hitCount('/echo')).toBe(before);
  });
});

describe('http/client response size cap', () => {
  it('refuses a 5 MiB body announced by Content-Length with ResponseTooLargeError', async () => {
    const err = await rejection(localClient().request({ method: 'GET', url: `${httpBase}/big` }));
    expect(err.name).toBe('ResponseTooLargeError');
    expect(err.message).toContain('1048576');
    expect(classify(err, 'discovery').code).toBe('discovery_invalid');
    expect(classify(err, 'registration').code).toBe('invalid_response');
  });

  it('cuts off an endless chunked body at the cap instead of buffering it', async () => {
    const err = await rejection(localClient().request({ method: 'GET', url: `${httpsBase}/endless` }));
    expect(err.name).toBe('ResponseTooLargeError');
    await expect(endlessBodyClosedEarly).resolves.toBe(true);
  });

  it('accepts a body of exactly the cap and refuses one byte more, declared or not', async () => {
    const http = localClient({ maxResponseBytes: 1000 });
    const exact = await http.request({ method: 'GET', url: `${httpBase}/bytes/1000` });
    expect(exact.body).toHaveLength(1000);
    for (const url of [`${httpBase}/bytes/1001`, `${httpBase}/bytes/1001?declare`]) {
      expect((await rejection(http.request({ method: 'GET', url }))).name).toBe('ResponseTooLargeError');
    }
  });
});

describe('http/client redirects', () => {
  it('follows up to three redirects for a GET, resolving relative Locations, and reports the final URL', async () => {
    const response = await localClient().request({ method: 'GET', url: `${httpsBase}/r/3` });
    expect(response.status).toBe(200);
    expect(response.body).toBe('arrived');
    expect(response.url).toBe(`${httpsBase}/r/0`);
  });

  it('returns the fourth redirect as is instead of following it', async () => {
    const before = hitCount('/r/0');
    const response = await localClient().request({ method: 'GET', url: `${httpBase}/r/4` });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/r/0');
    expect(response.url).toBe(`${httpBase}/r/1`);
    expect(hitCount('/r/0')).toBe(before);
  });

  it('never follows a redirect for a POST', async () => {
    const before = hitCount('/r/0');
    const response = await localClient().request({ method: 'POST', url: `${httpBase}/r/1`, json: {} });
    expect(response.status).toBe(302);
    expect(response.url).toBe(`${httpBase}/r/1`);
    expect(hitCount('/r/0')).toBe(before);
  });

  it('refuses a redirect from https to http even when insecure localhost is allowed', async () => {
    const before = hitCount('/echo');
    const err = await rejection(localClient().request({ method: 'GET', url: `${httpsBase}/to-http` }));
    expect(err).toMatchObject({ name: 'OutboundBlockedError', reason: 'redirect_to_http' });
    expect(classify(err, 'discovery').code).toBe('insecure_endpoint');
    expect(hitCount('/echo')).toBe(before);
  });

  it('checks the address of each redirect hop on its new connection', async () => {
    const resolve = fixedResolver({ 'internal.example': '10.0.0.5' });
    const err = await rejection(
      localClient({ resolve }).request({
        method: 'GET',
        url: `${httpsBase}/to-private-name?port=${httpsPort}`,
      }),
    );
    expect(err).toMatchObject({ name: 'OutboundBlockedError', reason: 'blocked_address' });
    expect(err.message).toContain('internal.example');
    expect(resolve).toHaveBeenCalledWith(
      'internal.example',
      expect.objectContaining({ all: true }),
      expect.any(Function),
    );
  });
});

describe('http/client outbound safety', () => {
  it('refuses plain http to 127.0.0.1 without the insecure-localhost flag, before connecting', async () => {
    const before = hitCount('/echo');
    const err = await rejection(client().request({ method: 'GET', url: `${httpBase}/echo` }));
    expect(err).toMatchObject({ name: 'OutboundBlockedError', reason: 'insecure_scheme' });
    expect(classify(err, 'discovery').code).toBe('insecure_endpoint');
    expect(hitCount('/echo')).toBe(before);
  });

  it('allows plain http to 127.0.0.1 with the insecure-localhost flag', async () => {
    const response = await localClient().request({ method: 'GET', url: `${httpBase}/echo` });
    expect(response.status).toBe(200);
  });

  it('refuses plain http to a non-loopback name without resolving it', async () => {
    const resolve = fixedResolver({ 'fhir.example.org': '93.184.215.14' });
    const err = await rejection(
      localClient({ resolve }).request({ method: 'GET', url: 'http://fhir.example.org/' }),
    );
    expect(err).toMatchObject({ name: 'OutboundBlockedError', reason: 'insecure_scheme' });
    expect(resolve).not.toHaveBeenCalled();
  });

  it('refuses https://169.254.169.254/ at once, without resolving or connecting', async () => {
    const resolve = fixedResolver({});
    const refusal = rejection(
      client({ resolve }).request({
        method: 'GET',
        url: 'https://169.254.169.254/latest/meta-data/?token=s3cr3t',
      }),
    );
    // At once: refused before the event loop turns even once, so no socket was opened, let alone timed out.
    const loopTurned = new Promise<string>((done) => setImmediate(() => done('the event loop turned')));
    expect(await Promise.race([refusal, loopTurned]), 'refused first').not.toBe('the event loop turned');
    const err = await refusal;
    expect(err).toMatchObject({ name: 'OutboundBlockedError', reason: 'blocked_address' });
    expect(err.message).toContain('169.254.169.254');
    expect(err.message).not.toContain('s3cr3t');
    expect(resolve).not.toHaveBeenCalled();
  });

  it('refuses a name the resolver maps to 10.0.0.5, at connect time', async () => {
    const resolve = fixedResolver({ 'fhir.internal.example': '10.0.0.5' });
    const err = await rejection(
      client({ resolve }).request({
        method: 'POST',
        url: 'https://fhir.internal.example/register',
        json: {},
      }),
    );
    expect(err).toMatchObject({ name: 'OutboundBlockedError', reason: 'blocked_address' });
    expect(err.message).toMatch(
      /fhir\.internal\.example refused: resolves to 10\.0\.0\.5, a private address/,
    );
    expect(classify(err, 'registration')).toMatchObject({ code: 'insecure_endpoint', retryable: false });
  });

  it('asks the resolver for every address (all: true) and connects over https to the loopback it answers', async () => {
    const resolve = fixedResolver({ localhost: '127.0.0.1' });
    const response = await localClient({ resolve }).request({
      method: 'GET',
      url: `https://localhost:${httpsPort}/echo`,
    });
    expect(response.status).toBe(200);
    expect(resolve).toHaveBeenCalledWith(
      'localhost',
      expect.objectContaining({ all: true }),
      expect.any(Function),
    );
  });

  it('refuses https to a name resolving to loopback when insecure localhost is not allowed', async () => {
    const resolve = fixedResolver({ localhost: '127.0.0.1' });
    const err = await rejection(
      client({ resolve }).request({ method: 'GET', url: `https://localhost:${httpsPort}/echo` }),
    );
    expect(err).toMatchObject({ name: 'OutboundBlockedError', reason: 'blocked_address' });
    expect(err.message).toContain('ALLOW_INSECURE_LOCALHOST');
  });

  it('refuses URLs with credentials and schemes other than http(s)', async () => {
    const http = localClient();
    await expect(
      http.request({ method: 'GET', url: `https://u:p@127.0.0.1:${httpsPort}/` }),
    ).rejects.toMatchObject({
      reason: 'credentials_in_url',
    });
    await expect(http.request({ method: 'GET', url: 'ftp://127.0.0.1/' })).rejects.toMatchObject({
      reason: 'unsupported_scheme',
    });
  });
});
