// RFC 6121 Appendix A, table by table: the subscription state machine as pure functions.
import assert from 'node:assert/strict';
import { inbound, outbound, type SubState, type SubscriptionType } from './subscriptions.js';

type Name = 'None' | 'None + Pending Out' | 'None + Pending In' | 'None + Pending Out/In' | 'To' | 'To + Pending In' | 'From' | 'From + Pending Out' | 'Both';

const STATES: Record<Name, SubState> = {
  None: { subscription: 'none', ask: false, pendingIn: false, approved: false },
  'None + Pending Out': { subscription: 'none', ask: true, pendingIn: false, approved: false },
  'None + Pending In': { subscription: 'none', ask: false, pendingIn: true, approved: false },
  'None + Pending Out/In': { subscription: 'none', ask: true, pendingIn: true, approved: false },
  To: { subscription: 'to', ask: false, pendingIn: false, approved: false },
  'To + Pending In': { subscription: 'to', ask: false, pendingIn: true, approved: false },
  From: { subscription: 'from', ask: false, pendingIn: false, approved: false },
  'From + Pending Out': { subscription: 'from', ask: true, pendingIn: false, approved: false },
  Both: { subscription: 'both', ask: false, pendingIn: false, approved: false },
};

/** [existing state, route/deliver?, new state or undefined for "no state change"] in the RFC's row order. */
type Row = [Name, boolean, Name | undefined];

const OUTBOUND: Record<SubscriptionType, Row[]> = {
  // A.2.1
  subscribe: [
    ['None', true, 'None + Pending Out'],
    ['None + Pending Out', true, undefined],
    ['None + Pending In', true, 'None + Pending Out/In'],
    ['None + Pending Out/In', true, undefined],
    ['To', true, undefined],
    ['To + Pending In', true, undefined],
    ['From', true, 'From + Pending Out'],
    ['From + Pending Out', true, undefined],
    ['Both', true, undefined],
  ],
  // A.2.2
  unsubscribe: [
    ['None', true, undefined],
    ['None + Pending Out', true, 'None'],
    ['None + Pending In', true, undefined],
    ['None + Pending Out/In', true, 'None + Pending In'],
    ['To', true, 'None'],
    ['To + Pending In', true, 'None + Pending In'],
    ['From', true, undefined],
    ['From + Pending Out', true, 'From'],
    ['Both', true, 'From'],
  ],
  // A.2.3 (the rows that do not route record a pre-approval instead, §3.4, checked below)
  subscribed: [
    ['None', false, undefined],
    ['None + Pending Out', false, undefined],
    ['None + Pending In', true, 'From'],
    ['None + Pending Out/In', true, 'From + Pending Out'],
    ['To', false, undefined],
    ['To + Pending In', true, 'Both'],
    ['From', false, undefined],
    ['From + Pending Out', false, undefined],
    ['Both', false, undefined],
  ],
  // A.2.4
  unsubscribed: [
    ['None', false, undefined],
    ['None + Pending Out', false, undefined],
    ['None + Pending In', true, 'None'],
    ['None + Pending Out/In', true, 'None + Pending Out'],
    ['To', false, undefined],
    ['To + Pending In', true, 'To'],
    ['From', true, 'None'],
    ['From + Pending Out', true, 'None + Pending Out'],
    ['Both', true, 'To'],
  ],
};

const INBOUND: Record<SubscriptionType, Row[]> = {
  // A.3.1 (From, From + Pending Out, Both: not delivered, the server answers 'subscribed' itself)
  subscribe: [
    ['None', true, 'None + Pending In'],
    ['None + Pending Out', true, 'None + Pending Out/In'],
    ['None + Pending In', false, undefined],
    ['None + Pending Out/In', false, undefined],
    ['To', true, 'To + Pending In'],
    ['To + Pending In', false, undefined],
    ['From', false, undefined],
    ['From + Pending Out', false, undefined],
    ['Both', false, undefined],
  ],
  // A.3.2
  unsubscribe: [
    ['None', false, undefined],
    ['None + Pending Out', false, undefined],
    ['None + Pending In', true, 'None'],
    ['None + Pending Out/In', true, 'None + Pending Out'],
    ['To', false, undefined],
    ['To + Pending In', true, 'To'],
    ['From', true, 'None'],
    ['From + Pending Out', true, 'None + Pending Out'],
    ['Both', true, 'To'],
  ],
  // A.3.3
  subscribed: [
    ['None', false, undefined],
    ['None + Pending Out', true, 'To'],
    ['None + Pending In', false, undefined],
    ['None + Pending Out/In', true, 'To + Pending In'],
    ['To', false, undefined],
    ['To + Pending In', false, undefined],
    ['From', false, undefined],
    ['From + Pending Out', true, 'Both'],
    ['Both', false, undefined],
  ],
  // A.3.4
  unsubscribed: [
    ['None', false, undefined],
    ['None + Pending Out', true, 'None'],
    ['None + Pending In', false, undefined],
    ['None + Pending Out/In', true, 'None + Pending In'],
    ['To', true, 'None'],
    ['To + Pending In', true, 'None + Pending In'],
    ['From', false, undefined],
    ['From + Pending Out', true, 'From'],
    ['Both', true, 'From'],
  ],
};

const withoutApproval = (s: SubState): SubState => ({ ...s, approved: false });

describe('RFC 6121 Appendix A subscription states', function () {
  for (const [table, fn, verb] of [
    ['A.2 outbound', outbound, 'route'],
    ['A.3 inbound', inbound, 'deliver'],
  ] as const) {
    const rows = table.startsWith('A.2') ? OUTBOUND : INBOUND;
    for (const type of Object.keys(rows) as SubscriptionType[]) {
      it(`${table} "${type}": every row of the table`, function () {
        for (const [name, pass, next] of rows[type]) {
          const outcome = fn(type, STATES[name]);
          assert.equal(outcome.pass, pass, `${type} in "${name}": ${verb}?`);
          assert.deepEqual(withoutApproval(outcome.next), STATES[next ?? name], `${type} in "${name}": new state`);
        }
      });
    }
  }

  it('A.3.1: the server answers a request from an existing subscriber itself', function () {
    for (const name of ['From', 'From + Pending Out', 'Both'] as const) assert.equal(inbound('subscribe', STATES[name]).autoReply, true, name);
    for (const name of ['None', 'To', 'None + Pending In'] as const) assert.notEqual(inbound('subscribe', STATES[name]).autoReply, true, name);
  });

  it('§3.4: subscribed without a pending request pre-approves in None, None + Pending Out and To only', function () {
    for (const name of ['None', 'None + Pending Out', 'To'] as const) assert.equal(outbound('subscribed', STATES[name]).next.approved, true, name);
    for (const name of ['From', 'From + Pending Out', 'Both'] as const) assert.equal(outbound('subscribed', STATES[name]).next.approved, false, name);
  });

  it('§3.4: a pre-approved request is answered by the server and turns into a subscription', function () {
    const outcome = inbound('subscribe', { ...STATES['None + Pending Out'], approved: true });
    assert.equal(outcome.pass, false);
    assert.equal(outcome.autoReply, true);
    assert.deepEqual(outcome.next, STATES['From + Pending Out']);
    assert.deepEqual(inbound('subscribe', { ...STATES.To, approved: true }).next, STATES.Both);
  });

  it('§3.4: unsubscribed cancels a pre-approval without routing', function () {
    const outcome = outbound('unsubscribed', { ...STATES.None, approved: true });
    assert.equal(outcome.pass, false);
    assert.deepEqual(outcome.next, STATES.None);
  });
});
