// XEP-0050 Ad-Hoc Commands: the engine walked through the spec's own §2.4 examples with the spec's
// example commands ("list" and the two-stage "config"), then every §4.4 error condition.
import assert from 'node:assert/strict';
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { parseElement, xml, type Element } from '../../src/xml/element.js';
import { dataForm, type FormValues } from './data-form.js';
import { CommandEngine, type AdHocCommand } from './engine.js';

const COMMANDS = 'http://jabber.org/protocol/commands';
const requester = Jid.parse('requester@domain/resource');
const stranger = Jid.parse('stranger@domain/resource');

/** §2.4.1 Example 9: a command that returns results only. */
const list: AdHocCommand = {
  node: 'list',
  name: 'List Service Configurations',
  stages: [],
  allowed: () => true,
  complete: () => ({
    result: xml(
      'x',
      { xmlns: 'jabber:x:data', type: 'result' },
      xml('title', null, 'Available Services'),
      xml('reported', null, xml('field', { var: 'service', label: 'Service' })),
      xml('item', null, xml('field', { var: 'service' }, xml('value', null, 'httpd'))),
    ),
  }),
};

/** §2.4.2 Examples 10-17: the two-stage "config" command. */
const config: AdHocCommand = {
  node: 'config',
  name: 'Configure Service',
  stages: [
    {
      form: (values: FormValues) =>
        dataForm('form', {
          title: 'Configure Service',
          instructions: 'Please select the service to configure.',
          fields: [{ var: 'service', label: 'Service', type: 'list-single', required: true, values: values.multi('service'), options: ['httpd', 'jabberd', 'postgresql'].map((value) => ({ value })) }],
        }),
    },
    {
      form: (values: FormValues) =>
        dataForm('form', {
          title: 'Configure Service',
          instructions: `Please select the run modes and state for '${values.single('service') ?? ''}'.`,
          fields: [
            { var: 'runlevel', label: 'Run Modes', type: 'list-multi', values: ['3', '5'], options: ['1', '2', '3', '5'].map((value) => ({ value })) },
            { var: 'state', label: 'Run State', type: 'list-single', values: ['off'], options: [{ label: 'Active', value: 'off' }, { label: 'Inactive', value: 'on' }] },
          ],
        }),
    },
  ],
  allowed: (who) => who.local === 'requester',
  complete: (values) => ({ notes: [{ type: 'info', text: `Service '${values.single('service') ?? ''}' has been configured.` }] }),
};

const command = (attrs: Record<string, string>, ...children: Element[]): Element => xml('command', { xmlns: COMMANDS, ...attrs }, ...children);
const submit = (fields: Record<string, string[]>): Element =>
  xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, ...Object.entries(fields).map(([name, values]) => xml('field', { var: name }, ...values.map((v) => xml('value', null, v)))));

/** What a refusal carries: condition, type and the XEP-0050 application condition. */
async function refusal(work: Promise<unknown>): Promise<{ condition: string; type: string; app: string | undefined }> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof StanzaError, String(err));
    const app = err.appCondition;
    if (app) assert.equal(app.attrs.xmlns, COMMANDS);
    return { condition: err.condition, type: err.type, app: app?.name };
  }
  assert.fail('expected a StanzaError');
}

