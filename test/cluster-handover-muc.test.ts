// XEP-0045 rooms keep a session that XEP-0198 resumption moved to another cluster node (src/cluster/README.md,
// "Session hand-over"; xeps/0045-muc/README.md, "Across nodes"): three node processes on one private
// redis-server and one embedded store. A raw client on n1 enters a room, has its TCP socket destroyed and
// resumes on n2; the room is hosted on n1 (the old owner), on n3 (a third node, whose copies go to n1 and are
// routed on from there until n2's notice arrives), or on n2 (the taker). In each case the room's traffic reaches the session on
// n2, the room keeps it as an occupant, and when the session ends on n2 the room hears of it (§7.14). Node
// deaths: n2 tells the moved session when n3, hosting its room, dies (332); n2's room keeps it when n1 dies, and
// so does a third node's room, told of the move, when the old owner (n4) dies.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Element } from 'ltx';
import { ALIVE_TTL_MS, SWEEP_JITTER_MS, SWEEP_MS } from '../src/cluster/node-registry.js';
import { connect, type TestClient } from './support/clients.js';
import { addUsers, startNode, type NodeProcess } from './support/cluster.js';
import { rawAuthenticated, rawLogin, SM_FEATURE, type RawStream } from './support/raw-stream.js';
import { startRedis, type RedisInstance } from './support/redis.js';
import { until } from './support/until.js';
import { createRoom, DISCO_ITEMS, groupchat, iq, isPresence, MUC, SERVICE, statuses, xml } from '../xeps/0045-muc/test-kit.js';

