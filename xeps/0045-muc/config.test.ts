// Unit tests of the XEP-0045 pieces that need no server: the muc#roomconfig form (§10.1.3, §16.5.3) and its
// stored form, the history buffer and <history/> parsing (§7.2.13, §7.2.14), the rate limiter, and the [muc]
// configuration table.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../../src/config/index.js';
import { StanzaError } from '../../src/errors.js';
import { MODULE_CONFIGS } from '../../src/main.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { configForm, defaultRoomConfig, FIELDS, parseConfigSubmission, restoredConfig, storedConfig, type MucLimits } from './config.js';
import { History, parseHistoryRequest, TokenBucket } from './limits.js';
import { mucConfig, type MucSettings } from './settings.js';

const LIMITS: MucLimits = { maxOccupants: 100, maxRoomsPerUser: 10, maxHistory: 50, historyMaxChars: 1000, messageRate: 2, messageBurst: 3 };

function submit(fields: Record<string, string[]>, formType: string = NS.mucRoomconfig): ReturnType<typeof xml> {
  return xml(
    'x',
    { xmlns: NS.dataForms, type: 'submit' },
    xml('field', { var: 'FORM_TYPE' }, xml('value', {}, formType)),
    ...Object.entries(fields).map(([name, values]) => xml('field', { var: name }, ...values.map((v) => xml('value', {}, v)))),
  );
}

function refusedWith(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  throw new Error('accepted');
}

describe('XEP-0045 room configuration form', function () {
  it('§10.1.3: shows every field with the current values and the owners and admins', function () {
    const form = configForm('coven@conference.localhost', defaultRoomConfig(LIMITS), LIMITS, ['crone1@localhost'], []);
    const vars = form.getChildren('field').map((f) => f.attrs.var);
    assert.deepEqual(vars, ['FORM_TYPE', ...FIELDS.map((f) => f.var), 'muc#roomconfig_roomadmins', 'muc#roomconfig_roomowners']);
    const maxUsers = form.getChildren('field').find((f) => f.attrs.var === 'muc#roomconfig_maxusers');
    assert.equal(maxUsers?.getChildText('value'), '100');
    assert.deepEqual(maxUsers?.getChildren('option').map((o) => o.getChildText('value')), ['10', '20', '30', '50', '100']);
  });

  it('applies a submission: booleans as 0/1/true/false, lists, numbers; "none" occupants means the service maximum', function () {
    const current = defaultRoomConfig(LIMITS);
    const { config, owners, admins } = parseConfigSubmission(
      submit({
        'muc#roomconfig_roomname': ['A Dark Cave'],
        'muc#roomconfig_moderatedroom': ['true'],
        'muc#roomconfig_membersonly': ['1'],
        'muc#roomconfig_publicroom': ['false'],
        'muc#roomconfig_maxusers': ['none'],
        'muc#roomconfig_presencebroadcast': ['participant', 'moderator'],
        'muc#roomconfig_roomowners': ['crone1@localhost', ' '],
        'muc#maxhistoryfetch': ['20'],
        'x-unknown-field': ['ignored'],
      }),
      { ...current, maxUsers: 10 },
      LIMITS,
    );
    assert.equal(config.name, 'A Dark Cave');
    assert.equal(config.moderated, true);
    assert.equal(config.membersOnly, true);
    assert.equal(config.public, false);
    assert.equal(config.maxUsers, 100);
    assert.deepEqual(config.presenceBroadcast, ['moderator', 'participant']);
    assert.equal(config.maxHistory, 20);
    assert.deepEqual(owners, ['crone1@localhost']);
    assert.equal(admins, undefined);
    assert.equal(current.moderated, false, 'the current configuration is not changed');
  });

  it('refuses malformed values with bad-request and values against policy with not-acceptable (§10.1.3)', function () {
    const current = defaultRoomConfig(LIMITS);
    const parse = (fields: Record<string, string[]>, type?: string) => () => parseConfigSubmission(submit(fields, type), current, LIMITS);
    assert.equal(refusedWith(parse({}, 'urn:other')), 'bad-request');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_persistentroom': ['yes'] })), 'bad-request');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_roomname': ['one', 'two'] })), 'bad-request');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_maxusers': ['-3'] })), 'bad-request');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_maxusers': ['101'] })), 'not-acceptable');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_whois': ['none'] })), 'not-acceptable');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_allowpm': ['everybody'] })), 'not-acceptable');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_getmemberlist': ['owner'] })), 'not-acceptable');
    assert.equal(refusedWith(parse({ 'muc#maxhistoryfetch': ['51'] })), 'not-acceptable');
    assert.equal(refusedWith(parse({ 'muc#roomconfig_passwordprotectedroom': ['1'] })), 'not-acceptable');
  });

  it('round-trips through the stored form; a stored value that no longer fits keeps its default or is capped', function () {
    const config = parseConfigSubmission(
      submit({ 'muc#roomconfig_roomname': ['Heath'], 'muc#roomconfig_whois': ['anyone'], 'muc#roomconfig_getmemberlist': ['moderator'], 'muc#roomconfig_maxusers': ['30'] }),
      defaultRoomConfig(LIMITS),
      LIMITS,
    ).config;
    assert.deepEqual(restoredConfig(storedConfig(config), LIMITS), config);
    const odd = restoredConfig({ 'muc#roomconfig_whois': 'none', 'muc#roomconfig_maxusers': 5000, 'muc#roomconfig_moderatedroom': 'yes', 'muc#roomconfig_getmemberlist': ['owner'] }, LIMITS);
    assert.equal(odd.whois, 'moderators');
    assert.equal(odd.maxUsers, 100);
    assert.equal(odd.moderated, false);
    assert.deepEqual(odd.getMemberList, ['moderator', 'participant', 'visitor']);
  });
});

