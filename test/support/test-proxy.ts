// A tiny TCP proxy for the proxy-trust tests: it connects to the node from a chosen loopback address
// (127.0.0.2 stands for "the load balancer", 127.0.0.3 for "some client"), may start the connection
// with a PROXY protocol header, and may add lines to every HTTP request's head (the WebSocket
// upgrade, each BOSH POST), as a reverse proxy adds X-Forwarded-*. Everything else it relays.
import net from 'node:net';

export interface TestProxyOptions {
  targetPort: number;
  /** The address the node sees the proxy connect from. */
  localAddress: string;
  /** Bytes sent to the node before anything of the client's (a PROXY header). */
  prefix?: Buffer;
  /** Header lines added to each HTTP request head, e.g. { 'X-Forwarded-Proto': 'https' }. */
  headers?: Record<string, string>;
}

export interface TestProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function startTestProxy(options: TestProxyOptions): Promise<TestProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: options.targetPort, host: '127.0.0.1', localAddress: options.localAddress });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (options.prefix) upstream.write(options.prefix);
    upstream.pipe(client);
    const extra = options.headers;
    if (!extra) return void client.pipe(upstream);
    const lines = Buffer.from(Object.entries(extra).map(([name, value]) => `${name}: ${value}\r\n`).join(''), 'latin1');
    // Every request on the connection gets the lines, as a reverse proxy adds them to each (BOSH keeps
    // connections alive); after a WebSocket upgrade the bytes are frames and pass as they are.
    let pending = Buffer.alloc(0);
    let bodyLeft = 0;
    const onData = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length > 0) {
        if (bodyLeft > 0) {
          const body = pending.subarray(0, bodyLeft);
          upstream.write(body);
          bodyLeft -= body.length;
          pending = pending.subarray(body.length);
          continue;
        }
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.subarray(0, end + 2);
        upstream.write(Buffer.concat([head, lines, Buffer.from('\r\n')]));
        pending = pending.subarray(end + 4);
        const text = head.toString('latin1');
        bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(text)?.[1] ?? 0);
        if (/^upgrade:/im.test(text)) {
          client.off('data', onData);
          if (pending.length > 0) upstream.write(pending);
          client.pipe(upstream);
          return;
        }
      }
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
