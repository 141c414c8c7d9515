// Two well-behaved clients on the node under test: while another session crosses a limit, a message
// between them must still arrive (the limit hits the offender, not the node).
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from './clients.js';
import type { TestServer } from './server.js';

export interface Bystanders {
  /** Sends a chat message from one to the other and waits for it to arrive. */
  chat(text: string): Promise<void>;
  stop(): Promise<void>;
}

/** Creates the two accounts (once per server) and logs them in over TCP. */
export async function bystanders(server: TestServer, prefix = 'bystander'): Promise<Bystanders> {
  const [a, b] = [`${prefix}-a`, `${prefix}-b`];
  for (const user of [a, b]) await server.addUser(user, 'secret-pass').catch(() => undefined);
  const clients: TestClient[] = [];
  try {
    clients.push(await connect(server, { transport: 'tcp', username: a, password: 'secret-pass', resource: 'r' }));
    clients.push(await connect(server, { transport: 'tcp', username: b, password: 'secret-pass', resource: 'r' }));
  } catch (err) {
    await Promise.all(clients.map((c) => c.stop()));
    throw err;
  }
  const [from, to] = clients as [TestClient, TestClient];
  let n = 0;
  return {
    async chat(text) {
      const id = `bystander-${++n}`;
      const arrived = to.next((s) => s.is('message') && s.attrs.id === id, 5000);
      await from.xmpp.send(xmlMessage(to.jid, id, text));
      const message = await arrived;
      assert.equal(message.getChildText('body'), text);
    },
    async stop() {
      await Promise.all(clients.map((c) => c.stop()));
    },
  };
}

function xmlMessage(to: string, id: string, text: string): Element {
  return xml('message', { to, id, type: 'chat' }, xml('body', {}, text));
}
