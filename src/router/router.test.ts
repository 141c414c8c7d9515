// The router's synchronous path: a chat message from a client to a user with one session here is routed to the
// end (delivered, 'message:delivered' and 'message:sent' told) before fromClient returns, with no promise; a
// listener that returns a promise makes fromClient return one, and what comes after that listener waits for it.
import assert from 'node:assert/strict';
import type { CoreHooks } from '../hooks/core-hooks.js';
import { HookBus } from '../hooks/bus.js';
import { createLogger } from '../observability/log.js';
import { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { BoundSession } from '../sessions/types.js';
import type { AccountStore } from '../storage/types.js';
import { xml, type Element } from '../xml/element.js';
import { standInSession } from '../sessions/stand-in-session.js';
import { IqRegistry } from './iq-registry.js';
import { Router } from './router.js';

function session(jid: string, received: Element[]): BoundSession {
  return standInSession(jid, { send: (stanza) => void received.push(stanza) });
}

function setup(): { router: Router; hooks: HookBus<CoreHooks>; juliet: BoundSession; toRomeo: Element[]; toJuliet: Element[] } {
  const log = createLogger('silent');
  const sessions = new LocalSessionRegistry();
  const hooks = new HookBus<CoreHooks>(log);
  const accounts = { exists: () => Promise.resolve(true) } as unknown as AccountStore;
  const router = new Router({ domain: 'localhost', sessions, accounts, hooks, iqs: new IqRegistry(), log });
  const toRomeo: Element[] = [];
  const toJuliet: Element[] = [];
  const juliet = session('juliet@localhost/balcony', toJuliet);
  sessions.add(juliet);
  sessions.add(session('romeo@localhost/garden', toRomeo));
  return { router, hooks, juliet, toRomeo, toJuliet };
}

const chat = (to: string, id: string): Element => xml('message', { to, type: 'chat', id }, xml('body', {}, 'Wherefore art thou?'));

describe('Router: the synchronous path of a chat message', () => {
  it('delivers to a bare or full JID here and tells the listeners before fromClient returns, without a promise', () => {
    const { router, hooks, juliet, toRomeo } = setup();
    const told: string[] = [];
    hooks.on('message:delivered', (stanza, user, resources) => void told.push(`delivered ${String(stanza.attrs.id)} to ${user.toString()} ${resources.join(',')}`));
    hooks.on('message:sent', (stanza) => void told.push(`sent ${String(stanza.attrs.id)}`));
    assert.equal(router.fromClient(juliet, chat('romeo@localhost', 'm1')), undefined);
    assert.equal(router.fromClient(juliet, chat('romeo@localhost/garden', 'm2')), undefined);
    assert.deepEqual(toRomeo.map((s) => [s.attrs.id, s.attrs.from]), [['m1', 'juliet@localhost/balcony'], ['m2', 'juliet@localhost/balcony']]);
    assert.deepEqual(told, [
      'delivered m1 to romeo@localhost romeo@localhost/garden', 'sent m1',
      'delivered m2 to romeo@localhost romeo@localhost/garden', 'sent m2',
    ]);
  });

  it('returns a promise when a listener does, and runs what follows it once that promise is settled', async () => {
    const { router, hooks, juliet, toRomeo } = setup();
    const told: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    hooks.on('message:delivered', async () => {
      await held;
      told.push('delivered, after its promise');
    });
    hooks.on('message:sent', () => void told.push('sent'));
    const routing = router.fromClient(juliet, chat('romeo@localhost', 'm1'));
    assert.ok(routing instanceof Promise);
    assert.equal(toRomeo.length, 1, 'delivered at once');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(told, [], "'message:sent' waits for the 'message:delivered' listener");
    release();
    await routing;
    assert.deepEqual(told, ['delivered, after its promise', 'sent']);
  });

  it('still answers what it cannot route: a message to an unknown domain bounces to the sender', async () => {
    const { router, juliet, toJuliet } = setup();
    await router.fromClient(juliet, chat('someone@elsewhere.example', 'm1'));
    assert.equal(toJuliet.length, 1);
    assert.equal(toJuliet[0]?.attrs.type, 'error');
    assert.ok(toJuliet[0]?.getChild('error')?.getChild('remote-server-not-found'));
  });
});
