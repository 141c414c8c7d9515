// XEP-0016 Privacy Lists walked through the spec's examples with real xmpp.js clients, on both
// storage back ends: list management (§2.3-§2.8), then what each kind of item blocks in each
// direction and the exact error the other side gets (§2.9-§2.14).
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { describeBackends } from '../../test/support/backends.js';
import type { TestServer } from '../../test/support/server.js';
import {
  activate, chat, Clients, contacts, errorOf, freshUsers, isError, isMessage, isPresence, isPush, item, jid, list, PRIVACY, query, quiet, refused, request,
} from './test-kit.js';

describeBackends('XEP-0016 Privacy Lists', (backend) => {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await backend.start();
  });
  afterEach(async function () {
    await clients.stopAll();
  });
  after(async function () {
    await server?.stop();
  });

  // The lists of §2.3 Examples 4, 6 and 8.
  const publicList = () => list('public', item({ type: 'jid', value: 'tybalt@example.com', action: 'deny', order: '1' }), item({ action: 'allow', order: '2' }));
  const privateList = () => list('private', item({ type: 'subscription', value: 'both', action: 'allow', order: '10' }), item({ action: 'deny', order: '15' }));
  const specialList = () =>
    list(
      'special',
      item({ type: 'jid', value: 'juliet@example.com', action: 'allow', order: '6' }),
      item({ type: 'jid', value: 'benvolio@example.org', action: 'allow', order: '7' }),
      item({ type: 'jid', value: 'mercutio@example.org', action: 'allow', order: '42' }),
      item({ action: 'deny', order: '666' }),
    );

  describe('list management', function () {
    it('advertises jabber:iq:privacy in the server disco#info', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const c = await clients.login(romeo, 'orchard');
      const result = await request(c, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost');
      const features = result.getChild('query')?.getChildren('feature').map((f) => f.attrs.var);
      assert.ok(features?.includes(PRIVACY));
    });

    it('§2.3 Examples 1-8: names with the active and default lists first, then each list', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const c = await clients.login(romeo, 'orchard');
      const empty = await request(c, 'get', query());
      assert.equal(empty.getChild('query', PRIVACY)?.children.length, 0, empty.toString());

      for (const l of [publicList(), privateList(), specialList()]) await request(c, 'set', query(l));
      await request(c, 'set', query(xml('default', { name: 'public' })));
      await request(c, 'set', query(xml('active', { name: 'private' })));

      const names = (await request(c, 'get', query())).getChild('query', PRIVACY);
      assert.ok(names);
      assert.deepEqual(
        names.getChildElements().map((e) => `${e.name}:${e.attrs.name as string}`),
        ['active:private', 'default:public', 'list:private', 'list:public', 'list:special'],
      );

      const got = (await request(c, 'get', query(list('special')))).getChild('query', PRIVACY)?.getChild('list');
      assert.equal(got?.attrs.name, 'special');
      assert.deepEqual(
        got?.getChildren('item').map((i) => ({ ...i.attrs })),
        [
          { type: 'jid', value: 'juliet@example.com', action: 'allow', order: '6' },
          { type: 'jid', value: 'benvolio@example.org', action: 'allow', order: '7' },
          { type: 'jid', value: 'mercutio@example.org', action: 'allow', order: '42' },
          { action: 'deny', order: '666' },
        ],
      );
    });

    it('§2.3 Examples 9-10: an unknown list is item-not-found; more than one list is bad-request', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const c = await clients.login(romeo, 'orchard');
      assert.deepEqual(await refused(request(c, 'get', query(list('The Empty Set')))), { condition: 'item-not-found', type: 'cancel', app: undefined });
      await request(c, 'set', query(publicList()));
      await request(c, 'set', query(privateList()));
      assert.deepEqual(await refused(request(c, 'get', query(list('public'), list('private')))), { condition: 'bad-request', type: 'modify', app: undefined });
    });

    it('§2.4: sets, declines, and refuses an unknown active list', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const c = await clients.login(romeo, 'orchard');
      await request(c, 'set', query(specialList()));
      await request(c, 'set', query(xml('active', { name: 'special' })));
      assert.equal((await request(c, 'get', query())).getChild('query')?.getChild('active')?.attrs.name, 'special');
      assert.equal((await refused(request(c, 'set', query(xml('active', { name: 'The Empty Set' }))))).condition, 'item-not-found');
      await request(c, 'set', query(xml('active')));
      assert.equal((await request(c, 'get', query())).getChild('query')?.getChild('active'), undefined);
    });

    it('§2.5: the default list; changing or declining it while it applies to another resource is a conflict', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const orchard = await clients.login(romeo, 'orchard');
      await request(orchard, 'set', query(publicList()));
      await request(orchard, 'set', query(specialList()));
      assert.equal((await refused(request(orchard, 'set', query(xml('default', { name: 'The Empty Set' }))))).condition, 'item-not-found');
      await request(orchard, 'set', query(xml('default', { name: 'public' })));

      const home = await clients.login(romeo, 'home');
      // 'home' has no active list, so the default list applies to it.
      assert.deepEqual(await refused(request(orchard, 'set', query(xml('default', { name: 'special' })))), { condition: 'conflict', type: 'cancel', app: undefined });
      assert.equal((await refused(request(orchard, 'set', query(xml('default'))))).condition, 'conflict');
      // Setting the same default again changes nothing and is fine.
      await request(orchard, 'set', query(xml('default', { name: 'public' })));

      await request(home, 'set', query(xml('active', { name: 'public' })));
      await request(orchard, 'set', query(xml('default', { name: 'special' })));
      assert.equal((await request(orchard, 'get', query())).getChild('query')?.getChild('default')?.attrs.name, 'special');
      await request(orchard, 'set', query(xml('default')));
      assert.equal((await request(orchard, 'get', query())).getChild('query')?.getChild('default'), undefined);
    });

    it('§2.6-§2.7: editing or adding a list pushes its name to every connected resource', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const orchard = await clients.login(romeo, 'orchard');
      const home = await clients.login(romeo, 'home', 'tcp');
      await request(orchard, 'set', query(list('public', item({ type: 'jid', value: 'tybalt@example.com', action: 'deny', order: '3' }), item({ type: 'jid', value: 'paris@example.org', action: 'deny', order: '5' }), item({ action: 'allow', order: '68' }))));
      for (const c of [orchard, home]) {
        const push = await c.next(isPush(PRIVACY, 'query'));
        assert.equal(push.attrs.to, c.jid);
        assert.deepEqual(push.getChild('query', PRIVACY)?.getChildElements().map((e) => e.toString()), ['<list name="public"/>']);
      }
      const got = (await request(home, 'get', query(list('public')))).getChild('query')?.getChild('list');
      assert.deepEqual(got?.getChildren('item').map((i) => i.attrs.order), ['3', '5', '68']);
    });

    it('§2.8: removing a list; item-not-found when there is none, conflict while another resource uses it', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const orchard = await clients.login(romeo, 'orchard');
      const home = await clients.login(romeo, 'home');
      await request(orchard, 'set', query(privateList()));
      await request(home, 'set', query(xml('active', { name: 'private' })));
      assert.equal((await refused(request(orchard, 'set', query(list('private'))))).condition, 'conflict');
      assert.equal((await refused(request(orchard, 'set', query(list('The Empty Set'))))).condition, 'item-not-found');
      assert.equal((await refused(request(orchard, 'set', query(list('private'), list('public'))))).condition, 'bad-request');

      // The sender's own use of the list does not stand in the way; it simply ends.
      await request(home, 'set', query(list('private')));
      await orchard.next((s) => isPush(PRIVACY, 'query')(s) && s.getChild('query')?.getChild('list')?.attrs.name === 'private' && s.getChild('query')?.getChild('list')?.children.length === 0);
      const names = (await request(home, 'get', query())).getChild('query');
      assert.equal(names?.getChildElements().length, 0, names?.toString());
    });

    it('§2.1: validates items (action, order, unique order, type, value, stanza kinds) with bad-request', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const c = await clients.login(romeo, 'orchard');
      const bad: Array<[string, ReturnType<typeof item>[]]> = [
        ['no action', [item({ order: '1' })]],
        ['action block', [item({ action: 'block', order: '1' })]],
        ['no order', [item({ action: 'deny' })]],
        ['negative order', [item({ action: 'deny', order: '-1' })]],
        ['order beyond unsignedInt', [item({ action: 'deny', order: '4294967296' })]],
        ['duplicate order', [item({ type: 'jid', value: 'a@example.com', action: 'deny', order: '1' }), item({ action: 'allow', order: '1' })]],
        ['unknown type', [item({ type: 'nickname', value: 'x', action: 'deny', order: '1' })]],
        ['jid without value', [item({ type: 'jid', action: 'deny', order: '1' })]],
        ['invalid jid', [item({ type: 'jid', value: '@example.com', action: 'deny', order: '1' })]],
        ['subscription value', [item({ type: 'subscription', value: 'sometimes', action: 'deny', order: '1' })]],
        ['value without type', [item({ value: 'x', action: 'deny', order: '1' })]],
        ['unknown stanza kind', [item({ action: 'deny', order: '1' }, 'chat')]],
      ];
      for (const [what, items] of bad) {
        assert.deepEqual(await refused(request(c, 'set', query(list('bad', ...items)))), { condition: 'bad-request', type: 'modify', app: undefined }, what);
      }
      assert.equal((await refused(request(c, 'set', query(xml('active', { name: 'x' }), xml('default', { name: 'x' }))))).condition, 'bad-request', 'two children');
      assert.equal((await refused(request(c, 'set', query()))).condition, 'bad-request', 'no child');
      assert.equal((await refused(request(c, 'get', query(list('bad'))))).condition, 'item-not-found', 'nothing was stored');
      // JIDs are kept normalised.
      await request(c, 'set', query(list('ok', item({ type: 'jid', value: 'Tybalt@Example.COM/PDA', action: 'deny', order: '1' }, 'message', 'presence-in'))));
      const stored = (await request(c, 'get', query(list('ok')))).getChild('query')?.getChild('list')?.getChild('item');
      assert.equal(stored?.attrs.value, 'tybalt@example.com/PDA');
      assert.deepEqual(stored?.getChildElements().map((e) => e.name), ['message', 'presence-in']);
    });

    it('§2.1: a group item must name a group of the roster (item-not-found otherwise)', async function () {
      const { romeo, tybalt } = await freshUsers(server, 'romeo', 'tybalt');
      await contacts(server, romeo, tybalt, { a: 'both', b: 'both', groupsOfB: ['Enemies'] });
      const c = await clients.login(romeo, 'orchard');
      assert.equal((await refused(request(c, 'set', query(list('g', item({ type: 'group', value: 'Friends', action: 'deny', order: '1' })))))).condition, 'item-not-found');
      await request(c, 'set', query(list('g', item({ type: 'group', value: 'Enemies', action: 'deny', order: '1' }))));
    });
  });

  describe('enforcement', function () {
    it('§2.9 message by JID: the blocked sender gets service-unavailable, others get through', async function () {
      const { romeo, tybalt, juliet } = await freshUsers(server, 'romeo', 'tybalt', 'juliet');
      const r = await clients.login(romeo, 'orchard');
      const t = await clients.login(tybalt, 'pda');
      const j = await clients.login(juliet, 'balcony');
      await activate(r, 'message-jid-example', item({ type: 'jid', value: jid(tybalt), action: 'deny', order: '3' }, 'message'));

      await t.xmpp.send(chat(r.jid, 'Can you hear me?'));
      const error = await t.next(isError('message', r.jid));
      assert.deepEqual(errorOf(error), { condition: 'service-unavailable', type: 'cancel', app: undefined });
      assert.equal(error.getChildText('body'), 'Can you hear me?');
      await j.xmpp.send(chat(r.jid, 'It is the east'));
      await r.next(isMessage(j.jid, 'It is the east'));
      await quiet(r, isMessage(t.jid), 100);

      // Only messages: an iq from the same JID reaches the client.
      await t.xmpp.send(xml('iq', { type: 'get', id: 'v1', to: r.jid }, xml('query', { xmlns: 'jabber:iq:version' })));
      await r.next((s) => s.is('iq') && s.attrs.id === 'v1' && s.attrs.from === t.jid);
    });

    it('§2.12 iq: a blocked get is answered service-unavailable (§2.14), a blocked result is dropped', async function () {
      const { romeo, tybalt } = await freshUsers(server, 'romeo', 'tybalt');
      const r = await clients.login(romeo, 'orchard');
      const t = await clients.login(tybalt, 'pda');
      await activate(r, 'iq-jid-example', item({ type: 'jid', value: jid(tybalt), action: 'deny', order: '29' }, 'iq'));
      assert.deepEqual(await refused(request(t, 'get', xml('query', { xmlns: 'jabber:iq:version' }), r.jid)), { condition: 'service-unavailable', type: 'cancel', app: undefined });
      await quiet(r, (s) => s.is('iq') && s.attrs.from === t.jid, 100);
      await t.xmpp.send(xml('iq', { type: 'result', id: 'stray', to: r.jid }));
      await quiet(r, (s) => s.is('iq') && s.attrs.id === 'stray', 200);
      await quiet(t, (s) => s.attrs.id === 'stray');
      // Messages still pass.
      await t.xmpp.send(chat(r.jid, 'still here'));
      await r.next(isMessage(t.jid, 'still here'));
    });

    it('§2.10 presence-in: blocked presence is dropped without an error', async function () {
      const { romeo, tybalt } = await freshUsers(server, 'romeo', 'tybalt');
      const r = await clients.login(romeo, 'orchard');
      const t = await clients.login(tybalt, 'pda');
      await activate(r, 'presin-jid-example', item({ type: 'jid', value: jid(tybalt), action: 'deny', order: '7' }, 'presence-in'));
      await t.xmpp.send(xml('presence', { to: r.jid }, xml('status', {}, 'watching')));
      await quiet(r, isPresence(t.jid));
      await quiet(t, (s) => s.is('presence') && s.attrs.type === 'error', 100);
    });

    it('§2.11 presence-out: the contact stops getting the presence broadcast; directed presence is not-acceptable', async function () {
      const { romeo, tybalt, juliet } = await freshUsers(server, 'romeo', 'tybalt', 'juliet');
      await contacts(server, romeo, tybalt, { a: 'both', b: 'both' });
      await contacts(server, romeo, juliet, { a: 'both', b: 'both' });
      const r = await clients.login(romeo, 'orchard');
      const t = await clients.login(tybalt, 'pda');
      const j = await clients.login(juliet, 'balcony');
      await t.xmpp.send(xml('presence'));
      await j.xmpp.send(xml('presence'));
      await t.next(isPresence(t.jid));
      await j.next(isPresence(j.jid));
      await activate(r, 'presout-jid-example', item({ type: 'jid', value: jid(tybalt), action: 'deny', order: '13' }, 'presence-out'));

      await r.xmpp.send(xml('presence', {}, xml('status', {}, 'in the orchard')));
      await j.next(isPresence(r.jid));
      await quiet(t, isPresence(r.jid));

      await r.xmpp.send(xml('presence', { to: t.jid }, xml('status', {}, 'directed')));
      assert.deepEqual(errorOf(await r.next(isError('presence', t.jid))), { condition: 'not-acceptable', type: 'cancel', app: undefined });
      await quiet(t, isPresence(r.jid), 100);
    });

    it('§2.13-§2.14 all stanzas: outbound stanzas to a blocked JID are not-acceptable, inbound dropped or bounced', async function () {
      const { romeo, tybalt } = await freshUsers(server, 'romeo', 'tybalt');
      const r = await clients.login(romeo, 'orchard');
      const t = await clients.login(tybalt, 'pda');
      await activate(r, 'all-jid-example', item({ type: 'jid', value: jid(tybalt), action: 'deny', order: '23' }));

      await r.xmpp.send(chat(jid(tybalt), 'Can you hear me now?'));
      const error = await r.next(isError('message', jid(tybalt)));
      assert.deepEqual(errorOf(error), { condition: 'not-acceptable', type: 'cancel', app: undefined });
      assert.equal(error.getChildText('body'), 'Can you hear me now?');
      assert.deepEqual(await refused(request(r, 'get', xml('query', { xmlns: 'jabber:iq:version' }), t.jid)), { condition: 'not-acceptable', type: 'cancel', app: undefined });
      await quiet(t, (s) => s.attrs.from === r.jid, 100);

      await t.xmpp.send(chat(r.jid, 'hello?'));
      assert.equal(errorOf(await t.next(isError('message', r.jid))).condition, 'service-unavailable');
      await t.xmpp.send(xml('presence', { to: jid(romeo), type: 'subscribe' }));
      await quiet(r, (s) => s.is('presence') && s.attrs.type === 'subscribe');
      assert.deepEqual(await server.server.stores.subscriptionRequests.list(romeo), [], 'the request is neither delivered nor kept');
    });

    it('§2.9 by roster group and by subscription type', async function () {
      const { romeo, tybalt, juliet, paris } = await freshUsers(server, 'romeo', 'tybalt', 'juliet', 'paris');
      await contacts(server, romeo, tybalt, { a: 'both', b: 'both', groupsOfB: ['Enemies'] });
      await contacts(server, romeo, juliet, { a: 'both', b: 'both', groupsOfB: ['Friends'] });
      const r = await clients.login(romeo, 'orchard');
      const t = await clients.login(tybalt, 'pda');
      const j = await clients.login(juliet, 'balcony');
      const p = await clients.login(paris, 'ball');

      await activate(r, 'message-group-example', item({ type: 'group', value: 'Enemies', action: 'deny', order: '4' }, 'message'));
      await t.xmpp.send(chat(r.jid, 'draw'));
      assert.equal(errorOf(await t.next(isError('message', r.jid))).condition, 'service-unavailable');
      await j.xmpp.send(chat(r.jid, 'wherefore'));
      await r.next(isMessage(j.jid, 'wherefore'));

      // 'none' covers everyone outside the roster (§2.1).
      await activate(r, 'message-sub-example', item({ type: 'subscription', value: 'none', action: 'deny', order: '5' }, 'message'));
      await p.xmpp.send(chat(r.jid, 'I am Paris'));
      assert.equal(errorOf(await p.next(isError('message', r.jid))).condition, 'service-unavailable');
      await t.xmpp.send(chat(r.jid, 'now I pass'));
      await r.next(isMessage(t.jid, 'now I pass'));
    });

    it('§2.2 rules 1-2: the default list applies where no list is active; an active list replaces it', async function () {
      const { romeo, tybalt } = await freshUsers(server, 'romeo', 'tybalt');
      const orchard = await clients.login(romeo, 'orchard');
      const home = await clients.login(romeo, 'home');
      const t = await clients.login(tybalt, 'pda');
      await request(orchard, 'set', query(list('public', item({ type: 'jid', value: jid(tybalt), action: 'deny', order: '1' }))));
      await request(orchard, 'set', query(list('open', item({ action: 'allow', order: '1' }))));
      await request(orchard, 'set', query(xml('default', { name: 'public' })));
      await request(home, 'set', query(xml('active', { name: 'open' })));

      await t.xmpp.send(chat(orchard.jid, 'to orchard'));
      assert.equal(errorOf(await t.next(isError('message', orchard.jid))).condition, 'service-unavailable');
      await t.xmpp.send(chat(home.jid, 'to home'));
      await home.next(isMessage(t.jid, 'to home'));

      // §2.2 rule 8: an edit of a list in use applies at once.
      await request(orchard, 'set', query(list('public', item({ action: 'allow', order: '1' }))));
      await t.xmpp.send(chat(orchard.jid, 'again'));
      await orchard.next(isMessage(t.jid, 'again'));
    });

    it('§2.2 rule 2: a user with no session gets the default list: a blocked message is refused, not stored', async function () {
      const { romeo, tybalt } = await freshUsers(server, 'romeo', 'tybalt');
      const r = await clients.login(romeo, 'orchard');
      await request(r, 'set', query(list('public', item({ type: 'jid', value: jid(tybalt), action: 'deny', order: '1' }, 'message'))));
      await request(r, 'set', query(xml('default', { name: 'public' })));
      await r.stop();

      const t = await clients.login(tybalt, 'pda');
      await t.xmpp.send(chat(jid(romeo), 'while you sleep'));
      assert.equal(errorOf(await t.next(isError('message', jid(romeo)))).condition, 'service-unavailable');
      assert.equal(await server.server.stores.offline.count(romeo), 0);
    });

    it('never blocks the user’s own resources, nor the server', async function () {
      const { romeo } = await freshUsers(server, 'romeo');
      const orchard = await clients.login(romeo, 'orchard');
      const home = await clients.login(romeo, 'home');
      await activate(orchard, 'all-global-example', item({ action: 'deny', order: '7' }));
      await home.xmpp.send(chat(orchard.jid, 'note to self'));
      await orchard.next(isMessage(home.jid, 'note to self'));
      await request(orchard, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost');
      await request(orchard, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }));
    });
  });
});
