// A TCP proxy on loopback that can be switched off and on, to make a real peer (moto) unreachable
// for a while: while down, every connection is refused by an immediate reset and open ones are cut.

import { connect, createServer, type Socket } from 'node:net';

export interface ToggleProxy {
  url: string;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startToggleProxy(target: string): Promise<ToggleProxy> {
  const { hostname, port } = new URL(target);
  let down = false;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    setDown(value) {
      down = value;
      if (down) for (const socket of open) socket.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
