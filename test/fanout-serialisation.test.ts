// Fan-outs serialise once: a roster push to all of a user's interested resources (RFC 6121 §2.1.6) and a PEP
// notification to every reader with +notify (XEP-0163 §4.3) are each serialised once for all the resources
// here (PreparedStanza), and every resource still gets its own copy addressed to its full JID.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element as LtxElement } from 'ltx';
import type { TestClient } from './support/clients.js';
import { connect } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { befriend, capsClient, eventFor, PASSWORD, publishIq } from '../xeps/0163-pep/test-kit.js';
import type { Element } from '../src/xml/element.js';
import { PreparedStanza } from '../src/xml/prepared.js';

const ROSTER = 'jabber:iq:roster';
const NICK = 'http://jabber.org/protocol/nick';
const PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';

describe('fan-outs are serialised once for all recipients', function () {
  let server: TestServer;
  const open: TestClient[] = [];
  const prepared: Element[] = [];
  const observe = (element: Element): void => void prepared.push(element);
  let serial = 0;
  const user = async (prefix: string): Promise<string> => {
    const name = `${prefix}${++serial}`;
    await server.addUser(name, PASSWORD);
    return name;
  };

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false } });
    PreparedStanza.observers.add(observe);
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async function () {
    PreparedStanza.observers.delete(observe);
    await server?.stop();
  });

  it('a roster push to three interested resources (RFC 6121 §2.1.6): one serialisation, a copy to each full JID', async function () {
    const alice = await user('fan-alice');
    const resources = await Promise.all(
      (['tcp', 'websocket', 'tcp'] as const).map((transport, i) => connect(server, { transport, username: alice, password: PASSWORD, resource: `r${i}` })),
    );
    open.push(...resources);
    // A roster get makes a resource interested in pushes.
    for (const client of resources) await client.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER })));
    const contact = `fan-contact${serial}@${server.domain}`;
    const isPush = (s: LtxElement): boolean => s.is('iq') && s.attrs.type === 'set' && s.getChild('query', ROSTER)?.getChild('item')?.attrs.jid === contact;
    const pushes = resources.map((client) => client.next(isPush));
    prepared.length = 0;
    await resources[0]?.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, xml('item', { jid: contact, name: 'Contact' }))));
    const received = await Promise.all(pushes);
    assert.deepEqual(received.map((push) => push.attrs.to), resources.map((client) => client.jid), 'each resource got the push addressed to its full JID');
    for (const push of received) assert.equal(push.getChild('query', ROSTER)?.getChild('item')?.attrs.name, 'Contact');
    const serialised = prepared.filter((e) => e.name === 'iq' && e.getChild('query', ROSTER) !== undefined);
    assert.equal(serialised.length, 1, 'the push was serialised once for the three resources');
  });

  it('a PEP notification to two contacts’ three resources and the owner (XEP-0163 §4.3): one serialisation, a copy to each full JID', async function () {
    const [alice, bob, carol] = [await user('pep-alice'), await user('pep-bob'), await user('pep-carol')];
    await befriend(server, alice, bob);
    await befriend(server, alice, carol);
    const notify = [`${NICK}+notify`];
    const readers = [
      await capsClient(server, bob, { features: notify, resource: 'phone' }),
      await capsClient(server, bob, { features: notify, resource: 'desk', transport: 'websocket' }),
      await capsClient(server, carol, { features: notify }),
    ];
    const owner = await capsClient(server, alice, { features: notify });
    open.push(...readers, owner);
    const everyone = [...readers, owner];
    const events = everyone.map((client) => client.next(eventFor(NICK)));
    prepared.length = 0;
    await owner.xmpp.iqCaller.request(publishIq(NICK, undefined, xml('nick', { xmlns: NICK }, 'Alice')));
    const received = await Promise.all(events);
    assert.deepEqual(received.map((event) => event.attrs.to), everyone.map((client) => client.jid), 'each resource got the event addressed to its full JID');
    for (const event of received) {
      assert.equal(event.attrs.from, `${alice}@${server.domain}`);
      assert.equal(event.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.getChildText('nick', NICK), 'Alice');
    }
    const serialised = prepared.filter((e) => e.name === 'message' && e.getChild('event', PUBSUB_EVENT) !== undefined);
    assert.equal(serialised.length, 1, 'the notification was serialised once for the four resources');
  });
});
