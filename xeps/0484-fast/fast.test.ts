// SASL2 + Bind2 + FAST with a real client (xmpp.js over TCP and WebSocket) and raw streams for the bad input.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { PING, RawBosh } from '../../test/support/bosh.js';
import { runCliCaptured } from '../../test/support/cli.js';
import { rawConnect, type RawPeer } from '../../test/support/raw.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { login, type Token } from './test-kit.js';

const SASL2 = 'urn:xmpp:sasl:2';

/** A FAST login's <authenticate/>: HT-SHA-256-NONE over the token, for the user agent. */
const htAuth = (token: string, agent: string, extra = ''): string => {
  const proof = createHmac('sha256', Buffer.from(token, 'utf8')).update('Initiator').digest();
  const initial = Buffer.concat([Buffer.from('alice\0'), proof]).toString('base64');
  return `<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${initial}</initial-response><user-agent id='${agent}'/><fast xmlns='urn:xmpp:fast:0'/>${extra}</authenticate>`;
};

describe('XEP-0388 SASL2, XEP-0386 Bind2, XEP-0484 FAST', function () {
  this.timeout(20_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ c2s: { sasl2: true, requireTls: false } });
    await server.addUser('alice', 'secret');
  });
  after(async () => server?.stop());

  for (const transport of ['tcp', 'websocket'] as const) {
    it(`xmpp.js logs in with SASL2 + Bind2, gets a token, then logs in with it (${transport})`, async () => {
      const store: { token?: Token } = {};
      const first = await login(server, transport, `agent-${transport}`, store);
      assert.deepEqual(first.mechanisms, [`${SASL2} SCRAM-SHA-1`]);
      assert.match(first.jid, /^alice@localhost\/phone\.[\w-]{8}$/, 'Bind2 resource: the tag and a part from the user-agent id');
      assert.equal(store.token?.mechanism, 'HT-SHA-256-NONE');
      assert.equal(first.sm.enabled, true, 'xmpp.js enabled stream management inline in Bind2');
      assert.notEqual(first.sm.id, '', 'with resumption');
      const issued = store.token?.token;
      await first.stop();

      const second = await login(server, transport, `agent-${transport}`, store, 'wrong password: the token must do');
      assert.deepEqual(second.mechanisms, [`${SASL2} HT-SHA-256-NONE`]);
      assert.equal(second.jid, first.jid, 'the same user agent gets the same resource');
      assert.ok(store.token && store.token.token !== issued, 'the token was rotated on use');
      await second.stop();
    });
  }

  async function rawSasl2(): Promise<RawPeer> {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
    await peer.waitFor(/<\/stream:features>/);
    return peer;
  }


  it('offers SASL2 with Bind2, FAST and SM inline; an unknown mechanism fails with invalid-mechanism', async () => {
    const peer = await rawSasl2();
    assert.match(peer.received, /<authentication xmlns=["']urn:xmpp:sasl:2["']>.*<mechanism>SCRAM-SHA-1<\/mechanism>.*<inline>.*<bind xmlns=["']urn:xmpp:bind:0["']>.*<fast xmlns=["']urn:xmpp:fast:0["']><mechanism>HT-SHA-256-NONE<\/mechanism>/s);
    peer.write(`<authenticate xmlns='${SASL2}' mechanism='NOPE'><initial-response>=</initial-response></authenticate>`);
    await peer.waitFor(/<failure xmlns=["']urn:xmpp:sasl:2["']><invalid-mechanism xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    peer.destroy();
  });

  it('refuses SASL2 before TLS where TLS is required (encryption-required)', async () => {
    const strict = await startTestServer({ c2s: { sasl2: true, requireTls: true } });
    try {
      const peer = await rawConnect(strict.ports.c2s);
      peer.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
      await peer.waitFor(/<\/stream:features>/);
      assert.doesNotMatch(peer.received, /urn:xmpp:sasl:2/, 'not offered before TLS');
      peer.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${Buffer.from('\0alice\0secret').toString('base64')}</initial-response></authenticate>`);
      await peer.waitFor(/<failure xmlns=["']urn:xmpp:sasl:2["']><encryption-required/);
      peer.destroy();
    } finally {
      await strict.stop();
    }
  });

  it('answers bad SASL2 input with its SASL condition: a response with no exchange, bad base64', async () => {
    const peer = await rawSasl2();
    peer.write(`<response xmlns='${SASL2}'>AAAA</response>`);
    await peer.waitFor(/<failure xmlns=["']urn:xmpp:sasl:2["']><malformed-request xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    peer.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>not base64!</initial-response></authenticate>`);
    await peer.waitFor(/<incorrect-encoding xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    peer.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${Buffer.from('\0alice\0wrong').toString('base64')}</initial-response></authenticate>`);
    await peer.waitFor(/<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\/>/);
    peer.destroy();
  });

  it('refuses a replayed token and one of another user agent (not-authorized)', async () => {
    const store: { token?: Token } = {};
    const first = await login(server, 'tcp', 'agent-replay', store);
    await first.stop();
    const token = store.token?.token ?? '';
    // Positive control: the token works once over a raw stream.
    let peer = await rawSasl2();
    peer.write(htAuth(token, 'agent-replay'));
    await peer.waitFor(/<success xmlns=["']urn:xmpp:sasl:2["']>.*<authorization-identifier>alice@localhost<\/authorization-identifier>.*<token xmlns=["']urn:xmpp:fast:0["']/s);
    peer.destroy();
    // The same message again: the token was used.
    peer = await rawSasl2();
    peer.write(htAuth(token, 'agent-replay'));
    await peer.waitFor(/<failure xmlns=["']urn:xmpp:sasl:2["']><not-authorized/);
    peer.destroy();

    // Another user agent with a valid token of this one.
    const other: { token?: Token } = {};
    await (await login(server, 'tcp', 'agent-a', other)).stop();
    peer = await rawSasl2();
    peer.write(htAuth(other.token?.token ?? '', 'agent-b'));
    await peer.waitFor(/<failure xmlns=["']urn:xmpp:sasl:2["']><not-authorized/);
    peer.destroy();
  });

  it('`ratatosk user tokens revoke` ends the account\'s tokens', async () => {
    const store: { token?: Token } = {};
    await (await login(server, 'tcp', 'agent-cli', store)).stop();
    const kept = store.token;
    // Control: the token works.
    await (await login(server, 'tcp', 'agent-cli', store, 'wrong')).stop();
    assert.notEqual(store.token?.token, kept?.token);
    const revoked = await runCliCaptured(['user', 'tokens', 'revoke', 'alice@localhost'], { RATATOSK_DATA_DIR: server.config.dataDir, RATATOSK_DOMAIN: 'localhost' });
    assert.equal(revoked.code, 0, revoked.err);
    assert.match(revoked.out, /revoked [1-9]\d* token\(s\) of alice@localhost/);
    const after = await login(server, 'tcp', 'agent-cli', store);
    assert.deepEqual(after.mechanisms, [`${SASL2} HT-SHA-256-NONE`, `${SASL2} SCRAM-SHA-1`], 'the token was refused, the password used');
    await after.stop();
  });

  it('refuses an expired token', async () => {
    const short = await startTestServer({ c2s: { sasl2: true, requireTls: false }, fast: { tokenLifetime: 1 } });
    try {
      await short.addUser('alice', 'secret');
      const store: { token?: Token } = {};
      await (await login(short, 'tcp', 'agent-exp', store)).stop();
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const peer = await rawConnect(short.ports.c2s);
      peer.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
      await peer.waitFor(/<\/stream:features>/);
      peer.write(htAuth(store.token?.token ?? '', 'agent-exp'));
      await peer.waitFor(/<failure xmlns=["']urn:xmpp:sasl:2["']><not-authorized/);
      peer.destroy();
    } finally {
      await short.stop();
    }
  });
});

describe('Bind2 inline features and XEP-0198 resumption in SASL2', function () {
  this.timeout(20_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ c2s: { sasl2: true, requireTls: false } });
    await server.addUser('bob', 'secret');
    await server.addUser('carol', 'secret');
  });
  after(async () => server?.stop());

  const plain = Buffer.from('\0bob\0secret').toString('base64');
  const open = async (): Promise<RawPeer> => {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
    await peer.waitFor(/<\/stream:features>/);
    return peer;
  };

  it('authenticates, binds, enables SM (resumable) and carbons in one round trip, then resumes in one', async () => {
    const peer = await open();
    peer.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${plain}</initial-response><user-agent id='u1'/>` +
      `<bind xmlns='urn:xmpp:bind:0'><tag>laptop</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/></bind></authenticate>`);
    const [, jid] = await peer.waitFor(/<authorization-identifier>([^<]+)<\/authorization-identifier>/);
    const [bound] = await peer.waitFor(/<bound xmlns=["']urn:xmpp:bind:0["']>.*<\/bound>/s);
    assert.match(jid ?? '', /^bob@localhost\/laptop\./);
    const previd = /<enabled xmlns=["']urn:xmpp:sm:3["'][^>]*id=["']([^"']+)["']/.exec(bound)?.[1];
    assert.ok(previd, `SM enabled inline: ${bound}`);
    // The session is bound: a stanza is answered at once (carbons' inline enable is not checked here).
    peer.write(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await peer.waitFor(/id=["']p1["']/);
    peer.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));

    const again = await open();
    again.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${plain}</initial-response><user-agent id='u1'/>` +
      `<resume xmlns='urn:xmpp:sm:3' previd='${previd}' h='1'/><bind xmlns='urn:xmpp:bind:0'><tag>laptop</tag></bind></authenticate>`);
    const [success] = await again.waitFor(/<success xmlns=["']urn:xmpp:sasl:2["']>.*<\/success>/s);
    assert.match(success, /<resumed xmlns=["']urn:xmpp:sm:3["'][^>]*previd=/);
    assert.doesNotMatch(success, /<bound/, 'a resumed session binds nothing');
    assert.match(success, new RegExp(`<authorization-identifier>${(jid ?? '').replace(/[.]/g, '\\.')}</authorization-identifier>`));
    again.destroy();
  });

  it('carbons enabled inline in Bind2 copy what another resource sends; a session bound without it gets none', async () => {
    const bindWith = async (tag: string, agent: string, inline: string): Promise<RawPeer> => {
      const peer = await open();
      peer.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${plain}</initial-response><user-agent id='${agent}'/>` +
        `<bind xmlns='urn:xmpp:bind:0'><tag>${tag}</tag>${inline}</bind></authenticate>`);
      await peer.waitFor(/<\/success>/);
      return peer;
    };
    const withCarbons = await bindWith('a', 'c1', `<enable xmlns='urn:xmpp:carbons:2'/>`);
    const without = await bindWith('b', 'c2', '');
    const sender = await bindWith('c', 'c3', '');
    sender.write(`<message to='carol@localhost' type='chat' id='m1'><body>hello</body></message>`);
    await withCarbons.waitFor(/<sent xmlns=["']urn:xmpp:carbons:2["']>.*id=["']m1["']/s);
    // The session without carbons got no copy, though the copy reached the other one first.
    sender.write(`<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>`);
    without.write(`<iq type='get' id='p3'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await without.waitFor(/id=["']p3["']/);
    assert.doesNotMatch(without.received.slice(without.received.indexOf('</success>')), /urn:xmpp:carbons:2/);
    for (const peer of [withCarbons, without, sender]) peer.destroy();
  });

  it('a client state given inline in Bind2 holds chat states for the inactive session only', async () => {
    const bindWith = async (tag: string, agent: string, inline: string): Promise<{ peer: RawPeer; jid: string }> => {
      const peer = await open();
      peer.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${plain}</initial-response><user-agent id='${agent}'/>` +
        `<bind xmlns='urn:xmpp:bind:0'><tag>${tag}</tag>${inline}</bind></authenticate>`);
      const [, jid] = await peer.waitFor(/<authorization-identifier>([^<]+)<\/authorization-identifier>/);
      await peer.waitFor(/<\/success>/);
      return { peer, jid: jid ?? '' };
    };
    const inactive = await bindWith('idle', 'csi1', `<inactive xmlns='urn:xmpp:csi:0'/>`);
    const active = await bindWith('busy', 'csi2', '');
    const carol = await open();
    carol.write(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${Buffer.from('\0carol\0secret').toString('base64')}</initial-response><bind xmlns='urn:xmpp:bind:0'/></authenticate>`);
    await carol.waitFor(/<\/success>/);
    for (const to of [inactive.jid, active.jid]) carol.write(`<message to='${to}' type='chat' id='cs-${to.split('/')[1] ?? ''}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await active.peer.waitFor(/<composing xmlns=["']http:\/\/jabber.org\/protocol\/chatstates["']/);
    // Both were sent together and the active session has its copy; an iq would flush what is held, so wait instead.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.doesNotMatch(inactive.peer.received, /<composing/, 'held while inactive');
    inactive.peer.write(`<active xmlns='urn:xmpp:csi:0'/>`);
    await inactive.peer.waitFor(/<composing xmlns=["']http:\/\/jabber.org\/protocol\/chatstates["']/);
    for (const peer of [inactive.peer, active.peer, carol]) peer.destroy();
  });
});

describe('SASL2, Bind2 and FAST over BOSH (raw session)', function () {
  this.timeout(20_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ c2s: { sasl2: true, requireTls: false } });
    await server.addUser('alice', 'secret');
  });
  after(async () => server?.stop());

  it('logs in with PLAIN, binds and gets a token in one request, then logs in with the token in another session', async () => {
    const first = new RawBosh(server);
    const created = await first.create();
    assert.match(created.text, /<authentication xmlns=["']urn:xmpp:sasl:2["']>/);
    assert.doesNotMatch(created.text, /<inline>.*<sm xmlns/s, 'no XEP-0198 resumption on BOSH');
    const plain = Buffer.from('\0alice\0secret').toString('base64');
    const login = await first.request(`<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${plain}</initial-response><user-agent id='bosh-agent'/>` +
      `<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/><bind xmlns='urn:xmpp:bind:0'><tag>web</tag></bind></authenticate>`);
    assert.match(login.text, /<authorization-identifier>alice@localhost\/web\.[\w-]{8}<\/authorization-identifier>/);
    assert.match(login.text, /<bound xmlns=["']urn:xmpp:bind:0["']/);
    const token = /token=["']([^"']+)["']/.exec(login.text)?.[1] ?? '';
    assert.notEqual(token, '');
    const ping = await first.request(PING('p1'));
    assert.match(ping.text, /id=["']p1["']/, 'bound without a restart');

    const second = new RawBosh(server);
    await second.create();
    const fast = await second.request(htAuth(token, 'bosh-agent', `<bind xmlns='urn:xmpp:bind:0'><tag>web</tag></bind>`));
    assert.match(fast.text, /<success xmlns=["']urn:xmpp:sasl:2["']>.*<bound/s);
  });
});
