// The rule engine on its own: XEP-0016 §2.1 JID matching, item order, stanza kinds and directions,
// group and subscription items against a roster snapshot, and the block list checked first.
import assert from 'node:assert/strict';
import { Jid } from '../../src/jid.js';
import type { PrivacyItem } from './store/types.js';
import { xml } from '../../src/xml/element.js';
import { BlockList, classify, compileList, decide, evaluateList, peerFrom, peerOf, type Direction, type RosterEntry, type StanzaKind } from './engine.js';

function item(order: number, fields: Partial<PrivacyItem> = {}): PrivacyItem {
  return { action: 'deny', order, message: false, iq: false, presenceIn: false, presenceOut: false, ...fields };
}

const peer = (jid: string) => peerOf(Jid.parse(jid));
const jidItem = (value: string, fields: Partial<PrivacyItem> = {}) => item(1, { type: 'jid', value, ...fields });
const denies = (items: PrivacyItem[], who: string, direction: Direction = 'in', kind: StanzaKind = 'message', roster?: Map<string, RosterEntry>) =>
  evaluateList(compileList('l', items), direction, kind, peer(who), roster) === 'deny';

describe('XEP-0016 engine', function () {
  describe('§2.1 JID matching', function () {
    it('user@domain/resource matches only that resource', function () {
      const items = [jidItem('romeo@example.net/orchard')];
      assert.equal(denies(items, 'romeo@example.net/orchard'), true);
      assert.equal(denies(items, 'romeo@example.net/home'), false);
      assert.equal(denies(items, 'romeo@example.net'), false);
    });

    it('user@domain matches any resource, and the bare JID', function () {
      const items = [jidItem('romeo@example.net')];
      assert.equal(denies(items, 'romeo@example.net/orchard'), true);
      assert.equal(denies(items, 'romeo@example.net'), true);
      assert.equal(denies(items, 'juliet@example.net/balcony'), false);
    });

    it('domain/resource matches that resource at the domain', function () {
      const items = [jidItem('example.net/orchard')];
      assert.equal(denies(items, 'example.net/orchard'), true);
      assert.equal(denies(items, 'romeo@example.net/orchard'), true);
      assert.equal(denies(items, 'romeo@example.net/home'), false);
      assert.equal(denies(items, 'example.net'), false);
    });

    it('domain matches the domain, any address at it and its subdomains, nothing else', function () {
      const items = [jidItem('example.net')];
      for (const jid of ['example.net', 'romeo@example.net', 'romeo@example.net/orchard', 'example.net/orchard', 'conference.example.net', 'room@conference.example.net/nick']) {
        assert.equal(denies(items, jid), true, jid);
      }
      for (const jid of ['badexample.net', 'romeo@example.org', 'net']) assert.equal(denies(items, jid), false, jid);
    });
  });

  describe('§2.2 business rules', function () {
    it('processes items in ascending order whatever the order they were written in, first match wins', function () {
      const items = [item(20, { type: 'jid', value: 'romeo@example.net', action: 'deny' }), item(10, { type: 'jid', value: 'example.net', action: 'allow' })];
      assert.equal(denies(items, 'romeo@example.net'), false, 'order 10 (allow the domain) comes before order 20');
      const swapped = [item(10, { type: 'jid', value: 'romeo@example.net', action: 'deny' }), item(20, { type: 'jid', value: 'example.net', action: 'allow' })];
      assert.equal(denies(swapped, 'romeo@example.net'), true);
      assert.equal(denies(swapped, 'juliet@example.net'), false);
    });

    it('allows when no item matches, and a fall-through item (no type) matches everyone', function () {
      assert.equal(denies([jidItem('tybalt@example.com')], 'romeo@example.net'), false);
      const whitelist = [item(6, { type: 'jid', value: 'juliet@example.com', action: 'allow' }), item(666, { action: 'deny' })];
      assert.equal(denies(whitelist, 'juliet@example.com/balcony'), false);
      assert.equal(denies(whitelist, 'mercutio@example.org'), true);
    });
  });

  describe('stanza kinds and directions', function () {
    const cases: Array<[Partial<PrivacyItem>, Direction, StanzaKind, boolean]> = [
      [{ message: true }, 'in', 'message', true],
      [{ message: true }, 'in', 'iq', false],
      [{ message: true }, 'out', 'message', false],
      [{ iq: true }, 'in', 'iq', true],
      [{ iq: true }, 'out', 'iq', false],
      [{ presenceIn: true }, 'in', 'notification', true],
      [{ presenceIn: true }, 'in', 'presence', false], // subscriptions are not notifications
      [{ presenceIn: true }, 'out', 'notification', false],
      [{ presenceOut: true }, 'out', 'notification', true],
      [{ presenceOut: true }, 'out', 'presence', false],
      [{ presenceOut: true }, 'in', 'notification', false],
      [{ message: true, presenceOut: true }, 'out', 'notification', true],
      [{ message: true, presenceOut: true }, 'in', 'message', true],
      [{}, 'in', 'message', true],
      [{}, 'in', 'iq', true],
      [{}, 'in', 'presence', true], // §2.13: "all" includes subscription-related presence
      [{}, 'out', 'message', true],
      [{}, 'out', 'presence', true],
    ];
    for (const [flags, direction, kind, expected] of cases) {
      const children = Object.keys(flags).join('+') || 'no children';
      it(`an item with ${children} ${expected ? 'selects' : 'does not select'} ${direction}bound ${kind}`, function () {
        assert.equal(denies([jidItem('tybalt@example.com', flags)], 'tybalt@example.com/pda', direction, kind), expected);
      });
    }

    it('classifies presence notifications apart from other presence', function () {
      assert.equal(classify(xml('presence')), 'notification');
      assert.equal(classify(xml('presence', { type: 'unavailable' })), 'notification');
      for (const type of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']) assert.equal(classify(xml('presence', { type })), 'presence', type);
      assert.equal(classify(xml('message', { type: 'chat' })), 'message');
      assert.equal(classify(xml('iq', { type: 'result' })), 'iq');
    });
  });

  describe('group and subscription items', function () {
    const roster = new Map<string, RosterEntry>([
      ['tybalt@example.com', { subscription: 'both', groups: ['Enemies', 'Capulets'] }],
      ['nurse@example.com', { subscription: 'from', groups: [] }],
      ['paris@example.org', { subscription: 'none', groups: ['Suitors'] }],
    ]);

    it('a group item matches the contacts in that roster group', function () {
      const items = [item(4, { type: 'group', value: 'Enemies' })];
      assert.equal(denies(items, 'tybalt@example.com/pda', 'in', 'message', roster), true);
      assert.equal(denies(items, 'nurse@example.com', 'in', 'message', roster), false);
      assert.equal(denies(items, 'stranger@example.com', 'in', 'message', roster), false);
      assert.equal(compileList('l', items).needsRoster, true);
    });

    it("a subscription item matches that state, and 'none' also those not in the roster", function () {
      const none = [item(5, { type: 'subscription', value: 'none' })];
      assert.equal(denies(none, 'paris@example.org', 'in', 'message', roster), true);
      assert.equal(denies(none, 'stranger@example.com', 'in', 'message', roster), true);
      assert.equal(denies(none, 'tybalt@example.com', 'in', 'message', roster), false);
      const from = [item(5, { type: 'subscription', value: 'from' })];
      assert.equal(denies(from, 'nurse@example.com/kitchen', 'in', 'message', roster), true);
      assert.equal(denies(from, 'tybalt@example.com', 'in', 'message', roster), false);
    });

    it('a JID-only list does not need the roster', function () {
      assert.equal(compileList('l', [jidItem('tybalt@example.com'), item(2, { action: 'allow' })]).needsRoster, false);
    });
  });

  describe('addresses', function () {
    it('reads stamped addresses without Jid.parse and gives the same forms; folds the rest through it', function () {
      for (const address of ['romeo@example.net/orchard', 'romeo@example.net', 'example.net', 'example.net/orchard', 'a@b/c/d', 'a@b/c@d', 'romeo@example.net/Orchard Gate', 'Romeo@Example.NET/Orchard', 'roméo@example.net', 'example.net.']) {
        assert.deepEqual(peerFrom(address), peerOf(Jid.parse(address)), address);
      }
      for (const bad of ['@example.net', 'romeo@', 'romeo@example.net/', '/orchard', 'a@b@c', '']) assert.equal(peerFrom(bad), undefined, bad);
    });
  });

  describe('the block list', function () {
    it('matches the four JID forms', function () {
      const blocked = BlockList.of(['tybalt@example.com', 'iago@shakespeare.lit/pda', 'example.org/bot', 'spam.example']);
      assert.equal(blocked.matches(peer('tybalt@example.com/pda')), true);
      assert.equal(blocked.matches(peer('iago@shakespeare.lit/pda')), true);
      assert.equal(blocked.matches(peer('iago@shakespeare.lit/home')), false);
      assert.equal(blocked.matches(peer('someone@example.org/bot')), true);
      assert.equal(blocked.matches(peer('someone@example.org/home')), false);
      assert.equal(blocked.matches(peer('anyone@spam.example/x')), true);
      assert.equal(blocked.matches(peer('room@muc.spam.example/nick')), true);
      assert.equal(blocked.matches(peer('romeo@example.net')), false);
      assert.deepEqual(blocked.with(['a@b']).without(['spam.example']).jids, ['a@b', 'example.org/bot', 'iago@shakespeare.lit/pda', 'tybalt@example.com']);
    });

    it('comes before the privacy list: an allow item does not lift a block', function () {
      const list = compileList('open', [jidItem('tybalt@example.com', { action: 'allow' })]);
      const policy = { blocked: BlockList.of(['tybalt@example.com']), list, roster: undefined };
      assert.equal(decide(policy, 'in', 'message', peer('tybalt@example.com/pda')), 'blocked');
      assert.equal(decide(policy, 'out', 'notification', peer('tybalt@example.com')), 'blocked');
      assert.equal(decide({ ...policy, blocked: BlockList.EMPTY }, 'in', 'message', peer('tybalt@example.com')), 'allow');
      const deny = compileList('deny', [item(1, { action: 'deny' })]);
      assert.equal(decide({ blocked: BlockList.EMPTY, list: deny, roster: undefined }, 'in', 'iq', peer('tybalt@example.com')), 'denied');
    });
  });
});
