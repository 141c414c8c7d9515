// A raw TCP peer for protocol edge cases no well-behaved client would produce.
import net from 'node:net';

export interface RawPeer {
  write(data: string | Buffer): void;
  /** Everything received so far. */
  readonly received: string;
  /** Waits until the received text matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Waits until the server closes the connection. */
  closed(timeoutMs?: number): Promise<void>;
  destroy(): void;
}

export async function rawConnect(port: number): Promise<RawPeer> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let received = '';
  let isClosed = false;
  const listeners = new Set<() => void>();
  socket.on('data', (chunk) => {
    received += chunk.toString('utf8');
    for (const l of [...listeners]) l();
  });
  socket.on('close', () => {
    isClosed = true;
    for (const l of [...listeners]) l();
  });
  const until = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const attempt = (): void => {
        const result = check();
        if (result !== undefined) {
          listeners.delete(attempt);
          clearTimeout(timer);
          resolve(result);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(attempt);
        reject(new Error(`timed out waiting for ${what}; received: ${received.slice(-800)}`));
      }, timeoutMs);
      listeners.add(attempt);
      attempt();
    });
  return {
    write: (data) => void socket.write(data),
    get received() {
      return received;
    },
    waitFor: (pattern, timeoutMs = 5000) => until(() => received.match(pattern) ?? undefined, timeoutMs, String(pattern)),
    closed: (timeoutMs = 5000) => until(() => (isClosed ? true : undefined), timeoutMs, 'close').then(() => undefined),
    destroy: () => socket.destroy(),
  };
}

export const STREAM_OPEN = (to = 'localhost'): string =>
  `<?xml version='1.0'?><stream:stream to='${to}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
