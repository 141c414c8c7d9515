// PostgreSQL going away under a running server, on a private PostgreSQL cluster this test stops and
// starts. While it is down the server stays up: online users keep chatting (routing to an online
// recipient needs no storage), logins fail with SASL temporary-auth-failure (RFC 6120 §6.5.12),
// stanzas that need storage are refused with an error of type 'wait' (RFC 6120 §8.3.2), nothing is
// dropped in silence; once it is back the server reconnects by itself. Also: `serve` with
// PostgreSQL unreachable at start-up retries for a bounded time, then exits naming the setting.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { loadConfig } from '../src/config/index.js';
import { ServerError } from '../src/errors.js';
import { startServer } from '../src/main.js';
import { createLogger } from '../src/observability/log.js';
import { connect, type ClientMechanism, type TestClient } from './support/clients.js';
import { freePort, startPostgresInstance, type PostgresInstance } from './support/postgres-instance.js';
import { plainAuth, RawStream, STREAM_HEADER } from './support/raw-stream.js';
import { startTestServer, type TestServer } from './support/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// What bin/ratatosk.js does with the build output, done on the TypeScript sources.
const RUN_CLI = `import('./src/admin/cli.ts').then((m) => m.runCli(process.argv.slice(1), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env })).then((code) => { process.exitCode = code; })`;
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

/** A logged-in client that keeps every stanza it receives, for the accounting at the end. */
interface Party {
  client: TestClient;
  jid: string;
  inbox: Element[];
}

/** Where one stanza sent during the outage ended up. */
interface Sent {
  id: string;
  from: Party;
  to: string;
  /** The party that should receive it when delivered; undefined when it goes to an offline user. */
  recipient?: Party;
}

