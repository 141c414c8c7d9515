// XEP-0352 client state indication against a real server: xmpp.js over WebSocket (with its XEP-0198 stream
// management, as @xmpp/client enables it) as the client that goes inactive, another resource of the same
// account as the active control, contacts as real sessions on raw streams with both-way subscriptions; the
// protocol's exchanges and bad input as raw-stream transcripts.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { xml } from '@xmpp/client';
import type { Element as LtxElement } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { plainAuth, rawLogin, RawStream, STREAM_HEADER } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';

const CSI = 'urn:xmpp:csi:0';
const CHATSTATES = 'http://jabber.org/protocol/chatstates';
const PASSWORD = 'cl1ent-st4te';
const MAX_HELD = 60;
/** How long "nothing arrives" is watched for; every such check has a positive control beside it. */
const QUIET_MS = 400;

interface Contact {
  readonly name: string;
  readonly jid: string;
  readonly stream: RawStream;
}

interface Recorded {
  readonly client: TestClient;
  /** Every stanza the client received, in order. */
  readonly log: LtxElement[];
}

describe('XEP-0352 client state indication', function () {
  this.timeout(60_000);
  let server: TestServer;
  const clients: TestClient[] = [];
  const raws: RawStream[] = [];
  let users = 0;

  before(async function () {
    server = await startTestServer({
      c2s: { requireTls: false },
      csi: { maxHeld: MAX_HELD },
      limits: { maxConnectionsPerAddress: 1000, maxPreAuthPerAddress: 100 },
    });
  });

  afterEach(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  after(async function () {
    await server?.stop();
  });

  async function user(prefix: string): Promise<string> {
    const name = `${prefix}${++users}`;
    await server.addUser(name, PASSWORD);
    return name;
  }

  /** Subscribed both ways (RFC 6121 §3), written to the server's roster store before either logs in. */
  async function befriend(a: string, b: string): Promise<void> {
    const item = (contact: string) => ({ jid: `${contact}@localhost`, subscription: 'both' as const, ask: false, approved: false, groups: [] });
    await server.server.stores.roster.setItem(a, item(b));
    await server.server.stores.roster.setItem(b, item(a));
  }

  /** `count` contacts of `me`, logged in on raw streams and available. */
  async function contactsOf(me: string, count: number): Promise<Contact[]> {
    const contacts: Contact[] = [];
    for (let i = 0; i < count; i++) {
      const name = await user('contact');
      await befriend(me, name);
      const { stream, jid } = await rawLogin(server.ports.c2s, name, PASSWORD, 'desk');
      raws.push(stream);
      stream.write('<presence/>');
      contacts.push({ name, jid, stream });
    }
    return contacts;
  }

  async function recorded(username: string, resource: string): Promise<Recorded> {
    const client = await connect(server, { transport: 'websocket', username, password: PASSWORD, resource });
    clients.push(client);
    const log: LtxElement[] = [];
    client.xmpp.on('stanza', (stanza: LtxElement) => log.push(stanza));
    // xmpp.js reports the session online before <enabled/> arrives and zeroes its count when it does: stanzas that
    // came in the same read are lost from its 'h' (a client-side race). Nothing is sent before it has the answer.
    const sm = client.xmpp.streamManagement;
    await until(() => sm.enabled && sm.id !== '', 'xmpp.js to enable stream management');
    return { client, log };
  }

  /** Sends a state; the ping's answer comes after the server has acted on it (§5.1, in-order processing). */
  async function indicate(c: Recorded, state: 'active' | 'inactive'): Promise<void> {
    await c.client.xmpp.send(xml(state, { xmlns: CSI }));
    await c.client.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  }

  let pings = 0;
  /** Waits until what the contact sent so far has been routed: its stream handles stanzas in order (RFC 6120 §10.1). */
  async function routed(contact: Contact): Promise<void> {
    const id = `routed${++pings}`;
    contact.stream.write(`<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await contact.stream.expect(new RegExp(`<iq[^>]*id="${id}"`));
  }

  async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    for (let waited = 0; !check(); waited += 20) {
      if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await delay(20);
    }
  }

  /** The stanzas other than iq (the answers to our pings) a client received after `mark`. */
  const since = (c: Recorded, mark: number): LtxElement[] => c.log.slice(mark).filter((s) => !s.is('iq'));
  const fromContacts = (log: readonly LtxElement[], contacts: readonly Contact[]): LtxElement[] => {
    const jids = new Set(contacts.map((c) => c.jid));
    return log.filter((s) => jids.has(s.attrs.from));
  };
  const presences = (log: readonly LtxElement[], contacts: readonly Contact[]): LtxElement[] => fromContacts(log, contacts).filter((s) => s.is('presence'));
  /** What the stanza is, for comparing sequences: a chat state, a body, a presence's status or type. */
  const label = (s: LtxElement): string => {
    const who = String(s.attrs.from).split('@')[0];
    if (s.is('presence')) return `${who} presence ${s.attrs.type ?? s.getChildText('status') ?? 'available'}`;
    const body = s.getChildText('body');
    if (body !== null) return `${who} body ${body}`;
    const payload = s.children.find((c): c is LtxElement => typeof c !== 'string' && c.name !== 'delay');
    return `${who} ${payload?.name ?? '?'}${s.attrs.id ? ` ${s.attrs.id}` : ''}`;
  };
  const chatState = (to: string, state: string, id: string): string => `<message to='${to}' type='chat' id='${id}'><${state} xmlns='${CHATSTATES}'/></message>`;
  const status = (text: string, show = 'away'): string => `<presence><show>${show}</show><status>${text}</status></presence>`;

  it('an inactive WebSocket client gets nothing while 50 contacts change presence; on <active/> one presence per contact, the latest', async function () {
    const CONTACTS = 50;
    const ROUNDS = 3;
    const me = await user('juliet');
    const contacts = await contactsOf(me, CONTACTS);
    const phone = await recorded(me, 'phone');
    const laptop = await recorded(me, 'laptop');
    for (const c of [phone, laptop]) await c.client.xmpp.send(xml('presence'));
    await until(() => presences(phone.log, contacts).length >= CONTACTS && presences(laptop.log, contacts).length >= CONTACTS, 'the contacts\' initial presence');

    await indicate(phone, 'inactive');
    const phoneMark = phone.log.length;
    const laptopMark = laptop.log.length;
    const latest = new Map<string, string>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, contact] of contacts.entries()) {
        // The last round: five contacts go offline (an unavailable presence replaces the available one held).
        const goesOffline = round === ROUNDS && i < 5;
        contact.stream.write(goesOffline ? "<presence type='unavailable'/>" : status(`${contact.name} round ${round}`, round === ROUNDS ? 'dnd' : 'away'));
        latest.set(contact.jid, goesOffline ? 'unavailable' : `${contact.name} round ${round}`);
      }
    }
    // The positive control: the active resource gets every change.
    await until(() => presences(laptop.log.slice(laptopMark), contacts).length >= CONTACTS * ROUNDS, `${CONTACTS * ROUNDS} presences on the active resource`);
    await delay(QUIET_MS);
    assert.equal(presences(laptop.log.slice(laptopMark), contacts).length, CONTACTS * ROUNDS);
    assert.deepEqual(since(phone, phoneMark).map(label), [], 'the inactive client received nothing');

    await indicate(phone, 'active');
    await delay(QUIET_MS);
    const flushed = since(phone, phoneMark);
    assert.equal(flushed.length, CONTACTS, `one stanza per contact, nothing else: ${flushed.filter((s) => !contacts.some((c) => c.jid === s.attrs.from)).map((s) => s.toString()).join(' ')}`);
    const got = new Map(presences(flushed, contacts).map((s) => [String(s.attrs.from), s.attrs.type ?? s.getChildText('status') ?? '']));
    assert.equal(got.size, CONTACTS, 'one presence from each contact');
    assert.deepEqual(got, latest, 'each the latest');
  });

  it('a message with a body goes out at once, after what was held, in order', async function () {
    const me = await user('juliet');
    const [romeo, nurse] = (await contactsOf(me, 2)) as [Contact, Contact];
    const phone = await recorded(me, 'phone');
    const laptop = await recorded(me, 'laptop');
    for (const c of [phone, laptop]) await c.client.xmpp.send(xml('presence'));
    await until(() => presences(phone.log, [romeo, nurse]).length >= 2, 'the contacts\' presence');
    await indicate(phone, 'inactive');
    const mark = phone.log.length;
    const to = phone.client.jid;

    romeo.stream.write(chatState(to, 'composing', 'c1'));
    await routed(romeo);
    nurse.stream.write(status('busy'));
    await routed(nurse);
    romeo.stream.write(chatState(to, 'paused', 'c2'));
    romeo.stream.write(`<message to='${to}' id='r1'><received xmlns='urn:xmpp:receipts' id='earlier'/></message>`);
    await routed(romeo);
    // The positive control: the active resource has the presence.
    await until(() => presences(laptop.log, [nurse]).some((s) => s.getChildText('status') === 'busy'), 'the presence on the active resource');
    await delay(QUIET_MS);
    assert.deepEqual(since(phone, mark).map(label), [], 'held while inactive');

    const sent = Date.now();
    romeo.stream.write(`<message to='${to}' type='chat' id='m1'><body>wherefore</body></message>`);
    await until(() => since(phone, mark).length >= 5, 'the message', 2000);
    assert.ok(Date.now() - sent < 2000, 'at once');
    assert.deepEqual(since(phone, mark).map(label), [`${romeo.name} composing c1`, `${nurse.name} presence busy`, `${romeo.name} paused c2`, `${romeo.name} received r1`, `${romeo.name} body wherefore`]);
  });

  it('holds chat states and flushes them in order on <active/>; then passes everything at once', async function () {
    const me = await user('juliet');
    const [romeo] = (await contactsOf(me, 1)) as [Contact];
    const phone = await recorded(me, 'phone');
    await indicate(phone, 'inactive');
    const mark = phone.log.length;
    const to = phone.client.jid;
    const states = ['composing', 'paused', 'composing', 'active', 'gone'];
    states.forEach((state, i) => romeo.stream.write(chatState(to, state, `s${i}`)));
    await routed(romeo);
    await delay(QUIET_MS);
    assert.deepEqual(since(phone, mark).map(label), [], 'held while inactive');

    await indicate(phone, 'active');
    assert.deepEqual(since(phone, mark).map(label), states.map((state, i) => `${romeo.name} ${state} s${i}`), 'flushed in order before the ping\'s answer');
    romeo.stream.write(chatState(to, 'composing', 'later'));
    await until(() => phone.log.some((s) => s.attrs.id === 'later'), 'a chat state once active', 2000);
  });

  it(`at the bound (max_held = ${MAX_HELD}) the next stanza flushes everything held, in order, then goes out`, async function () {
    const me = await user('juliet');
    const [romeo] = (await contactsOf(me, 1)) as [Contact];
    const phone = await recorded(me, 'phone');
    await indicate(phone, 'inactive');
    const mark = phone.log.length;
    const to = phone.client.jid;
    for (let n = 1; n <= MAX_HELD; n++) romeo.stream.write(chatState(to, n % 2 ? 'composing' : 'paused', `n${n}`));
    await routed(romeo);
    await delay(QUIET_MS);
    assert.deepEqual(since(phone, mark), [], `${MAX_HELD} held: nothing went out`);

    romeo.stream.write(chatState(to, 'gone', `n${MAX_HELD + 1}`));
    await until(() => since(phone, mark).length >= MAX_HELD + 1, 'the flush', 3000);
    await delay(100);
    assert.deepEqual(since(phone, mark).map((s) => s.attrs.id), Array.from({ length: MAX_HELD + 1 }, (_, i) => `n${i + 1}`));
  });

  it('with stream management, nothing is lost across a socket cut while inactive; the resumed stream is active (§5.2)', async function () {
    const me = await user('juliet');
    const [romeo, nurse] = (await contactsOf(me, 2)) as [Contact, Contact];
    const phone = await recorded(me, 'phone');
    const sm = phone.client.xmpp.streamManagement;
    assert.ok(sm.enabled && sm.id, 'xmpp.js enabled stream management with resumption');
    await phone.client.xmpp.send(xml('presence'));
    await until(() => presences(phone.log, [romeo, nurse]).length >= 2, 'the contacts\' presence');
    await indicate(phone, 'inactive');
    const mark = phone.log.length;
    const to = phone.client.jid;
    const session = server.server.sessions.get(to);

    romeo.stream.write(status('away'));
    romeo.stream.write(chatState(to, 'composing', 'c1'));
    await routed(romeo);
    nurse.stream.write(status('dnd', 'dnd'));
    await routed(nurse);
    romeo.stream.write(chatState(to, 'paused', 'c2'));
    await routed(romeo);
    await delay(QUIET_MS);
    assert.deepEqual(since(phone, mark), [], 'held while inactive');

    // The connection dies without a closing handshake; the session is kept for resumption (XEP-0198 §5).
    let resumed = false;
    sm.on('resumed', () => (resumed = true));
    (phone.client.xmpp.socket as { socket: { terminate(): void } }).socket.terminate();
    await until(() => server.server.sessions.get(to)?.connected === false, 'the session to be kept');
    romeo.stream.write(status('xa', 'xa'));
    romeo.stream.write(chatState(to, 'composing', 'c3'));
    await routed(romeo);
    // Urgent while away: what was held goes into stream management's queue, then this message.
    nurse.stream.write(`<message to='${to}' type='chat' id='m1'><body>during</body></message>`);
    await routed(nurse);
    romeo.stream.write(chatState(to, 'paused', 'c4'));
    await routed(romeo);
    nurse.stream.write("<presence type='unavailable'/>");
    await routed(nurse);

    await phone.client.xmpp.reconnect.reconnect();
    await until(() => resumed, 'the resumption');
    const expected = [
      `${romeo.name} composing c1`,
      `${nurse.name} presence dnd`,
      `${romeo.name} paused c2`,
      `${romeo.name} presence xa`,
      `${romeo.name} composing c3`,
      `${nurse.name} body during`,
      `${romeo.name} paused c4`,
      `${nurse.name} presence unavailable`,
    ];
    await until(() => since(phone, mark).length >= expected.length, 'what was held and queued');
    assert.equal(server.server.sessions.get(to), session, 'the same session');
    // Active again without saying so: a chat state now goes straight out.
    romeo.stream.write(chatState(to, 'composing', 'c5'));
    await until(() => phone.log.some((s) => s.attrs.id === 'c5'), 'a chat state after resumption', 2000);
    await delay(200);
    assert.deepEqual(since(phone, mark).map(label), [...expected, `${romeo.name} composing c5`], 'each exactly once, in order');
  });

  it('in a room, groupchat waits unless it mentions the nickname the client joined with', async function () {
    const room = `csi${++users}@conference.localhost`;
    const me = await user('juliet');
    const phone = await recorded(me, 'phone');
    const romeo = await recorded(await user('romeo'), 'desk');
    const enter = async (c: Recorded, nick: string): Promise<void> => {
      await c.client.xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
      await c.client.next((s) => s.is('presence') && s.attrs.from === `${room}/${nick}` && s.attrs.type === undefined);
    };
    const say = async (id: string, body: string): Promise<void> => {
      await romeo.client.xmpp.send(xml('message', { to: room, type: 'groupchat', id }, xml('body', {}, body)));
      // The room reflects it to romeo after it has sent it to every occupant.
      await romeo.client.next((s) => s.is('message') && s.attrs.id === id);
    };
    await enter(romeo, 'romeo');
    await romeo.client.xmpp.iqCaller.request(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }))));
    // The client says it is active first (as clients do at login): the stage learns the nickname from the room.
    await indicate(phone, 'active');
    await enter(phone, 'Jul');
    await indicate(phone, 'inactive');
    const mark = phone.log.length;

    await say('g1', 'lunch, anyone?');
    await delay(QUIET_MS);
    assert.deepEqual(since(phone, mark).map(label), [], 'no mention: held');
    await say('g2', 'jul: lunch?');
    await until(() => since(phone, mark).length >= 2, 'the mention', 2000);
    assert.deepEqual(since(phone, mark).map((s) => s.attrs.id), ['g1', 'g2'], 'the mention at once, after what was held');
    await say('g3', 'julie is here too');
    await delay(QUIET_MS);
    assert.equal(since(phone, mark).length, 2, 'not a mention: held');
    await indicate(phone, 'active');
    assert.deepEqual(since(phone, mark).map((s) => s.attrs.id), ['g1', 'g2', 'g3']);
  });

  it('what an inactive session holds when it ends goes the undelivered way (here: to the other resource)', async function () {
    const me = await user('juliet');
    const [romeo] = (await contactsOf(me, 1)) as [Contact];
    const laptop = await recorded(me, 'laptop');
    await laptop.client.xmpp.send(xml('presence'));
    const { stream: phone, jid } = await rawLogin(server.ports.c2s, me, PASSWORD, 'phone');
    raws.push(phone);
    phone.write(`<inactive xmlns='${CSI}'/><iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await phone.expect(/<iq[^>]*id="p1"/);
    romeo.stream.write(chatState(jid, 'composing', 'held1'));
    await delay(QUIET_MS);
    assert.doesNotMatch(phone.unread, /held1/, 'held while inactive');
    assert.ok(!laptop.log.some((s) => s.attrs.id === 'held1'), 'not elsewhere either');

    phone.write('</stream:stream>');
    await phone.waitClosed();
    const copy = await laptop.client.next((s) => s.attrs.id === 'held1');
    assert.ok(copy.getChild('composing', CHATSTATES), copy.toString());
    assert.doesNotMatch(phone.received, /held1/);
  });

  describe('the protocol over a raw stream', function () {
    it('offers <csi/> after authentication only; <inactive/> before bind ends the stream with not-authorized', async function () {
      const name = await user('juliet');
      const stream = await RawStream.connect(server.ports.c2s);
      raws.push(stream);
      stream.write(STREAM_HEADER());
      const [before] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
      assert.doesNotMatch(before, /urn:xmpp:csi:0/, 'not before authentication (§4.1)');
      stream.write(plainAuth(name, PASSWORD));
      await stream.expect(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
      stream.write(STREAM_HEADER());
      const [after] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
      assert.match(after, /<csi xmlns="urn:xmpp:csi:0"\/>/);
      assert.match(after, /<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/);

      stream.write(`<inactive xmlns='${CSI}'/>`);
      await stream.expect(/<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
      await stream.waitClosed();
    });

    it('no reply to <active/> or <inactive/>, extra attributes and children ignored; another element is unsupported-stanza-type', async function () {
      const me = await user('juliet');
      const [romeo] = (await contactsOf(me, 1)) as [Contact];
      const { stream, jid } = await rawLogin(server.ports.c2s, me, PASSWORD, 'balcony');
      raws.push(stream);
      const ping = (id: string): string => `<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
      // Nothing before the ping's answer: the indication has no reply (§4.2).
      stream.write(`<inactive xmlns='${CSI}' since='now'><why xmlns='urn:example'>sleep</why></inactive>${ping('p1')}`);
      await stream.expect(/^<iq [^>]*id="p1"[^>]*\/>/);
      romeo.stream.write(chatState(jid, 'composing', 'cs1'));
      await delay(QUIET_MS);
      assert.equal(stream.unread, '', 'the extras did not stop the indication: the chat state is held');

      stream.write(`<active xmlns='${CSI}'/>${ping('p2')}`);
      await stream.expect(/^<message [^>]*id="cs1"[^>]*>.*?<\/message><iq [^>]*id="p2"[^>]*\/>/s);

      stream.write(`<csi xmlns='${CSI}'/>`);
      await stream.expect(/<unsupported-stanza-type xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
      await stream.waitClosed();
    });
  });
});
