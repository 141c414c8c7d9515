// XEP-0198 resumption on another node of the cluster (issue #15 item 2; protocol in src/cluster/README.md,
// "Session hand-over"): node processes on one redis-server and one embedded store, real clients. xmpp.js
// (@xmpp/client's stream management) has its TCP socket destroyed mid-conversation on n1 while Bob keeps
// sending, reconnects to n2 and resumes there: every message once and in order, the same full JID, the
// directory names n2 and n1 holds nothing. A previd nobody has, another account's, or one whose owner was
// killed (kill -9) gets item-not-found and binding works; a session its client never resumes ends on its
// node after the resumption timeout, with its messages in offline storage, delivered at the next login on n2.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { loadConfig } from '../src/config/index.js';
import { openStores } from '../src/storage/index.js';
import { connect, serviceUrl, type TestClient } from './support/clients.js';
import { addUsers, befriend, startNode, type NodeProcess } from './support/cluster.js';
import { rawAuthenticated as authenticated, rawLogin, RawStream, SM_FEATURE } from './support/raw-stream.js';
import { startRedis, type RedisInstance } from './support/redis.js';
import { until } from './support/until.js';

const PASSWORD = 'secret';
const SM = 'urn:xmpp:sm:3';
const ROSTER = 'jabber:iq:roster';
const RESUME_TIMEOUT = 4;
const ENABLED = /<enabled xmlns="urn:xmpp:sm:3" id="([^"]+)" resume="true" max="\d+"\/>/;
const ITEM_NOT_FOUND = /<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/;

