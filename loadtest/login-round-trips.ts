// Round trips and loopback wall time of one login: classic (SASL PLAIN, restart, bind, SM enable, carbons),
// SASL2 + Bind2 (the same in one exchange), FAST (token instead of password). Raw client; writes a table.
import { createHmac } from 'node:crypto';
import { rawConnect, type RawPeer } from '../test/support/raw.js';
import { startTestServer } from '../test/support/server.js';

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`;
const plain = Buffer.from('\0alice\0secret').toString('base64');
const RUNS = 20;

async function exchange(peer: RawPeer, send: string, until: RegExp, from: number): Promise<number> {
  peer.write(send);
  for (;;) {
    const m = until.exec(peer.received.slice(from));
    if (m) return from + (m.index ?? 0) + m[0].length;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const server = await startTestServer({ c2s: { sasl2: true, requireTls: false } });
await server.addUser('alice', 'secret');
const flows: Record<string, (token: { value: string }) => Promise<number>> = {
  async classic() {
    const p = await rawConnect(server.ports.c2s);
    let at = await exchange(p, HEADER, /<\/stream:features>/, 0);
    at = await exchange(p, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`, /<success[^>]*\/?>/, at);
    at = await exchange(p, HEADER, /<\/stream:features>/, at);
    at = await exchange(p, `<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`, /id=["']b["']/, at);
    at = await exchange(p, `<enable xmlns='urn:xmpp:sm:3' resume='true'/>`, /<enabled/, at);
    await exchange(p, `<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>`, /id=["']c["']/, at);
    p.destroy();
    return 6;
  },
  async sasl2(token) {
    const p = await rawConnect(server.ports.c2s);
    const at = await exchange(p, HEADER, /<\/stream:features>/, 0);
    await exchange(p, `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>${plain}</initial-response><user-agent id='rt'/><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/><bind xmlns='urn:xmpp:bind:0'><enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/></bind></authenticate>`, /<\/success>/, at);
    token.value = /token=["']([^"']+)["']/.exec(p.received)?.[1] ?? '';
    p.destroy();
    return 2;
  },
  async fast(token) {
    const p = await rawConnect(server.ports.c2s);
    const at = await exchange(p, HEADER, /<\/stream:features>/, 0);
    const proof = createHmac('sha256', Buffer.from(token.value, 'utf8')).update('Initiator').digest();
    const initial = Buffer.concat([Buffer.from('alice\0'), proof]).toString('base64');
    await exchange(p, `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>${initial}</initial-response><user-agent id='rt'/><fast xmlns='urn:xmpp:fast:0'/><bind xmlns='urn:xmpp:bind:0'><enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/></bind></authenticate>`, /<\/success>/, at);
    token.value = /token=["']([^"']+)["']/.exec(p.received)?.[1] ?? '';
    p.destroy();
    return 2;
  },
};
const token = { value: '' };
await flows.sasl2?.(token);
for (const [name, flow] of Object.entries(flows)) {
  if (name === 'fast') await flows.sasl2?.(token);
  const times: number[] = [];
  let trips = 0;
  for (let i = 0; i < RUNS; i++) {
    if (name === 'fast' && token.value === '') await flows.sasl2?.(token);
    const start = process.hrtime.bigint();
    trips = await flow(token);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(`| ${name} | ${trips} | ${times[Math.floor(RUNS / 2)]?.toFixed(2)} ms | ${times[RUNS - 1]?.toFixed(2)} ms |`);
}
await server.stop();
