// Persistent XEP-0045 rooms on both back ends: configuration, subject and affiliations survive a restart of
// the server on the same data (§10.1.3 muc#roomconfig_persistentroom); temporary rooms do not; `ratatosk room
// destroy` against a running server tells the occupants (§10.9) and removes the stored room.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeBackends } from '../../test/support/backends.js';
import { runCliCaptured } from '../../test/support/cli.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  admin,
  Clients,
  configure,
  createRoom,
  DISCO_INFO,
  enter,
  iq,
  isPresence,
  isSubject,
  item,
  MUC_OWNER,
  MUC_USER,
  refusal,
  refusedEntry,
  statuses,
  xml,
} from './test-kit.js';
import { mucStores } from './store/index.js';

describeBackends('XEP-0045 persistent rooms', function (backend) {
  let current: TestServer | undefined;
  const clients = new Clients(() => current as TestServer);
  const dirs: string[] = [];

  afterEach(async function () {
    await clients.stopAll();
    await current?.stop();
    current = undefined;
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  /** Stops the server and starts a new one on the same data directory or PostgreSQL schema. */
  const restart = async (): Promise<void> => {
    const before = current as TestServer;
    await clients.stopAll();
    await before.stop();
    current = await startTestServer({ dataDir: before.config.dataDir, database: before.config.database });
  };

  it('a persistent members-only room comes back after a restart: configuration, subject, members and bans', async function () {
    const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-muc-'));
    dirs.push(dataDir);
    current = await backend.start({ dataDir });
    const [a, b, c, d] = (await clients.users('crone', 'hag', 'stranger', 'cambridge')) as [string, string, string, string];
    const room = clients.room('coven');
    const temporary = clients.room('fleeting');
    {
      const crone = await clients.login(a, 'tcp');
      await createRoom(crone, room, 'firstwitch', {
        'muc#roomconfig_persistentroom': '1',
        'muc#roomconfig_membersonly': '1',
        'muc#roomconfig_roomname': 'A Dark Cave',
        'muc#roomconfig_maxusers': '30',
      });
      await admin(crone, 'set', room, xml('item', { affiliation: 'member', jid: `${b}@localhost`, nick: 'thirdwitch' }), xml('item', { affiliation: 'outcast', jid: `${d}@localhost` }, xml('reason', {}, 'Treason')));
      await crone.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, 'Spells')));
      await crone.next(isSubject(room));
      await createRoom(crone, temporary, 'firstwitch');
    }
    const stored = await (current as TestServer).server.stores.module('muc', mucStores).get(room);
    assert.equal(stored?.config['muc#roomconfig_roomname'], 'A Dark Cave');
    assert.equal(await (current as TestServer).server.stores.module('muc', mucStores).get(temporary), undefined, 'temporary rooms stay in memory');

    await restart();

    const hag = await clients.login(b, 'websocket', 'pda');
    const self = await enter(hag, room, 'thirdwitch');
    assert.deepEqual(statuses(self), [110], 'no 201: the room existed');
    assert.equal(item(self).affiliation, 'member');
    assert.equal((await hag.next(isSubject(room))).getChildText('subject'), 'Spells');
    const stranger = await clients.login(c, 'tcp');
    assert.equal(await refusedEntry(enter(stranger, room, 'stranger')), 'registration-required');
    assert.equal(await refusedEntry(enter(await clients.login(d, 'websocket'), room, 'cambridge')), 'forbidden');

    const crone = await clients.login(a, 'tcp');
    assert.equal(item(await enter(crone, room, 'firstwitch')).affiliation, 'owner');
    const form = await iq(crone, 'get', room, xml('query', { xmlns: MUC_OWNER }));
    const values = new Map(form.getChild('query')?.getChild('x', 'jabber:x:data')?.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value')]));
    assert.equal(values.get('muc#roomconfig_roomname'), 'A Dark Cave');
    assert.equal(values.get('muc#roomconfig_maxusers'), '30');
    assert.equal(values.get('muc#roomconfig_persistentroom'), '1');
    const members = await admin(crone, 'get', room, xml('item', { affiliation: 'member' }));
    assert.deepEqual({ ...members.getChild('query')?.getChild('item')?.attrs }, { affiliation: 'member', jid: `${b}@localhost`, nick: 'thirdwitch' });
    assert.equal(await refusal(iq(crone, 'get', temporary, xml('query', { xmlns: DISCO_INFO }))), 'item-not-found');

    // Turning persistence off forgets the stored room; the live one stays while occupied.
    await configure(crone, room, { 'muc#roomconfig_persistentroom': '0' });
    assert.equal(await (current as TestServer).server.stores.module('muc', mucStores).get(room), undefined);
  });

  it('`ratatosk room destroy` tells the occupants of a live room and deletes the stored room', async function () {
    current = await backend.start();
    const server = current;
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const hag = await clients.login(b, 'websocket');
    const room = clients.room('heath');
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_persistentroom': '1' });
    await enter(hag, room, 'thirdwitch');
    const configFile = join(server.config.dataDir, 'cli-test.toml');
    await writeFile(configFile, '# settings come from the environment\n');
    const env = { RATATOSK_DATA_DIR: server.config.dataDir, RATATOSK_DOMAIN: 'localhost', ...(server.config.database.url ? { RATATOSK_DATABASE_URL: server.config.database.url } : {}) };
    const outcome = await runCliCaptured(['--config', configFile, 'room', 'destroy', room, '--reason', 'Macbeth doth come.'], env);
    assert.equal(outcome.code, 0, outcome.err);
    assert.equal(outcome.out, `destroyed ${room}\n`);
    for (const [client, nick] of [[crone, 'firstwitch'], [hag, 'thirdwitch']] as const) {
      const gone = await client.next(isPresence(`${room}/${nick}`, 'unavailable'));
      assert.equal(gone.getChild('x', MUC_USER)?.getChild('destroy')?.getChildText('reason'), 'Macbeth doth come.');
    }
    assert.equal(await server.server.stores.module('muc', mucStores).get(room), undefined);
    assert.equal(await refusal(iq(hag, 'get', room, xml('query', { xmlns: DISCO_INFO }))), 'item-not-found');
  });
});
