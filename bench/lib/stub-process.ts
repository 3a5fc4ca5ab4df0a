// A minimal SMART/DCR stub in its own process (forked by the benchmarks), so its CPU is not the
// worker's. Listens on 127.0.0.1 on STUB_SERVERS ports; answers the well-known document and POST
// /register after STUB_DELAY_MS; counts requests per port and path and the most it ever had in flight.
// STUB_SMART1=1 makes SMART 1.0 servers: the well-known document answers 404, and the endpoints are in
// the CapabilityStatement at {base}/metadata.
// Parent messages: 'stats' -> replies { stats }; 'reset' -> zeroes counters. Sends { ready, ports }.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const delayMs = Number(process.env.STUB_DELAY_MS ?? '0');
const servers = Number(process.env.STUB_SERVERS ?? '1');
const smart1 = process.env.STUB_SMART1 === '1';
const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

let inFlight = 0;
let maxInFlight = 0;
let issued = 0;
const counts: Record<string, number> = {};
const perPort: Record<string, { inFlight: number; max: number }> = {};

function start(): Promise<Server> {
  const server = createServer((req, res) => {
    const port = String((req.socket.address() as AddressInfo).port);
    perPort[port] ??= { inFlight: 0, max: 0 };
    const p = perPort[port];
    inFlight++;
    p.inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    p.max = Math.max(p.max, p.inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] as string;
      const key = `${req.method} ${port} ${path}`;
      counts[key] = (counts[key] ?? 0) + 1;
      const base = `http://127.0.0.1:${port}`;
      let status = 404;
      let body: unknown = { error: 'not_found' };
      if (req.method === 'GET' && smart1 && path.endsWith('/metadata')) {
        status = 200;
        body = {
          resourceType: 'CapabilityStatement',
          rest: [
            {
              mode: 'server',
              security: {
                extension: [
                  {
                    url: OAUTH_URIS,
                    extension: [
                      { url: 'authorize', valueUri: `${base}/authorize` },
                      { url: 'token', valueUri: `${base}/token` },
                      { url: 'register', valueUri: `${base}/register` },
                    ],
                  },
                ],
              },
            },
          ],
        };
      } else if (req.method === 'GET' && !smart1 && path.endsWith('/.well-known/smart-configuration')) {
        status = 200;
        body = {
          token_endpoint: `${base}/token`,
          registration_endpoint: `${base}/register`,
          grant_types_supported: ['authorization_code'],
          capabilities: ['launch-standalone', 'client-public'],
          code_challenge_methods_supported: ['S256'],
        };
      } else if (req.method === 'POST' && path === '/register') {
        let meta: Record<string, unknown> = {};
        try {
          meta = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {}
        status = 201;
        body = {
          ...meta,
          client_id: `bench-${++issued}`,
          client_id_issued_at: Math.floor(Date.now() / 1000),
        };
      }
      const send = () => {
        inFlight--;
        p.inFlight--;
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const started = await Promise.all(Array.from({ length: servers }, start));
const ports = started.map((s) => (s.address() as AddressInfo).port);
process.on('message', (m) => {
  if (m === 'stats') process.send?.({ stats: { counts, maxInFlight, perPort, issued } });
  if (m === 'reset') {
    for (const k of Object.keys(counts)) delete counts[k];
    for (const k of Object.keys(perPort)) delete perPort[k];
    maxInFlight = inFlight;
    issued = 0;
    process.send?.({ reset: true });
  }
});
const stop = () => {
  for (const s of started) s.closeAllConnections?.();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('disconnect', stop);
process.send?.({ ready: true, ports });
