// Micro-benchmark of the XEP-0045 groupchat fan-out (run: npx tsx loadtest/bench/muc-fanout.ts [--delivery-only]).
//
// Part 1, serialising: the per-copy cost of building each recipient's text. Setting 'to' and serialising the
// element per recipient (ltx toString; WebSocket adds a shallow copy for the jabber:client xmlns) against
// serialising once without 'to' and splicing the recipient in (what PreparedStanza does).
//
// Part 2, delivering: the per-copy CPU of handing those texts to real connections through the server's own
// transports (src/transports/websocket.ts and tcp.ts: framing, the socket, the write syscalls). A child
// process holds the client ends and counts what arrives (frames, or bytes on TCP); this process's CPU time
// (process.cpuUsage, user + system) from the first copy until the child has every copy, divided by the
// copies, is the figure. Copies go out `k` messages per event-loop turn, as a server that has k room messages
// waiting in one turn writes them. The child's CPU per copy is printed too: the load generator's share.
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { StreamTransport } from '../../src/stream/transport.js';
import { TcpTransport } from '../../src/transports/tcp.js';
import { createWebSocketEndpoint } from '../../src/transports/websocket.js';
import { Element, escapeAttr, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { PreparedStanza } from '../../src/xml/prepared.js';

const OCCUPANTS = 1100;
const MESSAGES = 2000;
const RUNS = 5;
/** Part 2: room messages per run, and how many of them share one event-loop turn. */
const DELIVERED_MESSAGES = 200;
const PER_TURN = [1, 4, 16];
const DELIVERY_RUNS = 3;

const recipients = Array.from({ length: OCCUPANTS }, (_, i) => `user${i}@localhost/res-${i % 3}`);
const body = 'Harpier cries: ’tis time, ’tis time. '.repeat(3);
const original = xml('message', { xmlns: NS.client, to: 'coven@conference.localhost', type: 'groupchat', id: 'hysf1v37' }, xml('body', {}, body), xml('active', { xmlns: NS.chatstates }), xml('origin-id', { xmlns: NS.sid, id: 'abc-123' }));

function reflection(): Element {
  const copy = new Element('message', { from: 'coven@conference.localhost/thirdwitch', type: 'groupchat', id: 'hysf1v37' });
  for (const child of original.children) if (child instanceof Element) copy.children.push(child);
  return copy;
}

let sink = 0;

function serialising(): void {
  const cases: Record<string, () => void> = {
    'tcp: set to + toString': () => {
      const copy = reflection();
      for (const to of recipients) {
        copy.attrs.to = to;
        sink += copy.toString().length;
      }
    },
    'websocket: shallow copy + toString': () => {
      const copy = reflection();
      for (const to of recipients) {
        copy.attrs.to = to;
        const framed = new Element(copy.name, { ...copy.attrs, xmlns: NS.client });
        framed.children = copy.children;
        sink += framed.toString().length;
      }
    },
    'pre-serialised: splice to': () => {
      const text = reflection().toString();
      const cut = text.indexOf(' ');
      const head = text.slice(0, cut);
      const tail = text.slice(cut);
      for (const to of recipients) sink += `${head} to="${escapeAttr(to)}"${tail}`.length;
    },
  };
  for (const [name, run] of Object.entries(cases)) {
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const start = performance.now();
      for (let m = 0; m < MESSAGES / 10; m++) run();
      rates.push(((MESSAGES / 10) * OCCUPANTS) / ((performance.now() - start) / 1000));
    }
    rates.sort((a, b) => a - b);
    const median = rates[Math.floor(RUNS / 2)] ?? 0;
    console.log(`${name.padEnd(38)} ${(median / 1e6).toFixed(2).padStart(6)} M copies/s  ${(1e9 / median).toFixed(0).padStart(6)} ns per copy`);
  }
  console.log(`(${OCCUPANTS} recipients; stanza of ${reflection().toString().length} characters; checksum ${sink % 997})`);
}

// ---- part 2: delivery to real connections ----

type Kind = 'websocket' | 'tcp';
/** What the child counts: WebSocket frames, or bytes on TCP (a stream has no frames). */
type SinkReport = { ev: 'connected' } | { ev: 'received'; units: number; cpuMs: number };

/** The child: opens `count` connections to `port` and reports, when asked, what it received and its CPU time. */
async function runSink(kind: Kind, port: number, count: number): Promise<void> {
  let units = 0;
  const closers: Array<() => void> = [];
  for (let i = 0; i < count; i++) {
    if (kind === 'websocket') {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'xmpp', { perMessageDeflate: false });
      ws.on('message', () => void units++);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      closers.push(() => ws.terminate());
    } else {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('data', (chunk: Buffer) => void (units += chunk.length));
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      });
      closers.push(() => socket.destroy());
    }
  }
  const report = (message: SinkReport): void => void process.send?.(message);
  report({ ev: 'connected' });
  process.on('message', () => {
    const cpu = process.cpuUsage();
    report({ ev: 'received', units, cpuMs: (cpu.user + cpu.system) / 1000 });
  });
  process.on('disconnect', () => {
    for (const close of closers) close();
    process.exit(0);
  });
}

