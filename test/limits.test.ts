// [limits] (issue 13 item 5): connections and unauthenticated connections per client address, the
// pre-authentication deadline, bytes and stanzas per second per session, the parser's backlog in bytes and
// the cap on output a client leaves unread. Each limit hits the session (or address) that crosses it: two
// other clients on the same node keep chatting meanwhile.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { RawBosh } from './support/bosh.js';
import { bystanders, type Bystanders } from './support/bystanders.js';
import { connect, type TestClient } from './support/clients.js';
import { boshCreate, boshFrom, FRAMING, RawTcp, RawWs } from './support/raw-from.js';
import { startTestServer, type TestServer } from './support/server.js';
import type { Config } from '../src/config/types.js';
import type { DeepPartial } from '../src/config/index.js';

const POLICY_VIOLATION = /<stream:error[^>]*><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/;
const CONNECTION_TIMEOUT = /<stream:error[^>]*><connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A server with these limits, two bystanders on it, and what the tests open (closed after each). */
function withServer(overrides: DeepPartial<Config>): { server: () => TestServer; others: () => Bystanders; track: <T extends { destroy?(): void }>(c: T) => T } {
  let server: TestServer | undefined;
  let others: Bystanders | undefined;
  const opened: Array<{ destroy?(): void }> = [];
  before(async function () {
    server = await startTestServer({ ...overrides, c2s: { requireTls: false, ...overrides.c2s }, auth: { failuresBeforeDelay: 1000 } });
    for (const user of ['sender', 'receiver']) await server.addUser(user, 'secret-pass');
    others = await bystanders(server);
  });
  afterEach(function () {
    for (const c of opened.splice(0)) c.destroy?.();
  });
  after(async function () {
    await others?.stop();
    await server?.stop();
  });
  return {
    server: () => server as TestServer,
    others: () => others as Bystanders,
    track: (c) => {
      opened.push(c);
      return c;
    },
  };
}

/** A message of about `size` bytes. */
function message(to: string, id: string, size: number): string {
  return `<message to='${to}' id='${id}' type='chat'><body>${'x'.repeat(Math.max(0, size - 80))}</body></message>`;
}

/** Waits until `client` has received messages with every id in `ids`; resolves with the time each arrived. */
function collect(client: TestClient, ids: readonly string[], timeoutMs: number): Promise<Map<string, number>> {
  const wanted = new Set(ids);
  const arrived = new Map<string, number>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.xmpp.off('stanza', onStanza);
      reject(new Error(`only ${arrived.size} of ${ids.length} messages arrived`));
    }, timeoutMs);
    const onStanza = (stanza: Element): void => {
      const id = stanza.attrs.id as string | undefined;
      if (!stanza.is('message') || id === undefined || !wanted.has(id) || arrived.has(id)) return;
      arrived.set(id, Date.now());
      if (arrived.size === wanted.size) {
        clearTimeout(timer);
        client.xmpp.off('stanza', onStanza);
        resolve(arrived);
      }
    };
    client.xmpp.on('stanza', onStanza);
  });
}

