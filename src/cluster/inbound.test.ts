// A `deliver` message from another node (inbound.ts): the targets still bound here get the stanza; `fallback`
// routes again what finds no target (all-or-nothing), or, for a readdressed fan-out, each absent target's copy
// addressed to it (a session handed over to another node: src/cluster/README.md, "Channels and messages").
import assert from 'node:assert/strict';
import type { Jid } from '../jid.js';
import { createLogger } from '../observability/log.js';
import { LocalSessionRegistry } from '../sessions/local-registry.js';
import { standInSession } from '../sessions/stand-in-session.js';
import { xml, type Element } from '../xml/element.js';
import type { StanzaMessage } from './bus.js';
import { handleBusMessage, type InboundRouter } from './inbound.js';

interface Rerouted {
  to: string | undefined;
  from: string;
  hops: number;
  body: string | undefined;
}

function setup(): { rerouted: Rerouted[]; texts: string[]; handle: (message: StanzaMessage) => void } {
  const sessions = new LocalSessionRegistry();
  const texts: string[] = [];
  sessions.add(standInSession('anna@localhost/here', { sendText: (text) => void texts.push(text), send: (stanza) => void texts.push(stanza.toString()) }));
  const rerouted: Rerouted[] = [];
  const router: InboundRouter = {
    routeForwarded: (stanza: Element, from: Jid, hops: number) => {
      rerouted.push({ to: stanza.attrs.to, from: from.toString(), hops, body: stanza.getChildText('body') ?? undefined });
      return Promise.resolve();
    },
    refuse: () => undefined,
    deliver: (session, stanza) => {
      session.send(stanza);
      return true;
    },
    deliverPrepared: (session, prepared) => {
      session.sendText(prepared.for(session.jid.toString()));
      return true;
    },
  };
  const deps = { sessions, router, log: createLogger('silent'), heardFrom: () => undefined };
  return { rerouted, texts, handle: (message) => handleBusMessage(message, deps) };
}

const groupchat = (): Element => xml('message', { from: 'room@conference.localhost/Ben', type: 'groupchat' }, xml('body', {}, 'hello'));
const deliver = (targets: string[], options: Pick<StanzaMessage, 'readdress' | 'fallback'>): StanzaMessage => ({
  kind: 'stanza',
  origin: 'n3',
  mode: 'deliver',
  from: 'room@conference.localhost/Ben',
  hops: 1,
  targets,
  ...options,
  stanza: groupchat(),
});

describe('cluster inbound: a deliver message and its fallback', () => {
  it('a readdressed fan-out with fallback: the copy of each target not bound here is routed again, addressed to it', () => {
    const { rerouted, texts, handle } = setup();
    handle(deliver(['gone@localhost/a', 'anna@localhost/here', 'gone@localhost/b'], { readdress: true, fallback: true }));
    assert.equal(texts.length, 1);
    assert.match(texts[0] ?? '', /to="anna@localhost\/here"/);
    assert.deepEqual(rerouted, [
      { to: 'gone@localhost/a', from: 'room@conference.localhost/Ben', hops: 1, body: 'hello' },
      { to: 'gone@localhost/b', from: 'room@conference.localhost/Ben', hops: 1, body: 'hello' },
    ]);
  });

  it('a readdressed fan-out without fallback: targets not bound here are skipped', () => {
    const { rerouted, texts, handle } = setup();
    handle(deliver(['gone@localhost/a', 'anna@localhost/here'], { readdress: true }));
    assert.equal(texts.length, 1);
    assert.deepEqual(rerouted, []);
  });

  it('a fan-out with fallback, not readdressed: routed again once, whole, only when no target is here', () => {
    const some = setup();
    some.handle(deliver(['gone@localhost/a', 'anna@localhost/here'], { fallback: true }));
    assert.equal(some.texts.length, 1);
    assert.deepEqual(some.rerouted, []);
    const none = setup();
    none.handle(deliver(['gone@localhost/a', 'gone@localhost/b'], { fallback: true }));
    assert.deepEqual(none.rerouted, [{ to: undefined, from: 'room@conference.localhost/Ben', hops: 1, body: 'hello' }]);
  });
});
