// Stream management (XEP-0198 §5 resumption) with two real client libraries that implement it themselves:
// slixmpp (plugin xep_0198) and Gajim's nbxmpp. The client's socket is cut in the middle of a conversation
// while an xmpp.js client keeps sending; the library reconnects, resumes, and every message arrives exactly
// once and in order (issue #15, "Must show").
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { xml } from '@xmpp/client';
import { connect, type TestClient } from './support/clients.js';
import { requirePythonLibrary, startPythonSmClient, type PythonSmClient } from './support/python-sm-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const MESSAGES = 60;
const INTERVAL_MS = 50;

for (const library of ['slixmpp', 'nbxmpp'] as const) {
  describe(`Stream management with ${library} (XEP-0198)`, function () {
    this.timeout(60_000);
    let server: TestServer;
    const pythonClients: PythonSmClient[] = [];
    const xmppClients: TestClient[] = [];

    before(async function () {
      requirePythonLibrary(this, library);
      server = await startTestServer();
      await server.addUser('juliet', 'r0m30myr0m30');
      await server.addUser('romeo', 'j-u-l-i-e-t');
    });

    afterEach(async function () {
      await Promise.all([...pythonClients.splice(0).map((c) => c.stop()), ...xmppClients.splice(0).map((c) => c.stop())]);
    });

    after(async function () {
      await server?.stop();
    });

    async function converse(resource: string, options: { withoutSm?: boolean } = {}) {
      const juliet = startPythonSmClient(library, { jid: `juliet@localhost/${resource}`, password: 'r0m30myr0m30', port: server.ports.c2s, ...options });
      pythonClients.push(juliet);
      const online = await juliet.next('online');
      const romeo = await connect(server, { transport: 'tcp', username: 'romeo', password: 'j-u-l-i-e-t', resource: `to-${resource}` });
      xmppClients.push(romeo);
      return { juliet, online, romeo };
    }

    /** Romeo sends 1..count to `to` every INTERVAL_MS and cuts Juliet's socket halfway, without pausing; the send times. */
    async function sendCuttingHalfway(romeo: TestClient, juliet: PythonSmClient, to: string, count: number): Promise<number[]> {
      const sentAt: number[] = [];
      for (let n = 1; n <= count; n++) {
        await romeo.xmpp.send(xml('message', { to, type: 'chat', id: `m${n}` }, xml('body', {}, String(n))));
        sentAt.push(Date.now());
        if (n === Math.floor(count / 2)) juliet.command('cut');
        await delay(INTERVAL_MS);
      }
      return sentAt;
    }

    async function receivedBodies(juliet: PythonSmClient, expected: number): Promise<string[]> {
      const bodies = () => juliet.events.filter((e) => e.event === 'message').map((e) => String(e.body));
      for (let waited = 0; bodies().length < expected && waited < 20_000; waited += 100) await delay(100);
      await delay(1000); // time for a duplicate to show up
      return bodies();
    }

    it(`resumes after a cut socket: messages 1..${MESSAGES} arrive exactly once and in order, on the same session`, async function () {
      const { juliet, online, romeo } = await converse(library);
      assert.equal(online['sm-offered'], true, `the stream features after authentication offer no stream management (urn:xmpp:sm:3)`);
      const enabled = await juliet.next('sm-enabled');
      assert.equal(enabled.resume, true, `${library} asked for resumption and the server must grant it: ${JSON.stringify(enabled)}`);

      const sentAt = await sendCuttingHalfway(romeo, juliet, String(online.jid), MESSAGES);
      await juliet.next('cut');
      const disconnected = await juliet.next('disconnected');
      const resumed = await juliet.next('resumed', 20_000);
      const bodies = await receivedBodies(juliet, MESSAGES);

      assert.deepEqual(bodies, Array.from({ length: MESSAGES }, (_, i) => String(i + 1)), 'every message exactly once, in order');
      const cutAt = juliet.events.findIndex((e) => e.event === 'cut');
      const beforeCut = juliet.events.slice(0, cutAt).filter((e) => e.event === 'message').length;
      assert.ok(beforeCut > 0 && beforeCut < MESSAGES, `the cut came mid-conversation (${beforeCut} messages before it)`);
      // The drivers reconnect after 0.5 s: messages went to the session while it had no connection.
      const sentWhileAway = sentAt.filter((t) => t > disconnected.at && t < resumed.at).length;
      assert.ok(sentWhileAway >= 3, `messages were sent while ${library} was away (${sentWhileAway})`);
      for (const message of juliet.events.filter((e) => e.event === 'message')) assert.equal(message.from, romeo.jid);

      // Resumed, not bound afresh: one bind, one enable, the same full JID, no failure.
      assert.equal(resumed.jid, online.jid);
      const lifecycle = juliet.events.map((e) => e.event).filter((e) => e !== 'message');
      assert.deepEqual(lifecycle, ['online', 'sm-enabled', 'cut', 'disconnected', 'resumed']);
      assert.ok(server.server.sessions.get(String(online.jid)), 'the resumed session is bound on the server');
    });

    // Positive control for the lifecycle assertion above: the same cut without stream management ends in a
    // second bind, which the test tells apart from a resumption.
    it('control: without stream management the same cut ends in a fresh bind, not a resumption', async function () {
      const { juliet, online, romeo } = await converse(`${library}-no-sm`, { withoutSm: true });
      await sendCuttingHalfway(romeo, juliet, String(online.jid), 10);
      await juliet.next('cut');
      const again = await juliet.next('online', 20_000);
      assert.equal(again.jid, online.jid);
      const lifecycle = juliet.events.map((e) => e.event).filter((e) => e !== 'message');
      assert.deepEqual(lifecycle, ['online', 'cut', 'disconnected', 'online']);
    });
  });
}