describe('XEP-0045 history and rate limits', function () {
  const entry = (at: number, chars: number) => ({ stanza: xml('message', { id: String(at) }), at, chars });

  it('§7.2.13: keeps the newest messages within max_history and history_max_chars', function () {
    const history = new History(3, 100);
    for (let i = 1; i <= 5; i++) history.push(entry(i, 10));
    assert.deepEqual(history.select({}, 50).map((e) => e.at), [3, 4, 5]);
    history.push(entry(6, 90));
    assert.deepEqual(history.select({}, 50).map((e) => e.at), [5, 6], 'older messages make room for the characters');
    history.push(entry(7, 101));
    assert.deepEqual(history.select({}, 50).map((e) => e.at), [5, 6], 'a message larger than the cap is not kept');
    const none = new History(0, 100);
    none.push(entry(1, 1));
    assert.equal(none.size, 0);
    const many = new History(1000, 1_000_000);
    for (let i = 0; i < 5000; i++) many.push(entry(i, 10));
    assert.equal(many.size, 1000);
    assert.equal(many.select({ maxStanzas: 1 }, 50)[0]?.at, 4999);
  });

  it('§7.2.13: a message pushed out of the history is no longer held', async function () {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const history = new History(2, 1000);
    const held: Array<WeakRef<object>> = [];
    for (let i = 0; i < 10; i++) {
      const next = entry(i, 10);
      held.push(new WeakRef(next.stanza));
      history.push(next);
    }
    // A WeakRef keeps its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    collect();
    assert.deepEqual(held.map((ref) => ref.deref() !== undefined), [false, false, false, false, false, false, false, false, true, true]);
  });

  it('§7.2.14: selects by maxstanzas, maxchars (whole stanzas), seconds and since, within the room\'s cap', function () {
    const history = new History(50, 10_000);
    for (let i = 1; i <= 10; i++) history.push(entry(i * 1000, 100));
    assert.equal(history.select({}, 4).length, 4);
    assert.deepEqual(history.select({ maxStanzas: 2 }, 50).map((e) => e.at), [9000, 10000]);
    assert.equal(history.select({ maxChars: 250 }, 50).length, 2);
    assert.equal(history.select({ maxChars: 0 }, 50).length, 0);
    assert.deepEqual(history.select({ notBefore: 8500 }, 50).map((e) => e.at), [9000, 10000]);
  });

  it('§7.2.14: reads <history/>, ignoring malformed attributes; seconds and since together take the later bound', function () {
    const now = Date.parse('2024-05-01T12:00:00Z');
    assert.deepEqual(parseHistoryRequest(xml('history', { maxchars: '65000', maxstanzas: '20' }), now), { maxChars: 65000, maxStanzas: 20 });
    assert.deepEqual(parseHistoryRequest(xml('history', { seconds: '180' }), now), { notBefore: now - 180_000 });
    assert.deepEqual(parseHistoryRequest(xml('history', { since: '1970-01-01T00:00:00Z', seconds: '60' }), now), { notBefore: now - 60_000 });
    assert.deepEqual(parseHistoryRequest(xml('history', { maxstanzas: '-1', maxchars: 'lots', since: 'yesterday' }), now), {});
    assert.deepEqual(parseHistoryRequest(undefined, now), {});
  });

  it('message_rate: a burst, then the rate', function () {
    const bucket = new TokenBucket(2, 3, 0);
    assert.deepEqual([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true, false]);
    assert.equal(bucket.take(400), false);
    assert.equal(bucket.take(500), true);
    assert.equal(bucket.take(10_000), true);
    assert.deepEqual([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)], [true, true, false], 'refills only up to the burst');
  });
});