describe('XEP-0050 Ad-Hoc Commands engine', function () {
  let now: number;
  let ids: number;
  let engine: CommandEngine;

  beforeEach(function () {
    now = Date.parse('2002-09-23T21:36:16Z');
    ids = 0;
    engine = new CommandEngine({
      sessionTtlMs: 600_000,
      maxSessionsPerRequester: 3,
      now: () => now,
      newSessionId: () => (ids++ === 0 ? 'config:20020923T213616Z-700' : `session-${ids}`),
    });
    engine.add(list);
    engine.add(config);
  });

  it('§2.2: lists only the commands the requester may run', function () {
    assert.deepEqual(engine.available(requester).map((c) => c.node), ['list', 'config']);
    assert.deepEqual(engine.available(stranger).map((c) => c.node), ['list']);
    assert.equal(engine.visible('config', stranger), undefined);
    assert.equal(engine.visible('config', requester), config);
  });

  it('§2.4.1 Examples 8-9: a command without stages completes at once, with a sessionid and its result', async function () {
    const result = await engine.execute(requester, command({ node: 'list', action: 'execute' }));
    assert.equal(
      result.toString(),
      `<command xmlns="${COMMANDS}" node="list" sessionid="config:20020923T213616Z-700" status="completed">` +
        '<x xmlns="jabber:x:data" type="result"><title>Available Services</title><reported><field var="service" label="Service"/></reported>' +
        '<item><field var="service"><value>httpd</value></field></item></x></command>',
    );
    assert.equal(engine.openSessions, 0);
    // §3.3: a sessionid that ended is not used again.
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'list', sessionid: 'config:20020923T213616Z-700' }))), {
      condition: 'not-allowed',
      type: 'cancel',
      app: 'session-expired',
    });
  });

  it('§2.4.2 Examples 10-17: stages with next, prev (remembering values) and complete', async function () {
    // Examples 10-11: stage 1; "action='execute'" may be left out (§2.4.1).
    const stage1 = await engine.execute(requester, command({ node: 'config' }));
    assert.deepEqual(stage1.attrs, { xmlns: COMMANDS, node: 'config', sessionid: 'config:20020923T213616Z-700', status: 'executing' });
    assert.equal(stage1.getChild('actions')?.toString(), '<actions execute="next"><next/></actions>');
    const form1 = stage1.getChild('x', 'jabber:x:data');
    assert.equal(form1?.attrs.type, 'form');
    assert.equal(form1?.getChildText('instructions'), 'Please select the service to configure.');
    assert.deepEqual(form1?.getChild('field')?.getChildren('option').map((o) => o.getChildText('value')), ['httpd', 'jabberd', 'postgresql']);
    const sessionid = stage1.attrs.sessionid as string;

    // Examples 12-13: stage 2 offers prev and complete, complete being the default.
    const stage2 = await engine.execute(requester, command({ node: 'config', sessionid }, submit({ service: ['httpd'] })));
    assert.equal(stage2.attrs.status, 'executing');
    assert.equal(stage2.attrs.sessionid, sessionid);
    assert.equal(stage2.getChild('actions')?.toString(), '<actions execute="complete"><prev/><complete/></actions>');
    assert.equal(stage2.getChild('x')?.getChildText('instructions'), "Please select the run modes and state for 'httpd'.");

    // Examples 16-17: back to stage 1, which shows the remembered value.
    const back = await engine.execute(requester, command({ node: 'config', sessionid, action: 'prev' }));
    assert.equal(back.getChild('actions')?.toString(), '<actions execute="next"><next/></actions>');
    assert.deepEqual(back.getChild('x')?.getChild('field')?.getChildren('value').map((v) => v.getText()), ['httpd']);

    await engine.execute(requester, command({ node: 'config', sessionid, action: 'next' }, submit({ service: ['httpd'] })));
    // Examples 14-15: the last submission completes the command with a note.
    const done = await engine.execute(requester, command({ node: 'config', sessionid }, submit({ mode: ['3'], state: ['on'] })));
    assert.equal(
      done.toString(),
      `<command xmlns="${COMMANDS}" node="config" sessionid="${sessionid}" status="completed"><note type="info">Service 'httpd' has been configured.</note></command>`,
    );
    assert.equal(engine.openSessions, 0);
  });

  it('§2.4.3 Examples 18-19: cancel ends the session with status canceled', async function () {
    const { attrs } = await engine.execute(requester, command({ node: 'config', action: 'execute' }));
    const sessionid = attrs.sessionid as string;
    await engine.execute(requester, command({ node: 'config', sessionid }, submit({ service: ['httpd'] })));
    const canceled = await engine.execute(requester, command({ node: 'config', sessionid, action: 'cancel' }));
    assert.equal(canceled.toString(), `<command xmlns="${COMMANDS}" node="config" sessionid="${sessionid}" status="canceled"/>`);
    assert.equal(engine.openSessions, 0);
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', sessionid }, submit({ service: ['x'] }))))).app, 'session-expired');
  });

  it('§4.4: malformed-action for an action it does not know, bad-action for one not allowed now', async function () {
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'config', action: 'dance' }))), { condition: 'bad-request', type: 'modify', app: 'malformed-action' });
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', action: 'cancel' })))).app, 'bad-action', 'cancel without a session');
    const sessionid = (await engine.execute(requester, command({ node: 'config' }))).attrs.sessionid as string;
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'config', sessionid, action: 'prev' }))), { condition: 'bad-request', type: 'modify', app: 'bad-action' });
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', sessionid, action: 'complete' }, submit({ service: ['httpd'] }))))).app, 'bad-action');
    await engine.execute(requester, command({ node: 'config', sessionid, action: 'next' }, submit({ service: ['httpd'] })));
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', sessionid, action: 'next' }, submit({}))))).app, 'bad-action');
    // The refusals left the session where it was.
    assert.equal((await engine.execute(requester, command({ node: 'config', sessionid, action: 'complete' }, submit({})))).attrs.status, 'completed');
  });

  it('§4.4: bad-payload when the stage form is missing, lacks a required field or has another FORM_TYPE', async function () {
    const typed: AdHocCommand = { ...config, node: 'typed', formType: 'urn:example:config' };
    engine.add(typed);
    const sessionid = (await engine.execute(requester, command({ node: 'typed' }))).attrs.sessionid as string;
    const bad = { condition: 'bad-request', type: 'modify', app: 'bad-payload' };
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'typed', sessionid }))), bad);
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'typed', sessionid }, submit({ service: [''] })))), bad);
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'typed', sessionid }, xml('x', { xmlns: 'jabber:x:data', type: 'form' })))), bad);
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'typed', sessionid }, submit({ FORM_TYPE: ['urn:example:other'], service: ['httpd'] })))), bad);
    // §3.5.1: a form of type cancel counts as submit.
    const cancelType = parseElement(`<x xmlns="jabber:x:data" type="cancel"><field var="FORM_TYPE"><value>urn:example:config</value></field><field var="service"><value>httpd</value></field></x>`);
    assert.equal((await engine.execute(requester, command({ node: 'typed', sessionid }, cancelType))).attrs.status, 'executing');
  });

  it('a resubmitted stage replaces what was refused before: no field of the refused form lingers', async function () {
    const seen: Array<string | undefined> = [];
    const picky: AdHocCommand = {
      node: 'picky',
      name: 'Picky',
      stages: [{ form: () => dataForm('form', { fields: [{ var: 'a' }, { var: 'b' }] }) }],
      allowed: () => true,
      complete: (values) => {
        seen.push(values.single('b'));
        if (values.single('b') !== undefined) throw new StanzaError('not-acceptable', 'no b, please');
        return {};
      },
    };
    engine.add(picky);
    const sessionid = (await engine.execute(requester, command({ node: 'picky' }))).attrs.sessionid as string;
    assert.equal((await refusal(engine.execute(requester, command({ node: 'picky', sessionid }, submit({ a: ['1'], b: ['2'] }))))).condition, 'not-acceptable');
    assert.equal((await engine.execute(requester, command({ node: 'picky', sessionid }, submit({ a: ['1'] })))).attrs.status, 'completed');
    assert.deepEqual(seen, ['2', undefined]);
  });

  it('§4.4: bad-sessionid for an unknown session, another requester\'s, or another command\'s', async function () {
    const unknown = await refusal(engine.execute(requester, command({ node: 'config', sessionid: 'nope' }, submit({ service: ['httpd'] }))));
    assert.deepEqual(unknown, { condition: 'bad-request', type: 'modify', app: 'bad-sessionid' });
    const sessionid = (await engine.execute(requester, command({ node: 'config' }))).attrs.sessionid as string;
    const otherResource = Jid.parse('requester@domain/other');
    assert.equal((await refusal(engine.execute(otherResource, command({ node: 'config', sessionid }, submit({ service: ['httpd'] }))))).app, 'bad-sessionid');
    assert.equal((await refusal(engine.execute(requester, command({ node: 'list', sessionid })))).app, 'bad-sessionid');
    assert.equal((await engine.execute(requester, command({ node: 'config', sessionid }, submit({ service: ['httpd'] })))).attrs.status, 'executing');
  });

  it('§4.4: item-not-found for an unknown node, forbidden for a requester who may not run the command', async function () {
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'reboot' }))), { condition: 'item-not-found', type: 'cancel', app: undefined });
    assert.deepEqual(await refusal(engine.execute(stranger, command({ node: 'config' }))), { condition: 'forbidden', type: 'cancel', app: undefined });
    assert.deepEqual(await refusal(engine.execute(requester, command({}))), { condition: 'bad-request', type: 'modify', app: undefined });
  });

  it('§3.3 and §4.4: an idle session expires (session-expired, not-allowed), lazily and through expire()', async function () {
    const first = (await engine.execute(requester, command({ node: 'config' }))).attrs.sessionid as string;
    const second = (await engine.execute(requester, command({ node: 'config' }))).attrs.sessionid as string;
    now += 600_001;
    assert.deepEqual(await refusal(engine.execute(requester, command({ node: 'config', sessionid: first }, submit({ service: ['httpd'] })))), {
      condition: 'not-allowed',
      type: 'cancel',
      app: 'session-expired',
    });
    engine.expire();
    assert.equal(engine.openSessions, 0);
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', sessionid: second })))).app, 'session-expired');
    // Endings are remembered for one more TTL, then the id is simply unknown.
    now += 600_001;
    engine.expire();
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', sessionid: second })))).app, 'bad-sessionid');
  });

  it('bounds the sessions of one requester, ending the least recently used, and ends them when the requester leaves', async function () {
    const opened: string[] = [];
    for (let i = 0; i < 3; i++) {
      opened.push((await engine.execute(requester, command({ node: 'config' }))).attrs.sessionid as string);
      now += 1000;
    }
    await engine.execute(requester, command({ node: 'config', sessionid: opened[0] as string, action: 'prev' })).catch(() => undefined); // touches the first
    const fourth = (await engine.execute(requester, command({ node: 'config' }))).attrs.sessionid as string;
    assert.equal(engine.openSessions, 3);
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', sessionid: opened[1] as string })))).app, 'session-expired');
    engine.forget(requester);
    assert.equal(engine.openSessions, 0);
    assert.equal((await refusal(engine.execute(requester, command({ node: 'config', sessionid: fourth })))).app, 'session-expired');
  });
});
