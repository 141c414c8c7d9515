// XEP-0050 Ad-Hoc Commands and XEP-0133 Service Administration on a real server, on both storage
// back ends: the admin speaks through a raw TCP stream (so the transcript shows the XML), the users
// it adds, kicks and counts are real xmpp.js clients.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type TestClient } from '../../test/support/clients.js';
import { rawLogin, type RawStream } from '../../test/support/raw-stream.js';
import type { TestServer } from '../../test/support/server.js';

const COMMANDS = 'http://jabber.org/protocol/commands';
const ADMIN = 'http://jabber.org/protocol/admin';
const DATA = 'jabber:x:data';
const INFO = 'http://jabber.org/protocol/disco#info';
const ITEMS = 'http://jabber.org/protocol/disco#items';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const FORM_TYPE = `<field type='hidden' var='FORM_TYPE'><value>${ADMIN}</value></field>`;
const field = (name: string, ...values: string[]): string => `<field var='${name}'>${values.map((v) => `<value>${v}</value>`).join('')}</field>`;
const submit = (...fields: string[]): string => `<x xmlns='${DATA}' type='submit'>${FORM_TYPE}${fields.join('')}</x>`;

function errorOf(iq: Element): { condition?: string; type?: string; app?: string } {
  const error = iq.getChild('error');
  const children = error?.children.filter((c): c is Element => typeof c !== 'string') ?? [];
  return {
    condition: children.find((c) => c.attrs.xmlns === STANZAS && c.name !== 'text')?.name,
    type: error?.attrs.type,
    app: children.find((c) => c.attrs.xmlns === COMMANDS)?.name,
  };
}

/** A form's fields as the XEP examples list them: type, var, label, required, values. */
function fieldsOf(x: Element | undefined): Array<Record<string, unknown>> {
  return (x?.getChildren('field') ?? []).map((f) => ({
    var: f.attrs.var,
    type: f.attrs.type,
    label: f.attrs.label,
    required: f.getChild('required') !== undefined,
    values: f.getChildren('value').map((v) => v.getText()),
  }));
}

async function answerOf(client: TestClient, iq: Element): Promise<Element> {
  try {
    return await client.xmpp.iqCaller.request(iq);
  } catch (err) {
    const parent = (err as { element?: Element }).element?.parent;
    if (!parent) throw err;
    return parent;
  }
}