describe('[limits]', function () {
  this.timeout(60_000);

  describe('connections per address (limits.max_connections_per_address = 3)', function () {
    const ctx = withServer({ limits: { maxConnectionsPerAddress: 3, maxPreAuthPerAddress: 3 } });

    it('the fourth TCP connection from an address is opened and closed with policy-violation; another address is served', async function () {
      for (let i = 0; i < 3; i++) await ctx.track(await RawTcp.connect(ctx.server().ports.c2s, '127.0.0.2')).open();
      const fourth = ctx.track(await RawTcp.connect(ctx.server().ports.c2s, '127.0.0.2'));
      fourth.write('<?xml version=\'1.0\'?><stream:stream to=\'localhost\' xmlns=\'jabber:client\' xmlns:stream=\'http://etherx.jabber.org/streams\' version=\'1.0\'>');
      await fourth.waitFor(/<stream:stream [^>]*>/);
      await fourth.waitFor(POLICY_VIOLATION);
      assert.match(fourth.text, /too many connections from your address/);
      await fourth.closed();
      await ctx.track(await RawTcp.connect(ctx.server().ports.c2s, '127.0.0.3')).open();
      await ctx.others().chat('while 127.0.0.2 is at its limit');
    });

    it('counts TCP, WebSocket and BOSH together: the next WebSocket and BOSH session are refused, a closed connection frees its place', async function () {
      const server = ctx.server();
      const tcp = ctx.track(await RawTcp.connect(server.ports.c2s, '127.0.0.4'));
      await tcp.open();
      const ws = await RawWs.connect(server, '127.0.0.4');
      ctx.track({ destroy: () => ws.ws.terminate() });
      await ws.open();
      const created = await boshFrom(server, boshCreate().body, '127.0.0.4');
      assert.match(created, /<stream:features/, created);

      const refusedWs = await RawWs.connect(server, '127.0.0.4');
      ctx.track({ destroy: () => refusedWs.ws.terminate() });
      await refusedWs.waitFor(POLICY_VIOLATION);
      await refusedWs.waitFor(new RegExp(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`));
      await refusedWs.closed();
      const refusedBosh = await boshFrom(server, boshCreate().body, '127.0.0.4');
      assert.match(refusedBosh, /type=['"]terminate['"]/, refusedBosh);
      assert.match(refusedBosh, /condition=['"]policy-violation['"]/, refusedBosh);
      await ctx.others().chat('while 127.0.0.4 is at its limit');

      tcp.destroy();
      await tcp.closed();
      await sleep(100);
      await ctx.track(await RawTcp.connect(server.ports.c2s, '127.0.0.4')).open();
    });
  });

  describe('pre-authentication connections per address (limits.max_pre_auth_per_address = 2) and c2s.auth_timeout', function () {
    const ctx = withServer({ c2s: { authTimeout: 2 }, limits: { maxConnectionsPerAddress: 10, maxPreAuthPerAddress: 2 } });

    it('a third unauthenticated connection is refused; once one has logged in, another is admitted', async function () {
      const server = ctx.server();
      const first = ctx.track(await RawTcp.connect(server.ports.c2s, '127.0.0.5'));
      ctx.track(await RawTcp.connect(server.ports.c2s, '127.0.0.5'));
      const third = ctx.track(await RawTcp.connect(server.ports.c2s, '127.0.0.5'));
      await third.waitFor(POLICY_VIOLATION);
      assert.match(third.text, /too many unauthenticated connections/);
      await third.closed();
      await ctx.others().chat('while 127.0.0.5 is at its pre-auth limit');
      await first.login('sender', 'secret-pass', 'preauth');
      await ctx.track(await RawTcp.connect(server.ports.c2s, '127.0.0.5')).open();
    });

    it('the deadline closes an unauthenticated connection on TCP, WebSocket and BOSH with connection-timeout', async function () {
      const server = ctx.server();
      const started = Date.now();
      const tcp = ctx.track(await RawTcp.connect(server.ports.c2s, '127.0.0.6'));
      tcp.write('<?xml version=\'1.0\'?><stream:stream to=\'localhost\' xmlns=\'jabber:client\' xmlns:stream=\'http://etherx.jabber.org/streams\' version=\'1.0\'>');
      const ws = await RawWs.connect(server, '127.0.0.7');
      ctx.track({ destroy: () => ws.ws.terminate() });
      await ws.open();
      const created = boshCreate();
      const creation = await boshFrom(server, created.body, '127.0.0.8');
      const sid = /sid=['"]([^'"]+)['"]/.exec(creation)?.[1] ?? '';
      await tcp.waitFor(CONNECTION_TIMEOUT, 5000);
      await tcp.closed();
      await ws.waitFor(CONNECTION_TIMEOUT, 5000);
      assert.ok(Date.now() - started >= 1900, 'not before c2s.auth_timeout');
      const next = await boshFrom(server, `<body xmlns='http://jabber.org/protocol/httpbind' rid='${created.rid + 1}' sid='${sid}'/>`, '127.0.0.8');
      assert.match(next, /type=['"]terminate['"]/, next);
      assert.match(next, /connection-timeout/, next);
      await ctx.others().chat('after the deadline');
    });
  });

  describe('bytes per second (limits.read_rate = 20000, read_burst = 20000)', function () {
    const ctx = withServer({ limits: { readRate: 20_000, readBurst: 20_000, stanzaRate: 100_000, stanzaBurst: 100_000 } });

    it('a flood is read at the rate, not dropped: every stanza arrives, the last after seconds; others chat meanwhile', async function () {
      const server = ctx.server();
      const receiver = await connect(server, { transport: 'tcp', username: 'receiver', password: 'secret-pass', resource: 'bytes' });
      ctx.track({ destroy: () => void receiver.stop() });
      const sender = ctx.track(await RawTcp.connect(server.ports.c2s));
      await sender.login('sender', 'secret-pass', 'bytes');
      const ids = Array.from({ length: 80 }, (_, i) => `flood-${i}`);
      const arrived = collect(receiver, ids, 30_000);
      const start = Date.now();
      sender.write(ids.map((id) => message(receiver.jid, id, 2000)).join(''));
      await sleep(300);
      const chatStart = Date.now();
      await ctx.others().chat('during a byte flood');
      const chatMs = Date.now() - chatStart;
      const times = await arrived;
      const lastMs = Math.max(...times.values()) - start;
      // 160 kB at 20 kB/s after a 20 kB burst; a read (up to 64 KiB) is taken whole before the pause: 3.8 s at least.
      assert.ok(lastMs >= 3000, `the last stanza arrived after ${lastMs} ms`);
      assert.ok(chatMs < 1000, `the bystanders' message took ${chatMs} ms`);
    });

    it('over WebSocket: frames are read at the rate (ws paused), every stanza arrives', async function () {
      const server = ctx.server();
      const receiver = await connect(server, { transport: 'tcp', username: 'receiver', password: 'secret-pass', resource: 'ws-bytes' });
      ctx.track({ destroy: () => void receiver.stop() });
      const sender = await RawWs.connect(server);
      ctx.track({ destroy: () => sender.ws.terminate() });
      await sender.open();
      sender.ws.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">${Buffer.from('\0sender\0secret-pass').toString('base64')}</auth>`);
      await sender.waitFor(/<success /);
      sender.ws.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
      await sender.waitFor(/<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/);
      sender.ws.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>ws-bytes</resource></bind></iq>`);
      await sender.waitFor(/<jid>/);
      const ids = Array.from({ length: 16 }, (_, i) => `ws-flood-${i}`);
      const arrived = collect(receiver, ids, 30_000);
      const start = Date.now();
      for (const id of ids) sender.ws.send(message(receiver.jid, id, 10_000).replace('<message ', '<message xmlns="jabber:client" '));
      await ctx.others().chat('during a WebSocket byte flood');
      const lastMs = Math.max(...(await arrived).values()) - start;
      // 160 kB at 20 kB/s after a 20 kB burst, one read (up to 64 KiB) taken whole before each pause.
      assert.ok(lastMs >= 3000, `the last stanza arrived after ${lastMs} ms`);
    });

    it('over BOSH: a request over the rate is answered later, its stanzas all delivered', async function () {
      const server = ctx.server();
      const receiver = await connect(server, { transport: 'tcp', username: 'receiver', password: 'secret-pass', resource: 'bosh-bytes' });
      ctx.track({ destroy: () => void receiver.stop() });
      const bosh = new RawBosh(server);
      await bosh.login('sender', 'secret-pass', 'bosh-bytes');
      const ids = Array.from({ length: 10 }, (_, i) => `bosh-flood-${i}`);
      const arrived = collect(receiver, ids, 30_000);
      const start = Date.now();
      // One 100 kB body: with 20 kB in the bucket, it waits about 4 s before it is read.
      void bosh.request(ids.map((id) => message(receiver.jid, id, 10_000).replace('<message ', "<message xmlns='jabber:client' ")).join(''), {}, { timeoutMs: 30_000 }).catch(() => undefined);
      await sleep(300);
      await ctx.others().chat('during a BOSH byte flood');
      const lastMs = Math.max(...(await arrived).values()) - start;
      assert.ok(lastMs >= 3000, `the last stanza arrived after ${lastMs} ms`);
    });
  });

  describe('stanzas per second (limits.stanza_rate = 10, stanza_burst = 5)', function () {
    const ctx = withServer({ limits: { stanzaRate: 10, stanzaBurst: 5 } });

    it('stanzas over the rate are delayed, in order, not refused; others chat meanwhile', async function () {
      const server = ctx.server();
      const receiver = await connect(server, { transport: 'tcp', username: 'receiver', password: 'secret-pass', resource: 'rate' });
      ctx.track({ destroy: () => void receiver.stop() });
      const sender = ctx.track(await RawTcp.connect(server.ports.c2s));
      await sender.login('sender', 'secret-pass', 'rate');
      await sleep(600);
      const ids = Array.from({ length: 30 }, (_, i) => `rate-${i}`);
      const arrived = collect(receiver, ids, 30_000);
      const start = Date.now();
      sender.write(ids.map((id) => message(receiver.jid, id, 200)).join(''));
      await sleep(200);
      const chatStart = Date.now();
      await ctx.others().chat('during a stanza flood');
      const chatMs = Date.now() - chatStart;
      const times = await arrived;
      const order = [...times.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
      assert.deepEqual(order, ids);
      const lastMs = Math.max(...times.values()) - start;
      // 30 stanzas, 5 at once, then 10 a second: about 2.5 s.
      assert.ok(lastMs >= 2000, `the last stanza arrived after ${lastMs} ms`);
      assert.ok(chatMs < 1000, `the bystanders' message took ${chatMs} ms`);
      assert.doesNotMatch(sender.text, /<stream:error/);
    });
  });

  describe('parser backlog in bytes (limits.max_backlog_bytes = 16384)', function () {
    const ctx = withServer({ limits: { maxBacklogBytes: 16_384 } });

    it('a burst of stanzas worth more than the cap waiting at once is policy-violation', async function () {
      const server = ctx.server();
      const sender = ctx.track(await RawTcp.connect(server.ports.c2s));
      const jid = await sender.login('sender', 'secret-pass', 'backlog');
      // 40 stanzas of 1 kB in one write: parsed in one go, they wait together.
      sender.write(Array.from({ length: 40 }, (_, i) => message(jid, `b-${i}`, 1000)).join(''));
      await sender.waitFor(POLICY_VIOLATION);
      assert.match(sender.text, /too much data waiting to be processed/);
      await sender.closed();
      await ctx.others().chat('after a backlog flood');
    });

    it('over BOSH: a body whose stanzas wait together over the cap ends the session with policy-violation', async function () {
      const server = ctx.server();
      const bosh = new RawBosh(server);
      await bosh.login('sender', 'secret-pass', 'bosh-backlog');
      const payload = Array.from({ length: 40 }, (_, i) => message('sender@localhost/bosh-backlog', `bb-${i}`, 1000).replace('<message ', "<message xmlns='jabber:client' ")).join('');
      const res = await bosh.request(payload);
      assert.match(res.text, /type=['"]terminate['"]/, res.text);
      assert.match(res.text, /condition=['"]policy-violation['"]/, res.text);
      assert.match(res.text, /too much data waiting to be processed/, res.text);
      await ctx.others().chat('after a BOSH backlog flood');
    });

    it('the same stanzas a few at a time pass (positive control)', async function () {
      const server = ctx.server();
      const sender = ctx.track(await RawTcp.connect(server.ports.c2s));
      const jid = await sender.login('sender', 'secret-pass', 'backlog-ok');
      for (let i = 0; i < 40; i += 4) {
        sender.write(Array.from({ length: 4 }, (_, j) => message(jid, `ok-${i + j}`, 1000)).join(''));
        await sleep(20);
      }
      await sender.waitFor(/id="ok-39"/);
      assert.doesNotMatch(sender.text, /<stream:error/);
    });
  });

  describe('output a client leaves unread (limits.max_output_bytes = 65536)', function () {
    const ctx = withServer({ limits: { maxOutputBytes: 65_536, readRate: 64 * 1024 * 1024, readBurst: 64 * 1024 * 1024, stanzaRate: 1_000_000, stanzaBurst: 1_000_000 } });

    /**
     * Sends 80 big messages to a client that does not read, then lets it read: it must be cut off with
     * policy-violation, and every message it did not read must wait offline (RFC 6121 §8.5.3.2.1). Returns what it read.
     */
    async function floodSlowReader(server: TestServer, slowJid: string, prefix: string, slow: { resume(): void; closed(): Promise<unknown>; text(): string }): Promise<string> {
      const sender = await connect(server, { transport: 'tcp', username: 'sender', password: 'secret-pass', resource: `${prefix}-fast` });
      ctx.track({ destroy: () => void sender.stop() });
      // Big stanzas, so that what the socket buffers hold is a few of them and the rest fits offline storage (100).
      const ids = Array.from({ length: 80 }, (_, i) => `${prefix}-${i}`);
      const body = 'y'.repeat(200_000);
      for (const id of ids) await sender.xmpp.send(xml('message', { to: slowJid, id, type: 'chat' }, xml('body', {}, body)));
      await sleep(1000);
      await ctx.others().chat(`while a client (${prefix}) does not read`);
      slow.resume();
      await slow.closed();
      const text = slow.text();
      assert.match(text, POLICY_VIOLATION);
      const read = new Set([...text.matchAll(new RegExp(`<message [^>]*id="(${prefix}-\\d+)"`, 'g'))].map((m) => m[1]));
      assert.ok(read.size < ids.length, `the slow client read all ${read.size}: the limit was not reached`);
      const rest = ids.filter((id) => !read.has(id));
      let stored: string[] = [];
      for (let i = 0; i < 50 && stored.length < rest.length; i++) {
        await sleep(100);
        stored = (await server.server.stores.offline.list('receiver')).map((m) => /id=["']([^"']+)["']/.exec(m.stanza)?.[1] ?? '');
      }
      assert.deepEqual(stored.sort(), rest.sort());
      return text;
    }

    it('a slow reader is disconnected with policy-violation; what it did not take is stored offline, nothing lost', async function () {
      const server = ctx.server();
      const slow = ctx.track(await RawTcp.connect(server.ports.c2s));
      const slowJid = await slow.login('receiver', 'secret-pass', 'slow');
      slow.write('<presence/>');
      await sleep(200);
      slow.socket.pause();
      await floodSlowReader(server, slowJid, 'slow', { resume: () => slow.socket.resume(), closed: () => slow.closed(10_000), text: () => slow.text });
    });

    it('over WebSocket too: the error frame and <close/> are written, the rest is stored offline', async function () {
      const server = ctx.server();
      await server.server.stores.offline.remove('receiver', (await server.server.stores.offline.list('receiver')).map((m) => m.id));
      const slow = await RawWs.connect(server);
      ctx.track({ destroy: () => slow.ws.terminate() });
      await slow.open();
      slow.ws.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">${Buffer.from('\0receiver\0secret-pass').toString('base64')}</auth>`);
      await slow.waitFor(/<success /);
      slow.ws.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
      await slow.waitFor(/<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/);
      slow.ws.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>ws-slow</resource></bind></iq>`);
      const [, slowJid = ''] = await slow.waitFor(/<jid>([^<]+)<\/jid>/);
      slow.ws.pause();
      const text = await floodSlowReader(server, slowJid, 'ws-slow', { resume: () => slow.ws.resume(), closed: () => slow.closed(10_000), text: () => slow.text });
      assert.match(text, new RegExp(`<close xmlns="${FRAMING}"/>`));
    });
  });

  describe('RFC 7395 framing (http.max_websocket_frame = 8192)', function () {
    const ctx = withServer({ http: { maxWebsocketFrame: 8192 } });

    it('§3.3.3: two elements in one message, or trailing text, is not-well-formed; others chat meanwhile', async function () {
      for (const frame of ['<presence xmlns="jabber:client"/><presence xmlns="jabber:client"/>', '<presence xmlns="jabber:client"/>text']) {
        const peer = await RawWs.connect(ctx.server());
        ctx.track({ destroy: () => peer.ws.terminate() });
        await peer.open();
        peer.ws.send(frame);
        await peer.waitFor(/<not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
        await peer.waitFor(new RegExp(`<close xmlns="${FRAMING}"/>`));
        await peer.closed();
      }
      await ctx.others().chat('after framing errors');
    });

    it('a message over the size cap (ws maxPayload from the config) is closed with 1009 (RFC 6455 §7.4.1)', async function () {
      const peer = await RawWs.connect(ctx.server());
      ctx.track({ destroy: () => peer.ws.terminate() });
      await peer.open();
      peer.ws.send(`<message xmlns="jabber:client"><body>${'x'.repeat(9000)}</body></message>`);
      assert.equal(await peer.closed(), 1009);
      await ctx.others().chat('after an oversize message');
    });
  });
});