describe('XEP-0198 resumption on another cluster node', function () {
  this.timeout(40_000);
  let redis: RedisInstance | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];
  const raws: RawStream[] = [];
  const node = (i: number): NodeProcess => nodes[i] as NodeProcess;
  let redisClient: ReturnType<RedisInstance['client']> | undefined;
  const r = () => (redisClient ??= (redis as RedisInstance).client());

  const message = (to: string, n: number | string) => xml('message', { to, type: 'chat', id: `m${n}` }, xml('body', {}, String(n)));
  const bodyOf = (stanza: Element): string => stanza.getChildText('body') ?? '';
  /** Where xmpp.js connects, and reconnects (its typings leave `options` out). */
  const options = (c: TestClient): { service: string } => (c.xmpp as unknown as { options: { service: string } }).options;
  const login = async (at: NodeProcess, username: string, resource: string): Promise<TestClient> => {
    const client = await connect(at, { transport: 'tcp', username, password: PASSWORD, resource });
    clients.push(client);
    return client;
  };
  const recordOf = async (bare: string, resource: string): Promise<{ node: string; sid: string } | null> => {
    const value = await r().hget(`rt:{${bare}}:res`, resource);
    return value === null ? null : (JSON.parse(value) as { node: string; sid: string });
  };
  const offline = async (username: string): Promise<string[]> => {
    const stores = await openStores(loadConfig({ file: false, env: {}, overrides: { dataDir } }));
    try {
      return (await stores.offline.list(username)).map((m) => /<body>([^<]*)<\/body>/.exec(m.stanza)?.[1] ?? '');
    } finally {
      await stores.close();
    }
  };
  /** Logs in raw on `at`, binds and enables resumption; returns the stream and the previd. */
  const rawManaged = async (at: NodeProcess, username: string, resource: string): Promise<{ stream: RawStream; jid: string; previd: string }> => {
    const { stream, jid } = await rawLogin(at.ports.c2s, username, PASSWORD, resource);
    raws.push(stream);
    stream.write(`<enable xmlns='${SM}' resume='true'/>`);
    const [, previd = ''] = await stream.expect(ENABLED);
    return { stream, jid, previd };
  };
  /** A raw stream on `at`, authenticated and restarted, ready for <resume/> or bind. */
  const rawAuthenticated = async (at: NodeProcess, username: string): Promise<RawStream> => {
    const stream = await authenticated(at.ports.c2s, username, PASSWORD, SM_FEATURE);
    raws.push(stream);
    return stream;
  };
  const bindWorks = async (stream: RawStream, resource: string): Promise<void> => {
    stream.write(`<iq type='set' id='bind-2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await stream.expect(/<iq type="result" id="bind-2"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>[^<]+<\/jid><\/bind><\/iq>/);
  };

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-cluster-sm-'));
    await addUsers(dataDir, PASSWORD, 'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'henry', 'ida', 'jo', 'kim', 'lou', 'max', 'ned', 'olga', 'pat', 'quinn', 'rita', 'sam');
    await befriend(dataDir, 'alice', 'bob');
    await befriend(dataDir, 'henry', 'ida');
    await befriend(dataDir, 'kim', 'lou');
    await befriend(dataDir, 'max', 'ned');
    const env = { RT_TEST_CONFIG_OVERRIDES: JSON.stringify({ streamManagement: { resumeTimeout: RESUME_TIMEOUT } }) };
    for (const id of ['n1', 'n2']) nodes.push(await startNode({ id, redisUrl: redis.url, dataDir, env }));
  });

  afterEach(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all(nodes.splice(0).map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.terminate() : undefined)));
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  // Bob on n1: what he sends reaches the session on n1, then its forwarder, then the directory sends it to n2.
  // Bob on n2: until the hand-over his messages go to n1 (and come back forwarded), then straight to her.
  // The bursts put many messages in flight on every path during the hand-over; from n2, what went to n1 just
  // before the hand-over comes back forwarded while later ones are delivered on n2 (the fence keeps the order).
  const runs = [
    { aliceName: 'alice', bobName: 'bob', bobAt: 0, COUNT: 60, gapMs: 50, cutAt: 20 },
    { aliceName: 'henry', bobName: 'ida', bobAt: 1, COUNT: 60, gapMs: 50, cutAt: 20 },
    { aliceName: 'kim', bobName: 'lou', bobAt: 0, COUNT: 300, gapMs: 3, cutAt: 60 },
    { aliceName: 'max', bobName: 'ned', bobAt: 1, COUNT: 300, gapMs: 3, cutAt: 60 },
  ] as const;
  for (const { aliceName, bobName, bobAt, COUNT, gapMs, cutAt } of runs) {
    it(`xmpp.js cut on n1 resumes on n2 while a contact on n${bobAt + 1} sends ${COUNT} messages ${gapMs} ms apart: each once and in order, the same full JID, n1 no longer holds it`, async function () {
      const alice = await login(node(0), aliceName, 'phone');
      const bob = await login(node(bobAt), bobName, 'desk');
      // Both available and interested in their rosters (the session flag that roster pushes go by). Not through
      // xmpp.js's iqCaller: it takes the result it awaits from the middleware chain before stream management sees
      // it, so the client's 'h' would count one stanza less than it received (and get that stanza again).
      for (const c of [alice, bob]) {
        await c.xmpp.send(xml('iq', { type: 'get', id: 'roster-1' }, xml('query', { xmlns: ROSTER })));
        await c.next((s) => s.is('iq') && s.attrs.id === 'roster-1');
        await c.xmpp.send(xml('presence'));
      }
      await bob.next((s) => s.is('presence') && s.attrs.from === `${aliceName}@localhost/phone` && s.attrs.type === undefined);
      const unavailable: Element[] = [];
      bob.xmpp.on('stanza', (s: Element) => {
        if (s.is('presence') && s.attrs.from === `${aliceName}@localhost/phone` && s.attrs.type === 'unavailable') unavailable.push(s);
      });
      const sm = alice.xmpp.streamManagement;
      assert.equal(sm.enabled, true, 'xmpp.js enabled stream management');
      assert.ok(sm.id, 'with resumption');
      const before = await recordOf(`${aliceName}@localhost`, 'phone');
      assert.equal(before?.node, 'n1');
      const bodies: string[] = [];
      alice.xmpp.on('stanza', (stanza: Element) => {
        if (stanza.is('message')) bodies.push(bodyOf(stanza));
      });
      let resumed = false;
      sm.on('resumed', () => (resumed = true));
      let atCut = -1;
      let online = false;
      alice.xmpp.on('online', () => (online = true));

      for (let n = 1; n <= COUNT; n++) {
        await bob.xmpp.send(message(alice.jid, n));
        if (n === cutAt) {
          // The socket is destroyed (no closing handshake); the client comes back through "the balancer" to n2.
          alice.xmpp.once('disconnect', () => {
            atCut = bodies.length;
            options(alice).service = serviceUrl(node(1), 'tcp');
            void delay(150).then(() => alice.xmpp.reconnect.reconnect().catch(() => undefined));
          });
          (alice.xmpp.socket as unknown as { socket: { destroy(): void } }).socket.destroy();
        }
        await delay(gapMs);
      }
      await until(() => bodies.length >= COUNT, `${COUNT} messages (got ${bodies.length})`, 15_000);
      await delay(500);
      assert.ok(resumed, 'the stream was resumed, not bound afresh');
      assert.equal(online, false, 'no fresh session came online');
      assert.ok(atCut > 0 && atCut < COUNT, `the cut came mid-conversation (${atCut} messages before it)`);
      assert.deepEqual(bodies, Array.from({ length: COUNT }, (_, i) => String(i + 1)), 'each message once, in order');

      // The same full JID: what Alice sends now is stamped with it (a fresh bind would have had another resource).
      await alice.xmpp.send(message(`${bobName}@localhost/desk`, 'from-n2'));
      const got = await bob.next((s) => s.is('message') && bodyOf(s) === 'from-n2');
      assert.equal(got.attrs.from, `${aliceName}@localhost/phone`);
      // The directory moved the record to n2 (same session id); n1's set no longer has the JID.
      const after = await recordOf(`${aliceName}@localhost`, 'phone');
      assert.equal(after?.node, 'n2');
      assert.equal(after?.sid, before?.sid, 'the session id is kept');
      await until(async () => (await r().sismember('rt:node:{n1}:sessions', `${aliceName}@localhost/phone`)) === 0, "n1's set to drop the JID");
      assert.equal(await r().sismember('rt:node:{n2}:sessions', `${aliceName}@localhost/phone`), 1);
      // A message to the full JID, from n1, goes to n2 and reaches her there.
      await bob.xmpp.send(message(alice.jid, 'after'));
      await until(() => bodies.includes('after'), 'the message after resumption');
      assert.equal(bodies.filter((b) => b === 'after').length, 1);
      assert.equal(options(alice).service, serviceUrl(node(1), 'tcp'), 'Alice is connected to n2');
      // The session's flags moved with it: a change to her roster is pushed to the resumed session (it asked on n1).
      const push = alice.next((s) => s.is('iq') && s.attrs.type === 'set' && s.getChild('query', ROSTER) !== undefined);
      await alice.xmpp.send(xml('iq', { type: 'set', id: 'roster-2' }, xml('query', { xmlns: ROSTER }, xml('item', { jid: 'carol@localhost', name: 'Carol' }))));
      assert.equal((await push).getChild('query', ROSTER)?.getChild('item')?.attrs.jid, 'carol@localhost');
      // No unavailable presence was broadcast for the hand-over; when the session ends on n2, it is (positive control).
      assert.deepEqual(unavailable, [], 'Bob saw no unavailable presence from Alice during the hand-over');
      assert.equal((await recordOf(`${aliceName}@localhost`, 'phone') as { available?: boolean } | null)?.available, true, 'still available in the directory');
      await alice.stop();
      await until(() => unavailable.length === 1, "Alice's unavailable presence when her session ends on n2");
    });
  }

  it('raw: resumes on n2 with <resumed h previd/>, re-sending what h did not acknowledge; another account gets item-not-found', async function () {
    const carol = await rawManaged(node(0), 'carol', 'tablet');
    const dave = await login(node(0), 'dave', 'desk');
    for (const n of [1, 2, 3]) await dave.xmpp.send(message(carol.jid, n));
    await carol.stream.expect(/<body>3<\/body>/);
    // One stanza from Carol: the 'h' the new node reports counts it (the handled count moved too).
    carol.stream.write(`<message to='dave@localhost/desk' type='chat'><body>hi</body></message>`);
    await dave.next((s) => s.is('message') && bodyOf(s) === 'hi');
    carol.stream.destroy();
    await delay(300);
    for (const n of [4, 5]) await dave.xmpp.send(message(carol.jid, n));

    // Dave holds Carol's previd: not his session (wrong account).
    const thief = await rawAuthenticated(node(1), 'dave');
    thief.write(`<resume xmlns='${SM}' previd='${carol.previd}' h='0'/>`);
    await thief.expect(ITEM_NOT_FOUND, 8000);
    await bindWorks(thief, 'other');

    const back = await rawAuthenticated(node(1), 'carol');
    back.write(`<resume xmlns='${SM}' previd='${carol.previd}' h='1'/>`);
    await back.expect(new RegExp(`<resumed xmlns="urn:xmpp:sm:3" h="1" previd="${carol.previd.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"/>`), 8000);
    await back.expect(/<body>5<\/body>/);
    const bodies = [...back.received.matchAll(/<body>(\d+)<\/body>/g)].map((m) => m[1]);
    assert.deepEqual(bodies, ['2', '3', '4', '5'], 'what h=1 did not acknowledge, then what came while away');
    assert.match(back.received, /<delay xmlns="urn:xmpp:delay" from="localhost" stamp=/, 're-sent with delay stamps');
    assert.equal((await recordOf('carol@localhost', 'tablet'))?.node, 'n2');
    // The stream goes on: a new message arrives, counted after the re-sent ones.
    await dave.xmpp.send(message(carol.jid, 6));
    await back.expect(/<body>6<\/body>/);
    back.write(`<r xmlns='${SM}'/>`);
    await back.expect(/<a xmlns="urn:xmpp:sm:3" h="1"\/>/);
  });

  /** Cuts `managed`'s connection on n1 and resumes it on n2; the new stream. */
  const resumeOnN2 = async (username: string, previd: string, stream: RawStream): Promise<RawStream> => {
    stream.destroy();
    await delay(300);
    const back = await rawAuthenticated(node(1), username);
    back.write(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
    await back.expect(/<resumed xmlns="urn:xmpp:sm:3"/, 8000);
    await until(async () => (await recordOf(`${username}@localhost`, 'phone'))?.node === 'n2', 'the directory to name n2');
    return back;
  };
  const isResult = (id: string): RegExp => new RegExp(`<iq [^>]*(id="${id}"[^>]*type="result"|type="result"[^>]*id="${id}")`);

  it('directed presence moves with the session (RFC 6121 §4.6.3): its recipient gets unavailable when the session ends on n2', async function () {
    const olga = await rawManaged(node(0), 'olga', 'phone');
    const pat = await login(node(0), 'pat', 'desk');
    olga.stream.write(`<presence/>`);
    olga.stream.write(`<presence to='pat@localhost/desk'/>`);
    // Not a contact of Olga's: Pat sees her only through the directed presence.
    await pat.next((s) => s.is('presence') && s.attrs.from === olga.jid && s.attrs.type === undefined);
    const back = await resumeOnN2('olga', olga.previd, olga.stream);
    const gone = pat.next((s) => s.is('presence') && s.attrs.from === olga.jid && s.attrs.type === 'unavailable', 8000);
    back.write('</stream:stream>');
    await gone;
  });

  it('the active privacy list moves with the session (XEP-0016 §2.4): on n2 it still refuses what it refused on n1', async function () {
    const quinn = await rawManaged(node(0), 'quinn', 'phone');
    const rita = await login(node(1), 'rita', 'desk');
    const sam = await login(node(1), 'sam', 'desk');
    quinn.stream.write(
      `<iq type='set' id='pl-1'><query xmlns='jabber:iq:privacy'><list name='quiet'>` +
        `<item type='jid' value='rita@localhost' action='deny' order='1'><message/></item><item action='allow' order='2'/>` +
        `</list></query></iq>`,
    );
    await quinn.stream.expect(isResult('pl-1'));
    // Active for this session only: the default list (none) would let Rita through.
    quinn.stream.write(`<iq type='set' id='pl-2'><query xmlns='jabber:iq:privacy'><active name='quiet'/></query></iq>`);
    await quinn.stream.expect(isResult('pl-2'));
    const refused = async (body: string): Promise<void> => {
      await rita.xmpp.send(message(quinn.jid, body));
      const error = await rita.next((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === `m${body}`);
      assert.ok(error.getChild('error')?.getChild('service-unavailable'), `Rita's ${body} answered service-unavailable`);
    };
    // On n1: Rita refused, Sam (sending after her) let through.
    await refused('r1');
    await sam.xmpp.send(message(quinn.jid, 's1'));
    await quinn.stream.expect(/<body>s1<\/body>/);
    assert.doesNotMatch(quinn.stream.received, /<body>r1<\/body>/);

    const back = await resumeOnN2('quinn', quinn.previd, quinn.stream);
    await refused('r2');
    await sam.xmpp.send(message(quinn.jid, 's2'));
    await back.expect(/<body>s2<\/body>/);
    assert.doesNotMatch(back.received, /<body>r2<\/body>/, 'the list still applies on n2');
    back.write(`<iq type='get' id='pl-3'><query xmlns='jabber:iq:privacy'/></iq>`);
    await back.expect(/<active name="quiet"\/>/);
  });

  it('a session whose old connection on n1 is still open is taken over: that connection gets conflict', async function () {
    const jo = await rawManaged(node(0), 'jo', 'phone');
    const back = await rawAuthenticated(node(1), 'jo');
    back.write(`<resume xmlns='${SM}' previd='${jo.previd}' h='0'/>`);
    await back.expect(/<resumed xmlns="urn:xmpp:sm:3" h="0"/, 8000);
    await jo.stream.expect(/<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await jo.stream.waitClosed();
    assert.equal((await recordOf('jo@localhost', 'phone'))?.node, 'n2');
    back.write(`<iq type='get' id='ping-1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await back.expect(/<iq [^>]*id="ping-1"[^>]*type="result"|<iq [^>]*type="result"[^>]*id="ping-1"/);
  });

  it('an unknown previd on n2 gets item-not-found and the client binds afresh', async function () {
    const stream = await rawAuthenticated(node(1), 'erin');
    stream.write(`<resume xmlns='${SM}' previd='${Buffer.from('n1').toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA' h='0'/>`);
    await stream.expect(ITEM_NOT_FOUND, 8000);
    await bindWorks(stream, 'fresh');
  });

  it('the owner killed (kill -9): item-not-found within the bound, and the client binds afresh', async function () {
    this.timeout(90_000);
    const env = { RT_TEST_CONFIG_OVERRIDES: JSON.stringify({ streamManagement: { resumeTimeout: 60 } }) };
    const n3 = await startNode({ id: 'n3', redisUrl: (redis as RedisInstance).url, dataDir, env });
    nodes.push(n3);
    const frank = await rawManaged(n3, 'frank', 'phone');
    frank.stream.destroy();
    await delay(300);
    assert.equal((await recordOf('frank@localhost', 'phone'))?.node, 'n3', 'the kept session is in the directory');
    await n3.kill();
    const stream = await rawAuthenticated(node(1), 'frank');
    const started = Date.now();
    stream.write(`<resume xmlns='${SM}' previd='${frank.previd}' h='0'/>`);
    await stream.expect(ITEM_NOT_FOUND, 12_000);
    const took = Date.now() - started;
    console.log(`      resume with a killed owner failed after ${took} ms`);
    assert.ok(took < 8000, `within the bound (${took} ms)`);
    await bindWorks(stream, 'phone');
  });

  it('not resumed in time: the owner ends the session, its messages go offline and arrive at the next login on n2', async function () {
    const gina = await rawManaged(node(0), 'gina', 'phone');
    const dave = await login(node(1), 'dave', 'sender');
    gina.stream.destroy();
    await until(async () => (await recordOf('gina@localhost', 'phone'))?.node === 'n1', 'the kept session');
    for (const n of [1, 2, 3]) await dave.xmpp.send(message(gina.jid, n));
    await delay(500);
    assert.deepEqual(await offline('gina'), [], 'nothing goes offline while the session may be resumed');
    await until(async () => (await recordOf('gina@localhost', 'phone')) === null, 'the session to end on n1', RESUME_TIMEOUT * 1000 + 5000);
    await until(async () => (await offline('gina')).length >= 3, 'the messages in offline storage');
    assert.deepEqual(await offline('gina'), ['1', '2', '3']);

    // The previd is gone everywhere now.
    const late = await rawAuthenticated(node(1), 'gina');
    late.write(`<resume xmlns='${SM}' previd='${gina.previd}' h='0'/>`);
    await late.expect(ITEM_NOT_FOUND, 8000);
    late.destroy();

    const back = await login(node(1), 'gina', 'laptop');
    await back.xmpp.send(xml('presence'));
    for (const n of ['1', '2', '3']) assert.equal(bodyOf(await back.next((s) => s.is('message'))), n);
  });
});
