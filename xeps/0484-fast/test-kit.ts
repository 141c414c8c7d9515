// xmpp.js logins for the SASL2/FAST tests: the client keeps its FAST token where the test can read it.
import { client, xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { serviceUrl, type ClientTarget, type ClientTransport } from '../../test/support/clients.js';

export interface Token {
  mechanism: string;
  token: string;
  expiry: string;
}

/** An xmpp.js client that keeps its FAST token in `store`, recording the mechanism of each <authenticate/> it sends. */
export async function login(server: ClientTarget, transport: ClientTransport, agentId: string, store: { token?: Token }, password = 'secret'): Promise<{ jid: string; mechanisms: string[]; sm: { enabled: boolean; id: string }; stop: () => Promise<void> }> {
  // xmpp.js takes a <user-agent/> (its id binds FAST tokens and the Bind2 resource); the typings here omit it.
  const options = { service: serviceUrl(server, transport), domain: server.domain, username: 'alice', password, resource: 'phone', userAgent: xml('user-agent', { id: agentId }, xml('software', {}, 'test')) };
  const xmpp = client(options);
  xmpp.reconnect.stop();
  xmpp.on('error', () => undefined);
  const fast = (xmpp as unknown as { fast: { saveToken(t: Token): Promise<void>; fetchToken(): Promise<Token | undefined>; deleteToken(): Promise<void> } }).fast;
  fast.saveToken = async (t) => {
    store.token = t;
  };
  fast.fetchToken = async () => store.token;
  fast.deleteToken = async () => {
    delete store.token;
  };
  const mechanisms: string[] = [];
  xmpp.on('send', (element: Element) => {
    if (element.name === 'authenticate' || element.name === 'auth') mechanisms.push(`${element.attrs.xmlns as string} ${element.attrs.mechanism as string}`);
  });
  const jid = await xmpp.start();
  const sm = (xmpp as unknown as { streamManagement: { enabled: boolean; id: string } }).streamManagement;
  return { jid: jid.toString(), mechanisms, sm: { enabled: sm.enabled, id: sm.id }, stop: () => xmpp.stop().then(() => undefined) };
}