describe('PostgreSQL outage under a running server', function () {
  this.timeout(120_000);
  let postgres: PostgresInstance | undefined;
  let server: TestServer;
  const clients: TestClient[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  let alice: Party;
  let bob: Party;
  /** Logged in but never available: a message to dave's bare JID goes to offline storage. */
  let dave: Party;
  const outage: Sent[] = [];
  let sequence = 0;

  const login = async (username: string, password: string, resource?: string, mechanism?: ClientMechanism): Promise<Party> => {
    const client = await connect(server, { transport: 'tcp', username, password, ...(resource ? { resource } : {}), ...(mechanism ? { mechanism } : {}) });
    clients.push(client);
    const inbox: Element[] = [];
    client.xmpp.on('stanza', (stanza: Element) => inbox.push(stanza));
    return { client, jid: client.jid, inbox };
  };

  const send = async (from: Party, to: string, recipient?: Party, ledger?: Sent[]): Promise<Sent> => {
    const id = `m${++sequence}`;
    await from.client.xmpp.send(xml('message', { to, type: 'chat', id }, xml('body', {}, `message ${id} to ${to}`)));
    const sent: Sent = { id, from, to, ...(recipient ? { recipient } : {}) };
    ledger?.push(sent);
    return sent;
  };

  const deliveredCopy = (sent: Sent): Element | undefined =>
    sent.recipient?.inbox.find((s) => s.is('message') && s.attrs.id === sent.id && s.attrs.type !== 'error');
  const errorReply = (sent: Sent): Element | undefined => sent.from.inbox.find((s) => s.is('message') && s.attrs.id === sent.id && s.attrs.type === 'error');

  /** Waits until each stanza was delivered or answered with an error; returns those that were neither. */
  const settle = async (ledger: readonly Sent[], timeoutMs = 10_000): Promise<Sent[]> => {
    const started = Date.now();
    let open = ledger.filter((s) => !deliveredCopy(s) && !errorReply(s));
    while (open.length > 0 && Date.now() - started < timeoutMs) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      open = open.filter((s) => !deliveredCopy(s) && !errorReply(s));
    }
    return open;
  };

  const assertWaitError = (stanza: Element | undefined, what: string): void => {
    assert.ok(stanza, `${what}: no error reply`);
    const error = stanza.getChild('error');
    assert.equal(error?.attrs.type, 'wait', `${what}: ${stanza.toString()}`);
    assert.ok(error?.getChild('internal-server-error', STANZAS), `${what}: ${stanza.toString()}`);
  };

  before(async function () {
    process.on('unhandledRejection', onUnhandled);
    postgres = await startPostgresInstance(this);
    server = await startTestServer({ database: { url: postgres.url }, c2s: { requireTls: false }, auth: { failuresBeforeDelay: 1000 }, registration: { allow: true } });
    await server.addUser('alice', 'wonderland');
    await server.addUser('bob', 'builder');
    await server.addUser('carol', 'lewis');
    await server.addUser('dave', 'bowman');
    alice = await login('alice', 'wonderland', 'desk');
    bob = await login('bob', 'builder', 'phone');
    dave = await login('dave', 'bowman', 'pod');
    await alice.client.xmpp.send(xml('presence'));
    await bob.client.xmpp.send(xml('presence'));
  });

  after(async function () {
    process.off('unhandledRejection', onUnhandled);
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await server?.stop();
    await postgres?.cleanup();
  });

  it('before the outage, alice and bob exchange messages', async function () {
    const ledger: Sent[] = [];
    await send(alice, bob.jid, bob, ledger);
    await send(bob, 'alice@localhost', alice, ledger);
    assert.deepEqual(await settle(ledger), []);
    for (const sent of ledger) assert.ok(deliveredCopy(sent), `${sent.id} was not delivered`);
  });

  it('while PostgreSQL is down, online users still exchange messages to full and bare JIDs', async function () {
    // Stop it while messages are on their way, then go on sending.
    const stopping = postgres?.stop('fast');
    for (let i = 0; i < 5; i++) {
      await send(alice, bob.jid, bob, outage);
      await send(bob, 'alice@localhost', alice, outage);
    }
    await stopping;
    for (let i = 0; i < 5; i++) {
      await send(alice, 'bob@localhost', bob, outage);
      await send(bob, alice.jid, alice, outage);
    }
    assert.deepEqual(await settle(outage), []);
    for (const sent of outage) assert.ok(deliveredCopy(sent), `${sent.id} to ${sent.to}: ${errorReply(sent)?.toString() ?? 'nothing'}`);
  });

  it('a message to an offline user, which needs storage, is refused with internal-server-error of type wait', async function () {
    const toCarol = [await send(alice, 'carol@localhost', undefined, outage), await send(bob, 'carol@localhost', undefined, outage)];
    assert.deepEqual(await settle(toCarol), []);
    for (const sent of toCarol) assertWaitError(errorReply(sent), `${sent.id} to carol`);
  });

  it('so is one to a user whose resources are all unavailable (offline storage, RFC 6121 §8.5.2.2.1)', async function () {
    const toDave = await send(alice, 'dave@localhost', undefined, outage);
    assert.deepEqual(await settle([toDave]), []);
    assertWaitError(errorReply(toDave), 'to dave');
    // A full JID needs no storage: delivered to the unavailable resource as RFC 6121 §8.5.3.1 says.
    const toPod = await send(alice, dave.jid, dave, outage);
    assert.deepEqual(await settle([toPod]), []);
    assert.ok(deliveredCopy(toPod), errorReply(toPod)?.toString());
  });

  it('a new login fails with temporary-auth-failure, over SCRAM-SHA-1 and PLAIN', async function () {
    await assert.rejects(login('carol', 'lewis', 'scram', 'SCRAM-SHA-1'), /temporary-auth-failure/);
    await assert.rejects(login('carol', 'lewis', 'plain', 'PLAIN'), /temporary-auth-failure/);
    // On the wire (RFC 6120 §6.5.12), and the stream stays open for another attempt.
    const peer = await RawStream.connect(server.ports.c2s);
    try {
      peer.write(STREAM_HEADER());
      await peer.expect(/<mechanism>PLAIN<\/mechanism>.*?<\/stream:features>/s);
      peer.write(plainAuth('carol', 'lewis'));
      await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><temporary-auth-failure/></failure>$`));
      peer.write(plainAuth('carol', 'lewis'));
      await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><temporary-auth-failure/></failure>$`));
      assert.equal(peer.closed, false);
    } finally {
      peer.destroy();
    }
  });

  it('an in-band registration before login (XEP-0077) is answered with an iq error of type wait', async function () {
    const peer = await RawStream.connect(server.ports.c2s);
    try {
      peer.write(STREAM_HEADER());
      await peer.expect(/<\/stream:features>/);
      peer.write(`<iq type='set' id='reg-outage'><query xmlns='jabber:iq:register'><username>erin</username><password>sp4ce</password></query></iq>`);
      const reply = await peer.element('iq');
      assert.equal(reply.attrs.id, 'reg-outage');
      assert.equal(reply.attrs.type, 'error');
      assertWaitError(reply, 'registration');
      assert.equal(peer.closed, false, 'the stream stays open');
    } finally {
      peer.destroy();
    }
  });

  it('a roster get is answered with an iq error of type wait', async function () {
    await alice.client.xmpp.send(xml('iq', { type: 'get', id: 'roster-outage' }, xml('query', { xmlns: 'jabber:iq:roster' })));
    const reply = await alice.client.next((s) => s.is('iq') && s.attrs.id === 'roster-outage');
    assert.equal(reply.attrs.type, 'error');
    assertWaitError(reply, 'roster get');
  });

  it('the server stayed up: sessions, the HTTP listener and a ping still answer', async function () {
    assert.equal(server.server.sessions.resources('alice@localhost').length, 1);
    assert.equal(server.server.sessions.resources('bob@localhost').length, 1);
    const health = await fetch(`http://127.0.0.1:${server.ports.http}/healthz`);
    assert.equal(health.status, 200);
    const pong = await bob.client.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    assert.equal(pong.attrs.type, 'result');
  });

  it('once PostgreSQL is back, a new login succeeds within seconds without restarting the server', async function () {
    await postgres?.start();
    const started = Date.now();
    let carol: Party | undefined;
    let lastError: unknown;
    while (!carol && Date.now() - started < 10_000) {
      try {
        carol = await login('carol', 'lewis', 'first');
      } catch (err) {
        lastError = err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    assert.ok(carol, `no login within 10 s of PostgreSQL's return: ${String(lastError)}`);
    await carol.client.stop();
  });

  it('a message to the offline user is stored and delivered at its login; the refused ones are not', async function () {
    const stored = await send(alice, 'carol@localhost');
    // No error comes back: it was stored (an error would arrive well within this time).
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(errorReply(stored), undefined, errorReply(stored)?.toString());
    const carol = await login('carol', 'lewis', 'second');
    await carol.client.xmpp.send(xml('presence'));
    const offline = await carol.client.next((s) => s.is('message') && s.attrs.id === stored.id);
    assert.equal(offline.attrs.from, alice.jid);
    assert.ok(offline.getChild('delay', 'urn:xmpp:delay'), 'an offline message carries a delay stamp');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = new Set(outage.filter((s) => s.to === 'carol@localhost' && errorReply(s)).map((s) => s.id));
    assert.deepEqual(
      carol.inbox.filter((s) => s.is('message') && refused.has(s.attrs.id ?? '')).map((s) => s.attrs.id),
      [],
      'a message refused with an error must not also be delivered',
    );
  });

  it('every stanza sent during the outage was delivered or answered with an error, none both', async function () {
    const unaccounted = await settle(outage);
    assert.deepEqual(unaccounted.map((s) => s.id), []);
    const both = outage.filter((s) => deliveredCopy(s) && errorReply(s)).map((s) => s.id);
    assert.deepEqual(both, []);
    const delivered = outage.filter((s) => deliveredCopy(s)).length;
    const refused = outage.filter((s) => errorReply(s)).length;
    assert.equal(delivered + refused, outage.length);
    assert.equal(refused, 3, 'the messages to carol and to dave\'s bare JID');
  });

  it('recovers from an immediate stop too, and no promise was left rejected unhandled', async function () {
    await postgres?.stop('immediate');
    await assert.rejects(login('carol', 'lewis', 'third'), /temporary-auth-failure/);
    await postgres?.start();
    const started = Date.now();
    let ok = false;
    while (!ok && Date.now() - started < 10_000) {
      try {
        await (await login('carol', 'lewis', 'fourth')).client.stop();
        ok = true;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    assert.ok(ok, 'no login within 10 s of PostgreSQL restarting');
    assert.deepEqual(unhandled.map(String), []);
  });
});

describe('serve with PostgreSQL unreachable at start-up', function () {
  this.timeout(60_000);
  const folders: string[] = [];
  const dataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'ratatosk-test-'));
    folders.push(dir);
    return dir;
  };

  after(async function () {
    for (const dir of folders.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  const collectLog = (): { lines: Array<Record<string, unknown>>; stream: Writable } => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return { lines, stream };
  };

  it('retries with backoff, logging each attempt and its reason, then fails naming RATATOSK_DATABASE_URL', async function () {
    const port = await freePort();
    const env = { RATATOSK_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/ratatosk`, RATATOSK_DATABASE_STARTUP_RETRY_SECONDS: '2' };
    const config = loadConfig({ file: false, env, overrides: { dataDir: await dataDir(), c2s: { host: '127.0.0.1', port: 0, tlsPort: 0 }, http: { port: 0 }, admin: { port: 0 } } });
    assert.equal(config.database.startupRetrySeconds, 2);
    const { lines, stream } = collectLog();
    const started = Date.now();
    const failure = await startServer(config, { log: createLogger('info', stream) }).then(
      () => assert.fail('the server started without its database'),
      (err: unknown) => err,
    );
    const elapsed = Date.now() - started;
    assert.ok(failure instanceof ServerError, String(failure));
    assert.match(failure.message, /RATATOSK_DATABASE_URL/);
    assert.match(failure.message, /ECONNREFUSED|connect/i);
    assert.ok(elapsed >= 1900 && elapsed < 30_000, `gave up after ${elapsed} ms`);
    const attempts = lines.filter((l) => typeof l.attempt === 'number');
    assert.ok(attempts.length >= 2, `attempts logged: ${JSON.stringify(lines)}`);
    for (const line of attempts) assert.match(String(line.reason), /ECONNREFUSED|connect/i);
  });

  it('`ratatosk serve` in a process of its own logs its attempts, then exits with status 1 and the message', async function () {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RATATOSK_') && k !== 'NODE_TLS_REJECT_UNAUTHORIZED') env[k] = v;
    Object.assign(env, {
      RATATOSK_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/ratatosk`,
      RATATOSK_DATABASE_STARTUP_RETRY_SECONDS: '1',
      RATATOSK_DATA_DIR: await dataDir(),
      RATATOSK_LOG_LEVEL: 'info',
      RATATOSK_C2S_HOST: '127.0.0.1',
      RATATOSK_C2S_PORT: '0',
      RATATOSK_C2S_TLS_PORT: '0',
      RATATOSK_HTTP_HOST: '127.0.0.1',
      RATATOSK_HTTP_PORT: '0',
      RATATOSK_ADMIN_PORT: '0',
    });
    const outcome = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '-e', RUN_CLI, '--', 'serve'], { cwd: ROOT, env, timeout: 45_000 }, (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
      });
    });
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stderr, /does not answer; retrying/, 'each attempt is logged');
    assert.match(outcome.stderr, /ratatosk: cannot open PostgreSQL at database\.url \(RATATOSK_DATABASE_URL\)/);
  });

  it('starts once PostgreSQL comes up within the bound', async function () {
    const postgres = await startPostgresInstance(this);
    try {
      await postgres.stop('fast');
      const config = loadConfig({
        file: false,
        env: { RATATOSK_DATABASE_URL: postgres.url, RATATOSK_DATABASE_STARTUP_RETRY_SECONDS: '30' },
        overrides: { dataDir: await dataDir(), logLevel: 'silent', c2s: { host: '127.0.0.1', port: 0, tlsPort: 0 }, http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
      });
      const { lines, stream } = collectLog();
      const starting = startServer(config, { log: createLogger('info', stream) });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await postgres.start();
      const running = await starting;
      try {
        assert.equal(running.stores.kind, 'postgres');
        assert.ok(lines.some((l) => typeof l.attempt === 'number'), 'at least one failed attempt was logged');
      } finally {
        await running.stop();
      }
    } finally {
      await postgres.cleanup();
    }
  });
});