const cpuMs = (): number => {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
};
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const silent = pino({ level: 'silent' });
const limits = { maxStanzaBytes: 65536, maxDepth: 32 };
const ignore = { onStreamStart: () => undefined, onElement: () => undefined, onStreamEnd: () => undefined, onStreamError: () => undefined, onDisconnect: () => undefined };

/** A listener whose connections are the server's own transports, and how to stop it. */
async function listen(kind: Kind, transports: StreamTransport[]): Promise<{ port: number; close(): void }> {
  if (kind === 'websocket') {
    const endpoint = createWebSocketEndpoint({ log: silent, limits, maxFrameBytes: 65536, keepaliveSeconds: 3600, originOf: () => ({ remoteAddress: '127.0.0.1', secure: true, https: false, forwardedHeadersTrusted: false }) }, (transport) => {
      transport.attach(ignore);
      transports.push(transport);
    });
    const server: Server = createServer();
    server.on('upgrade', (request, socket, head) => endpoint.handleUpgrade(request, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, close: () => (endpoint.close(), server.close()) };
  }
  const options = { log: silent, secureContext: tls.createSecureContext(), certificate: { cert: '', key: '' }, limits, keepaliveSeconds: 3600 };
  const server = net.createServer((socket) => {
    const transport = new TcpTransport(socket, options, false);
    transport.attach(ignore);
    transports.push(transport);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function delivering(kind: Kind): Promise<void> {
  const transports: StreamTransport[] = [];
  const listener = await listen(kind, transports);
  const child = fork(fileURLToPath(import.meta.url), ['--sink', kind, String(listener.port), String(OCCUPANTS)], { execArgv: ['--import', 'tsx'] });
  const next = (): Promise<SinkReport> => new Promise((resolve) => child.once('message', (m: SinkReport) => resolve(m)));
  const ask = async (): Promise<{ units: number; cpuMs: number }> => {
    const answer = next();
    child.send('report');
    const m = await answer;
    if (m.ev !== 'received') throw new Error('unexpected report');
    return m;
  };
  await next();
  while (transports.length < OCCUPANTS) await turn();
  const sample = new PreparedStanza(reflection());
  // What one room message makes the child count: a frame per connection, or the bytes of every copy.
  const unitsPerMessage = kind === 'websocket' ? OCCUPANTS : recipients.reduce((n, to) => n + Buffer.byteLength(sample.for(to)), 0);
  console.log(`\n${OCCUPANTS} ${kind === 'websocket' ? 'WebSocket' : 'TCP'} connections over loopback; ${DELIVERED_MESSAGES} room messages per run; CPU per delivered copy (µs), median of ${DELIVERY_RUNS} runs [range]`);
  for (const perTurn of PER_TURN) {
    const server: number[] = [];
    const client: number[] = [];
    for (let r = 0; r < DELIVERY_RUNS; r++) {
      const before = await ask();
      const cpu0 = cpuMs();
      for (let m = 0; m < DELIVERED_MESSAGES; m += perTurn) {
        for (let k = 0; k < perTurn; k++) {
          const prepared = new PreparedStanza(reflection());
          for (let i = 0; i < transports.length; i++) transports[i]?.sendText(prepared.for(recipients[i] ?? ''));
        }
        await turn();
      }
      const expected = before.units + DELIVERED_MESSAGES * unitsPerMessage;
      let after = await ask();
      while (after.units < expected) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        after = await ask();
      }
      const copies = DELIVERED_MESSAGES * OCCUPANTS;
      server.push(((cpuMs() - cpu0) * 1000) / copies);
      client.push(((after.cpuMs - before.cpuMs) * 1000) / copies);
    }
    const fmt = (values: number[]): string => {
      const sorted = [...values].sort((a, b) => a - b);
      return `${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(2)} [${(sorted[0] ?? 0).toFixed(2)}–${(sorted[sorted.length - 1] ?? 0).toFixed(2)}]`;
    };
    console.log(`${String(perTurn).padStart(3)} message(s) per turn: server ${fmt(server)} µs per copy, receiving client ${fmt(client)} µs per copy`);
  }
  child.disconnect();
  listener.close();
}

const sinkAt = process.argv.indexOf('--sink');
if (sinkAt >= 0) await runSink(process.argv[sinkAt + 1] === 'tcp' ? 'tcp' : 'websocket', Number(process.argv[sinkAt + 2]), Number(process.argv[sinkAt + 3]));
else {
  if (!process.argv.includes('--delivery-only')) serialising();
  await delivering('websocket');
  await delivering('tcp');
}