describeBackends('XEP-0050 Ad-Hoc Commands with XEP-0133 Service Administration', function (backend) {
  let server: TestServer;
  let admin: RawStream;
  let adminJid: string;
  const clients: TestClient[] = [];
  let serial = 0;

  const login = async (username: string, password: string, resource = 'test'): Promise<TestClient> => {
    const client = await connect(server, { transport: 'tcp', username, password, resource });
    clients.push(client);
    return client;
  };
  /** Sends an iq set with a <command/> as the admin and returns the answer. */
  const run = async (attrs: string, payload = ''): Promise<Element> => {
    const id = `cmd${++serial}`;
    admin.write(`<iq type='set' to='localhost' id='${id}' xml:lang='en'><command xmlns='${COMMANDS}' ${attrs}>${payload}</command></iq>`);
    const answer = await admin.element('iq');
    assert.equal(answer.attrs.id, id);
    return answer;
  };
  const commandOf = (iq: Element): Element => {
    const command = iq.getChild('command', COMMANDS);
    assert.ok(command, iq.toString());
    return command;
  };
  /** Executes a one-form admin command: returns the form stage's <command/>. */
  const begin = async (use: string): Promise<Element> => {
    const stage = commandOf(await run(`action='execute' node='${ADMIN}#${use}'`));
    assert.equal(stage.attrs.status, 'executing');
    return stage;
  };
  const finish = (use: string, sessionid: string, ...fields: string[]): Promise<Element> => run(`node='${ADMIN}#${use}' sessionid='${sessionid}'`, submit(...fields));

  before(async function () {
    server = await backend.start({ c2s: { requireTls: false }, admins: ['bard@localhost'] });
    await server.addUser('bard', 'globe');
    await server.addUser('hamlet', 'denmark');
    ({ stream: admin, jid: adminJid } = await rawLogin(server.ports.c2s, 'bard', 'globe', 'globe'));
  });
  afterEach(async function () {
    for (const client of clients.splice(0)) await client.stop();
  });
  after(async function () {
    admin?.destroy();
    await server?.stop();
  });

  it('XEP-0050 §2.1 Examples 1-2: the server advertises the commands feature', async function () {
    admin.write(`<iq type='get' to='localhost' id='info1'><query xmlns='${INFO}'/></iq>`);
    const features = (await admin.element('iq')).getChild('query', INFO)?.getChildren('feature').map((f) => f.attrs.var);
    assert.ok(features?.includes(COMMANDS), String(features));
  });

  it('XEP-0050 §2.2 Examples 3-6 and XEP-0133 §3: admins see the commands as nodes, others see none', async function () {
    admin.write(`<iq type='get' to='localhost' id='items1'><query xmlns='${ITEMS}' node='${COMMANDS}'/></iq>`);
    const items = await admin.element('iq');
    assert.deepEqual(items.attrs, { type: 'result', id: 'items1', to: adminJid, from: 'localhost' });
    const query = items.getChild('query', ITEMS);
    assert.equal(query?.attrs.node, COMMANDS);
    assert.deepEqual(
      query?.getChildren('item').map((i) => ({ ...i.attrs })),
      [
        ['add-user', 'Add User'],
        ['delete-user', 'Delete User'],
        ['change-user-password', 'Change User Password'],
        ['get-registered-users-num', 'Get Number of Registered Users'],
        ['get-online-users-num', 'Get Number of Online Users'],
        ['get-online-users-list', 'Get List of Online Users'],
      ].map(([use, name]) => ({ jid: 'localhost', node: `${ADMIN}#${use}`, name })),
    );

    admin.write(`<iq type='get' to='localhost' id='info2'><query xmlns='${INFO}' node='${ADMIN}#add-user'/></iq>`);
    const info = (await admin.element('iq')).getChild('query', INFO);
    assert.equal(info?.attrs.node, `${ADMIN}#add-user`);
    assert.deepEqual(info?.getChildren('identity').map((i) => ({ ...i.attrs })), [{ category: 'automation', type: 'command-node', name: 'Add User' }]);
    assert.deepEqual(info?.getChildren('feature').map((f) => f.attrs.var), [COMMANDS, DATA]);

    admin.write(`<iq type='get' to='localhost' id='info3'><query xmlns='${INFO}' node='${COMMANDS}'/></iq>`);
    const list = (await admin.element('iq')).getChild('query', INFO);
    assert.deepEqual(list?.getChildren('identity').map((i) => ({ ...i.attrs })), [{ category: 'automation', type: 'command-list', name: 'Commands' }]);

    const hamlet = await login('hamlet', 'denmark');
    const theirs = await answerOf(hamlet, xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: ITEMS, node: COMMANDS })));
    assert.equal(theirs.attrs.type, 'result');
    assert.deepEqual(theirs.getChild('query', ITEMS)?.getChildren('item'), []);
    const hidden = await answerOf(hamlet, xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: INFO, node: `${ADMIN}#add-user` })));
    assert.equal(errorOf(hidden).condition, 'item-not-found');
  });

  it('XEP-0133 §4.1 Examples 1-4: adds a user, who then logs in', async function () {
    const stage = await begin('add-user');
    const sessionid = stage.attrs.sessionid as string;
    assert.ok(sessionid);
    assert.equal(stage.attrs.node, `${ADMIN}#add-user`);
    assert.equal(stage.getChild('actions')?.toString(), '<actions execute="complete"><complete/></actions>');
    const form = stage.getChild('x', DATA);
    assert.equal(form?.attrs.type, 'form');
    assert.equal(form?.getChildText('title'), 'Adding a User');
    assert.equal(form?.getChildText('instructions'), 'Fill out this form to add a user.');
    assert.deepEqual(fieldsOf(form), [
      { var: 'FORM_TYPE', type: 'hidden', label: undefined, required: false, values: [ADMIN] },
      { var: 'accountjid', type: 'jid-single', label: 'The Jabber ID for the account to be added', required: true, values: [] },
      { var: 'password', type: 'text-private', label: 'The password for this account', required: false, values: [] },
      { var: 'password-verify', type: 'text-private', label: 'Retype password', required: false, values: [] },
    ]);

    // Example 3 as the XEP writes it, e-mail and names included (this server keeps no such data).
    const done = await finish('add-user', sessionid, field('accountjid', 'juliet@localhost'), field('password', 'R0m30'), field('password-verify', 'R0m30'), field('email', 'juliet@capulet.com'), field('given_name', 'Juliet'), field('surname', 'Capulet'));
    assert.equal(done.attrs.type, 'result');
    assert.equal(commandOf(done).toString(), `<command xmlns="${COMMANDS}" node="${ADMIN}#add-user" sessionid="${sessionid}" status="completed"/>`);
    const juliet = await login('juliet', 'R0m30', 'balcony');
    assert.equal(juliet.jid, 'juliet@localhost/balcony');
  });

  it('XEP-0133 §5: add-user refuses an existing account (conflict), differing passwords and foreign JIDs (bad-payload)', async function () {
    const sessionid = (await begin('add-user')).attrs.sessionid as string;
    assert.deepEqual(errorOf(await finish('add-user', sessionid, field('accountjid', 'hamlet@localhost'), field('password', 'x'))), { condition: 'conflict', type: 'cancel', app: undefined });
    const differ = await finish('add-user', sessionid, field('accountjid', 'ophelia@localhost'), field('password', 'a'), field('password-verify', 'b'));
    assert.deepEqual(errorOf(differ), { condition: 'bad-request', type: 'modify', app: 'bad-payload' });
    assert.equal(errorOf(await finish('add-user', sessionid, field('accountjid', 'ophelia@elsewhere.example'), field('password', 'a'))).app, 'bad-payload');
    assert.equal(errorOf(await finish('add-user', sessionid, field('accountjid', 'ophelia@localhost'))).app, 'bad-payload', 'no password');
    assert.equal(errorOf(await finish('add-user', sessionid, field('password', 'a'))).app, 'bad-payload', 'accountjid is required');
    // The session survived the refusals.
    assert.equal(commandOf(await finish('add-user', sessionid, field('accountjid', 'ophelia@localhost'), field('password', 'nunnery'))).attrs.status, 'completed');
    assert.equal(await server.server.stores.accounts.exists('ophelia'), true);
  });

  it('XEP-0133 §4.2 Examples 5-8: deletes a user, ending the session and removing the data', async function () {
    await server.addUser('yorick', 'skull');
    const yorick = await login('yorick', 'skull', 'grave');
    await yorick.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'hamlet@localhost' }))));
    assert.equal((await server.server.stores.roster.get('yorick')).items.length, 1);
    const kicked = new Promise<{ condition?: string }>((resolve) => yorick.xmpp.on('error', (err: { condition?: string }) => resolve(err)));

    const stage = await begin('delete-user');
    assert.equal(stage.getChild('x', DATA)?.getChildText('title'), 'Deleting a User');
    assert.deepEqual(fieldsOf(stage.getChild('x', DATA))[1], { var: 'accountjids', type: 'jid-multi', label: 'The Jabber ID(s) to delete', required: true, values: [] });
    const sessionid = stage.attrs.sessionid as string;
    assert.deepEqual(errorOf(await finish('delete-user', sessionid, field('accountjids', 'yorick@localhost', 'nobody@localhost'))), { condition: 'item-not-found', type: 'cancel', app: undefined });
    assert.equal(await server.server.stores.accounts.exists('yorick'), true, 'nothing is deleted when one JID is unknown');

    const done = await finish('delete-user', sessionid, field('accountjids', 'yorick@localhost'));
    assert.equal(commandOf(done).attrs.status, 'completed');
    assert.equal((await kicked).condition, 'not-authorized');
    assert.equal(await server.server.stores.accounts.exists('yorick'), false);
    assert.deepEqual((await server.server.stores.roster.get('yorick')).items, []);
    await assert.rejects(login('yorick', 'skull', 'again'), /not-authorized/);
  });

  it('XEP-0133 §4.7: changes a user\'s password', async function () {
    await server.addUser('romeo', 'montague');
    const stage = await begin('change-user-password');
    assert.equal(stage.getChild('x', DATA)?.getChildText('title'), 'Changing a User Password');
    assert.deepEqual(fieldsOf(stage.getChild('x', DATA)).slice(1), [
      { var: 'accountjid', type: 'jid-single', label: 'The Jabber ID for this account', required: true, values: [] },
      { var: 'password', type: 'text-private', label: 'The password for this account', required: true, values: [] },
    ]);
    const sessionid = stage.attrs.sessionid as string;
    assert.deepEqual(errorOf(await finish('change-user-password', sessionid, field('accountjid', 'tybalt@localhost'), field('password', 'x'))).condition, 'item-not-found');
    // The server's one password rule (passwordProblem, shared with the CLI and XEP-0077): a password that
    // SASLprep maps to nothing (U+00AD SOFT HYPHEN, RFC 3454 table B.1) or with a private-use character
    // (U+E000, table C.3) is not-acceptable. (The saslprep package throws on the first, so it reads as prohibited.)
    const textOf = (iq: Element): string => iq.getChild('error')?.getChildText('text', STANZAS) ?? '';
    const empty = await finish('change-user-password', sessionid, field('accountjid', 'romeo@localhost'), field('password', '\u00AD'));
    assert.equal(errorOf(empty).condition, 'not-acceptable');
    const prohibited = await finish('change-user-password', sessionid, field('accountjid', 'romeo@localhost'), field('password', '\uE000'));
    assert.deepEqual([errorOf(prohibited).condition, textOf(prohibited)], ['not-acceptable', 'the password contains characters SASLprep prohibits']);
    assert.equal(commandOf(await finish('change-user-password', sessionid, field('accountjid', 'romeo@localhost'), field('password', 'V3r0n4'))).attrs.status, 'completed');
    await assert.rejects(login('romeo', 'montague', 'old'), /not-authorized/);
    assert.equal((await login('romeo', 'V3r0n4', 'new')).jid, 'romeo@localhost/new');
  });

  it('XEP-0133 §4.13: counts the registered users', async function () {
    const done = commandOf(await run(`action='execute' node='${ADMIN}#get-registered-users-num'`));
    assert.equal(done.attrs.status, 'completed');
    assert.ok(done.attrs.sessionid);
    const x = done.getChild('x', DATA);
    assert.equal(x?.attrs.type, 'result');
    assert.deepEqual(fieldsOf(x), [
      { var: 'FORM_TYPE', type: 'hidden', label: undefined, required: false, values: [ADMIN] },
      { var: 'registeredusersnum', type: undefined, label: 'The number of registered users', required: false, values: [String(await server.server.stores.accounts.count())] },
    ]);
  });

  it('XEP-0133 §4.15 and §4.20: counts and lists online users (bare JIDs, max_items respected)', async function () {
    await server.addUser('alice', 'secret');
    await server.addUser('bob', 'secret');
    await login('alice', 'secret', 'laptop');
    await login('alice', 'secret', 'phone');
    await login('bob', 'secret', 'desk');
    const online = ['alice@localhost', 'bard@localhost', 'bob@localhost'];
    // Clients of earlier tests have said goodbye; wait until the server has let go of their sessions.
    const bound = (): string[] => [...new Set([...server.server.sessions.all()].map((s) => s.jid.bareString()))].sort();
    for (let i = 0; i < 100 && bound().join() !== online.join(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(bound(), online);

    const num = commandOf(await run(`action='execute' node='${ADMIN}#get-online-users-num'`));
    assert.equal(num.attrs.status, 'completed');
    assert.deepEqual(fieldsOf(num.getChild('x', DATA))[1], { var: 'onlineusersnum', type: undefined, label: 'The number of online users', required: false, values: ['3'] });

    const stage = await begin('get-online-users-list');
    const form = stage.getChild('x', DATA);
    assert.equal(form?.getChildText('title'), 'Requesting List of Online Users');
    const maxItems = form?.getChildren('field').find((f) => f.attrs.var === 'max_items');
    assert.equal(maxItems?.attrs.type, 'list-single');
    assert.deepEqual(maxItems?.getChildren('option').map((o) => [o.attrs.label, o.getChildText('value')]), [
      ['25', '25'], ['50', '50'], ['75', '75'], ['100', '100'], ['150', '150'], ['200', '200'], ['None', 'none'],
    ]);
    const all = commandOf(await finish('get-online-users-list', stage.attrs.sessionid as string, field('max_items', '100')));
    assert.equal(all.attrs.status, 'completed');
    assert.deepEqual(fieldsOf(all.getChild('x', DATA))[1], { var: 'onlineuserjids', type: 'jid-multi', label: 'The list of all online users', required: false, values: online });

    const two = await begin('get-online-users-list');
    const firstTwo = commandOf(await finish('get-online-users-list', two.attrs.sessionid as string, field('max_items', '2')));
    assert.deepEqual(fieldsOf(firstTwo.getChild('x', DATA))[1]?.values, online.slice(0, 2));

    const bad = await begin('get-online-users-list');
    assert.equal(errorOf(await finish('get-online-users-list', bad.attrs.sessionid as string, field('max_items', 'lots'))).app, 'bad-payload');
  });

  it('XEP-0050 §4.4 and XEP-0133 §6: a user who is not an admin is forbidden (type cancel)', async function () {
    const hamlet = await login('hamlet', 'denmark');
    for (const use of ['add-user', 'get-online-users-num']) {
      const answer = await answerOf(hamlet, xml('iq', { type: 'set', to: 'localhost' }, xml('command', { xmlns: COMMANDS, node: `${ADMIN}#${use}`, action: 'execute' })));
      assert.deepEqual(errorOf(answer), { condition: 'forbidden', type: 'cancel', app: undefined });
    }
  });

  it('XEP-0050 §2.4.3 and §4.4: cancel, then the ended session is expired; unknown sessions and nodes are refused', async function () {
    const sessionid = (await begin('add-user')).attrs.sessionid as string;
    const canceled = commandOf(await run(`node='${ADMIN}#add-user' sessionid='${sessionid}' action='cancel'`));
    assert.equal(canceled.toString(), `<command xmlns="${COMMANDS}" node="${ADMIN}#add-user" sessionid="${sessionid}" status="canceled"/>`);
    assert.deepEqual(errorOf(await finish('add-user', sessionid, field('accountjid', 'x@localhost'), field('password', 'x'))), { condition: 'not-allowed', type: 'cancel', app: 'session-expired' });
    assert.deepEqual(errorOf(await finish('add-user', 'made-up-session', field('accountjid', 'x@localhost'), field('password', 'x'))), { condition: 'bad-request', type: 'modify', app: 'bad-sessionid' });
    assert.deepEqual(errorOf(await run(`node='${ADMIN}#add-user' action='dance'`)), { condition: 'bad-request', type: 'modify', app: 'malformed-action' });
    assert.deepEqual(errorOf(await run(`node='${ADMIN}#restart' action='execute'`)), { condition: 'item-not-found', type: 'cancel', app: undefined });
    assert.equal(await server.server.stores.accounts.exists('x'), false);
  });

  it('XEP-0133 §4.2: an admin who deletes the own account gets the result before the stream closes', async function () {
    const sessionid = (await begin('delete-user')).attrs.sessionid as string;
    const done = await finish('delete-user', sessionid, field('accountjids', 'bard@localhost'));
    assert.equal(commandOf(done).attrs.status, 'completed');
    await admin.expect(/<stream:error><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await admin.waitClosed();
    assert.equal(await server.server.stores.accounts.exists('bard'), false);
  });
});