const PASSWORD = 'secret';
const SM = 'urn:xmpp:sm:3';
const ENABLED = /<enabled xmlns="urn:xmpp:sm:3" id="([^"]+)" resume="true" max="\d+"\/>/;
/** A node's death is seen within the heartbeat TTL plus one sweep (src/cluster/README.md), with slack for a loaded machine. */
const NODE_DOWN_BOUND_MS = ALIVE_TTL_MS + SWEEP_MS + SWEEP_JITTER_MS + 3000;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('MUC membership moves with a session resumed on another cluster node (XEP-0045, XEP-0198)', function () {
  this.timeout(25_000);
  let redis: RedisInstance | undefined;
  let redisClient: ReturnType<RedisInstance['client']> | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];
  const raws: RawStream[] = [];
  const node = (i: number): NodeProcess => nodes[i] as NodeProcess;
  const r = (): ReturnType<RedisInstance['client']> => (redisClient ??= (redis as RedisInstance).client());
  let serial = 0;
  const roomName = (prefix: string): string => `${prefix}${++serial}@${SERVICE}`;

  const login = async (at: NodeProcess, username: string): Promise<TestClient> => {
    const client = await connect(at, { transport: 'tcp', username, password: PASSWORD, resource: 'desk' });
    clients.push(client);
    return client;
  };
  /** A raw client on `at`, bound as `<username>@localhost/phone`, with resumption enabled. */
  const rawManaged = async (at: NodeProcess, username: string): Promise<{ stream: RawStream; jid: string; previd: string }> => {
    const { stream, jid } = await rawLogin(at.ports.c2s, username, PASSWORD, 'phone');
    raws.push(stream);
    stream.write(`<enable xmlns='${SM}' resume='true'/>`);
    const [, previd = ''] = await stream.expect(ENABLED);
    return { stream, jid, previd };
  };
  /** §7.2: the raw client enters `room` as `nick`; resolves at its self-presence (110, the join's id echoed). */
  const rawEnter = async (stream: RawStream, room: string, nick: string): Promise<void> => {
    const id = `join-${++serial}`;
    stream.write(`<presence to='${room}/${nick}' id='${id}'><x xmlns='${MUC}'/></presence>`);
    await stream.expect(new RegExp(`<presence [^>]*id="${id}"[^>]*>.*?<status code="110"/>.*?</presence>`, 's'));
  };
  /** Destroys the raw client's socket on its node (n1 unless said) and resumes its session on n2, once that node let it go. */
  const resumeOnN2 = async (username: string, previd: string, stream: RawStream, owner = 'n1'): Promise<RawStream> => {
    stream.destroy();
    await delay(300);
    const back = await rawAuthenticated(node(1).ports.c2s, username, PASSWORD, SM_FEATURE);
    raws.push(back);
    back.write(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
    await back.expect(/<resumed xmlns="urn:xmpp:sm:3"/, 8000);
    const jid = `${username}@localhost/phone`;
    const record = async (): Promise<string | undefined> => {
      const value = await r().hget(`rt:{${username}@localhost}:res`, 'phone');
      return value === null ? undefined : (JSON.parse(value) as { node: string }).node;
    };
    await until(async () => (await record()) === 'n2', 'the directory to name n2');
    // The owner let the session go ('session:handed-over' there): from now on nothing there holds it.
    await until(async () => (await r().sismember(`rt:node:{${owner}}:sessions`, jid)) === 0, `${owner}'s set to drop the JID`);
    return back;
  };
  /** Collects what `client` receives from the room about `occupantJid` leaving. */
  const departures = (client: TestClient, occupantJid: string): Element[] => {
    const seen: Element[] = [];
    client.xmpp.on('stanza', (s: Element) => {
      if (isPresence(occupantJid, 'unavailable')(s)) seen.push(s);
    });
    return seen;
  };
  const occupantsOf = async (client: TestClient, room: string): Promise<string[]> => {
    const result = await iq(client, 'get', room, xml('query', { xmlns: DISCO_ITEMS }));
    return (result.getChild('query', DISCO_ITEMS)?.getChildren('item') ?? []).map((i) => i.attrs.jid as string).sort();
  };
  const bodyPattern = (room: string, from: string, body: string): RegExp =>
    new RegExp(`<message [^>]*from="${escape(`${room}/${from}`)}"[^>]*type="groupchat"[^>]*>.*?<body>${escape(body)}</body>`, 's');

  /**
   * A groupchat message reaches the raw client on its node (the positive control), its session moves to n2, and
   * the next message from the same speaker reaches it there; the stream on n2.
   */
  const moveWhileListening = async (
    speaker: TestClient,
    speakerNick: string,
    room: string,
    moving: { username: string; previd: string; stream: RawStream },
    owner = 'n1',
  ): Promise<RawStream> => {
    await groupchat(speaker, room, 'before the move', `${speakerNick}-before`);
    await moving.stream.expect(bodyPattern(room, speakerNick, 'before the move'));
    const back = await resumeOnN2(moving.username, moving.previd, moving.stream, owner);
    await groupchat(speaker, room, 'after the move', `${speakerNick}-after`);
    await back.expect(bodyPattern(room, speakerNick, 'after the move'), 5000);
    return back;
  };

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-cluster-handover-muc-'));
    await addUsers(dataDir, PASSWORD, 'anna', 'ben', 'cleo', 'dan', 'eve', 'finn', 'gus', 'hal', 'ivy', 'jay', 'kim');
    nodes.push(...(await Promise.all(['n1', 'n2', 'n3'].map((id) => startNode({ id, redisUrl: (redis as RedisInstance).url, dataDir })))));
  });

  afterEach(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async function () {
    this.timeout(60_000);
    redisClient?.disconnect();
    await Promise.all(nodes.splice(0).map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.terminate() : undefined)));
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('a room hosted on the old node (n1) delivers to the session on n2, keeps it, and sees it leave when it ends there', async function () {
    const room = roomName('old-host');
    const ben = await login(node(0), 'ben');
    await createRoom(ben, room, 'Ben');
    assert.equal(await r().get(`rt:place:{${room}}`), 'n1', 'the first entrant\'s node hosts the room');
    const anna = await rawManaged(node(0), 'anna');
    await rawEnter(anna.stream, room, 'Anna');
    await ben.next(isPresence(`${room}/Anna`));
    const gone = departures(ben, `${room}/Anna`);
    // Positive control: on n1, the room's traffic reaches her.
    // After the move: without the hand-over part the room on n1 finds her neither here nor elsewhere and drops her (333).
    const back = await moveWhileListening(ben, 'Ben', room, { username: 'anna', ...anna });
    assert.deepEqual(await occupantsOf(ben, room), [`${room}/Anna`, `${room}/Ben`], 'still an occupant');
    // She still speaks in the room from n2 (§7.4: a non-occupant would get not-acceptable).
    back.write(`<message to='${room}' type='groupchat' id='a-2'><body>from n2</body></message>`);
    const spoken = await ben.next((s) => s.is('message') && s.attrs.id === 'a-2');
    assert.equal(spoken.attrs.from, `${room}/Anna`);
    assert.deepEqual(gone.map(String), [], 'Ben saw no exit of Anna during the move');

    // Her session ends on n2: the room on n1 hears of it from n2 (§7.14) and Ben sees her leave.
    back.write('</stream:stream>');
    await until(() => gone.length === 1, "Anna's exit when her session ends on n2");
    assert.ok(!statuses(gone[0] as Element).includes(333), 'an orderly exit, not the removal of a ghost (333)');
    assert.deepEqual(await occupantsOf(ben, room), [`${room}/Ben`]);
  });

  it('a room hosted on a third node (n3): its copies, still sent to n1, reach the sessions on n2; n2 tells n3 when one ends there, and tells the other when n3 dies (332)', async function () {
    this.timeout(NODE_DOWN_BOUND_MS + 20_000);
    const room = roomName('third-host');
    const dan = await login(node(2), 'dan');
    await createRoom(dan, room, 'Dan');
    assert.equal(await r().get(`rt:place:{${room}}`), 'n3');
    const cleo = await rawManaged(node(0), 'cleo');
    await rawEnter(cleo.stream, room, 'Cleo');
    await dan.next(isPresence(`${room}/Cleo`));
    const hal = await rawManaged(node(0), 'hal');
    await rawEnter(hal.stream, room, 'Hal');
    await dan.next(isPresence(`${room}/Hal`));
    const gone = departures(dan, `${room}/Cleo`);
    await groupchat(dan, room, 'before the move', 'd-1');
    for (const { stream } of [cleo, hal]) await stream.expect(bodyPattern(room, 'Dan', 'before the move'));

    const cleoBack = await resumeOnN2('cleo', cleo.previd, cleo.stream);
    const halBack = await resumeOnN2('hal', hal.previd, hal.stream);
    // n3 still names n1 for them: n1 routes each copy on to n2 (the fan-out's fallback). Without it, they are lost on n1.
    for (const n of [1, 2, 3]) await groupchat(dan, room, `after the move ${n}`, `d-2-${n}`);
    for (const back of [cleoBack, halBack]) for (const n of [1, 2, 3]) await back.expect(bodyPattern(room, 'Dan', `after the move ${n}`), 5000);
    assert.deepEqual(await occupantsOf(dan, room), [`${room}/Cleo`, `${room}/Dan`, `${room}/Hal`]);
    assert.deepEqual(gone.map(String), []);

    // Cleo's session ends on n2, which took her stay in n3's room over from n1: n3 hears of it (§7.14).
    cleoBack.write('</stream:stream>');
    await until(() => gone.length === 1, "Cleo's exit when her session ends on n2");
    assert.ok(!statuses(gone[0] as Element).includes(333));

    // n3 dies: n2 tells Hal, whose stay there it took over, that the room went with it (§11.2, 110 and 332).
    // Without the hand-over part only n1 knew of the stay, and nobody tells him.
    await node(2).kill();
    await halBack.expect(new RegExp(`<presence (?=[^>]*from="${escape(`${room}/Hal`)}")(?=[^>]*type="unavailable")[^>]*>.*?<status code="110"/><status code="332"/>`, 's'), NODE_DOWN_BOUND_MS);
  });

  it('a room hosted on the taker (n2) treats the session as local: when n1 dies, only n1\'s own occupants are removed (333)', async function () {
    this.timeout(NODE_DOWN_BOUND_MS + 20_000);
    const room = roomName('new-host');
    const finn = await login(node(1), 'finn');
    await createRoom(finn, room, 'Finn');
    assert.equal(await r().get(`rt:place:{${room}}`), 'n2');
    const eve = await rawManaged(node(0), 'eve');
    await rawEnter(eve.stream, room, 'Eve');
    // Gus stays on n1: the positive control that the room saw n1 go.
    const gus = await login(node(0), 'gus');
    await gus.xmpp.send(xml('presence', { to: `${room}/Gus` }, xml('x', { xmlns: MUC })));
    await finn.next(isPresence(`${room}/Gus`));
    const eveGone = departures(finn, `${room}/Eve`);
    const gusGone = departures(finn, `${room}/Gus`);
    const back = await moveWhileListening(finn, 'Finn', room, { username: 'eve', ...eve });

    // n1 dies (kill -9). The room removes the occupants whose sessions were there (§18.1.2, 333): Gus, not Eve,
    // whose session is on n2 now. Without the hand-over part the room still files her under n1.
    await node(0).kill();
    await until(() => gusGone.length === 1, "Gus's removal when n1 is seen dead", NODE_DOWN_BOUND_MS);
    assert.ok(statuses(gusGone[0] as Element).includes(333), 'Gus removed as a ghost (333)');
    await delay(300);
    assert.deepEqual(eveGone.map(String), [], 'Finn saw Eve stay');
    assert.doesNotMatch(back.unread, new RegExp(`<presence (?=[^>]*from="${escape(`${room}/Eve`)}")(?=[^>]*type="unavailable")`), 'Eve was not told she left');
    await groupchat(finn, room, 'after n1 died', 'f-3');
    await back.expect(bodyPattern(room, 'Finn', 'after n1 died'), 5000);
    assert.deepEqual(await occupantsOf(finn, room), [`${room}/Eve`, `${room}/Finn`]);

    back.write('</stream:stream>');
    await until(() => eveGone.length === 1, "Eve's exit when her session ends on n2");
    assert.ok(!statuses(eveGone[0] as Element).includes(333));
  });
  it('a room on a third node is told of the move: when the old owner dies, it keeps the moved session and removes only that node\'s own (333)', async function () {
    this.timeout(NODE_DOWN_BOUND_MS + 30_000);
    const [n4, n5] = await Promise.all(['n4', 'n5'].map((id) => startNode({ id, redisUrl: (redis as RedisInstance).url, dataDir })));
    nodes.push(n4 as NodeProcess, n5 as NodeProcess);
    const room = roomName('told-host');
    const kim = await login(n5 as NodeProcess, 'kim');
    await createRoom(kim, room, 'Kim');
    assert.equal(await r().get(`rt:place:{${room}}`), 'n5');
    const jay = await rawManaged(n4 as NodeProcess, 'jay');
    await rawEnter(jay.stream, room, 'Jay');
    // Ivy stays on n4: the positive control that the room saw n4 go.
    const ivy = await login(n4 as NodeProcess, 'ivy');
    await ivy.xmpp.send(xml('presence', { to: `${room}/Ivy` }, xml('x', { xmlns: MUC })));
    await kim.next(isPresence(`${room}/Ivy`));
    const jayGone = departures(kim, `${room}/Jay`);
    const ivyGone = departures(kim, `${room}/Ivy`);
    const back = await resumeOnN2('jay', jay.previd, jay.stream, 'n4');
    await groupchat(kim, room, 'after the move', 'k-1');
    await back.expect(bodyPattern(room, 'Kim', 'after the move'), 5000);

    // n4 dies. Without the notice n5 still files Jay under n4 and removes him with Ivy.
    await (n4 as NodeProcess).kill();
    await until(() => ivyGone.length === 1, "Ivy's removal when n4 is seen dead", NODE_DOWN_BOUND_MS);
    assert.ok(statuses(ivyGone[0] as Element).includes(333), 'Ivy removed as a ghost (333)');
    await delay(300);
    assert.deepEqual(jayGone.map(String), [], 'Kim saw Jay stay');
    await groupchat(kim, room, 'after n4 died', 'k-2');
    await back.expect(bodyPattern(room, 'Kim', 'after n4 died'), 5000);
    assert.deepEqual(await occupantsOf(kim, room), [`${room}/Jay`, `${room}/Kim`]);
  });
});