describe('[muc] configuration', function () {
  const load = (overrides: Parameters<typeof loadConfig>[0] = {}) => loadConfig({ file: false, env: {}, modules: [mucConfig], ...overrides });
  const settings = (options: Parameters<typeof loadConfig>[0] = {}): MucSettings => {
    const config = load(options);
    const parsed = mucConfig.parse(config.sections?.muc, config);
    if (!parsed.ok) throw new Error('the [muc] table loaded but does not parse');
    return parsed.settings;
  };

  it('defaults to conference.<domain> and the documented limits', function () {
    assert.deepEqual(settings({ overrides: { domain: 'example.org' } }), {
      domain: 'conference.example.org',
      maxOccupants: 5000,
      maxRoomsPerUser: 10,
      maxHistory: 50,
      historyMaxChars: 262144,
      messageRate: 10,
      messageBurst: 20,
    });
    assert.equal(settings({ overrides: { domain: 'example.org', muc: { domain: 'Rooms.Example.org' } } }).domain, 'rooms.example.org');
  });

  it('refuses a service domain that is the server\'s own, and limits out of range, naming the key', function () {
    assert.throws(() => load({ overrides: { domain: 'example.org', muc: { domain: 'example.org' } } }), /muc\.domain/);
    // Another module's domain (a XEP-0114 component's) is refused the same way, naming both keys.
    assert.throws(
      () => load({ modules: MODULE_CONFIGS, overrides: { domain: 'example.org', components: [{ domain: 'rooms.example.org', secret: 's' }], muc: { domain: 'rooms.example.org' } } }),
      /muc\.domain: must differ from components\[0\]\.domain \(rooms\.example\.org\)/,
    );
    assert.throws(() => load({ overrides: { muc: { maxOccupants: 0 } } }), /muc\.max_occupants: expected an integer between 1 and 1000000, got 0/);
    assert.throws(() => load({ overrides: { muc: { messageRate: 0 } } }), /muc\.message_rate/);
    assert.throws(() => load({ overrides: { muc: { maxOccupant: 10 } } }), /unknown key "muc\.max_occupant".*did you mean "muc\.max_occupants"/);
  });

  it('ratatosk.example.toml documents every [muc] key', function () {
    const text = readFileSync(join(process.cwd(), 'ratatosk.example.toml'), 'utf8');
    const section = text.slice(text.indexOf('\n[muc]'));
    for (const key of mucConfig.keys) assert.match(section, new RegExp(`^# ${key} =`, 'm'), `muc.${key} is documented`);
    assert.ok(mucConfig.keys.length >= 7, 'the keys come from the module schema');
  });
});
